"""``planner dashboard``: serve the Dash app (Scenarios, Cost review, Calibration)."""

from __future__ import annotations

from pathlib import Path

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import stderr_console, user_errors

PORT = typer.Option(8050, "--port", min=1, max=65535, help="Port to listen on.")
HOST = typer.Option("127.0.0.1", "--host",
                    help="Address to bind (default loopback only; 0.0.0.0 exposes it).")
DATA = typer.Option(None, "--data", file_okay=False,
                    help="Folder of billing exports for the Cost review and Calibration pages.")
MAX_JOBS = typer.Option(4, "--max-jobs", min=1, max=64,
                        help="Simulations the server runs at once (each browser session runs one "
                             "at a time; a Run past this limit is refused with a message).")
UPLOAD_TTL = typer.Option(24.0, "--upload-ttl-h", min=0.1, max=24 * 365,
                          help="Hours an uploaded billing export is kept before it is deleted.")


def _exit_on_sigterm() -> None:
    """Turn SIGTERM (``kill``, a service manager) into a normal exit, so the exit handlers run
    and the server's temporary work folder is removed, as on Ctrl-C."""
    import signal

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def dashboard(port: int = PORT, host: str = HOST, data: Path | None = DATA,
              max_jobs: int = MAX_JOBS, upload_ttl_h: float = UPLOAD_TTL,
              quiet: bool = options.QUIET, debug: bool = options.DEBUG) -> None:
    """Serve the dashboard on http://HOST:PORT (Ctrl-C stops it)."""
    with user_errors(debug):
        if data is not None and not data.is_dir():
            raise PlannerError(f"--data {data}: not a folder; pass the folder holding the "
                               "billing exports")
        from dashboards.app import create_app
        from dashboards.jobs import JobLimits

        app = create_app(data_dir=data, job_limits=JobLimits(max_jobs=max_jobs),
                         upload_ttl_s=upload_ttl_h * 3600.0)
    _exit_on_sigterm()
    if quiet:  # no per-request log lines either
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    else:
        stderr_console().print(f"dashboard on http://{host}:{port}/", markup=False)
    app.run(host=host, port=port, debug=debug)


def register(app: typer.Typer) -> None:
    """Add ``planner dashboard`` to ``app``."""
    app.command("dashboard")(dashboard)
