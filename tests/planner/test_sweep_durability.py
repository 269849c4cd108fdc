"""Durability of a sweep's output folder: one writer at a time, damaged lines skipped one by one.

Issue 19: two sweeps on one folder lost rows (a start rewrote points.jsonl while the other
appended to the deleted file), and a torn line in the middle of points.jsonl silently
discarded every later row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from domain.errors import PlannerError
from planner.sweep.store import POINTS_FILE, SweepStore

MANIFEST = {"scenario": "s", "fingerprint": "f" * 16, "base_design": "d"}


def _row(point_id: str) -> dict:
    return {"point_id": point_id, "index": 0, "params": {}, "seed": 1, "status": "ok"}


def test_a_second_writer_is_refused_naming_the_folder_and_the_holders_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from planner.sweep.store import SweepStore
            store = SweepStore.open({str(tmp_path)!r}, {MANIFEST!r}, resume=True)
            store.append({_row("a")!r})
            print("locked", flush=True)
            sys.stdin.read()  # hold the folder until the test closes stdin
            store.close()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(PlannerError) as caught:
            SweepStore.open(tmp_path, MANIFEST, resume=False)  # would truncate points.jsonl
        message = str(caught.value)
        assert str(tmp_path) in message and f"pid {holder.pid}" in message
        assert "another --output-dir" in message
        # the refused start touched nothing: the holder's row is still there
        assert [json.loads(x)["point_id"]
                for x in (tmp_path / POINTS_FILE).read_text().splitlines()] == ["a"]
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    # the holder has gone: the folder is free again and its rows resume
    with SweepStore.open(tmp_path, MANIFEST, resume=True) as store:
        assert list(store.rows) == ["a"]


def test_the_lock_is_released_on_close_within_one_process(tmp_path):
    with SweepStore.open(tmp_path, MANIFEST, resume=True):
        with pytest.raises(PlannerError, match="another sweep is writing this folder"):
            SweepStore.open(tmp_path, MANIFEST, resume=True)
    with SweepStore.open(tmp_path, MANIFEST, resume=True) as again:
        assert again.rows == {}


def test_a_torn_line_in_the_middle_skips_only_that_line(tmp_path):
    with SweepStore.open(tmp_path, MANIFEST, resume=True) as store:
        for name in ("a", "b", "c", "d"):
            store.append(_row(name))
    points = tmp_path / POINTS_FILE
    lines = points.read_text().splitlines()
    lines[1] = lines[1][:15]  # b torn mid-row
    lines[2] = "[1, 2]"  # c: JSON, but not a row
    points.write_text("\n".join(lines) + "\n" + '{"point_id": "e", "ind')  # e torn at the end
    with SweepStore.open(tmp_path, MANIFEST, resume=True) as store:
        assert sorted(store.rows) == ["a", "d"]
        assert len(store.notes) == 3
        assert "line 2: skipped (not a whole JSON line" in store.notes[0]
        assert "line 3: skipped (no point_id" in store.notes[1]
        assert "line 5: skipped" in store.notes[2]
        assert all(str(points) in n and "runs again" in n for n in store.notes)
        store.append(_row("b"))
    # the file was rewritten without the damaged lines, then appended to
    assert [json.loads(x)["point_id"] for x in points.read_text().splitlines()] == ["a", "d", "b"]
    with SweepStore.open(tmp_path, MANIFEST, resume=True) as store:
        assert store.notes == [] and sorted(store.rows) == ["a", "b", "d"]


# ------------------------------------------------------------------- killed sweeps leave nothing

SLOW_SWEEP = {
    "name": "kill-me", "horizon_s": 900, "warmup_s": 10, "replications": 2, "seed": 3,
    "workloads": [{"name": "w", "kind": "inference",
                   "arrivals": {"kind": "poisson", "rate_rps": 400}}],
    "designs": [{"name": "base", "workload": "w", "pattern": "realtime",
                 "fleet": {"instance": "aws:g6.xlarge", "nodes": 4},
                 "batching": {"max_batch": 4, "max_wait_ms": 2},
                 "service_time": {"kind": "exponential", "mean_ms": 8}}],
    "sweep": {"design": "base", "parameters": {"fleet.nodes": list(range(4, 124))},
              "constraints": {"slo": False}},
}


def _session(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process in session ``sid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z" or int(fields[3]) != sid:  # zombies have ended
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                found.append((int(entry), f.read().replace(b"\0", b" ").decode()[:120]))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_sweep_leaves_no_process_behind(tmp_path):
    """SIGTERM, Ctrl-C (SIGINT) and SIGKILL of the driver: within seconds, neither its workers
    nor the fork server nor the resource tracker survive.  The three sweeps run side by side."""
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(SLOW_SWEEP))
    sweeps = {}
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        out = tmp_path / sig.name
        sweeps[sig] = subprocess.Popen(
            [sys.executable, "-c", "from planner.cli.main import main; main()", "sweep",
             str(path), "--workers", "2", "--output-dir", str(out), "--quiet",
             "--no-sensitivity"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        waiting = dict(sweeps)
        while waiting and time.monotonic() < deadline:
            for sig, proc in list(waiting.items()):
                # driver + resource tracker + fork server + 2 workers: the pool is up
                if len(_session(proc.pid)) >= 5:
                    proc.send_signal(sig)
                    del waiting[sig]
                assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        assert not waiting, f"pools never started: {list(waiting)}"
        deadline = time.monotonic() + 15
        left = {sig: _session(p.pid) for sig, p in sweeps.items()}
        while any(left.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
            for p in sweeps.values():
                p.poll()  # reap the driver
            left = {sig: _session(p.pid) for sig, p in sweeps.items()}
        assert not any(left.values()), f"survived: {left}"
    finally:
        for proc in sweeps.values():
            for pid, _ in _session(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=10)
    stopped = sweeps[signal.SIGTERM].stderr.read().decode()
    assert "sweep stopped" in stopped and sweeps[signal.SIGTERM].returncode == 128 + 15
