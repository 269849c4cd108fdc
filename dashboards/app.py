"""The Dash app: a shared shell (navigation, the "prices as of" / "data as of" line) and pages.

``create_app`` builds one app; pages live in :mod:`dashboards.pages`, one module per page, and
register their callbacks on the app passed to them. Run it with ``planner dashboard`` or, under
gunicorn, ``gunicorn dashboards.app:server``. Nothing heavy is loaded at import time: the price
catalog and billing files are read on the first request that needs them.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import dash
import flask
from dash import dcc, html

from dashboards.jobs import SESSION_COOKIE, JobLimits, save_limits
from dashboards.settings import SETTINGS_KEY, Settings, make_settings, prices_as_of
from dashboards.uploads import UPLOAD_TTL_S, UploadJanitor, remove_at_exit

PAGES_DIR = Path(__file__).resolve().parent / "pages"
ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def _data_as_of(settings: Settings) -> str:
    from dashboards import billing_logic

    return billing_logic.data_as_of(settings)


def _shell(settings: Settings):
    def layout():
        links = [dcc.Link(page["name"], href=page["relative_path"], className="nav-link",
                          id=f"nav-{page['module'].rsplit('.', 1)[-1]}")
                 for page in dash.page_registry.values()]
        return html.Div([
            html.Header([
                html.Div([html.Span("GPU planner", className="brand"),
                          html.Nav(links, className="nav")], className="header-row"),
                html.Div([
                    html.Span(f"prices as of {prices_as_of()}", id="prices-as-of"),
                    html.Span(" · "),
                    html.Span(f"data as of {_data_as_of(settings)}", id="data-as-of"),
                ], className="as-of"),
            ], className="header"),
            html.Main(dash.page_container, className="content"),
        ])

    return layout


class ForkserverDiskcacheManager(dash.DiskcacheManager):
    """A diskcache manager that starts each job from a clean forkserver, not by ``fork()``.

    A plain fork of the server (which runs polars and Numba thread pools once it has priced or
    simulated anything) can deadlock in the child; the forkserver has preloaded the simulation
    modules but started no thread pool, so a job starts fast and safely. Cancel still kills the
    job's process.
    """

    PRELOAD = ("dashboards.scenario_logic", "dashboards.scenario_view", "dashboards.jobs",
               "planner.run", "planner.reports.html")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._unread: dict[str, str] = {}
        """Job -> the key its result was last looked for under, while not there yet."""

    def build_cache_key(self, fn, args, cache_args_to_ignore, triggered):
        """Return Dash's key for a job, made unique per request.

        Dash keys a job by its function and arguments, so two users clicking Run on the same
        view would share one result slot (and the first to read it would delete it); a random
        suffix gives every click its own slot. The key is made in the request process and
        handed to the job, so the suffix is consistent for the job's whole life.
        """
        return f"{super().build_cache_key(fn, args, cache_args_to_ignore, triggered)}-" \
               f"{uuid.uuid4().hex}"

    def get_result(self, key, job):
        """Return the job's result, remembering a job whose result was not there yet.

        See :meth:`job_running`: Dash reads the result, then asks whether the job still runs.
        """
        result = super().get_result(key, job)
        if result is self.UNDEFINED and job:
            self._unread[str(job)] = key
        return result

    def job_running(self, job):
        """Return whether the job runs, counting one that finished after its result was read.

        Dash polls a job by reading its result and then asking whether its process still runs;
        a job that writes its result and exits between the two looks cancelled, and Dash
        answers 204 and leaves the result unread: the Run click shows nothing (seen under load,
        one session in twenty). A job whose result has appeared since counts as running for
        this poll, so the next poll collects it; a cancelled job (killed, no result) still ends
        the loop.
        """
        if super().job_running(job):
            return True
        key = self._unread.pop(str(job), None)
        return key is not None and self.handle.get(key, self.UNDEFINED) is not self.UNDEFINED

    def call_job_fn(self, key, job_fn, args, context):
        """Start ``job_fn`` in a process forked from the forkserver; return its pid."""
        import multiprocess

        mp = multiprocess.get_context("forkserver")
        mp.set_forkserver_preload(list(self.PRELOAD))
        process = mp.Process(target=job_fn,
                             args=(key, self._make_progress_key(key), args, context))
        process.start()
        return process.pid


def create_app(data_dir: str | os.PathLike[str] | None = None,
               scenarios_dir: str | os.PathLike[str] | None = None,
               work_dir: str | os.PathLike[str] | None = None,
               job_limits: JobLimits | None = None,
               upload_ttl_s: float = UPLOAD_TTL_S) -> dash.Dash:
    """Return a new Dash app.

    Parameters
    ----------
    data_dir : path-like, optional
        Folder of billing exports (AWS CUR, GCP billing export, FOCUS) for the Cost review and
        Calibration pages.
    scenarios_dir : path-like, optional
        Folder of the bundled scenarios (default: the repository's ``scenarios/``).
    work_dir : path-like, optional
        Private folder for the background-callback cache, stored runs and uploads (default: a
        new temporary folder, deleted when the process exits).
    job_limits : JobLimits, optional
        The most jobs run at once and the largest run (:mod:`dashboards.jobs`; default
        :class:`~dashboards.jobs.JobLimits`).
    upload_ttl_s : float
        Uploads older than this are deleted: at start-up, then at most every 10 minutes
        (:class:`dashboards.uploads.UploadJanitor`).
    """
    import diskcache

    settings = make_settings(data_dir, scenarios_dir, work_dir)
    manager = ForkserverDiskcacheManager(diskcache.Cache(str(settings.cache_dir)))
    app = dash.Dash(
        "dashboards",
        use_pages=True,
        pages_folder=str(PAGES_DIR),
        assets_folder=str(ASSETS_DIR),
        background_callback_manager=manager,
        suppress_callback_exceptions=True,
        title="GPU planner",
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    app.server.config[SETTINGS_KEY] = settings
    save_limits(settings, job_limits or JobLimits())
    app.server.after_request(_give_session_cookie)
    app.server.before_request(UploadJanitor(settings, upload_ttl_s))
    if work_dir is None:
        remove_at_exit(app, settings.work_dir)
    app.server.config["MAX_CONTENT_LENGTH"] = 80 * 1024 * 1024  # a 50 MB upload, base64-encoded
    app.layout = _shell(settings)
    for page in list(dash.page_registry.values()):
        module = sys.modules.get(page["module"])
        register = getattr(module, "register_callbacks", None)
        if register is not None:
            register(app, settings)
    return app


def _give_session_cookie(response: flask.Response) -> flask.Response:
    """Give a browser without one a random session cookie (:data:`dashboards.jobs.SESSION_COOKIE`:
    one running job per session)."""
    if SESSION_COOKIE not in flask.request.cookies:
        response.set_cookie(SESSION_COOKIE, uuid.uuid4().hex, httponly=True, samesite="Lax")
    return response


_default: dict[str, dash.Dash] = {}


def __getattr__(name: str):
    """Build the module-level ``app`` (and its Flask ``server``) on first access, for gunicorn.

    ``gunicorn dashboards.app:server`` reads billing exports from ``$PLANNER_DASHBOARD_DATA``.
    """
    if name not in ("app", "server"):
        raise AttributeError(name)
    if "app" not in _default:
        _default["app"] = create_app(data_dir=os.environ.get("PLANNER_DASHBOARD_DATA") or None)
    return _default["app"] if name == "app" else _default["app"].server
