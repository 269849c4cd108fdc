"""One autoscaling schema for every autoscaled pattern (``planner/schema_fleet.py::Autoscaling``):
the same block in a real-time, a streaming and an LLM fleet; each pattern's metrics, and the
others refused with the field, the value, the pattern's metrics and the fix; the old streaming
form read as what it always simulated; batch and training jobs refuse autoscaling."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest

from domain.errors import ScenarioError
from planner.run import run_scenario
from planner.schema import Autoscaling, load_scenario, parse_scenario
from planner.schema_fleet import AUTOSCALING_METRICS

REPO = Path(__file__).resolve().parents[2]
BLOCK = {"metric": "utilization", "target": 0.6, "min_nodes": 1, "max_nodes": 4,
         "interval_s": 30, "window_s": 90, "scale_in_cooldown_s": 120,
         "schedule": [{"start_hour": 8, "end_hour": 20, "min_nodes": 2}]}
"""One block, every field given."""

WORKLOAD = {"name": "w", "kind": "inference", "arrivals": {"kind": "poisson", "rate_rps": 20},
            "tokens": {"prompt_tokens": 500, "output_tokens": 100}}
SERVICE = {"kind": "constant", "ms": 5}
DESIGNS = {
    "realtime": {"name": "rt", "workload": "w", "pattern": "realtime",
                 "fleet": {"instance": "aws:g5.xlarge", "nodes": 1}, "service_time": SERVICE},
    "streaming": {"name": "st", "workload": "w", "pattern": "streaming", "window_s": 1,
                  "fleet": {"instance": "aws:g5.xlarge", "nodes": 1}, "service_time": SERVICE},
    "llm": {"name": "llm", "workload": "w", "pattern": "llm", "model": "llama-3.1-8b",
            "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1}},
    "batch": {"name": "b", "workload": "w", "pattern": "batch", "schedule": {"period_s": 600},
              "fleet": {"instance": "aws:g5.xlarge", "nodes": 1}, "service_time": SERVICE},
    "training": {"name": "t", "workload": "job", "pattern": "training",
                 "fleet": {"instance": "aws:g5.xlarge", "nodes": 1}},
}
F = "designs[0].fleet"


def scenario_data(pattern: str, **fleet: Any) -> dict[str, Any]:
    """A one-design scenario of ``pattern`` whose fleet fields are updated with ``fleet``."""
    design = copy.deepcopy(DESIGNS[pattern])
    design["fleet"].update(fleet)
    workloads = [WORKLOAD]
    if pattern == "training":
        workloads = [{"name": "job", "kind": "training", "gpu_hours": 10}]
    return {"name": "s", "horizon_s": 600, "workloads": workloads, "designs": [design]}


def fleet_of(pattern: str, **fleet: Any) -> Any:
    return parse_scenario(scenario_data(pattern, **fleet)).designs[0].fleet


def problem_of(pattern: str, **fleet: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(scenario_data(pattern, **fleet))
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# One block, every autoscaled pattern


def test_the_same_block_loads_in_realtime_streaming_and_llm_designs() -> None:
    expected = Autoscaling.model_validate(BLOCK)
    realtime = fleet_of("realtime", autoscaling=BLOCK).autoscaling
    streaming = fleet_of("streaming", autoscaling=BLOCK).autoscaling
    llm = fleet_of("llm", autoscaling={**BLOCK, "metric": "kv_utilization"}).autoscaling
    assert type(realtime) is type(streaming) is type(llm) is Autoscaling
    assert realtime == streaming == expected
    assert llm == expected.model_copy(update={"metric": "kv_utilization"})
    assert (llm.interval_s, llm.window_s, llm.scale_in_cooldown_s) == (30, 90, 120)
    assert [(s.start_hour, s.end_hour, s.min_nodes) for s in streaming.schedule] == [(8, 20, 2)]


def test_the_defaults_are_the_same_in_every_pattern() -> None:
    short = {"metric": "utilization", "target": 0.6, "max_nodes": 4}
    realtime = fleet_of("realtime", autoscaling=short).autoscaling
    streaming = fleet_of("streaming", autoscaling=short).autoscaling
    llm = fleet_of("llm", autoscaling={**short, "metric": "in_flight_per_replica"}).autoscaling
    for auto in (realtime, streaming, llm):
        assert (auto.min_nodes, auto.interval_s, auto.window_s, auto.scale_in_cooldown_s,
                auto.schedule) == (1, 60, 300, 300, ())
    assert fleet_of("streaming", autoscaling=short).provisioning_delay_s == 0.0


@pytest.mark.parametrize(("pattern", "metric"),
                         [(p, m) for p, metrics in AUTOSCALING_METRICS.items() for m in metrics])
def test_every_pattern_takes_its_own_metrics(pattern: str, metric: str) -> None:
    auto = fleet_of(pattern, autoscaling={**BLOCK, "metric": metric}).autoscaling
    assert auto.metric == metric


# ---------------------------------------------------------------------------------------------
# Metrics a pattern cannot simulate


@pytest.mark.parametrize(("pattern", "metric", "owner", "supported", "fix"), [
    ("streaming", "queue_per_worker", "realtime designs", "'utilization'",
     "write metric: utilization"),
    ("streaming", "kv_utilization", "llm designs", "'utilization'", "write metric: utilization"),
    ("streaming", "cpu", "an unknown metric", "'utilization'", "write metric: utilization"),
    ("realtime", "in_flight_per_replica", "llm designs", "'utilization' or 'queue_per_worker'",
     "write metric: queue_per_worker"),
    ("realtime", "kv_utilization", "llm designs", "'utilization' or 'queue_per_worker'",
     "write metric: utilization"),
    ("llm", "utilization", "realtime and streaming designs",
     "'in_flight_per_replica' or 'waiting_per_replica' or 'kv_utilization'",
     "write metric: kv_utilization"),
    ("llm", "queue_per_worker", "realtime designs",
     "'in_flight_per_replica' or 'waiting_per_replica' or 'kv_utilization'",
     "write metric: in_flight_per_replica"),
])
def test_a_metric_the_pattern_cannot_simulate_is_refused(pattern: str, metric: str, owner: str,
                                                         supported: str, fix: str) -> None:
    message = problem_of(pattern, autoscaling={**BLOCK, "metric": metric})
    assert f"{F}.autoscaling.metric: is not a metric a {pattern} design can simulate" in message
    assert f"(got {metric!r}, " in message and owner in message
    assert f"a {pattern} design tracks {supported}" in message and fix in message


@pytest.mark.parametrize("pattern", ["batch", "training"])
def test_jobs_refuse_autoscaling(pattern: str) -> None:
    message = problem_of(pattern, autoscaling=BLOCK)
    assert f"{F}.autoscaling: does not apply to a batch or training job" in message
    assert "got autoscaling: {'metric': 'utilization'" in message
    assert "remove it and size the gang with nodes" in message


def test_a_streaming_fleet_keeps_a_node() -> None:
    message = problem_of("streaming", autoscaling={**BLOCK, "min_nodes": 0})
    assert f"{F}.autoscaling.min_nodes: must be >= 1 for a streaming fleet" in message
    assert "(got 0); use min_nodes: 1" in message
    assert fleet_of("realtime", autoscaling={**BLOCK, "min_nodes": 0}).autoscaling.min_nodes == 0


def test_a_fraction_target_above_one_is_refused() -> None:
    message = problem_of("streaming", autoscaling={**BLOCK, "target": 60})
    assert f"{F}.autoscaling.target: is a utilization, at most 1 (got 60)" in message
    message = problem_of("llm", autoscaling={**BLOCK, "metric": "kv_utilization", "target": 70})
    assert "is a KV utilisation, at most 1 (got 70)" in message
    assert "or metric: in_flight_per_replica" in message


# ---------------------------------------------------------------------------------------------
# The old streaming form


OLD = {"target_utilization": 0.6, "min_nodes": 1, "max_nodes": 4}


def test_the_old_streaming_form_reads_as_what_it_simulated() -> None:
    with pytest.warns(FutureWarning) as record:
        fleet = fleet_of("streaming", autoscaling=OLD)
    text = str(record[0].message)
    assert "target_utilization: 0.6" in text and "is the old streaming form" in text
    assert ("autoscaling: {metric: utilization, target: 0.6, min_nodes: 1, max_nodes: 4, "
            "interval_s: 60, window_s: 60, scale_in_cooldown_s: 0}") in text
    assert "provisioning: [{name: boot, median_s: 120}]" in text and "write that instead" in text
    assert fleet.autoscaling == Autoscaling(metric="utilization", target=0.6, min_nodes=1,
                                            max_nodes=4, interval_s=60, window_s=60,
                                            scale_in_cooldown_s=0)
    assert [(p.name, p.median_s, p.p95_s) for p in fleet.provisioning] == [("boot", 120, None)]
    assert fleet.provisioning_delay_s == 120.0  # the old form's default delay


def test_the_old_form_keeps_its_interval_delay_and_the_fleet_provisioning() -> None:
    with pytest.warns(FutureWarning):
        fleet = fleet_of("streaming", autoscaling={**OLD, "interval_s": 15,
                                                   "provisioning_delay_s": 45})
    assert (fleet.autoscaling.interval_s, fleet.autoscaling.window_s) == (15, 15)
    assert fleet.provisioning_delay_s == 45.0
    with pytest.warns(FutureWarning):
        given = fleet_of("streaming", autoscaling=OLD,
                         provisioning=[{"name": "boot", "median_s": 60},
                                       {"name": "load", "median_s": 15}])
    assert given.provisioning_delay_s == 75.0  # the fleet's components, not the default 120


@pytest.mark.parametrize(("fleet", "needles"), [
    ({"autoscaling": {**OLD, "metric": "utilization"}},
     [f"{F}.autoscaling.target_utilization: is the old streaming form of metric: utilization, "
      "target: 0.6 (got it beside metric); remove target_utilization"]),
    ({"autoscaling": {**OLD, "provisioning_delay_s": 30},
      "provisioning": [{"name": "boot", "median_s": 60}]},
     [f"{F}.autoscaling.provisioning_delay_s: gives the delay a second time (got 30 beside "
      "provisioning); remove it or remove provisioning"]),
    ({"autoscaling": {**OLD, "provisioning_delay_s": -1}},
     [f"{F}.autoscaling.provisioning_delay_s: must be a number of seconds >= 0 (got -1)",
      "provisioning: [{name: boot, median_s: 120}]"]),
    ({"autoscaling": {**BLOCK, "provisioning_delay_s": 30}},
     [f"{F}.autoscaling.provisioning_delay_s: is the old streaming form's boot delay (got "
      "provisioning_delay_s: 30); give the delay once, as the fleet's provisioning: "
      "[{name: boot, median_s: 30}]"]),
])
def test_a_mixed_or_bad_old_form_is_refused(fleet: dict[str, Any], needles: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        message = problem_of("streaming", **fleet)
    for needle in needles:
        assert needle in message, (needle, message)


@pytest.mark.parametrize("pattern", ["realtime", "llm"])
def test_the_old_form_in_another_pattern_names_the_new_fields(pattern: str) -> None:
    message = problem_of(pattern, autoscaling={**OLD, "provisioning_delay_s": 90})
    assert (f"{F}.autoscaling.target_utilization: is the old streaming form (got "
            "target_utilization: 0.6); write metric: utilization, target: 0.6") in message
    assert (f"{F}.autoscaling.provisioning_delay_s: is the old streaming form's boot delay "
            "(got provisioning_delay_s: 90); give the delay once, as the fleet's provisioning: "
            "[{name: boot, median_s: 90}]") in message


# ---------------------------------------------------------------------------------------------
# Bundled scenarios, and the same results from the old and the new form


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_bundled_scenario_loads_in_the_new_form(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no bundled file uses the old form
        scenario = load_scenario(path)
    for design in scenario.designs:
        auto = getattr(design.fleet, "autoscaling", None)
        if auto is not None:
            assert isinstance(auto, Autoscaling)
            assert auto.metric in AUTOSCALING_METRICS[design.pattern]


def _streaming_run(autoscaling: dict[str, Any], **fleet: Any) -> dict[str, Any]:
    data = {"name": "s", "horizon_s": 1800, "warmup_s": 300, "replications": 2, "seed": 7,
            "workloads": [{"name": "w", "kind": "inference",
                           "arrivals": {"kind": "poisson", "rate_rps": 300}}],
            "designs": [{"name": "st", "workload": "w", "pattern": "streaming", "window_s": 2,
                         "fleet": {"instance": "aws:g5.xlarge", "nodes": 1,
                                   "autoscaling": autoscaling, **fleet},
                         "batching": {"max_batch": 64},
                         "service_time": {"kind": "linear", "base_ms": 20,
                                          "per_item_ms": 2}}]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        result = run_scenario(parse_scenario(data)).to_dict()
    result.pop("timings")  # wall-clock time of the run
    return result


def test_a_streaming_run_is_the_same_in_the_old_and_the_new_form() -> None:
    old = _streaming_run({"target_utilization": 0.5, "min_nodes": 1, "max_nodes": 6,
                          "interval_s": 30, "provisioning_delay_s": 45})
    new = _streaming_run({"metric": "utilization", "target": 0.5, "min_nodes": 1,
                          "max_nodes": 6, "interval_s": 30, "window_s": 30,
                          "scale_in_cooldown_s": 0},
                         provisioning=[{"name": "boot", "median_s": 45}])
    assert old == new
    fleet = new["designs"][0]["fleet"]
    assert fleet["scale_out_actions"] > 0 and fleet["max_nodes"] > 1  # the autoscaler acted
    assert fleet["autoscaling"]["metric"] == "utilization"
    other = _streaming_run({"metric": "utilization", "target": 0.5, "min_nodes": 1,
                            "max_nodes": 6, "interval_s": 30},
                           provisioning=[{"name": "boot", "median_s": 45}])
    assert other != new  # the defaults (window 300 s, cooldown 300 s) are another policy


def test_a_streaming_schedule_reads_the_diurnal_clock() -> None:
    """Light load on one node; a floor of 3 from 08:00 with the day starting at 07:45 (diurnal
    start_hour): two nodes launch at the evaluation at t = 900 s, none before."""
    def run(schedule: list[dict[str, Any]]) -> dict[str, Any]:
        data = {"name": "s", "horizon_s": 1200, "replications": 2, "seed": 1,
                "workloads": [{"name": "w", "kind": "inference",
                               "arrivals": {"kind": "diurnal", "mean_rate_rps": 5,
                                            "start_hour": 7.75}}],
                "designs": [{"name": "st", "workload": "w", "pattern": "streaming",
                             "window_s": 1,
                             "fleet": {"instance": "aws:g5.xlarge", "nodes": 1,
                                       "autoscaling": {"metric": "utilization", "target": 0.6,
                                                       "max_nodes": 4, "window_s": 60,
                                                       "schedule": schedule}},
                             "service_time": SERVICE}]}
        return run_scenario(parse_scenario(data)).design("st").fleet.to_dict()

    assert run([])["max_nodes"] == 1
    fleet = run([{"start_hour": 8, "end_hour": 20, "min_nodes": 3}])
    assert fleet["max_nodes"] == 3 and fleet["scale_out_actions"] == 1
    assert fleet["node_hours"]["on_demand"] == pytest.approx((900 + 3 * 300) / 3600)
