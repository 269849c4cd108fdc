"""Under load: 20 concurrent sessions against a real server on loopback, none fails.

Each session loads the page shell over HTTP from a threaded werkzeug server on 127.0.0.1 and
runs the tiny scenario through the run logic the background callback calls
(:func:`dashboards.scenario_logic.run_view`); driving the background callback's polling
protocol over HTTP is left to the browser test.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from werkzeug.serving import make_server

from dashboards import scenario_logic as logic

N_SESSIONS = 20


def test_twenty_concurrent_sessions(settings):
    from dashboards.app import create_app

    app = create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        def session(i: int) -> tuple[int, int, int, float]:
            with requests.Session() as http:
                page = http.get(f"{base}/?scenario=tiny&small.nodes={1 + i % 3}", timeout=60)
                layout = http.get(f"{base}/_dash-layout", timeout=60)
            view = logic.run_view(settings, "tiny", {"small.nodes": 1 + i % 3})
            _, text = logic.results_json(settings, view.run_id)
            return page.status_code, layout.status_code, len(text), \
                view.result.design("small").fleet["nodes"]

        with ThreadPoolExecutor(N_SESSIONS) as pool:
            results = list(pool.map(session, range(N_SESSIONS)))
    finally:
        server.shutdown()
    assert [r[:2] for r in results] == [(200, 200)] * N_SESSIONS
    assert all(r[2] > 1000 for r in results)
    assert [r[3] for r in results] == [1 + i % 3 for i in range(N_SESSIONS)]
