"""Server-side limits on the dashboard's runs: the size of one run, one job per session, and
the jobs running at once.

A browser only offers a replications slider up to 32, but a script can post any edit to the
callback endpoint, and each Run click starts a process of a few hundred MB. So the server
checks, whatever the client sent:

* :func:`check_run_size`: a run the dashboard will start (at validation, and again at Run) is
  at most :class:`JobLimits`' replications, nodes, and estimated time and memory
  (:func:`planner.estimate.estimate_run`: horizon x arrival rate x replications, per
  pattern); past them the message names the field, the estimate and the way out (lower it, or
  run the scenario with the CLI).
* :func:`job_slot`: each run holds a slot in the work folder's job table for as long as it
  runs. A session (the ``planner_session`` cookie the app gives every browser; requests
  without it share one anonymous session) runs one job: a new Run cancels the session's
  previous one. At most ``max_jobs`` run on the server at once; one more is refused with a
  message saying so. The table is a JSON file under an OS lock, shared by every process of the
  app, and a job that died without leaving (killed, cancelled) is pruned by pid and start time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.settings import Settings
from domain.errors import PlannerError, ScenarioError
from planner.schema import Scenario

__all__ = ["SESSION_COOKIE", "JobLimits", "JobRefused", "check_run_size", "current_session",
           "job_slot", "load_limits", "running_jobs", "save_limits"]

SESSION_COOKIE = "planner_session"
"""Cookie naming a browser session (random, set by the app on a response that lacks it)."""
ANONYMOUS = "anonymous"
"""The session of callback requests without the cookie (scripts): they share one job."""


@dataclass(frozen=True)
class JobLimits:
    """What one dashboard server runs.

    ``max_jobs`` runs at once; one run at most ``max_replications`` replications, ``max_nodes``
    nodes in any design (fixed or autoscaled), and an estimated ``max_wall_s`` of wall time and
    ``max_memory_gib`` of memory on this machine.
    """

    max_jobs: int = 4
    max_wall_s: float = 300.0
    max_memory_gib: float = 2.0
    max_replications: int = 2000
    max_nodes: int = 1000


class JobRefused(PlannerError):
    """The server already runs as many jobs as it allows."""


def _folder(settings: Settings) -> Path:
    folder = settings.work_dir / "jobs"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def save_limits(settings: Settings, limits: JobLimits) -> None:
    """Record the app's limits in its work folder, where its job processes read them."""
    (_folder(settings) / "limits.json").write_text(json.dumps(dataclasses.asdict(limits)))


def load_limits(settings: Settings) -> JobLimits:
    """Return the limits recorded by :func:`save_limits` (the defaults when none are)."""
    try:
        return JobLimits(**json.loads((_folder(settings) / "limits.json").read_text()))
    except FileNotFoundError:
        return JobLimits()


# ----------------------------------------------------------------------------- run size

def check_run_size(scenario: Scenario, label: str, limits: JobLimits) -> None:
    """Refuse a run past ``limits``, naming each field that passes and the way out.

    Raises
    ------
    ScenarioError
        One line per problem: replications, a design's nodes, or the run's estimated time or
        memory (with the estimate per design).
    """
    from planner.estimate import estimate_run

    problems = []
    if scenario.replications > limits.max_replications:
        problems.append(f"replications: {scenario.replications:,} is more than this dashboard "
                        f"runs ({limits.max_replications:,}); lower replications")
    for i, design in enumerate(scenario.designs):
        fleet = design.fleet
        auto = getattr(fleet, "autoscaling", None)
        for field, nodes in (("fleet.nodes", getattr(fleet, "nodes", None)),
                             ("fleet.autoscaling.max_nodes",
                              None if auto is None else auto.max_nodes)):
            if nodes is not None and nodes > limits.max_nodes:
                problems.append(f"designs[{i}].{field}: {nodes:,} nodes is more than this "
                                f"dashboard simulates ({limits.max_nodes:,}); lower it")
    if not problems:
        estimate = estimate_run(scenario)
        memory_gib = estimate.peak_bytes / 2**30
        if estimate.wall_s > limits.max_wall_s or memory_gib > limits.max_memory_gib:
            problems.append(
                f"horizon_s x arrival rate x replications: the run would take "
                f"{estimate.describe()}\n    this dashboard runs at most "
                f"{limits.max_wall_s / 60:g} min and {limits.max_memory_gib:g} GiB; lower "
                "horizon_s, the arrival rate (rate_rps) or replications")
    if problems:
        raise ScenarioError(f"{label}: too large to run in the dashboard (run it with the CLI, "
                            "planner run, on your own machine):\n"
                            + "\n".join(f"  - {line}" for line in problems))


# ----------------------------------------------------------------------------- job slots

def current_session() -> str | None:
    """Return the session of the callback being run (None outside a Dash callback)."""
    from dash import callback_context
    from dash.exceptions import MissingCallbackContextException

    try:
        cookies = callback_context.cookies
    except MissingCallbackContextException:
        return None
    value = cookies.get(SESSION_COOKIE)
    return value if isinstance(value, str) and value.isalnum() and len(value) <= 64 \
        else ANONYMOUS


@contextlib.contextmanager
def _table(settings: Settings) -> Iterator[dict[str, dict[str, Any]]]:
    """Yield the job table (pid -> entry) under the folder's lock, live jobs only; write it
    back when the block ends."""
    folder = _folder(settings)
    with open(folder / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / "running.json"
        try:
            table = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            table = {}
        table = {pid: entry for pid, entry in table.items() if _alive(int(pid), entry)}
        yield table
        tmp = folder / "running.json.tmp"
        tmp.write_text(json.dumps(table))
        tmp.replace(path)


def _process(pid: int, entry: dict[str, Any]):
    """Return the job's process, or None when it ended (or its pid now names another)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - entry["created"]) > 0.01 or \
                process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return process


def _alive(pid: int, entry: dict[str, Any]) -> bool:
    return _process(pid, entry) is not None


def _terminate(pid: int, entry: dict[str, Any]) -> None:
    """Kill a job's process and its children, as Dash's Cancel does."""
    import psutil

    process = _process(pid, entry)
    if process is None:
        return
    for proc in [*process.children(recursive=True), process]:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    with contextlib.suppress(psutil.Error):
        process.wait(2)


def running_jobs(settings: Settings) -> dict[int, str]:
    """Return the jobs running now: pid -> session."""
    with _table(settings) as table:
        return {int(pid): entry["session"] for pid, entry in table.items()}


@contextlib.contextmanager
def job_slot(settings: Settings, session: str | None) -> Iterator[None]:
    """Hold a slot of the job table while the block runs (nothing when ``session`` is None).

    The session's job that still runs is cancelled first (a new Run replaces it); when the
    server already runs ``max_jobs`` jobs this one is refused.

    Raises
    ------
    JobRefused
        The server runs as many jobs as it allows.
    """
    if session is None:
        yield
        return
    import psutil

    limits = load_limits(settings)
    pid = os.getpid()
    me = {"session": session, "created": psutil.Process(pid).create_time()}
    with _table(settings) as table:
        for other, entry in list(table.items()):
            if entry["session"] == session and int(other) != pid:
                _terminate(int(other), entry)
                del table[other]
        if len(table) >= limits.max_jobs:
            raise JobRefused(f"the server is running {len(table)} simulations, the most it runs "
                             f"at once ({limits.max_jobs}); run again in a minute")
        table[str(pid)] = me
    try:
        yield
    finally:
        with _table(settings) as table:
            table.pop(str(pid), None)
