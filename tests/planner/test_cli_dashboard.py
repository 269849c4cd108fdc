"""``planner dashboard`` as a process: it serves on loopback, its limits are options, and a
SIGTERM (``kill``, a service manager) removes its temporary work folder as Ctrl-C does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from planner.cli.main import app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_names_the_server_limits() -> None:
    res = CliRunner().invoke(app, ["dashboard", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "--max-jobs" in res.output and "--upload-ttl-h" in res.output


def test_bad_limits_are_usage_errors() -> None:
    res = CliRunner().invoke(app, ["dashboard", "--max-jobs", "0"])
    assert res.exit_code == 2


def test_sigterm_removes_the_work_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner.cli.main", "dashboard", "--port", str(port), "-q",
         "--max-jobs", "2", "--upload-ttl-h", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the dashboard did not start in 60 s"
                time.sleep(0.3)
        work = [p for p in tmp.iterdir() if p.name.startswith("planner-dashboard-")]
        assert len(work) == 1 and work[0].is_dir()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not work[0].exists(), "SIGTERM left the work folder behind"
