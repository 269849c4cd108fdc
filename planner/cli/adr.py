"""``planner adr``: simulate a scenario and write an Architecture Decision Record (MADR)."""

from __future__ import annotations

from pathlib import Path

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import check_size, stderr_console, user_errors
from planner.cli.simulate import _load, _run
from planner.reports.adr import render_adr

ADR_OUTPUT = typer.Option(..., "--output", "-o", dir_okay=False, show_default=False,
                          help="ADR file to write, e.g. docs/adr/0007-serve-bert.md (parent "
                               "folders are created).")
TITLE = typer.Option(None, "--title", help="Decision title (default: 'Serve <workload> with "
                     "<chosen design>').")
STATUS = typer.Option("proposed", "--status", help="MADR status: proposed, accepted, rejected, "
                      "deprecated, superseded by ADR-NNNN, ...")
DATE = typer.Option(None, "--date", metavar="YYYY-MM-DD",
                    help="Decision date (default: the newest catalog date of the prices the "
                         "designs used, so that the same scenario gives the same file).")
BUDGET = typer.Option(None, "--budget-usd-per-month", min=0, metavar="USD",
                      help="A budget listed as a decision driver: a design above it is not "
                           "chosen.")
FORCE = typer.Option(False, "--force", help="Overwrite an existing ADR file, and run even when "
                     "the estimate before the run passes the time or memory limit.")


def adr(
    scenario: Path = options.SCENARIO,
    output: Path = ADR_OUTPUT,
    title: str | None = TITLE,
    status: str = STATUS,
    date: str | None = DATE,
    budget_usd_per_month: float | None = BUDGET,
    replications: int | None = options.REPLICATIONS,
    seed: int | None = options.SEED,
    force: bool = FORCE,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Simulate SCENARIO and write an Architecture Decision Record (MADR) choosing a design.

    The chosen design is the cheapest one with a known, complete price that meets every SLO
    (and the budget, when given); when none does, the record says so and decides nothing.
    """
    date = options.check_date(date)
    if not status.strip():
        raise typer.BadParameter("must not be empty; e.g. proposed", param_hint="--status")
    with user_errors(debug):
        if output.exists() and not force:
            raise PlannerError(f"--output {output} exists; pass --force to overwrite it or "
                               "choose a new ADR number")
        loaded = _load(scenario, replications, seed)
        check_size(loaded, force=force, quiet=quiet)
        result = _run(loaded, quiet)
        text = render_adr(result, title=title, status=status.strip(), date=date,
                          budget_usd_per_month=budget_usd_per_month)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise PlannerError(f"cannot write --output {output}: {exc.strerror}; choose a "
                               "writable path") from None
        if not quiet:
            stderr_console().print(f"wrote {output}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``planner adr`` to ``app``."""
    app.command("adr")(adr)
