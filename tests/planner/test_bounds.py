"""Every numeric scenario field is bounded by what the simulators can represent (issue 19).

The issue's cases are regression tests through the CLI: each must end with exit 1 and a message
naming the field path, the value, the limit and the fix, never a traceback.
"""

from __future__ import annotations

import math
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from planner import schema
from planner.cli.main import app
from planner.schema_base import _Frozen
from planner.schema_limits import (
    MAX_LATENCY_S,
    MAX_NODES,
    MAX_RATE_RPS,
    MAX_TIME_S,
    explicit_upper_bound,
    limit_for,
)
from simulators.training.checkpoints import predicted_waste_fraction

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
runner = CliRunner()


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    """Every scenario model reachable from ``root`` through field annotations."""
    found: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in get_args(annotation):
            visit(arg)

    visit(root)
    return found


def _numbers(annotation: Any) -> bool:
    """Whether a field can hold an int or a float (alone, optional, in a union or a tuple)."""
    if annotation in (int, float):
        return True
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated, tuple):
        return any(_numbers(a) for a in get_args(annotation) if a is not Ellipsis)
    return False


def test_every_numeric_field_of_the_scenario_schema_has_an_upper_bound():
    models = _models(schema.Scenario)
    assert schema.BatchDesign in models and schema.LlmEngine in models  # the walk is complete
    unbounded = [f"{m.__name__}.{name}" for m in models if issubclass(m, _Frozen)
                 for name, field in m.model_fields.items()
                 if _numbers(field.annotation) and name not in ("seed",)
                 and explicit_upper_bound(field) is None and limit_for(name) is None
                 and name not in _BOUNDED_BY_A_VALIDATOR]
    assert unbounded == []


_BOUNDED_BY_A_VALIDATOR = {
    "hourly_weights",  # each weight <= 1e12 (DiurnalArrivals._check_weights)
    "negotiated_discounts",  # 0 <= % < 100 (Pricing._check_percent)
    "values",  # sweep values: each point is validated as a design (planner.sweep.points)
}


def test_seed_is_bounded_too():
    assert explicit_upper_bound(schema.Scenario.model_fields["seed"]) == 2**63


def test_the_unit_is_read_from_the_suffix():
    assert limit_for("horizon_s").most == MAX_TIME_S
    assert limit_for("max_wait_ms").most == MAX_LATENCY_S * 1000
    assert limit_for("ms").most == MAX_LATENCY_S * 1000
    assert limit_for("rate_rps").most == MAX_RATE_RPS
    assert limit_for("max_nodes").most == MAX_NODES
    assert limit_for("deadline_h").most == MAX_TIME_S / 3600
    assert limit_for("usd_per_hour_committed").unit == "USD/h"
    assert limit_for("name") is None and limit_for("percentile") is None


def test_the_limits_are_what_float64_and_the_histogram_represent():
    # A clock below 2^32 s still resolves 2^-20 s (the histogram's finest bucket) ...
    assert MAX_TIME_S + 2.0**-20 > MAX_TIME_S
    assert math.ulp(MAX_TIME_S) <= 2.0**-20
    # ... the rate limit keeps every request count of a run exact in float64 ...
    assert MAX_RATE_RPS * MAX_TIME_S <= 2.0**53
    # ... and per-request times stop at the histogram's overflow bucket.
    from simulators.core.histogram import bucket_bounds

    assert bucket_bounds()[0][-1] == MAX_LATENCY_S


def test_the_json_schema_states_the_unit_limits():
    js = schema.Scenario.model_json_schema()
    assert js["properties"]["horizon_s"]["maximum"] == MAX_TIME_S
    nodes = js["$defs"]["Fleet"]["properties"]["max_nodes"]["anyOf"]
    assert {"maximum": MAX_NODES, "minimum": 1, "type": "integer"} in nodes


def _scenario(name: str, tmp_path: Path, change) -> Path:
    data = yaml.safe_load((SCENARIOS / name).read_text())
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _realtime(data: dict) -> None:
    """A scenario that needs no data file: one real-time design, constant service time."""
    data["designs"] = [{"name": "rt", "workload": "bert", "pattern": "realtime",
                        "fleet": {"instance": "aws:p5.4xlarge", "nodes": 2},
                        "batching": {"max_batch": 8, "max_wait_ms": 5},
                        "service_time": {"kind": "constant", "ms": 2}}]


def _set(path: tuple, value: Any):
    def change(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _both(*changes):
    def change(data: dict) -> None:
        for c in changes:
            c(data)
    return change


CASES = [  # (id, scenario, change, field path, value as printed, limit as printed)
    ("horizon-1e12", "bert-serving.yaml", _both(_realtime, _set(("horizon_s",), 1e12)),
     "horizon_s", "1e+12", "4,294,967,296 s"),
    ("batch-rate-1e308", "nightly-recsys.yaml",
     _set(("workloads", 0, "arrivals", "rate_rps"), 1e308),
     "workloads[0].arrivals.rate_rps", "1e+308", "1,048,576 requests/s"),
    ("nodes-int64-max", "bert-serving.yaml",
     _both(_realtime, _set(("designs", 0, "fleet", "nodes"), 9223372036854775807)),
     "designs[0].fleet.nodes", "9,223,372,036,854,775,807", "100,000 nodes"),
    ("training-replacement-delay", "training-spot.yaml",
     _set(("designs", 1, "fleet", "spot", "replacement_delay_s"), 1.8e19),
     "designs[1].fleet.spot.replacement_delay_s", "1.8e+19", "4,294,967,296 s"),
    ("max-wait-1e300", "bert-serving.yaml",
     _both(_realtime, _set(("designs", 0, "batching", "max_wait_ms"), 1e300)),
     "designs[0].batching.max_wait_ms", "1e+300", "16,777,216,000 ms"),
    ("service-time-1e300", "nightly-recsys.yaml",
     _set(("designs", 0, "service_time", "base_ms"), 1e300),
     "designs[0].service_time.base_ms", "1e+300", "16,777,216,000 ms"),
    ("gpu-hours", "training-spot.yaml", _set(("workloads", 0, "gpu_hours"), 1e300),
     "workloads[0].gpu_hours", "1e+300", "1000000000"),
]


@pytest.mark.parametrize(("scenario", "change", "field", "value", "limit"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_issue_cases_are_refused_naming_field_value_limit_and_fix(
        tmp_path, scenario, change, field, value, limit):
    path = _scenario(scenario, tmp_path, change)
    res = runner.invoke(app, ["compare", str(path), "-q"])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    line = next(line for line in res.output.splitlines() if f"- {field}:" in line)
    assert value in line and limit in line and "or less" in line


def test_a_schedule_period_longer_than_the_horizon_names_the_field(tmp_path):
    path = _scenario("nightly-recsys.yaml", tmp_path,
                     _set(("designs", 0, "schedule"), {"period_s": 1e9}))
    res = runner.invoke(app, ["compare", str(path), "-q"])
    assert res.exit_code == 1, res.output
    assert "designs[0].schedule.period_s: 1,000,000,000 s is longer than horizon_s" in res.output
    assert "simulate_batch" not in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("option", [["--replications", "100000"], ["--seed", str(2**64)]])
def test_cli_overrides_are_bounded_as_the_scenario_is(option):
    res = runner.invoke(app, ["compare", str(SCENARIOS / "bert-serving.yaml"), *option])
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_waste_of_a_segment_that_never_finishes_is_all_of_the_time():
    # Daly's expected segment time overflows a float for C / M = 1e9 / 3e4; the waste tends to 1
    # as C grows (1 - tau / (M e^{R/M} (e^{(tau+C)/M} - 1)) -> 1), so the limit is 1, not an
    # OverflowError.
    assert predicted_waste_fraction(7.7e6, 1e9, 3e4) == 1.0
    assert 0.999 < predicted_waste_fraction(3600.0, 3e5, 3e4) < 1.0  # large, still finite
    assert predicted_waste_fraction(3600.0, 60.0, 4 * 3600.0, restart_s=1.8e19) == 1.0


def test_an_autoscaler_window_of_more_than_10000_intervals_is_refused(tmp_path):
    # interval_s 1e-9 in fleet-mix's 300 s window made the realtime kernel allocate 3e11 window
    # slots: SystemError from CPUDispatcher(realtime_kernel), found by evaluating every field
    # at its limits.
    path = _scenario("fleet-mix.yaml", tmp_path,
                     _set(("designs", 0, "fleet", "autoscaling", "interval_s"), 1e-9))
    res = runner.invoke(app, ["compare", str(path), "-q"])
    assert res.exit_code == 1, res.output
    assert "designs[0].fleet.autoscaling.window_s: spans at most 10,000 intervals" in res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, SystemError)


@pytest.mark.parametrize(("field", "value", "named"), [
    ("checkpoint", {"interval_s": 1e-9, "cost_s": 30}, "designs[0].checkpoint.interval_s"),
    ("service_time", {"kind": "linear", "base_ms": 5, "per_item_ms": 1.6e10},
     "designs[0].checkpoint.interval_s"),
])
def test_a_batch_job_of_more_than_ten_million_checkpoints_is_refused(tmp_path, field, value,
                                                                     named):
    # Both ran for hours in the batch kernel, which steps through every checkpoint: 500M
    # records a day at 2 x 1024 / 25.5 ms = 8.0e4 records/s is 6,200 s of work, 6.2e12
    # checkpoints at 1e-9 s; at 1.6e10 ms per record (a batch of 1,024: 1.6e10 s) the work is
    # 4e15 s, 2.2e12 checkpoints at 30 min.
    path = _scenario("nightly-recsys.yaml", tmp_path, _set(("designs", 0, field), value))
    res = runner.invoke(app, ["compare", str(path), "-q"])
    assert res.exit_code == 1, res.output
    assert f"{named}: a job of about" in res.output and "checkpoints" in res.output


@pytest.mark.parametrize(("path", "value", "line"), [
    # A median of 1e-9 s and a p95 of 900 s: MemoryError sizing an hourly profile of 1.8e14 h.
    (("designs", 0, "fleet", "provisioning", 0, "median_s"), 1e-9,
     "designs[0].fleet.provisioning[0].p95_s: must be at most 100 x median_s"),
    # The deadline became a LatencySLO past its own limit: a ValidationError from a property.
    (("workloads", 0, "deadline_h"), 1e6, "workloads[0].deadline_h: must be <= 4660"),
])
def test_training_limits_found_at_the_edges(tmp_path, path, value, line):
    res = runner.invoke(app, ["compare", str(_scenario("training-spot.yaml", tmp_path,
                                                       _set(path, value))), "-q"])
    assert res.exit_code == 1, res.output
    assert line in res.output and "Traceback" not in res.output
