"""The Scenarios page's logic, called directly."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlparse

import pytest
import yaml

from dashboards import charts
from dashboards import scenario_logic as logic
from dashboards import scenario_view as page
from domain.errors import ScenarioError


def data_url(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return "data:application/x-yaml;base64," + base64.b64encode(raw).decode()


def test_bundled_lists_yaml_stems(settings):
    assert logic.bundled_scenarios(settings) == ["bert-serving", "tiny"]


def test_edits_change_exactly_the_edited_fields(settings):
    base, _ = logic.load_base(settings, "tiny")
    edits = {"rate_rps": 150.0, "slo_ms": 40.0, "replications": 3, "small.nodes": 2,
             "small.max_batch": 4, "big.max_wait_ms": 1.5, "big.instance": "aws:g5.4xlarge",
             "ghost.nodes": 9}
    data = logic.apply_edits(base, edits)
    assert data["workloads"][0]["arrivals"]["rate_rps"] == 150.0
    assert data["workloads"][0]["slo"]["latency_ms"] == 40.0
    assert data["replications"] == 3
    small, big = data["designs"]
    assert small["fleet"]["nodes"] == 2 and small["batching"]["max_batch"] == 4
    assert big["batching"]["max_wait_ms"] == 1.5 and big["fleet"]["instance"] == "aws:g5.4xlarge"
    assert big["fleet"]["nodes"] == 2  # untouched
    assert base["designs"][0]["fleet"]["nodes"] == 1  # the base is not mutated
    scenario = logic.build_scenario(settings, "tiny", edits)
    assert scenario.design("small").fleet.nodes == 2
    assert scenario.design("big").batching.max_wait_ms == 1.5


def test_yaml_anchors_are_edited_per_design(tmp_path, settings):
    text = (settings.scenarios_dir / "tiny.yaml").read_text()
    text = text.replace("batching: {max_batch: 8, max_wait_ms: 2}",
                        "batching: &b {max_batch: 8, max_wait_ms: 2}")
    text = text.replace("batching: {max_batch: 16, max_wait_ms: 5}", "batching: *b")
    (settings.scenarios_dir / "anchored.yaml").write_text(text.replace("name: tiny", "name: a"))
    base, _ = logic.load_base(settings, "anchored")
    data = logic.apply_edits(base, {"small.max_batch": 2})
    assert [d["batching"]["max_batch"] for d in data["designs"]] == [2, 8]


def test_update_edits_keeps_only_changes(settings):
    base, _ = logic.load_base(settings, "tiny")
    values = logic.current_values(base, {}, "small")
    assert values["nodes"] == 1 and values["rate_rps"] == 200 and values["min_nodes"] is None
    values.update(nodes=3, rate_rps=200, max_wait_ms="")
    assert logic.update_edits(base, {"small.max_wait_ms": 9.0}, "small", values) == \
        {"small.nodes": 3}
    assert page.on_design({"choice": "tiny", "data": base}, "small",
                          {"scenario": "tiny", "values": {"small.nodes": 3}})[
        page.FIELDS.index("nodes")] == 3


def test_url_state_round_trips():
    edits = {"rate_rps": 123.5, "replications": 4, "small.nodes": 3,
             "big.instance": "aws:g5.4xlarge", "big.max_wait_ms": 0.25}
    query = logic.state_to_query("tiny", edits)
    parsed = dict(parse_qsl(urlparse(query).query))
    choice, back, problems = logic.query_to_state(parsed)
    assert (choice, back, problems) == ("tiny", edits, [])


def test_bad_url_parameters_become_messages():
    _, edits, problems = logic.query_to_state(
        {"scenario": "tiny", "small.nodes": "many", "colour": "red", "rate_rps": "10"})
    assert edits == {"rate_rps": 10.0}
    assert len(problems) == 2 and any("'colour'" in p for p in problems)


def test_validation_error_is_a_message(settings):
    query, msg, *_ = page.on_edits(settings, "tiny", {"scenario": "tiny",
                                                       "values": {"small.nodes": 0}})
    assert "small.nodes=0" in query.replace("%2E", ".")
    assert "error" in msg.className and "designs[0].fleet.nodes" in msg.children


def test_bad_yaml_upload_gives_a_message(settings):
    options, value, msg = page.on_upload(settings, data_url("name: [unclosed"), "bad.yaml")
    assert options is page.no_update and value is page.no_update
    assert "YAML syntax error" in msg.children and "line" in msg.children
    _, _, msg = page.on_upload(settings, data_url("- a list"), "list.yaml")
    assert "top level must be a mapping" in msg.children


def test_upload_size_limit(settings):
    big = "name: x\n" + "#" * (logic.SCENARIO_UPLOAD_LIMIT_BYTES + 10)
    with pytest.raises(ScenarioError, match="larger than 256 KB"):
        logic.store_upload(settings, data_url(big), "big.yaml")


def test_uploaded_scenario_is_stored_not_written(settings):
    text = (settings.scenarios_dir / "tiny.yaml").read_text()
    options, choice, msg = page.on_upload(settings, data_url(text), "../../etc/my scenario.yaml")
    assert choice.startswith(logic.UPLOAD_PREFIX) and "my_scenario.yaml" in msg.children
    assert {"label": f"uploaded ({choice[7:]})", "value": choice} in options
    assert logic.build_scenario(settings, choice, {}).name == "tiny"
    assert sorted(p.name for p in settings.scenarios_dir.iterdir()) == \
        ["bert-serving.yaml", "data", "tiny.yaml"]


@pytest.mark.parametrize("path", ["/etc/passwd", "../../outside.csv", "data/../../x.csv"])
def test_uploaded_paths_cannot_escape_the_scenarios_folder(settings, path):
    data = yaml.safe_load((settings.scenarios_dir / "tiny.yaml").read_text())
    data["designs"][0]["service_time"] = {"kind": "table", "path": path}
    choice = logic.store_upload(settings, data_url(yaml.safe_dump(data)), "escape.yaml")
    with pytest.raises(ScenarioError, match="outside the scenarios folder"):
        logic.build_scenario(settings, choice, {})


@pytest.mark.parametrize(("field", "value"), [
    ("model", {"config": "/etc/passwd"}),
    ("latency", {"kind": "auto", "fit": "../../fit.json"})])
def test_uploaded_llm_file_fields_cannot_escape_the_scenarios_folder(settings, field, value):
    data = yaml.safe_load((settings.scenarios_dir / "tiny.yaml").read_text())
    design = {"name": "llm", "workload": data["designs"][0]["workload"], "pattern": "llm",
              "model": "llama-3-8b", "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1}}
    design[field] = value
    data["designs"].append(design)
    data["workloads"][0]["tokens"] = {"prompt_tokens": 500, "output_tokens": 100}
    choice = logic.store_upload(settings, data_url(yaml.safe_dump(data)), "escape.yaml")
    with pytest.raises(ScenarioError, match="outside the scenarios folder"):
        logic.build_scenario(settings, choice, {})


def test_unknown_choice_is_refused(settings):
    with pytest.raises(ScenarioError, match="not bundled"):
        logic.load_base(settings, "../scenarios/tiny")
    with pytest.raises(ScenarioError, match="no longer stored"):
        logic.load_base(settings, "upload:0123456789abcdef")


def test_run_and_downloads(settings):
    seen = []
    view = logic.run_view(settings, "tiny", {"small.nodes": 2},
                          progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4)
    assert view.result.design("small").fleet.nodes == 2
    name, text = logic.results_json(settings, view.run_id)
    assert name == "tiny-results.json"
    doc = json.loads(text)
    assert [d["name"] for d in doc["designs"]] == ["small", "big"]
    assert doc["designs"][0]["cost"]["usd_per_month"] == view.result.designs[0].cost.usd_per_month
    name, html_text = logic.results_html(settings, view.run_id)
    assert name == "tiny-report.html" and html_text.startswith("<!DOCTYPE html>")
    assert 'id="pareto"' in html_text
    name, text = logic.scenario_yaml(settings, "tiny", {"small.nodes": 2})
    assert name == "tiny.yaml" and yaml.safe_load(text)["designs"][0]["fleet"]["nodes"] == 2
    data, msg = page.on_download(settings, "scn-dl-json", "tiny", {}, view.run_id)
    assert msg is None and json.loads(data["content"])["scenario"]["name"] == "tiny"
    data, msg = page.on_download(settings, "scn-dl-html", "tiny", {}, None)
    assert data is page.no_update and "run the scenario first" in msg.children


def test_result_components_show_the_run(settings):
    view = logic.run_view(settings, "tiny", {})
    parts = charts.result_components(view.result, view.run_id)
    ids = {getattr(p, "id", None) for p in parts}
    assert {"scn-comparison", "scn-purchase-table"} <= ids
    figs = charts.figures(view.result)
    assert [t.name for t in figs["distribution"].data if "SLO" not in t.name] == ["small", "big"]
    assert len(figs["queue"].data) == 2
    assert any(s.line.dash == "dash" for s in figs["pareto"].layout.shapes)
    table = charts.purchase_table(view.result)
    assert table.rows[0][0] == "small" and table.rows[0][1].startswith("$")


def test_unknown_price_is_na(settings):
    from dashboards.charts import purchase_table

    view = logic.run_view(settings, "tiny", {})
    small = view.result.designs[0]
    unknown = type(small.cost)(**{**small.cost.__dict__, "by_purchase": {"on_demand": None},
                                  "total_usd": None})
    result = type(view.result)(**{**view.result.__dict__,
                                  "designs": (type(small)(**{**small.__dict__,
                                                             "cost": unknown}),)})
    assert purchase_table(result).rows[0][1:] == ("n/a", "n/a")


# ----------------------------------------------------------------------------- spot settings

SPOT_BIG = {"big.instance": "aws:g5.8xlarge", "big.purchase": "spot"}  # g5.8xlarge: spot priced


def spot_price(instance: str) -> float:
    from dashboards.settings import catalog

    provider, kind = instance.split(":")
    rows = catalog().frame.filter((catalog().frame["provider"] == provider)
                                  & (catalog().frame["instance_type"] == kind))
    return rows["spot_usd_per_hour"][0]


@pytest.mark.parametrize(("edits", "written", "kind", "per_node_hour"), [
    ({}, {"interruptions": {"kind": "advisor"}}, "advisor", None),  # the default on AWS
    ({"big.spot_interruptions": "rate", "big.spot_per_node_hour": 0.5},
     {"interruptions": {"kind": "rate", "per_node_hour": 0.5}}, "rate", 0.5),
    ({"big.spot_interruptions": "rate"},  # no rate given: the assumed default, shown
     {"interruptions": {"kind": "rate", "per_node_hour": 0.01}}, "rate", 0.01),
])
def test_switching_to_spot_writes_settings_that_validate_and_run(settings, edits, written,
                                                                 kind, per_node_hour):
    from costmodels.spot_advisor import lookup_band, rate_per_node_hour

    base, _ = logic.load_base(settings, "tiny")
    data = logic.apply_edits(base, {**SPOT_BIG, **edits})
    assert data["designs"][1]["fleet"]["spot"] == written
    assert "spot" not in data["designs"][0]["fleet"]
    result = logic.run_view(settings, "tiny", {**SPOT_BIG, **edits}).result
    big = result.design("big")
    assert big.fleet.purchase == "spot" and big.fleet.spot_interruptions.kind == kind
    expected = per_node_hour if kind == "rate" else \
        rate_per_node_hour(lookup_band("g5.8xlarge", "us-east-1").band, 730.0)
    assert big.fleet.spot_interruptions.per_node_hour == pytest.approx(expected)
    hours = sum(big.fleet.node_hours.values())
    assert big.cost.total_usd == pytest.approx(hours * spot_price("aws:g5.8xlarge"), rel=1e-9)


def test_spot_on_gcp_defaults_to_a_rate_and_refuses_advisor(settings):
    base, _ = logic.load_base(settings, "tiny")
    gcp = {"big.instance": "gcp:g2-standard-16", "big.purchase": "spot"}
    assert logic.current_values(base, gcp, "big")["spot_interruptions"] == "rate"
    data = logic.apply_edits(base, gcp)
    assert data["designs"][1]["fleet"]["spot"] == {
        "interruptions": {"kind": "rate", "per_node_hour": 0.01}}
    assert logic.build_scenario(settings, "tiny", gcp).design("big").fleet.purchase == "spot"
    with pytest.raises(ScenarioError, match="advisor bands cover AWS only"):
        logic.build_scenario(settings, "tiny", {**gcp, "big.spot_interruptions": "advisor"})


@pytest.fixture
def spot_scenario(settings):
    """tiny with big on spot: an on-demand base node, a given rate and a notice."""
    data = yaml.safe_load((settings.scenarios_dir / "tiny.yaml").read_text())
    data["name"] = "spotty"
    data["designs"][1]["fleet"] = {
        "instance": "aws:g5.8xlarge", "nodes": 2, "purchase": "spot", "on_demand_base": 1,
        "spot": {"interruptions": {"kind": "rate", "per_node_hour": 0.2}, "notice_s": 30}}
    (settings.scenarios_dir / "spotty.yaml").write_text(yaml.safe_dump(data))
    return logic.load_base(settings, "spotty")[0]


def test_leaving_spot_removes_its_settings_and_coming_back_restores_the_files(settings,
                                                                             spot_scenario):
    base = spot_scenario
    assert {k: logic.base_values(base, "big")[k] for k in ("spot_interruptions",
                                                            "spot_per_node_hour")} == \
        {"spot_interruptions": "rate", "spot_per_node_hour": 0.2}
    fleet = logic.apply_edits(base, {"big.purchase": "on_demand"})["designs"][1]["fleet"]
    assert fleet == {"instance": "aws:g5.8xlarge", "nodes": 2, "purchase": "on_demand"}
    scenario = logic.build_scenario(settings, "spotty", {"big.purchase": "on_demand"})
    assert scenario.design("big").fleet.spot is None
    # from the page: a switch off spot drops the spot edits, and they are disabled
    edits = {"big.spot_per_node_hour": 0.7}
    edits = logic.update_edits(base, edits, "big", {"purchase": "on_demand"})
    assert edits == {"big.purchase": "on_demand"}
    assert {"on_demand_base", "spot_interruptions", "spot_per_node_hour"} <= \
        logic.disabled_fields(base, edits, "big")
    assert "on-demand base and spot interruptions: big is bought on_demand; choose spot to set " \
        "them" in logic.not_applicable(base, "big", edits)
    assert not any("spot" in n for n in logic.not_applicable(base, "big"))  # a given rate
    # back to spot: the file's own settings, not a default (the controls' stale values are
    # not among the changed inputs)
    back = page.on_inputs({"choice": "spotty", "data": base}, "big",
                          {"scenario": "spotty", "values": edits},
                          [None] * len(page.FIELDS), changed=set())
    assert back["values"] == edits
    values = [None] * len(page.FIELDS)
    values[page.FIELDS.index("purchase")] = "spot"
    values[page.FIELDS.index("spot_interruptions")] = "advisor"  # a stale control
    back = page.on_inputs({"choice": "spotty", "data": base}, "big",
                          {"scenario": "spotty", "values": edits}, values, changed={"purchase"})
    assert back["values"] == {}
    assert logic.apply_edits(base, {})["designs"][1]["fleet"]["spot"]["notice_s"] == 30
    # switching the kind keeps the other spot settings
    spot = logic.apply_edits(base, {"big.spot_interruptions": "advisor"})["designs"][1][
        "fleet"]["spot"]
    assert spot == {"interruptions": {"kind": "advisor"}, "notice_s": 30}
    assert "spot_per_node_hour" in logic.disabled_fields(
        base, {"big.spot_interruptions": "advisor"}, "big")


def test_spot_edits_round_trip_through_the_url():
    edits = {"big.purchase": "spot", "big.spot_interruptions": "rate",
             "big.spot_per_node_hour": 0.25, "big.instance": "aws:g5.8xlarge"}
    query = logic.state_to_query("tiny", edits)
    choice, back, problems = logic.query_to_state(dict(parse_qsl(urlparse(query).query)))
    assert (choice, back, problems) == ("tiny", edits, [])
    _, back, problems = logic.query_to_state({"big.spot_interruptions": "sometimes",
                                              "big.purchase": "cheap"})
    assert back == {} and len(problems) == 2
    assert "'sometimes' is not one of advisor, rate, trace" in problems[0]


def test_a_files_trace_is_kept_and_leaving_it_drops_its_fallback():
    from dashboards import scenario_spot

    trace = {"kind": "trace", "path": "data/trace.json"}
    fleet = {"instance": "aws:g5.8xlarge", "nodes": 2, "purchase": "spot",
             "spot": {"interruptions": trace, "fallback_to_on_demand_after_s": 600}}
    assert scenario_spot.spot_values(fleet)["spot_interruptions"] == "trace"
    assert [o["value"] for o in scenario_spot.interruption_options(fleet)] == \
        ["advisor", "rate", "trace"]
    kept = json.loads(json.dumps(fleet))
    scenario_spot.apply_spot_edits(kept, {"purchase": "spot"}, purchase_edited=True)
    assert kept == fleet  # the file's settings, untouched
    scenario_spot.apply_spot_edits(fleet, {"spot_interruptions": "rate"}, purchase_edited=False)
    assert fleet["spot"] == {"interruptions": {"kind": "rate", "per_node_hour": 0.01}}
    # an instance the Advisor snapshot lacks: advisor is offered disabled, with the reason
    unlisted = scenario_spot.interruption_options({"instance": "aws:p5.4xlarge"})[0]
    assert unlisted["disabled"] and "p5.4xlarge" in unlisted["title"]
    assert scenario_spot.default_kind("aws:p5.4xlarge", None) == "rate"


def test_every_bundled_design_switches_to_spot_and_back(tmp_path):
    """Each pattern's fleet (realtime, llm, streaming, batch, training) takes the written spot
    settings, and leaves spot cleanly; the repository's own scenarios."""
    from dashboards.settings import make_settings
    from tests.dashboards.conftest import REPO

    settings = make_settings(scenarios_dir=REPO / "scenarios", work_dir=tmp_path / "work")
    patterns = set()
    for choice in logic.bundled_scenarios(settings):
        base, _ = logic.load_base(settings, choice)
        for d in base["designs"]:
            if "reserved_hours" in d:  # reserved capacity only: no control removes it
                continue
            spot = d["fleet"].get("purchase") == "spot"
            edits = {f"{d['name']}.purchase": "on_demand" if spot else "spot"}
            fleet = logic.build_scenario(settings, choice, edits).design(d["name"]).fleet
            assert (fleet.spot is None) == spot, (choice, d["name"])
            patterns.add(d.get("pattern", "realtime"))
    assert patterns >= {"realtime", "llm", "streaming", "batch", "training"}
