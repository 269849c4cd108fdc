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


def dashboard(port: int = PORT, host: str = HOST, data: Path | None = DATA,
              quiet: bool = options.QUIET, debug: bool = options.DEBUG) -> None:
    """Serve the dashboard on http://HOST:PORT (Ctrl-C stops it)."""
    with user_errors(debug):
        if data is not None and not data.is_dir():
            raise PlannerError(f"--data {data}: not a folder; pass the folder holding the "
                               "billing exports")
        from dashboards.app import create_app

        app = create_app(data_dir=data)
    if quiet:  # no per-request log lines either
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    else:
        stderr_console().print(f"dashboard on http://{host}:{port}/", markup=False)
    app.run(host=host, port=port, debug=debug)


def register(app: typer.Typer) -> None:
    """Add ``planner dashboard`` to ``app``."""
    app.command("dashboard")(dashboard)
