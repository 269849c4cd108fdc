"""Runs are limited by the server, whatever the client sends (issue 19, Security 3).

Over HTTP, against the callback endpoint of the real app on 127.0.0.1: edits past the
dashboard's limits (10,000 replications, 100,000 nodes, ten years at 100,000 req/s) are
refused at validation and at Run, naming the field; a second Run of one session cancels its
first job (its process ends; its poll answers "no update"); one Run past the server's job limit
is refused with a message, while the other session's job runs on.
"""

from __future__ import annotations

import time

import psutil
import pytest

from dashboards import jobs
from dashboards.jobs import JobLimits
from tests.dashboards._http import DashSession, serve, text_of

LONG = {"horizon_s": 400_000.0}
"""tiny for 400,000 s: 200 req/s x 2 designs x 2 replications = 320 million requests, a job of
tens of seconds on one core (the test stops it), still under the dashboard's limits."""


@pytest.fixture
def app_factory(settings):
    from dashboards.app import create_app

    def make(**limits):
        return create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir,
                          job_limits=JobLimits(**limits))
    return make


def edits(values):
    return {"scenario": "tiny", "values": values}


def validation(session: DashSession, values) -> str:
    answer = session.call(session.dependency("scn-validation", "children"),
                          {"scn-edits.data": edits(values)}, {"scn-choice.value": "tiny"})
    return text_of(answer["scn-validation"]["children"])


def start_run(session: DashSession, values):
    return session.start(session.dependency("scn-results", "children"), {"scn-run.n_clicks": 1},
                         {"scn-choice.value": "tiny", "scn-edits.data": edits(values)})


def run_message(answer) -> str:
    assert answer is not None, "the run answered 204"
    return text_of(answer["scn-run-msg"]["children"])


def wait_for_jobs(settings, n: int, timeout_s: float = 90.0) -> dict[int, str]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        running = jobs.running_jobs(settings)
        if len(running) >= n:
            return running
        time.sleep(0.2)
    raise AssertionError(f"{n} job(s) never started: {jobs.running_jobs(settings)}")


def stop_jobs(settings) -> None:
    """End the jobs this test started (by pid, from the job table)."""
    for pid in jobs.running_jobs(settings):
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


TOO_LARGE = [
    ({"replications": 10_000}, "replications: 10,000 is more than this dashboard runs (2,000)"),
    ({"small.nodes": 100_000}, ("designs[0].fleet.nodes: 100,000 nodes is more than this "
                                "dashboard simulates (1,000)")),
    ({"rate_rps": 100_000.0, "horizon_s": 3.15e8},
     "horizon_s x arrival rate x replications: the run would take about"),
]


def test_runs_past_the_limits_are_refused_over_http(settings, app_factory):
    with serve(app_factory().server) as base, DashSession(base) as session:
        session.open("/?scenario=tiny")
        for values, expected in TOO_LARGE:
            message = validation(session, values)
            assert "too large to run in the dashboard" in message and expected in message, \
                message
            began = time.monotonic()
            answer = session.finish(start_run(session, values), deadline_s=60)
            assert expected in run_message(answer)
            assert time.monotonic() - began < 30  # refused before simulating
    assert jobs.running_jobs(settings) == {}


def test_the_work_estimate_counts_requests_as_the_closed_form(settings):
    """The horizon x rate refusal rests on the request count: 1e5 req/s x 3.15e8 s x 8
    replications, times 2 designs (hand-computed), must appear in the message."""
    from dashboards import scenario_logic as logic
    from domain.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        logic.build_scenario(settings, "tiny", {"rate_rps": 1e5, "horizon_s": 3.15e8,
                                                "replications": 8})
    assert str(err.value).count(f"{1e5 * 3.15e8:,.3g} requests per replication x 8") == 2
    assert "lower horizon_s, the arrival rate (rate_rps) or replications" in str(err.value)


def test_one_job_per_session_and_a_server_job_limit(settings, app_factory):
    """A second Run of a session cancels its first job (the process ends; its poll answers no
    update) and runs; with the server's limit at one job, another session's Run is refused
    with a message while the first job runs on."""
    with serve(app_factory(max_jobs=4).server) as base, \
            DashSession(base) as session, DashSession(base) as other:
        session.open("/?scenario=tiny")
        other.open("/?scenario=tiny")
        assert session.http.cookies.get(jobs.SESSION_COOKIE) != \
            other.http.cookies.get(jobs.SESSION_COOKIE)
        try:
            first = start_run(session, LONG)
            (pid, owner), = wait_for_jobs(settings, 1).items()
            assert owner == session.http.cookies.get(jobs.SESSION_COOKIE)
            answer = session.finish(start_run(session, {"small.nodes": 2}), deadline_s=120)
            assert answer["scn-run-msg"]["children"] is None  # the second ran
            assert "2x aws:g5.xlarge" in text_of(answer["scn-results"]["children"])
            assert not psutil.pid_exists(pid) or \
                psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            assert session.finish(first, deadline_s=30) is None  # cancelled: no update

            jobs.save_limits(settings, JobLimits(max_jobs=1))
            start_run(session, LONG)
            (pid, _), = wait_for_jobs(settings, 1).items()
            answer = other.finish(start_run(other, {}), deadline_s=60)
            assert run_message(answer) == ("the server is running 1 simulations, the most it "
                                           "runs at once (1); run again in a minute")
            assert list(jobs.running_jobs(settings)) == [pid]  # the first runs on
        finally:
            stop_jobs(settings)


def test_every_bundled_scenario_passes_the_dashboard_checks(tmp_path):
    """The limits refuse what a script may post, not what the dashboard offers: every bundled
    scenario passes the file and size checks as it is."""
    from dashboards import scenario_logic as logic
    from dashboards.settings import make_settings

    bundled = make_settings(work_dir=tmp_path / "work")
    names = logic.bundled_scenarios(bundled)
    assert len(names) >= 8
    for name in names:
        assert logic.build_scenario(bundled, name, {}).name
