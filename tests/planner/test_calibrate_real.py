"""``planner calibrate`` on the real H100 ResNet-50 load tests of the shared data folder.

Skipped where ``../shared/data/gpu-loadtests/`` is absent (the files are not bundled). Truths:
the measured percentiles, read here with the csv module; the finding of issue 20 that the bare
isolated profile predicts the 30 %-load test closely and the 60 %-load p99 far too low; the
batch sizes each test formed, recovered here independently (completion = arrival + latency).

Margins: over 8 replications (seed 11) the in-loop table fitted on both tests gave 30 % p50
-0.8..+0.1 %, p90 +3.0..+3.8 %, p99 -10.1..-8.9 %; 60 % p50 -4.1..+4.7 %, p99 -76..-65 %
(before: -89 %: the loop runs in stretches of seconds, full batches 4.6 to 7.6 ms by the
second, which independent draws cannot reproduce); left out, 30 % -> 60 % p99 -87.6..-87.2 %
(sizes 25-32 never observed at 30 %) and 60 % -> 30 % p50 +9.1..+10.3 % (sizes 1-5 never
observed at 60 %). The bounds below leave a few points beyond those ranges for 2
replications.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from planner.calibrate import calibrate_design
from planner.inputs import load_scenario_inputs
from planner.inputs_loadtest import load_loadtest
from planner.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "gpu-loadtests"
TESTS = [SHARED / f"h100_resnet50_maxwait0ms_load{x}.csv" for x in ("0.3", "0.6")]
pytestmark = pytest.mark.skipif(not all(p.is_file() for p in TESTS),
                                reason=f"the shared load tests are not at {SHARED}")


def _latencies(path: Path) -> np.ndarray:
    with path.open(newline="") as fh:
        return np.array([float(row["latency_ms"]) for row in csv.DictReader(fh)])


def test_the_bare_profile_fits_30_percent_and_misses_the_60_percent_tail():
    scenario = load_scenario(ROOT / "scenarios" / "resnet50-h100.yaml")
    scenario = scenario.model_copy(update={"replications": 2})
    tests = [load_loadtest(str(p)) for p in TESTS]
    result = calibrate_design(scenario, "one-h100", load_scenario_inputs(scenario), tests)
    low, high = result.tests
    for report, path in ((low, TESTS[0]), (high, TESTS[1])):
        truth = np.percentile(_latencies(path), [50, 90, 99])
        assert report.before.measured_ms == pytest.approx(truth)
        assert report.rate_rps == pytest.approx({"0.3": 2180, "0.6": 4360}[path.stem[-3:]],
                                                rel=0.01)
    before_low = low.before.error_pct().mean(axis=0)
    before_high = high.before.error_pct().mean(axis=0)
    assert np.abs(before_low).max() < 15       # 30 %: the isolated profile is close
    assert before_high[2] < -50                # 60 %: p99 far too low (measured 96 ms)
    # each test left out in turn is predicted from the other, with the terms it was fitted to
    assert [p.left_out for p in result.leave_one_out] == [t.name for t in tests]
    assert all(p.table.fitted_on == (other.name,) for p, other in
               zip(result.leave_one_out, reversed(tests), strict=True))
    # auto: one worker, per-request tests -> the measured in-loop table
    assert result.method_id == "table" and result.fit is None
    after_low = low.after.error_pct().mean(axis=0)
    after_high = high.after.error_pct().mean(axis=0)
    assert np.abs(after_low[:2]).max() < 6 and -15 < after_low[2] < 0
    assert abs(after_high[0]) < 8              # 60 % p50: -38 % before
    # the 60 % tail improves (-89 % -> about -69 %) but stays far too low: the loop's slow
    # stretches (full batches' times correlate from one to the next) are not independent draws
    assert before_high[2] + 10 < after_high[2] < -40
    # ... which batch recovery sees: successive batch times correlate (r 0.77 and 0.39)
    assert all(b.drifts for b in result.batches)
    # left out: each prediction needs batch sizes the other test never formed, and says so
    for prediction, path in zip(result.leave_one_out, TESTS, strict=True):
        formed = _batch_sizes(path)
        other = _batch_sizes(TESTS[1 - TESTS.index(path)])
        never = sorted(set(formed) - set(other))
        assert never, path
        timed = re.search(r"; ([0-9, -]+) never timed\)", prediction.extrapolation).group(1)
        assert set(never) <= set(_sizes_of(timed)), (never, timed)
    to_high = result.leave_one_out[1].predicted.error_pct().mean(axis=0)
    to_low = result.leave_one_out[0].predicted.error_pct().mean(axis=0)
    assert to_high[2] < -80                    # 30 % -> 60 %: the slowdown at 27+ is unseen
    assert 0 < to_low[0] < 15                  # 60 % -> 30 %: small sizes from the profile


def _sizes_of(ranges: str) -> list[int]:
    """``"1, 25-32"`` -> [1, 25, ..., 32]."""
    sizes = []
    for part in ranges.split(", "):
        low, _, high = part.partition("-")
        sizes += range(int(low), int(high or low) + 1)
    return sizes


def _batch_sizes(path: Path) -> np.ndarray:
    """The sizes of the batches a test formed: runs of completions within 0.05 ms."""
    with path.open(newline="") as fh:
        done = np.array([float(r["arrival_s"]) * 1000 + float(r["latency_ms"])
                         for r in csv.DictReader(fh)])
    starts = np.flatnonzero(np.r_[True, np.abs(np.diff(done)) > 0.05])
    return np.unique(np.diff(np.r_[starts, done.size]))
