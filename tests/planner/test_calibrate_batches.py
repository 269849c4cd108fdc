"""Batch recovery from per-request load tests and the in-loop table method of ``planner calibrate``.

The synthetic tests come from an independent model of a one-worker dynamic batcher (FIFO, max
wait 0: a batch is whatever is queued when the worker frees, up to max_batch), written here in
plain Python with known per-size batch times: the loop runs at the profile's 2 ms up to 8
requests and 3.5 ms above (a step no ``scale x t(n) + overhead`` of a flat profile can follow),
each batch drawn lognormal around its median. The model records every batch's size, whether it
started back to back and its time: the truths recovery is checked against.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from domain.errors import ScenarioError
from planner.calibrate import calibrate_design
from planner.calibrate_batches import (
    MIN_BACK_TO_BACK,
    SERIAL_LIMIT,
    in_loop_rows,
    recover_batches,
    serial_correlation,
    size_ranges,
)
from planner.cli.main import app
from planner.inputs import load_scenario_inputs
from planner.inputs_loadtest import LoadTest, load_loadtest
from planner.json_schemas import generate
from planner.reports.calibration import render_calibration
from planner.schema import load_scenario
from tests.planner.test_calibrate import serve_one_worker

runner = CliRunner()
MAX_BATCH = 16
PROFILE_MS = 2.0
"""The isolated profile: every batch size takes 2 ms."""
SIGMA = 0.05
"""Lognormal dispersion of a batch's time in the loop."""


def _loop_median_ms(n: int) -> float:
    """The loop's true median batch time: the profile up to 8, 3.5 ms above."""
    return PROFILE_MS if n <= 8 else 3.5


def _serve(arrival_s: np.ndarray, rng: np.random.Generator, slow_every_s: float | None = None):
    """Latencies (ms) and batch truths of the one-worker batcher whose batch of n takes
    :func:`_loop_median_ms` with lognormal jitter; with ``slow_every_s``, 30 % slower in every
    other stretch of that length (slow and fast stretches)."""

    def batch_ms(n: int, start_s: float) -> float:
        took_ms = _loop_median_ms(n) * math.exp(SIGMA * rng.standard_normal())
        slow = slow_every_s is not None and int(start_s / slow_every_s) % 2
        return took_ms * (1.3 if slow else 1.0)

    return serve_one_worker(arrival_s, MAX_BATCH, batch_ms)


def _write(path, rate_rps: float, duration_s: float, seed: int,
           slow_every_s: float | None = None):
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate_rps, int(rate_rps * duration_s)))
    latency, sizes, back, times = _serve(arrival, rng, slow_every_s)
    path.write_text("arrival_s,latency_ms\n" + "".join(
        f"{a:.9f},{x:.6f}\n" for a, x in zip(arrival, latency, strict=True)))
    return str(path), (sizes, back, times)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("batches")
    (root / "profile.csv").write_text("batch,mean_ms,p50_ms,p99_ms\n" + "".join(
        f"{n},{PROFILE_MS},{PROFILE_MS},{PROFILE_MS * 1.1}\n" for n in range(1, MAX_BATCH + 1)))
    design = {"name": "gpu", "workload": "api", "pattern": "realtime",
              "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
              "batching": {"max_batch": MAX_BATCH, "max_wait_ms": 0},
              "service_time": {"kind": "table", "path": "profile.csv", "jitter": "lognormal"}}
    two = {**design, "name": "two", "fleet": {"instance": "aws:p5.4xlarge", "nodes": 2}}
    (root / "server.yaml").write_text(yaml.safe_dump({
        "name": "synthetic", "horizon_s": 20, "replications": 2, "seed": 5,
        "workloads": [{"name": "api", "kind": "inference",
                       "arrivals": {"kind": "poisson", "rate_rps": 1000}}],
        "designs": [design, two]}))
    # low load: batches of a few requests (none above 8); high load: up to full batches
    low, low_truth = _write(root / "low.csv", 1500, 6, seed=1)
    high, high_truth = _write(root / "high.csv", 3800, 5, seed=2)
    return {"root": root, "scenario": str(root / "server.yaml"), "low": low, "high": high,
            "low_truth": low_truth, "high_truth": high_truth}


def test_recovers_every_batch_and_which_started_back_to_back(files):
    sizes, back, times = files["high_truth"]
    found = recover_batches(load_loadtest(files["high"]), MAX_BATCH)
    assert found.size.tolist() == sizes.tolist()
    assert found.back_to_back.tolist() == back.tolist()
    # a back-to-back batch's gap is its time (the CSV keeps latencies to 1 us)
    assert found.in_loop_ms[back] == pytest.approx(times[back], abs=2e-3)
    assert 0 < found.n_back_to_back < found.n_batches  # both kinds occur


def test_in_loop_times_match_the_known_batch_times_within_sampling_error(files):
    sizes, back, _ = files["high_truth"]
    rows = in_loop_rows([recover_batches(load_loadtest(files["high"]), MAX_BATCH)],
                        np.full(MAX_BATCH + 1, PROFILE_MS))
    checked = 0
    for row in rows:
        if row.n_back_to_back < MIN_BACK_TO_BACK:
            continue
        truth = _loop_median_ms(row.batch_size)
        se = 1.2533 * SIGMA * truth / math.sqrt(row.n_back_to_back)  # s.e. of a median
        assert abs(row.median_ms - truth) < 4 * se + 2e-3, row  # + the CSV's 1 us rounding
        assert row.n_back_to_back == int(((sizes == row.batch_size) & back).sum())
        # the step above 8 is flagged; the sizes that follow the profile are not
        assert row.flag == ("slower" if row.batch_size > 8 else None), row
        checked += 1
    assert checked >= 8


def test_slow_and_fast_stretches_are_told_from_independent_draws(files, tmp_path):
    independent = recover_batches(load_loadtest(files["high"]), MAX_BATCH)
    # independent draws: 0 within sampling error (a few hundredths over ~1,500 pairs)
    assert abs(serial_correlation(independent)) < SERIAL_LIMIT / 2
    path, _ = _write(tmp_path / "stretches.csv", 1500, 4, seed=3, slow_every_s=0.25)
    drifting = recover_batches(load_loadtest(path), MAX_BATCH)
    assert serial_correlation(drifting) > 2 * SERIAL_LIMIT


def test_back_to_back_needs_every_request_queued_at_the_previous_completion():
    # batch A: two requests done at 10 ms; B: queued at 10 ms, done at 13 ms (back to back);
    # C: arrived at 14 ms on an idle worker, done at 16 ms (not timed)
    arrival = np.array([0.0, 0.001, 0.005, 0.009, 0.014])
    done = np.array([0.010, 0.010, 0.013, 0.013, 0.016])
    test = LoadTest(path="hand.csv", kind="requests", rate_rps=250.0, duration_s=0.014,
                    n_requests=5, arrival_s=arrival, latency_ms=(done - arrival) * 1000,
                    batch_size=None, columns="arrival_s, latency_ms")
    found = recover_batches(test, 4)
    assert found.size.tolist() == [2, 2, 1]
    assert found.back_to_back.tolist() == [False, True, False]
    assert found.in_loop_ms[1] == pytest.approx(3.0)
    assert np.isnan(found.in_loop_ms[[0, 2]]).all()
    # a design that waits 6 ms for a batch to fill: B's oldest (5 ms) had not waited it out
    assert recover_batches(test, 4, max_wait_ms=6.0).back_to_back.tolist() == [False] * 3
    # B's second request sent 0.02 ms after A completed: B formed after that completion, so
    # the gap overstates its time and B is not timed
    late = arrival.copy()
    late[3] = 0.01002
    test = LoadTest(path="late.csv", kind="requests", rate_rps=250.0, duration_s=0.014,
                    n_requests=5, arrival_s=late, latency_ms=(done - late) * 1000,
                    batch_size=None, columns="arrival_s, latency_ms")
    assert recover_batches(test, 4).back_to_back.tolist() == [False, False, False]
    # more requests completing together than the design batches: another server
    with pytest.raises(ScenarioError, match=r"late.csv: 2 requests \(sent from 0.000000 s\) "
                                            r"completed within 0.05 ms .* at most 1 "
                                            r"\(batching.max_batch\)"):
        recover_batches(test, 1)


def test_table_method_recovers_the_known_table_and_flags_the_extrapolation(files):
    scenario = load_scenario(files["scenario"])
    tests = [load_loadtest(files["low"]), load_loadtest(files["high"])]
    result = calibrate_design(scenario, "gpu", load_scenario_inputs(scenario), tests)
    assert result.method_id == "table" and result.fit is None  # auto: batches recoverable
    table = result.table
    for i, n in enumerate(table.batch_sizes):
        if table.measured[i]:
            mean = _loop_median_ms(n) * math.exp(SIGMA**2 / 2)
            se = SIGMA * mean / math.sqrt(table.n_back_to_back[i])
            assert abs(table.mean_ms[i] - mean) < 4 * se + 2e-3, (n, table.mean_ms[i])
    assert table.measured[[8, 12]].all()  # sizes 9 and 13 measured
    # the table reproduces both tests (the bare profile is far off at high load)
    high = result.tests[1]
    assert np.abs(high.after.error_pct().mean(axis=0)).max() < 10
    assert np.abs(high.before.error_pct().mean(axis=0)).max() > 30
    # leave one out: low predicts high only through sizes it never saw (profile x terms)
    low_sizes = files["low_truth"][0]
    high_sizes = files["high_truth"][0]
    predicted = result.leave_one_out[1]
    assert predicted.left_out == "high.csv"
    unseen = np.setdiff1d(np.unique(high_sizes), np.unique(low_sizes))
    assert unseen.size and unseen.min() > 8
    assert f"{size_ranges(unseen)} never timed" in predicted.extrapolation
    assert "profile x" in predicted.extrapolation


def test_multi_worker_design_skips_batch_recovery_with_the_reason(files):
    scenario = load_scenario(files["scenario"])
    tests = [load_loadtest(files["low"])]
    inputs = load_scenario_inputs(scenario)
    with pytest.raises(ScenarioError, match=r"--method table: no batches can be recovered from "
                                            r"low.csv \(the design has 2 workers"):
        calibrate_design(scenario, "two", inputs, tests, method="table")
    result = runner.invoke(app, ["calibrate", files["scenario"], files["low"], "-d", "two",
                                 "-q", "-f", "json", "-r", "2"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    Draft202012Validator(generate("calibration")).validate(doc)
    assert doc["method_id"] == "terms" and doc["table"] is None
    assert doc["batches"][0]["skipped"].startswith("the design has 2 workers")


def test_a_test_whose_batches_cannot_be_told_apart_is_refused_by_the_table_method(files,
                                                                                 tmp_path):
    # the first 20 requests logged as completing at one instant: more than max_batch (16)
    lines = Path(files["low"]).read_text().splitlines()
    rows = [[float(v) for v in line.split(",")] for line in lines[1:]]
    together_s = rows[19][0] + 0.002
    for row in rows[:20]:
        row[1] = (together_s - row[0]) * 1000.0
    merged = tmp_path / "merged.csv"
    merged.write_text(lines[0] + "\n" + "".join(f"{a:.9f},{x:.6f}\n" for a, x in rows))
    scenario = load_scenario(files["scenario"])
    with pytest.raises(ScenarioError, match=r"--method table: no batches can be recovered from "
                                            r"merged.csv \(.*merged.csv: 20 requests .* "
                                            r"completed within 0.05 ms"):
        calibrate_design(scenario, "gpu", load_scenario_inputs(scenario),
                         [load_loadtest(str(merged))], method="table")


def test_cli_writes_the_table_beside_the_scenario_and_it_runs(files):
    out = os.path.join(files["root"], "calibrated.yaml")
    result = runner.invoke(app, ["calibrate", files["scenario"], files["low"], files["high"],
                                 "-d", "gpu", "-q", "-o", out, "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    Draft202012Validator(generate("calibration")).validate(doc)
    assert doc["method_id"] == "table" and doc["wrote_table"].endswith(".service-time.csv")
    text = render_calibration(doc, wide=True)
    assert "ASSUMPTION predicting high.csv" in text
    assert "barely correlate" in text and "WARNING" not in text
    assert "vs profile" in text and "slower" in text
    service = load_scenario(out).designs[0].service_time
    assert (service.kind, service.jitter) == ("table", "lognormal")
    assert service.calibrated_from == ("low.csv", "high.csv")
    assert os.path.basename(service.path) == "calibrated.service-time.csv"
    run = runner.invoke(app, ["run", out, "-q", "-r", "2", "-f", "json"])
    assert run.exit_code == 0, run.output
    assert "calibrated from low.csv, high.csv" in json.loads(run.stdout)["designs"][0][
        "service_time"]
