"""The background-job manager closes Dash's poll race: a result written just before the job's
process exits is delivered on the next poll, not dropped as if the job had been cancelled."""

from __future__ import annotations

import subprocess
import sys

import diskcache

from dashboards.app import ForkserverDiskcacheManager


def _exited_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_result_written_after_the_read_counts_as_running(tmp_path):
    manager = ForkserverDiskcacheManager(diskcache.Cache(str(tmp_path)))
    job = _exited_pid()
    assert manager.get_result("k1", job) is manager.UNDEFINED  # not written yet
    manager.handle.set("k1", {"answer": 42})  # the job writes its result, then exits
    assert manager.job_running(job)  # Dash must poll again, not answer 204
    assert manager.get_result("k1", job) == {"answer": 42}  # the next poll collects it


def test_a_cancelled_job_without_a_result_stops_the_polling(tmp_path):
    manager = ForkserverDiskcacheManager(diskcache.Cache(str(tmp_path)))
    job = _exited_pid()
    assert manager.get_result("k2", job) is manager.UNDEFINED
    assert not manager.job_running(job)  # killed with no result: the loop ends
    assert not manager.job_running(job)  # and stays ended
