"""Tests of the fleet-dynamics part of the scenario schema: autoscaling, spot, provisioning,
request deadlines (semantics in docs/fleet-dynamics.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodels.spot_advisor import BANDS
from domain.errors import ScenarioError, SimulationError
from planner.schema import (
    SPOT_NOTICE_S,
    AdvisorInterruptions,
    Autoscaling,
    Fleet,
    RateInterruptions,
    SpotBand,
    TraceInterruptions,
    load_scenario,
    parse_scenario,
)
from simulators.core.fleet import AutoscalingPolicy, DelayComponent, FleetSpec, SpotModel

REPO = Path(__file__).resolve().parents[2]
FLEET_MIX = REPO / "scenarios" / "fleet-mix.yaml"


def example(**fleet: Any) -> dict[str, Any]:
    """A one-design scenario mapping whose fleet fields are updated with ``fleet``."""
    return {
        "name": "s", "horizon_s": 3600,
        "workloads": [{"name": "w", "kind": "inference",
                       "arrivals": {"kind": "poisson", "rate_rps": 100}}],
        "designs": [{
            "name": "d", "workload": "w", "pattern": "realtime",
            "fleet": {"instance": "aws:g5.8xlarge", "nodes": 2, **fleet},
            "service_time": {"kind": "constant", "ms": 5},
        }],
    }


def fleet_of(**fleet: Any) -> Fleet:
    return parse_scenario(example(**fleet)).designs[0].fleet


AUTO = {"metric": "utilization", "target": 0.6, "min_nodes": 1, "max_nodes": 6}
ADVISOR = {"interruptions": {"kind": "advisor"}}


# ---------------------------------------------------------------------------------------------
# Valid input


def test_defaults_keep_a_fixed_fleet() -> None:
    scenario = parse_scenario(example())
    design = scenario.designs[0]
    fleet = design.fleet
    assert fleet.on_demand_base == 0 and fleet.max_nodes is None
    assert fleet.autoscaling is None and fleet.spot is None and fleet.provisioning == ()
    assert fleet.n_node_slots == 2 and fleet.n_workers == 2 and fleet.is_fixed
    assert fleet.spot_notice_s is None
    assert design.queue.deadline_ms is None


def test_every_field_validates() -> None:
    fleet = fleet_of(
        nodes=3, region="us-east-1", purchase="spot", on_demand_base=2, max_nodes=12,
        workers_per_node=1,
        autoscaling={"metric": "queue_per_worker", "target": 4, "min_nodes": 2, "max_nodes": 10,
                     "interval_s": 30, "window_s": 120, "scale_in_cooldown_s": 0,
                     "schedule": [{"start_hour": 8, "end_hour": 20, "min_nodes": 4},
                                  {"start_hour": 22, "end_hour": 2, "min_nodes": 3},
                                  {"start_hour": 0, "end_hour": 24, "min_nodes": 0}]},
        provisioning=[{"name": "node-boot", "median_s": 60, "p95_s": 120},
                      {"name": "image-pull", "median_s": 0},
                      {"name": "model-load", "median_s": 22.7, "p95_s": 45.4}],
        spot={"interruptions": {"kind": "rate", "per_node_hour": 0.002}, "notice_s": 90,
              "replacement_delay_s": 15},
    )
    auto = fleet.autoscaling
    assert auto is not None and auto.metric == "queue_per_worker" and auto.target == 4
    assert (auto.interval_s, auto.window_s, auto.scale_in_cooldown_s) == (30, 120, 0)
    assert [(s.start_hour, s.end_hour, s.min_nodes) for s in auto.schedule] == [
        (8, 20, 4), (22, 2, 3), (0, 24, 0)]
    assert [p.name for p in fleet.provisioning] == ["node-boot", "image-pull", "model-load"]
    assert fleet.provisioning[1].p95_s is None
    assert fleet.n_node_slots == 12 and fleet.n_workers == 3 and not fleet.is_fixed
    assert fleet.on_demand_base == 2
    assert fleet.spot is not None and fleet.spot.replacement_delay_s == 15
    assert fleet.spot_notice_s == 90
    assert isinstance(fleet.spot.interruptions, RateInterruptions)


def test_autoscaling_defaults_and_slots() -> None:
    fleet = fleet_of(autoscaling={"metric": "utilization", "target": 0.7, "max_nodes": 5})
    auto = fleet.autoscaling
    assert auto == Autoscaling(metric="utilization", target=0.7, min_nodes=1, max_nodes=5,
                               interval_s=60, window_s=300, scale_in_cooldown_s=300, schedule=())
    assert fleet.n_node_slots == 5  # max_nodes defaults to the autoscaler's maximum


@pytest.mark.parametrize(
    ("interruptions", "cls"),
    [
        ({"kind": "rate", "per_node_hour": 0}, RateInterruptions),
        ({"kind": "advisor"}, AdvisorInterruptions),
        ({"kind": "advisor", "band": "10-15%"}, AdvisorInterruptions),
        ({"kind": "trace", "path": "traces/us-east-1c_v100_1.json", "capacity_scale": 4},
         TraceInterruptions),
    ],
)
def test_interruption_kinds_validate(interruptions: dict[str, Any], cls: type) -> None:
    spot: dict[str, Any] = {"interruptions": interruptions}
    if interruptions["kind"] == "trace":
        spot["fallback_to_on_demand_after_s"] = 600
    fleet = fleet_of(purchase="spot", spot=spot)
    assert fleet.spot is not None and isinstance(fleet.spot.interruptions, cls)
    assert fleet.spot.notice_s is None and fleet.spot_notice_s == 120.0


def test_every_band_is_accepted() -> None:
    for band in BANDS:
        fleet = fleet_of(purchase="spot", spot={"interruptions": {"kind": "advisor",
                                                                  "band": band}})
        assert fleet.spot is not None and fleet.spot.interruptions.band == band


def test_schema_bands_are_the_advisor_bands() -> None:
    assert get_args(SpotBand) == BANDS


def test_gcp_notice_default_and_rate() -> None:
    fleet = fleet_of(instance="gcp:g2-standard-4", purchase="spot",
                     spot={"interruptions": {"kind": "rate", "per_node_hour": 0.05}})
    assert fleet.spot_notice_s == SPOT_NOTICE_S["gcp"] == 30.0


def test_trace_path_resolves_against_the_scenario_folder(tmp_path: Path) -> None:
    data = example(purchase="spot", spot={"interruptions": {"kind": "trace",
                                                            "path": "t/spot.json"}})
    fleet = parse_scenario(data, base_dir=tmp_path).designs[0].fleet
    assert fleet.spot is not None
    assert fleet.spot.interruptions.path == str(tmp_path / "t" / "spot.json")


def test_queue_deadline() -> None:
    data = example()
    data["designs"][0]["queue"] = {"deadline_ms": 1500}
    assert parse_scenario(data).designs[0].queue.deadline_ms == 1500


def test_on_demand_base_with_spot_and_notice_zero() -> None:
    fleet = fleet_of(purchase="spot", on_demand_base=2,
                     spot={"interruptions": {"kind": "advisor", "band": "<5%"}, "notice_s": 0})
    assert fleet.on_demand_base == fleet.nodes == 2 and fleet.spot_notice_s == 0


def test_dynamic_scenario_round_trips() -> None:
    data = example(nodes=3, region="us-east-1", purchase="spot", on_demand_base=1,
                   autoscaling={**AUTO, "schedule": [{"start_hour": 9, "end_hour": 17,
                                                      "min_nodes": 3}]},
                   provisioning=[{"name": "boot", "median_s": 60, "p95_s": 120}],
                   spot={"interruptions": {"kind": "trace", "path": "/abs/t.json"},
                         "fallback_to_on_demand_after_s": 300})
    data["designs"][0]["queue"] = {"deadline_ms": 800}
    scenario = parse_scenario(data)
    again = parse_scenario(scenario.model_dump(exclude={"source_path"}))
    assert again == scenario


# ---------------------------------------------------------------------------------------------
# Bundled scenarios


def test_fleet_mix_loads() -> None:
    scenario = load_scenario(FLEET_MIX)
    assert scenario.horizon_s == 86_400 and scenario.warmup_s == 3_600
    assert scenario.replications == 4
    on_demand, spot, mixed = scenario.designs
    assert {d.workload for d in scenario.designs} == {scenario.workloads[0].name}
    assert len({(d.service_time, d.batching) for d in scenario.designs}) == 1
    assert on_demand.fleet.purchase == "on_demand" and on_demand.fleet.spot is None
    assert spot.fleet.purchase == "spot" and spot.fleet.on_demand_base == 0
    assert mixed.fleet.purchase == "spot" and mixed.fleet.on_demand_base >= 1
    for design in scenario.designs:
        fleet = design.fleet
        assert fleet.autoscaling is not None
        assert {p.name for p in fleet.provisioning} >= {"model-load"}
        load = next(p for p in fleet.provisioning if p.name == "model-load")
        assert (load.median_s, load.p95_s) == (22.7, 45.4)  # Alibaba GenAI cold starts
    for design in (spot, mixed):
        assert isinstance(design.fleet.spot.interruptions, AdvisorInterruptions)
        assert design.fleet.spot.interruptions.band is None  # looked up in the Advisor table
    arrivals = scenario.workloads[0].arrivals
    assert arrivals.kind == "diurnal" and arrivals.peak_to_trough == 3
    assert 100 <= arrivals.mean_rate_rps <= 1000


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_bundled_scenarios_build_valid_simulator_fleets(path: Path) -> None:
    """Every bundled real-time design passes the simulator's own fleet check when translated
    plainly (the other patterns have their own fleets, checked by their simulators)."""
    for design in load_scenario(path).designs:
        if design.pattern == "realtime":
            to_fleet_spec(design.fleet).check()



# ---------------------------------------------------------------------------------------------
# Bad input: every message names the field path, the bad value and a fix


def _fleet(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["designs"][0]["fleet"].update(fields)
    return mutate


def _queue(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["designs"][0]["queue"] = fields
    return mutate


F = "designs[0].fleet"
BAD_CASES = [
    # (id, mutation, field path, bad value as shown, words of the fix)
    ("base-negative", _fleet(purchase="spot", spot=ADVISOR, on_demand_base=-1),
     f"{F}.on_demand_base", "-1", "0 or more"),
    ("base-above-nodes", _fleet(purchase="spot", spot=ADVISOR, on_demand_base=3),
     f"{F}.on_demand_base", "3 > 2", "lower on_demand_base or raise nodes"),
    ("base-without-spot", _fleet(on_demand_base=1),
     f"{F}.on_demand_base", "purchase: on_demand", "set purchase: spot"),
    ("max-nodes-below-nodes", _fleet(max_nodes=1), f"{F}.max_nodes", "1 < 2",
     "raise max_nodes or lower nodes"),
    ("max-nodes-zero", _fleet(max_nodes=0), f"{F}.max_nodes", "got 0", "1 or more"),
    ("max-nodes-below-autoscaling", _fleet(max_nodes=4, autoscaling=AUTO),
     f"{F}.max_nodes", "4 < 6", "raise max_nodes"),
    ("nodes-above-autoscaling-max", _fleet(nodes=7, max_nodes=8, autoscaling=AUTO),
     f"{F}.nodes", "got 7", "inside that range"),
    ("nodes-below-autoscaling-min", _fleet(autoscaling={**AUTO, "min_nodes": 3}),
     f"{F}.nodes", "got 2, not in 3..6", "inside that range"),
    ("unknown-metric", _fleet(autoscaling={**AUTO, "metric": "cpu"}),
     f"{F}.autoscaling.metric", "'cpu'", "'utilization' or 'queue_per_worker'"),
    ("target-zero", _fleet(autoscaling={**AUTO, "target": 0}),
     f"{F}.autoscaling.target", "got 0", "above 0"),
    ("utilization-above-1", _fleet(autoscaling={**AUTO, "target": 60}),
     f"{F}.autoscaling.target", "got 60", "fraction such as 0.6"),
    ("min-above-max", _fleet(autoscaling={**AUTO, "min_nodes": 7}),
     f"{F}.autoscaling.max_nodes", "6 < 7", "raise max_nodes or lower min_nodes"),
    ("min-negative", _fleet(autoscaling={**AUTO, "min_nodes": -1}),
     f"{F}.autoscaling.min_nodes", "-1", "0 or more"),
    ("autoscaling-max-missing", _fleet(autoscaling={"metric": "utilization", "target": 0.5}),
     f"{F}.autoscaling.max_nodes", "missing", "add it"),
    ("interval-zero", _fleet(autoscaling={**AUTO, "interval_s": 0}),
     f"{F}.autoscaling.interval_s", "got 0", "above 0"),
    ("window-not-multiple", _fleet(autoscaling={**AUTO, "window_s": 90}),
     f"{F}.autoscaling.window_s", "90 with interval_s 60", "window_s: 120"),
    ("window-below-interval", _fleet(autoscaling={**AUTO, "window_s": 30}),
     f"{F}.autoscaling.window_s", "30 with interval_s 60", "window_s: 60"),
    ("cooldown-negative", _fleet(autoscaling={**AUTO, "scale_in_cooldown_s": -5}),
     f"{F}.autoscaling.scale_in_cooldown_s", "-5", "0 or more"),
    ("schedule-start-24",
     _fleet(autoscaling={**AUTO, "schedule": [{"start_hour": 24, "end_hour": 2,
                                               "min_nodes": 1}]}),
     f"{F}.autoscaling.schedule[0].start_hour", "24", "below 24"),
    ("schedule-end-25",
     _fleet(autoscaling={**AUTO, "schedule": [{"start_hour": 2, "end_hour": 25,
                                               "min_nodes": 1}]}),
     f"{F}.autoscaling.schedule[0].end_hour", "25", "24 or less"),
    ("schedule-empty-range",
     _fleet(autoscaling={**AUTO, "schedule": [{"start_hour": 8, "end_hour": 8,
                                               "min_nodes": 1}]}),
     f"{F}.autoscaling.schedule[0].end_hour", "got 8", "start_hour: 0, end_hour: 24"),
    ("schedule-min-above-max",
     _fleet(autoscaling={**AUTO, "schedule": [{"start_hour": 8, "end_hour": 18,
                                               "min_nodes": 9}]}),
     f"{F}.autoscaling.schedule[0].min_nodes", "9 > 6", "raise max_nodes"),
    ("schedule-min-negative",
     _fleet(autoscaling={**AUTO, "schedule": [{"start_hour": 8, "end_hour": 18,
                                               "min_nodes": -2}]}),
     f"{F}.autoscaling.schedule[0].min_nodes", "-2", "0 or more"),
    ("provisioning-negative", _fleet(provisioning=[{"name": "boot", "median_s": -1}]),
     f"{F}.provisioning[0].median_s", "-1", "0 or more"),
    ("provisioning-p95-below-median",
     _fleet(provisioning=[{"name": "boot", "median_s": 60, "p95_s": 30}]),
     f"{F}.provisioning[0].p95_s", "30 <= 60", "raise p95_s"),
    ("provisioning-p95-with-zero-median",
     _fleet(provisioning=[{"name": "boot", "median_s": 0, "p95_s": 30}]),
     f"{F}.provisioning[0].median_s", "got 0", "raise median_s or remove p95_s"),
    ("provisioning-duplicate-name",
     _fleet(provisioning=[{"name": "boot", "median_s": 1}, {"name": "boot", "median_s": 2}]),
     f"{F}.provisioning[1].name", "'boot'", "unique name"),
    ("provisioning-no-name", _fleet(provisioning=[{"median_s": 1}]),
     f"{F}.provisioning[0].name", "missing", "add it"),
    ("spot-missing", _fleet(purchase="spot"), f"{F}.spot", "got none",
     "add spot: {interruptions: {kind: advisor}}"),
    ("spot-missing-gcp", _fleet(purchase="spot", instance="gcp:g2-standard-4"), f"{F}.spot",
     "got none", "add spot: {interruptions: {kind: rate"),
    ("spot-without-spot-purchase", _fleet(spot=ADVISOR), f"{F}.spot",
     "purchase: on_demand", "remove spot or set purchase: spot"),
    ("spot-with-reserved", _fleet(purchase="reserved_1yr", spot=ADVISOR), f"{F}.spot",
     "purchase: reserved_1yr", "remove spot"),
    ("interruptions-missing", _fleet(purchase="spot", spot={"notice_s": 30}),
     f"{F}.spot.interruptions", "missing", "add it"),
    ("interruptions-unknown-kind",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "poisson"}}),
     f"{F}.spot.interruptions.kind", "'poisson'", "'rate', 'advisor', 'trace'"),
    ("rate-negative",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "rate", "per_node_hour": -0.1}}),
     f"{F}.spot.interruptions.per_node_hour", "-0.1", "0 or more"),
    ("rate-missing",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "rate"}}),
     f"{F}.spot.interruptions.per_node_hour", "missing", "add it"),
    ("rate-bool",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "rate", "per_node_hour": True}}),
     f"{F}.spot.interruptions.per_node_hour", "got True", "write a number"),
    ("band-unknown",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "advisor", "band": "20%"}}),
     f"{F}.spot.interruptions.band", "'20%'", "'<5%', '5-10%'"),
    ("advisor-on-gcp",
     _fleet(purchase="spot", instance="gcp:g2-standard-4", spot=ADVISOR),
     f"{F}.spot.interruptions.kind", "gcp:g2-standard-4", "use kind: rate or kind: trace"),
    ("trace-no-path",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "trace"}}),
     f"{F}.spot.interruptions.path", "missing", "add it"),
    ("trace-scale-zero",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "trace", "path": "t.json",
                                                     "capacity_scale": 0}}),
     f"{F}.spot.interruptions.capacity_scale", "got 0", "1 or more"),
    ("trace-scale-fractional",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "trace", "path": "t.json",
                                                     "capacity_scale": 2.5}}),
     f"{F}.spot.interruptions.capacity_scale", "2.5", "fractional"),
    ("notice-negative", _fleet(purchase="spot", spot={**ADVISOR, "notice_s": -1}),
     f"{F}.spot.notice_s", "-1", "0 or more"),
    ("notice-bool", _fleet(purchase="spot", spot={**ADVISOR, "notice_s": True}),
     f"{F}.spot.notice_s", "got True", "write a number"),
    ("replacement-negative",
     _fleet(purchase="spot", spot={**ADVISOR, "replacement_delay_s": -3}),
     f"{F}.spot.replacement_delay_s", "-3", "0 or more"),
    ("fallback-zero",
     _fleet(purchase="spot", spot={"interruptions": {"kind": "trace", "path": "t.json"},
                                   "fallback_to_on_demand_after_s": 0}),
     f"{F}.spot.fallback_to_on_demand_after_s", "got 0", "above 0"),
    ("fallback-without-trace",
     _fleet(purchase="spot", spot={**ADVISOR, "fallback_to_on_demand_after_s": 600}),
     f"{F}.spot.fallback_to_on_demand_after_s", "kind: advisor", "use interruptions: {kind: "
     "trace"),
    ("spot-unknown-field", _fleet(purchase="spot", spot={**ADVISOR, "notice": 30}),
     f"{F}.spot.notice", "notice: 30", "did you mean 'notice_s'?"),
    ("autoscaling-unknown-field", _fleet(autoscaling={**AUTO, "cooldown_s": 30}),
     f"{F}.autoscaling.cooldown_s", "cooldown_s: 30", "remove it"),
    ("deadline-zero", _queue(deadline_ms=0), "designs[0].queue.deadline_ms", "got 0",
     "above 0"),
    ("deadline-string", _queue(deadline_ms="2s"), "designs[0].queue.deadline_ms", "'2s'",
     "write a number"),
    ("queue-unknown-field", _queue(deadline_s=2), "designs[0].queue.deadline_s",
     "deadline_s: 2", "did you mean 'deadline_ms'?"),
]


# Streaming fleets: the real-time fleet's spot checks, plus what streaming refuses


def streaming_example(**fleet: Any) -> dict[str, Any]:
    """A one-design scenario mapping with a streaming design whose fleet is updated."""
    data = example()
    data["designs"][0] = {
        "name": "d", "workload": "w", "pattern": "streaming", "window_s": 1,
        "fleet": {"instance": "aws:g5.8xlarge", "nodes": 2, **fleet},
        "service_time": {"kind": "constant", "ms": 5},
    }
    return data


STREAMING_SPOT = {"interruptions": {"kind": "rate", "per_node_hour": 0.05}}


def _streaming(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["designs"][0] = streaming_example(**fields)["designs"][0]
    return mutate


STREAMING_BAD_CASES = [
    ("trace", _streaming(purchase="spot", spot={"interruptions": {"kind": "trace",
                                                                  "path": "t.json"}}),
     f"{F}.spot.interruptions.kind", "got trace", "use kind: rate or kind: advisor"),
    ("spot-missing", _streaming(purchase="spot"), f"{F}.spot", "got none",
     "add spot: {interruptions: {kind: advisor}}"),
    ("spot-without-spot-purchase", _streaming(spot=STREAMING_SPOT), f"{F}.spot",
     "purchase: on_demand", "remove spot or set purchase: spot"),
    ("base-without-spot", _streaming(on_demand_base=1), f"{F}.on_demand_base",
     "purchase: on_demand", "set purchase: spot"),
    ("base-above-nodes", _streaming(purchase="spot", spot=STREAMING_SPOT, on_demand_base=3),
     f"{F}.on_demand_base", "3 > 2", "lower on_demand_base or raise nodes"),
    ("advisor-on-gcp", _streaming(purchase="spot", instance="gcp:g2-standard-4", spot=ADVISOR),
     f"{F}.spot.interruptions.kind", "gcp:g2-standard-4", "use kind: rate"),
    ("rate-negative",
     _streaming(purchase="spot", spot={"interruptions": {"kind": "rate", "per_node_hour": -1}}),
     f"{F}.spot.interruptions.per_node_hour", "-1", "0 or more"),
    ("notice-negative", _streaming(purchase="spot", spot={**STREAMING_SPOT, "notice_s": -5}),
     f"{F}.spot.notice_s", "-5", "0 or more"),
    ("replacement-negative",
     _streaming(purchase="spot", spot={**STREAMING_SPOT, "replacement_delay_s": -2}),
     f"{F}.spot.replacement_delay_s", "-2", "0 or more"),
    ("spot-unknown-field", _streaming(purchase="spot", spot={**STREAMING_SPOT, "notice": 30}),
     f"{F}.spot.notice", "notice: 30", "did you mean 'notice_s'?"),
    ("provisioning-lognormal",
     _streaming(provisioning=[{"name": "boot", "median_s": 60, "p95_s": 90}]),
     f"{F}.provisioning[0].p95_s", "p95_s 90", "remove p95_s"),
    ("delay-given-twice",
     _streaming(provisioning=[{"name": "boot", "median_s": 60}],
                autoscaling={"target_utilization": 0.5, "min_nodes": 1, "max_nodes": 3,
                             "provisioning_delay_s": 30}),
     f"{F}.autoscaling.provisioning_delay_s", "got 30", "remove it or remove provisioning"),
    ("purchase-unknown", _streaming(purchase="preemptible"), f"{F}.purchase", "'preemptible'",
     "'spot'"),
]


@pytest.mark.parametrize(
    ("mutate", "field_path", "bad_value", "fix"),
    [case[1:] for case in BAD_CASES + STREAMING_BAD_CASES],
    ids=[case[0] for case in BAD_CASES]
    + [f"streaming-{case[0]}" for case in STREAMING_BAD_CASES],
)
def test_bad_input_names_path_value_and_fix(
    mutate: Callable[[dict[str, Any]], None], field_path: str, bad_value: str, fix: str
) -> None:
    data = example()
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: "), message
    lines = [line for line in message.splitlines() if line.startswith(f"  - {field_path}: ")]
    assert lines, f"no problem line for {field_path!r} in:\n{message}"
    assert any(bad_value in line and fix in line for line in lines), message
    assert "pydantic" not in message and "errors.pydantic.dev" not in message


def test_fleet_cross_checks_are_all_listed() -> None:
    data = example(nodes=5, max_nodes=3, on_demand_base=1,
                   autoscaling={**AUTO, "max_nodes": 4})
    with pytest.raises(ScenarioError, match="4 problems") as info:
        parse_scenario(data)
    message = str(info.value)
    assert message.count(f"  - {F}.max_nodes: ") == 2
    assert f"  - {F}.nodes: " in message and f"  - {F}.on_demand_base: " in message


def test_spot_required_message_matches_the_house_form() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(example(purchase="spot"))
    assert ("designs[0].fleet.spot: is required with purchase: spot (got none); add spot: "
            "{interruptions: {kind: advisor}}") in str(info.value)


# ---------------------------------------------------------------------------------------------
# What the schema accepts, the simulator accepts (an independent check of the same limits)


def to_fleet_spec(fleet: Fleet) -> FleetSpec:
    """Translate a schema fleet the obvious way (rates and traces do not matter to check())."""
    auto = fleet.autoscaling
    policy = None if auto is None else AutoscalingPolicy(
        metric=auto.metric, target=auto.target, min_nodes=auto.min_nodes,
        max_nodes=auto.max_nodes, interval_s=auto.interval_s, window_s=auto.window_s,
        scale_in_cooldown_s=auto.scale_in_cooldown_s,
        schedule=tuple((s.start_hour, s.end_hour, s.min_nodes) for s in auto.schedule))
    spot = fleet.purchase == "spot"
    return FleetSpec(
        workers_per_node=fleet.workers_per_node, initial_nodes=fleet.nodes,
        max_nodes=fleet.n_node_slots,
        on_demand_base=fleet.on_demand_base if spot else fleet.nodes,
        extra_is_spot=spot, autoscaling=policy,
        spot=SpotModel(notice_s=fleet.spot_notice_s or 0.0) if spot else None,
        provisioning=tuple(DelayComponent.from_p95(p.name, p.median_s, p.p95_s)
                           for p in fleet.provisioning))


@given(
    nodes=st.integers(1, 12), min_nodes=st.integers(0, 12), max_nodes=st.integers(1, 12),
    slots=st.none() | st.integers(1, 16), base=st.integers(0, 12),
    interval_s=st.sampled_from([1.0, 15.0, 60.0, 0.1]), ratio=st.sampled_from([1, 3, 0.5, 2.5]),
    median_s=st.floats(0, 100), spread=st.none() | st.floats(0, 3),
)
def test_accepted_fleets_pass_the_simulator_check(
    nodes: int, min_nodes: int, max_nodes: int, slots: int | None, base: int,
    interval_s: float, ratio: float, median_s: float, spread: float | None,
) -> None:
    p95_s = None if spread is None else median_s * (1 + spread)
    fields = dict(
        nodes=nodes, max_nodes=slots, purchase="spot", on_demand_base=base,
        spot={"interruptions": {"kind": "rate", "per_node_hour": 0.01}},
        autoscaling={"metric": "utilization", "target": 0.5, "min_nodes": min_nodes,
                     "max_nodes": max_nodes, "interval_s": interval_s,
                     "window_s": interval_s * ratio},
        provisioning=[{"name": "boot", "median_s": median_s, "p95_s": p95_s}],
    )
    try:
        fleet = fleet_of(**fields)
    except ScenarioError:
        consistent = (min_nodes <= nodes <= max_nodes and base <= nodes and
                      (slots is None or slots >= max_nodes) and float(ratio).is_integer() and
                      (p95_s is None or p95_s > median_s > 0))
        assert not consistent, fields  # refused only when something really is inconsistent
        return
    to_fleet_spec(fleet).check()  # never raises SimulationError for an accepted fleet
    assert fleet.n_node_slots == (slots if slots is not None else max_nodes)


def test_simulator_rejects_what_the_schema_rejects_for_windows() -> None:
    """The window check is the simulator's own, so a refused window fails there too."""
    policy = AutoscalingPolicy(metric="utilization", target=0.5, min_nodes=1, max_nodes=2,
                               interval_s=60.0, window_s=90.0)
    with pytest.raises(SimulationError):
        FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=2, autoscaling=policy).check()
    with pytest.raises(ScenarioError, match="window_s"):
        fleet_of(nodes=1, autoscaling={"metric": "utilization", "target": 0.5, "max_nodes": 2,
                                       "interval_s": 60, "window_s": 90})


def test_provisioning_spread_matches_the_simulator_lognormal() -> None:
    (delay,) = fleet_of(provisioning=[{"name": "load", "median_s": 22.7,
                                       "p95_s": 45.4}]).provisioning
    component = DelayComponent.from_p95(delay.name, delay.median_s, delay.p95_s)
    z95 = 1.6448536269514722
    assert component.sigma == pytest.approx(math.log(2.0) / z95)
    draws = component.median_s * np.exp(component.sigma *
                                        np.random.default_rng(1).standard_normal(200_000))
    assert np.quantile(draws, 0.95) == pytest.approx(45.4, rel=0.02)


# ---------------------------------------------------------------------------------------------
# Streaming fleets: spot, on-demand base and provisioning like the real-time fleet's


def test_streaming_spot_fleet_validates() -> None:
    fleet = parse_scenario(streaming_example(
        purchase="spot", on_demand_base=1, spot={**STREAMING_SPOT, "replacement_delay_s": 20},
        provisioning=[{"name": "boot", "median_s": 60}, {"name": "load", "median_s": 15}],
        autoscaling={"target_utilization": 0.6, "min_nodes": 1, "max_nodes": 4})
    ).designs[0].fleet
    assert fleet.purchase == "spot" and fleet.on_demand_base == 1
    assert fleet.spot_notice_s == SPOT_NOTICE_S["aws"]  # the provider's default
    assert fleet.spot.replacement_delay_s == 20
    assert fleet.provisioning_delay_s == 75.0  # the components, not autoscaling's default 120
    advisor = parse_scenario(streaming_example(purchase="spot", spot=ADVISOR)).designs[0].fleet
    assert isinstance(advisor.spot.interruptions, AdvisorInterruptions)


def test_streaming_provisioning_delay_defaults() -> None:
    plain = parse_scenario(streaming_example()).designs[0].fleet
    assert plain.provisioning_delay_s == 0.0 and plain.spot_notice_s is None
    auto = parse_scenario(streaming_example(autoscaling={
        "target_utilization": 0.5, "min_nodes": 1, "max_nodes": 3,
        "provisioning_delay_s": 45})).designs[0].fleet
    assert auto.provisioning_delay_s == 45.0
