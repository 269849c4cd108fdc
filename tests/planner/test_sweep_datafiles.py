"""A sweep's data files: read in place by local workers (nothing copied), shipped as bytes to
other machines and cached there per user, reused only when the content hash matches.

Issue 19: the worker cache ($TMPDIR/planner-sweep-files/<hash>/) was shared by every user and
reused when the size matched, so a same-size tampered table changed p99 from 7.86 to 14.62 ms;
and every sweep left a full copy of its trace (936 MB for a 936 MB trace).
"""

from __future__ import annotations

import os
import pickle
import stat
import tempfile
from pathlib import Path

import pytest
import yaml

from domain.errors import PlannerError
from planner.schema import load_scenario
from planner.sweep import LocalExecutor, plan_sweep, run_sweep, runner
from planner.sweep.datafiles import DataFileChanged, sweep_files_dir
from planner.sweep.runner import PointTask, build_job, run_point
from tests.planner.test_sweep import flat, tiny

TABLE = "model,batch,mean_ms\nm,1,4.0\nm,2,5.0\nm,4,7.0\nm,8,11.0\n"
SLOWER = TABLE.replace("4.0", "9.0").replace("5.0", "9.5")  # same size, slower service


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """The workers' file cache, in ``tmp_path`` (XDG_CACHE_HOME is left alone: the Numba kernel
    cache lives there too, and moving it would recompile every kernel)."""
    folder = tmp_path / "sweep-files"
    monkeypatch.setenv("PLANNER_SWEEP_FILES", str(folder))
    monkeypatch.setattr(runner, "_PREPARED", {})  # each test starts as a fresh worker
    return folder


def _scenario(tmp_path: Path, table: str = TABLE, *, trace_rows: int = 0):
    folder = tmp_path / "scen"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "profile.csv").write_text(table)
    data = tiny(parameters={"batching.max_batch": [1, 4]})
    data["designs"][0]["service_time"] = {"kind": "table", "path": "data/profile.csv",
                                          "model": "m"}
    if trace_rows:
        times = "\n".join(f"{i * 0.01:.2f}" for i in range(trace_rows))
        (folder / "data" / "arrivals.csv").write_text("TIMESTAMP\n" + times + "\n")
        data["workloads"][0]["arrivals"] = {"kind": "trace", "path": "data/arrivals.csv"}
    (folder / "s.yaml").write_text(yaml.safe_dump(data))
    scenario = load_scenario(folder / "s.yaml")
    plan = plan_sweep(scenario)
    return scenario, plan, build_job(plan, _catalog(), label="s.yaml")


def test_a_tampered_same_size_cached_copy_is_not_used(tmp_path, cache):
    _, plan, job = _scenario(tmp_path)
    shipped = job.with_contents()
    task = PointTask.of(plan.points[0])
    honest = run_point(shipped, task)
    copies = [p for p in cache.rglob("profile.csv")]
    assert len(copies) == 1 and copies[0].read_text() == TABLE
    copies[0].write_text(SLOWER)  # another process rewrites the cached copy, same size
    assert copies[0].stat().st_size == len(TABLE)
    # what the tampered table would give: the same point run on a sweep of the slower table
    _, slow_plan, slow_job = _scenario(tmp_path / "slow", SLOWER)
    slow = run_point(slow_job, PointTask.of(slow_plan.points[0]))
    assert slow["metrics"]["p99_ms"] > honest["metrics"]["p99_ms"] * 1.2
    runner._PREPARED.clear()  # a new worker process on this machine
    again = run_point(shipped, task)
    assert again["metrics"] == honest["metrics"]
    assert copies[0].read_text() == TABLE  # the cache was repaired from the shipped bytes


def test_the_cache_is_per_user_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("PLANNER_SWEEP_FILES", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # no kernel runs in this test
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    cache = tmp_path / "xdg" / "gpu-planner" / "sweep-files"
    assert sweep_files_dir() == cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    cache.chmod(0o777)
    sweep_files_dir()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    if not hasattr(os, "getuid") or os.geteuid() != 0:
        return  # only root can hand a folder to someone else
    os.chown(cache, 54321, -1)  # someone else's: the per-user temporary folder is used
    fallback = tmp_path / "tmp" / f"gpu-planner-sweep-files-{os.getuid()}"
    assert sweep_files_dir() == fallback
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700
    os.chown(fallback, 54321, -1)  # a folder planted in /tmp by another user is refused
    with pytest.raises(PlannerError, match="belongs to user 54321"):
        sweep_files_dir()
    monkeypatch.setenv("PLANNER_SWEEP_FILES", str(cache))
    with pytest.raises(PlannerError, match=r"belongs to user 54321.*PLANNER_SWEEP_FILES"):
        sweep_files_dir()


def test_a_local_sweep_copies_no_data_file(tmp_path, cache):
    """The local executor reads the files in place: the job its workers get holds no bytes, and
    nothing is written to the cache."""
    scenario, _, job = _scenario(tmp_path, trace_rows=60_000)
    trace = Path(scenario.source_path).parent / "data" / "arrivals.csv"
    assert trace.stat().st_size > 400_000
    assert len(pickle.dumps(job)) < 50_000  # what each worker receives
    shipped = job.with_contents()
    assert len(pickle.dumps(shipped)) > trace.stat().st_size
    with LocalExecutor(1) as pool:
        result = run_sweep(scenario, executor=pool, output=tmp_path / "out",
                           sensitivity=False)
    assert [r["status"] for r in result.rows] == ["ok", "ok"], [r["error"] for r in result.rows]
    assert not cache.exists() or not any(cache.iterdir())
    in_process = run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path / "out0",
                           sensitivity=False)
    assert flat(result.rows) == flat(in_process.rows)


def test_a_file_changed_during_the_sweep_stops_it(tmp_path, cache):
    scenario, plan, job = _scenario(tmp_path)
    table = Path(scenario.source_path).parent / "data" / "profile.csv"
    tasks = [PointTask.of(p) for p in plan.points]
    assert run_point(job, tasks[0])["status"] == "ok"
    table.write_text(SLOWER)  # edited in place, same size
    with pytest.raises(DataFileChanged, match=f"{table}: was modified or replaced since the "
                                              "sweep started"):
        run_point(job, tasks[1])
    with pytest.raises(DataFileChanged, match="its content changed"):
        job.with_contents()  # nor can it be shipped


def _catalog():
    from costmodels.price_cache import default_catalog

    return default_catalog()
