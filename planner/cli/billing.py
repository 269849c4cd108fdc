"""``planner billing``: convert exports to FOCUS, the monthly cost review, effective rates."""

from __future__ import annotations

import typer

billing_app = typer.Typer(
    help="Billing exports (AWS CUR, GCP billing export, FOCUS): convert, review, rates.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``planner billing ...`` to ``app``; each sub-command module registers itself."""
    from planner.cli import billing_convert, billing_review

    billing_convert.register(billing_app)
    billing_review.register(billing_app)
    app.add_typer(billing_app, name="billing")
