"""``planner output RESULTS.json``: render a saved results JSON without simulating again.

RESULTS is the file ``planner run|compare SCENARIO --format json -o FILE`` wrote; it is read
back (:meth:`planner.results.RunResult.load`) and rendered by the very renderers ``planner run``
(the table with each design's details; ``--no-details``: ``planner compare``'s table), Markdown,
HTML and ``planner adr`` use, so the output equals theirs for the same scenario and seed.

This module imports neither the simulators nor ``planner.cli.simulate``/``planner.cli.adr``
(which do): rendering a saved file takes a fraction of a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import EXIT_ERROR, emit, stderr_console
from planner.results import RunResult


class RenderFormat(str, Enum):
    """What ``planner output`` renders a saved results JSON as."""

    table = "table"
    markdown = "markdown"
    html = "html"
    adr = "adr"


RESULTS = typer.Argument(..., metavar="RESULTS.json", dir_okay=False, show_default=False,
                         help="A results JSON written by `planner run|compare SCENARIO "
                              "--format json -o FILE`.")
FORMAT = typer.Option(RenderFormat.table, "--format", "-f", case_sensitive=False,
                      help="table (as planner run), markdown, html (one self-contained file) "
                           "or adr (an Architecture Decision Record, as planner adr).")
DETAILS = typer.Option(None, "--details/--no-details", show_default=False,
                       help="Table only: each design's details as planner run shows them "
                            "(default), or the comparison alone as planner compare shows it.")
TITLE = typer.Option(None, "--title", help="ADR only: decision title (default: 'Serve "
                     "<workload> with <chosen design>').")
STATUS = typer.Option(None, "--status", show_default=False,
                      help="ADR only: MADR status (default proposed; accepted, rejected, "
                           "deprecated, superseded by ADR-NNNN, ...).")
DATE = typer.Option(None, "--date", metavar="YYYY-MM-DD",
                    help="ADR only: decision date (default: the newest catalog date of the "
                         "prices the designs used, so that the same file gives the same ADR).")
BUDGET = typer.Option(None, "--budget-usd-per-month", min=0, metavar="USD",
                      help="ADR only: a budget listed as a decision driver: a design above it "
                           "is not chosen.")
QUIET = typer.Option(False, "--quiet", "-q", help="No notes on stderr.")

RENDER_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
"""What a renderer raises on a value it cannot show (a hand-edited file that passed the checks
of :meth:`RunResult.from_dict`): reported as an input error naming the file."""


@contextlib.contextmanager
def input_errors(debug: bool) -> Iterator[None]:
    """Turn a :class:`PlannerError` into ``error: <message>`` on stderr and exit code 1, as
    :func:`planner.cli.common.user_errors` does, but printing the message as plain text: it
    quotes values from the file, which may hold rich markup such as ``[/x]``."""
    try:
        yield
    except PlannerError as exc:
        if debug:
            raise
        from rich.text import Text

        stderr_console().print(Text.assemble(("error:", "bold red"), " ", str(exc)),
                               soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None


def _check_options(fmt: RenderFormat, details: bool | None, adr: dict[str, object],
                   results: Path, output: Path | None) -> None:
    """Refuse options the format does not use, and an output that would overwrite RESULTS
    (usage errors, exit 2)."""
    if details is not None and fmt != RenderFormat.table:
        flag = "--details" if details else "--no-details"
        raise typer.BadParameter(f"applies to --format table only, not {fmt.value}",
                                 param_hint=flag)
    given = [name for name, value in adr.items() if value is not None]
    if given and fmt != RenderFormat.adr:
        raise typer.BadParameter(f"applies to --format adr only, not {fmt.value}; pass "
                                 f"--format adr or drop {given[0]}", param_hint=given[0])
    status = adr["--status"]
    if isinstance(status, str) and not status.strip():
        raise typer.BadParameter("must not be empty; e.g. proposed", param_hint="--status")
    if output is not None and output.resolve() == results.resolve():
        raise typer.BadParameter(f"{output} is RESULTS itself; writing there would replace "
                                 "the results JSON: choose another file", param_hint="--output")


def render(result: RunResult, fmt: RenderFormat, *, details: bool = True,
           title: str | None = None, status: str = "proposed", date: str | None = None,
           budget_usd_per_month: float | None = None) -> str:
    """Render ``result`` as ``planner run`` (table with ``details``; without them as ``planner
    compare``), Markdown, HTML or ``planner adr`` would."""
    if fmt == RenderFormat.markdown:
        from planner.reports.markdown import render_markdown

        return render_markdown(result)
    if fmt == RenderFormat.html:
        from planner.reports.html import render_html  # plotly only when asked for

        return render_html(result)
    if fmt == RenderFormat.adr:
        from planner.reports.adr import render_adr

        return render_adr(result, title=title, status=status, date=date,
                          budget_usd_per_month=budget_usd_per_month)
    from planner.reports.table import render_comparison, render_details

    text = render_comparison(result)
    if details:
        text += "\n" + render_details(result)
    return text


def output(
    results: Path = RESULTS,
    fmt: RenderFormat = FORMAT,
    output: Path | None = options.OUTPUT,
    details: bool | None = DETAILS,
    title: str | None = TITLE,
    status: str | None = STATUS,
    date: str | None = DATE,
    budget_usd_per_month: float | None = BUDGET,
    quiet: bool = QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Render a saved results JSON as a table, Markdown, HTML or an ADR, without simulating again.

    RESULTS.json is what `planner run|compare SCENARIO --format json -o FILE` wrote; the output
    equals what `planner run` (`--no-details`: `planner compare`) or `planner adr` print for the
    same scenario and seed. A file that is not such a results JSON, or one written by a newer
    planner, is an error (exit 1) naming the field to fix.
    """
    date = options.check_date(date)
    _check_options(fmt, details, {"--title": title, "--status": status, "--date": date,
                                  "--budget-usd-per-month": budget_usd_per_month},
                   results, output)
    with input_errors(debug):
        result = RunResult.load(results)
        try:
            text = render(result, fmt, details=details is not False, title=title,
                          status=(status or "proposed").strip(), date=date,
                          budget_usd_per_month=budget_usd_per_month)
        except RENDER_ERRORS as exc:
            if debug:
                raise
            raise PlannerError(
                f"{results}: cannot render it as {fmt.value} ({type(exc).__name__}: {exc}); "
                "the file reads as a results JSON but holds a value the report cannot show "
                "(was it edited by hand?): write it again with `planner run SCENARIO "
                "--format json -o FILE`") from None
        emit(text, output)
        if output is not None and not quiet:
            stderr_console().print(f"wrote {output}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``planner output`` to ``app``."""
    app.command("output")(output)
