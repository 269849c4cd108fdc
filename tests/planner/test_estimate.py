"""The estimate of a run's time and memory before it starts, and the refusal past the limits
(issue 19: ten years at 100k req/s, 10,000 replications, a 1M-point sweep, a training
checkpoint that costs 1e9 s)."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli.main import app
from planner.estimate import RunLimits, RunTooLargeError, check_run_size, estimate_run
from planner.run import run_scenario
from planner.schema import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
TEN_YEARS_S = 10 * 365.25 * 86400
runner = CliRunner()


def _realtime(horizon_s: float, rate_rps: float, replications: int = 2) -> dict:
    return {"name": "sized", "horizon_s": horizon_s, "replications": replications,
            "workloads": [{"name": "w", "kind": "inference",
                           "arrivals": {"kind": "poisson", "rate_rps": rate_rps}}],
            "designs": [{"name": "rt", "workload": "w", "pattern": "realtime",
                         "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
                         "service_time": {"kind": "constant", "ms": 2}}]}


def test_every_bundled_scenario_runs_without_force():
    for path in sorted(SCENARIOS.glob("*.yaml")):
        estimate = check_run_size(load_scenario(path))
        assert estimate.wall_s < 300, (path.name, estimate.describe())


def test_ten_years_at_100k_requests_per_second_is_refused_with_the_estimate(tmp_path):
    path = tmp_path / "ten-years.yaml"
    path.write_text(yaml.safe_dump(_realtime(TEN_YEARS_S, 1e5, replications=8)))
    res = runner.invoke(app, ["compare", str(path), "-q"])
    assert res.exit_code == 1, res.output
    # 1e5 requests/s x 3.156e8 s = 3.16e13 requests in each replication
    assert "3.16e+13 requests per replication x 8 replications" in res.output
    assert "--force" in res.output and "horizon_s" in res.output
    assert "Traceback" not in res.output


def test_force_lets_the_run_start(monkeypatch):
    sc = parse_scenario(_realtime(TEN_YEARS_S, 1e5))
    with pytest.raises(RunTooLargeError):
        check_run_size(sc)
    assert check_run_size(sc, force=True).wall_s > 86400  # estimated, not refused


def test_ten_thousand_replications_of_a_day_are_refused():
    sc = load_scenario(SCENARIOS / "fraud-scoring.yaml").model_copy(
        update={"replications": 10_000})
    with pytest.raises(RunTooLargeError, match="10,000 replications") as err:
        check_run_size(sc, n_cores=2)
    assert "lower replications" in str(err.value)


def test_a_million_point_sweep_is_refused_but_its_one_point_is_not():
    sc = load_scenario(SCENARIOS / "sweep-example.yaml")
    check_run_size(sc, points=1)
    with pytest.raises(RunTooLargeError, match="1,000,000 sweep points"):
        check_run_size(sc, points=1_000_000)


def test_a_training_checkpoint_of_1e9_s_is_refused_before_it_runs(tmp_path):
    data = yaml.safe_load((SCENARIOS / "training-spot.yaml").read_text())
    data["designs"][1]["checkpoint"]["cost_s"] = 1e9
    path = tmp_path / "training.yaml"
    path.write_text(yaml.safe_dump(data))
    started = time.perf_counter()
    res = runner.invoke(app, ["compare", str(path), "-q"])
    assert res.exit_code == 1, res.output
    assert "spot-checkpointed (training)" in res.output and "--force" in res.output
    assert time.perf_counter() - started < 10  # the run took 44 s and 9 GB to fail


def test_the_limits_are_the_ones_given():
    sc = load_scenario(SCENARIOS / "bert-serving.yaml")
    estimate = check_run_size(sc)
    with pytest.raises(RunTooLargeError, match="time"):
        check_run_size(sc, limits=RunLimits(wall_s=estimate.wall_s / 2))
    with pytest.raises(RunTooLargeError, match="memory"):
        check_run_size(sc, limits=RunLimits(bytes=estimate.peak_bytes / 2))


def test_a_trace_is_sized_from_its_first_and_last_rows():
    sc = load_scenario(SCENARIOS / "llm-chat.yaml")
    trace = Path(sc.workloads[0].arrivals.path)
    rows = sum(1 for _ in trace.open()) - 1
    first, last = _first_last(trace)
    span_s = (last - first).total_seconds()
    expected = rows * sc.horizon_s / span_s  # repeat: the trace loops over the horizon
    design = estimate_run(sc).designs[0]
    assert design.work == pytest.approx(expected, rel=0.1)


def _first_last(trace: Path):
    import csv
    import datetime as dt

    with trace.open() as file:
        stamps = [row["TIMESTAMP"] for row in csv.DictReader(file)]
    return (dt.datetime.strptime(stamps[0][:26], "%Y-%m-%d %H:%M:%S.%f"),
            dt.datetime.strptime(stamps[-1][:26], "%Y-%m-%d %H:%M:%S.%f"))


def test_memory_and_time_estimates_are_within_a_factor_of_two_of_a_measured_run():
    # 30 days at 2 requests/s: the per-minute timeline dominates memory.
    sc = parse_scenario(_realtime(30 * 86400.0, 2.0))
    run_scenario(sc.model_copy(update={"horizon_s": 600.0}))  # compile outside the measure
    estimate = estimate_run(sc)
    tracemalloc.start()
    try:
        run_scenario(sc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.5 < estimate.peak_bytes / peak < 2.0


def test_a_fleet_of_100000_nodes_with_1024_workers_each_is_refused_for_its_memory():
    # Each worker holds a batch buffer of max_batch floats: 1e8 workers x 4,096 x 8 B = 3 PB.
    data = _realtime(600.0, 1.0)
    data["designs"][0]["fleet"].update(nodes=100_000, workers_per_node=1024)
    data["designs"][0]["batching"] = {"max_batch": 4096}
    with pytest.raises(RunTooLargeError, match="memory"):
        check_run_size(parse_scenario(data))


@pytest.mark.parametrize("command", ["adr", "diff"])
def test_adr_and_diff_estimate_before_simulating_too(tmp_path, command):
    path = tmp_path / "ten-years.yaml"
    path.write_text(yaml.safe_dump(_realtime(TEN_YEARS_S, 1e5, replications=8)))
    args = (["adr", str(path), "-o", str(tmp_path / "adr.md"), "-q"] if command == "adr"
            else ["diff", str(path), str(path), "-q"])
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "3.16e+13 requests per replication x 8 replications" in res.output
    assert "--force" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "adr.md").exists()
