"""The ``planner`` command: a thin Typer app; each command group lives in its own module."""

from __future__ import annotations

import typer

from planner.cli import adr, billing, dashboard, llm, prices, profile, simulate
from planner.cli import sweep as sweep_cli

app = typer.Typer(
    name="planner",
    help="FinOps capacity planner and architecture simulator for ML platforms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
simulate.register(app)
adr.register(app)
billing.register(app)
dashboard.register(app)
sweep_cli.register(app)
profile.register(app)
llm.register(app)
app.add_typer(prices.app, name="prices",
              help="Browse the dated GPU price catalog (the newest refreshed cache, else the "
                   "built-in snapshot) and refresh it from the AWS Pricing API.")


@app.callback()
def _root() -> None:
    """Simulate GPU serving designs and price them from dated catalogs."""


def main() -> None:
    """Entry point of the ``planner`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
