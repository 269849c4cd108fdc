"""Under load: 20 concurrent sessions run scenarios over HTTP on loopback, no request fails.

The real app (``create_app`` with a private work folder, so the real forkserver diskcache
background-callback manager) is served by a threaded werkzeug server on 127.0.0.1. Each of 20
client threads speaks Dash's HTTP protocol as the browser's renderer does
(:class:`tests.dashboards._http.DashSession`):

1. ``GET /?scenario=tiny&...``, ``GET /_dash-layout``, ``GET /_dash-dependencies``;
2. the pages router callback (``_pages_location`` pathname and search) to get the Scenarios
   page, from which the run callback's state (``scn-choice.value``, ``scn-edits.data``) is read;
3. the Run click: ``POST /_dash-update-component?endId=..`` answers the background job's signed
   ``cacheKey`` and ``job``; the session polls the same endpoint with them every 300 ms (the
   callback's interval) until the outputs arrive.

All sessions click Run together (a barrier). Every request must answer 2xx, and every session
must get its own comparison table: each session's edits are distinct (``horizon_s``), because
Dash's background cache key is a hash of the callback's arguments (``build_cache_key``), so
sessions that click Run with identical arguments share one result slot and may get each
other's run.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dashboards import scenario_logic as logic
from tests.dashboards._http import DashSession, find_component, serve, text_of

N_SESSIONS = 20
DEADLINE_S = 150.0  # generous: CI runs this beside another test worker on 2 cores


@pytest.fixture
def server(settings):
    from dashboards.app import create_app
    from dashboards.jobs import JobLimits

    app = create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir,
                     job_limits=JobLimits(max_jobs=N_SESSIONS))  # every session runs at once
    with serve(app.server) as base:
        yield base


def run_session(base: str, query: str, start: threading.Barrier) -> dict[str, Any]:
    """Load the Scenarios page at ``query``, click Run with the others; return what came back."""
    with DashSession(base) as session:
        session.open("/" + query)
        router = session.call(session.dependency("_pages_content", "children"),
                              {"_pages_location.pathname": "/",
                               "_pages_location.search": query})
        page = router["_pages_content"]["children"]
        choice = find_component(page, "scn-choice")["props"]["value"]
        edits = find_component(page, "scn-edits")["props"]["data"]
        run = session.dependency("scn-results", "children")
        assert run["background"], "the run callback is no longer a background callback"
        start.wait(DEADLINE_S)
        began = time.monotonic()
        outputs = session.call(run, {"scn-run.n_clicks": 1},
                               {"scn-choice.value": choice, "scn-edits.data": edits},
                               deadline_s=DEADLINE_S)
        return {"statuses": session.statuses, "outputs": outputs, "edits": edits,
                "polls": session.polls, "run_s": time.monotonic() - began}


def test_twenty_concurrent_sessions_run_scenarios_over_http(settings, server):
    queries = [f"?scenario=tiny&small.nodes={1 + i % 3}&horizon_s={20 + i}"
               for i in range(N_SESSIONS)]
    start = threading.Barrier(N_SESSIONS)
    began = time.monotonic()
    with ThreadPoolExecutor(N_SESSIONS) as pool:
        futures = [pool.submit(run_session, server, q, start) for q in queries]
        sessions = [f.result(timeout=DEADLINE_S + 10) for f in futures]
    elapsed = time.monotonic() - began

    failed = [(i, what, code) for i, s in enumerate(sessions) for what, code in s["statuses"]
              if not 200 <= code < 300]
    assert failed == []
    run_ids = []
    for i, s in enumerate(sessions):
        nodes, horizon = 1 + i % 3, 20 + i
        assert s["edits"] == {"scenario": "tiny",
                              "values": {"small.nodes": nodes, "horizon_s": float(horizon)}}
        assert s["outputs"] is not None, f"session {i}: the run answered 204 (no result)"
        assert s["outputs"]["scn-run-msg"]["children"] is None  # no error message
        results = s["outputs"]["scn-results"]["children"]
        table = find_component(results, "scn-comparison")
        assert table is not None, f"session {i}: no comparison table"
        assert f"{nodes}x aws:g5.xlarge" in text_of(table)
        run_id = s["outputs"]["scn-run-id"]["data"]
        assert s["outputs"]["scn-calibrate"]["href"] == f"/calibration?run={run_id}"
        # the session got its own run, not another session's
        stored = logic.stored_result(settings, run_id)
        assert stored.design("small").fleet.nodes == nodes
        assert stored.scenario["horizon_s"] == horizon
        run_ids.append(run_id)
    assert len(set(run_ids)) == N_SESSIONS
    assert all(s["polls"] >= 1 for s in sessions)  # each result came through polling
    assert elapsed < DEADLINE_S


def test_two_clicks_on_the_same_view_get_their_own_result_slots(tmp_path):
    """Dash keys background jobs by function and arguments; identical requests from two users
    must not share (and steal) one result slot."""
    import diskcache

    from dashboards.app import ForkserverDiskcacheManager

    manager = ForkserverDiskcacheManager(diskcache.Cache(str(tmp_path / "jobs")))

    def job(n_clicks, choice):
        return n_clicks, choice

    keys = {manager.build_cache_key(job, [1, "tiny"], [], ["scn-run.n_clicks"])
            for _ in range(20)}
    assert len(keys) == 20
