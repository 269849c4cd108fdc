"""The Scenarios page's pickers and state lines without a browser: only priced instance/purchase
pairs (checked against the catalog's own rows), spot whenever it is priced, stale-run changes,
and validation problems mapped to their controls with the design's name."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import scenario_logic as logic
from dashboards import scenario_status as status
from dashboards.scenario_choices import fleet_choices, pattern_purchases
from dashboards.settings import catalog
from domain.purchase import FLEET_PURCHASES, PURCHASE_OPTIONS


def catalog_price(instance: str, purchase: str) -> float | None:
    """The catalog row's own price (an independent read of the frame)."""
    provider, instance_type = instance.split(":")
    rows = catalog().frame.filter((pl.col("provider") == provider)
                                  & (pl.col("instance_type") == instance_type))
    return rows[f"{purchase}_usd_per_hour"][0] if rows.height == 1 else None


def design(fleet: dict, pattern: str = "realtime") -> dict:
    return {"designs": [{"name": "d", "pattern": pattern, "fleet": fleet}]}


def test_only_priced_pairs_are_offered_each_with_its_rate():
    data = design({"instance": "aws:g5.xlarge", "nodes": 1, "purchase": "on_demand"})
    choices = fleet_choices(catalog(), data, "d")
    offered = {o["value"]: o for o in choices.purchases}
    assert list(offered) == list(FLEET_PURCHASES)  # a realtime fleet's options, schema order
    for option, o in offered.items():
        price = catalog_price("aws:g5.xlarge", option)
        if price is None:
            assert o["disabled"] and "no price" in o["label"]
        else:
            assert not o["disabled"] and f"${price:,.3f}/h" in o["label"]
    # every instance offered has an on-demand price, shown; every priced one is offered
    instances = {o["value"]: o["label"] for o in choices.instances}
    priced = {k for k in catalog().instance_keys() if catalog_price(k, "on_demand") is not None}
    assert set(instances) == priced
    for key, label in instances.items():
        assert label == f"{key} · ${catalog_price(key, 'on_demand'):,.3f}/h"
    assert choices.notes == []
    # spot is offered whenever priced, without spot settings: choosing it writes them
    spot_priced = design({"instance": "aws:g5.8xlarge", "nodes": 1, "purchase": "on_demand"})
    choices = fleet_choices(catalog(), spot_priced, "d")
    spot = next(o for o in choices.purchases if o["value"] == "spot")
    assert not spot["disabled"]
    assert spot["label"] == f"spot · ${catalog_price('aws:g5.8xlarge', 'spot'):,.3f}/h"
    assert choices.notes == []


def test_spot_with_spot_settings_lists_spot_priced_instances_only():
    spot = {"interruptions": {"kind": "advisor"}}
    data = design({"instance": "aws:g5.8xlarge", "nodes": 1, "purchase": "spot", "spot": spot})
    choices = fleet_choices(catalog(), data, "d")
    offered = {o["value"]: o for o in choices.purchases}
    assert not offered["spot"]["disabled"]
    assert f"${catalog_price('aws:g5.8xlarge', 'spot'):,.3f}/h" in offered["spot"]["label"]
    spot_priced = {k for k in catalog().instance_keys() if catalog_price(k, "spot") is not None}
    assert {o["value"] for o in choices.instances} == spot_priced
    assert "aws:g5.xlarge" not in spot_priced  # the catalog has no spot price for it


def test_an_unpriced_current_pair_stays_listed_and_is_named():
    data = design({"instance": "aws:p5.4xlarge", "nodes": 1, "purchase": "reserved_1yr"})
    choices = fleet_choices(catalog(), data, "d")
    current = [o for o in choices.instances if o["value"] == "aws:p5.4xlarge"]
    assert current and "no price" in current[0]["label"]
    assert any("no reserved 1yr price" in n and "n/a" in n for n in choices.notes)


def test_a_scenario_effective_rate_prices_a_pair_the_catalog_lacks():
    data = design({"instance": "aws:p5.4xlarge", "nodes": 1, "purchase": "reserved_1yr"})
    data["pricing"] = {"effective_rates": [
        {"instance": "aws:p5.4xlarge", "purchase": "reserved_1yr", "usd_per_hour": 4.25,
         "source": "CUR 2026-10", "as_of": "2026-10-31"}]}
    choices = fleet_choices(catalog(), data, "d")
    reserved = next(o for o in choices.purchases if o["value"] == "reserved_1yr")
    assert not reserved["disabled"] and "$4.250/h" in reserved["label"]
    assert "CUR 2026-10" in reserved["title"] and "2026-10-31" in reserved["title"]
    assert choices.notes == []  # no n/a note


def test_purchase_options_follow_each_patterns_schema():
    options = pattern_purchases()
    assert options["realtime"] == options["llm"] == FLEET_PURCHASES
    assert options["training"] == options["batch"] == PURCHASE_OPTIONS
    data = design({"instance": "aws:g5.xlarge", "nodes": 1}, pattern="training")
    assert [o["value"] for o in fleet_choices(catalog(), data, "d").purchases] == \
        list(PURCHASE_OPTIONS)


def test_every_offered_pair_validates_and_prices(settings):
    """A pair the picker offers makes a valid scenario whose run prices it (no cost n/a)."""
    base, _ = logic.load_base(settings, "tiny")
    offered = [o["value"] for o in fleet_choices(catalog(), base, "small").instances]
    assert "aws:g5.xlarge" in offered and len(offered) > 20
    for instance in offered[:3] + offered[-3:]:
        scenario = logic.build_scenario(settings, "tiny", {"small.instance": instance})
        assert scenario.design("small").fleet.instance == instance


def test_stale_changes_name_each_edit():
    ran = {"scenario": "tiny", "values": {"rate_rps": 150.0, "small.nodes": 3}}
    assert status.input_changes(ran, ran) == []
    now = {"scenario": "tiny", "values": {"rate_rps": 200.0, "big.max_batch": 4}}
    assert status.input_changes(ran, now) == [
        "big max batch scenario's own → 4", "arrival rate 150 → 200",
        "small nodes 3 → scenario's own"]
    assert status.input_changes(ran, {"scenario": "bert-serving", "values": {}}) == [
        "scenario tiny → bert-serving"]
    assert status.inputs_text(ran) == "scenario tiny; edits: rate_rps=150, small.nodes=3"


@pytest.mark.parametrize(("edits", "expected"), [
    ({"big.nodes": 0}, [("nodes", "big", "big: fleet.nodes must be >= 1 (got 0)")]),
    ({"rate_rps": -1.0}, [("rate_rps", None, "workloads[0].arrivals.rate_rps must be > 0")]),
    ({"horizon_s": 0.0, "small.on_demand_base": 1},
     [("horizon_s", None, "horizon_s must be > 0"),
      ("on_demand_base", "small", "small: fleet.on_demand_base only applies with purchase")]),
    ({"small.instance": "gcp:g2-standard-16", "small.purchase": "spot",
      "small.spot_interruptions": "advisor"},
     [("spot_interruptions", "small", "small: fleet.spot.interruptions.kind advisor bands")]),
    ({"small.instance": "aws:nope.x"},
     [("instance", "small", "small: fleet.instance unknown instance type")]),
])
def test_validation_problems_land_on_their_controls(settings, edits, expected):
    with pytest.raises(Exception) as caught:
        logic.build_scenario(settings, "tiny", edits)
    names = ["small", "big"]
    found = status.field_problems(str(caught.value), names)
    assert [(p.field, p.design) for p in found] == [(f, d) for f, d, _ in expected]
    for p, (_, _, text) in zip(found, expected):
        assert p.text.startswith(text)
    named = status.name_designs(str(caught.value), names)
    for _, d, _ in expected:
        if d is not None:
            assert f"designs[{names.index(d)}] ({d})" in named
