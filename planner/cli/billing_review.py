"""``planner billing review`` and ``planner billing rates``: the monthly cost review and the
effective hourly rates of billing exports (AWS CUR, GCP billing export, FOCUS).

Both read their inputs with :func:`planner.cli.billing.read_exports` (the reader's
reconciliation, rejected rows and oddities to stderr; the billing commands' exit codes and
``--strict``), and write the report to stdout or ``--output``.
"""

from __future__ import annotations

import datetime as dt
import inspect
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.billing import EXIT_CODES_HELP, STRICT, read_exports
from planner.cli.common import emit, usage_errors, user_errors
from planner.reports.billing_read import read_notes


class ReviewFormat(str, Enum):
    """Formats ``planner billing review`` renders in."""

    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


class RatesFormat(str, Enum):
    """Formats ``planner billing rates`` renders in."""

    table = "table"
    json = "json"
    csv = "csv"


INPUTS = typer.Argument(..., help="Billing export files, folders, globs or s3://bucket/prefix "
                        "(AWS CUR, GCP billing export, FOCUS CSV/Parquet).")
MONTH = typer.Option(None, "--month", help="Billing month YYYY-MM (default: the latest month "
                     "in the data).")
GROUP_BY = typer.Option("service", "--group-by", help="Group movers and the daily series by "
                        "service, account or tag:<key> (e.g. tag:team).")
REVIEW_FORMAT = typer.Option(ReviewFormat.table, "--format", "-f", case_sensitive=False,
                             help="Output format.")
RATES_FORMAT = typer.Option(RatesFormat.table, "--format", "-f", case_sensitive=False,
                            help="Output format.")
AS_OF = typer.Option(None, "--as-of", help="Today's date YYYY-MM-DD for the data-freshness lag "
                     "(default: no lag shown; no figure depends on it).")


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise PlannerError(f"--as-of {value!r} is not a date; write YYYY-MM-DD, e.g. "
                           "--as-of 2026-10-19") from None


def _check_options(month: str | None, as_of: str | None) -> None:
    """A malformed --month or --as-of is a usage error (exit 2), before any file is read."""
    from costmodels.billing.review import month_bounds

    if month is not None:
        with usage_errors("--month"):
            month_bounds(month)
    if as_of is not None:
        with usage_errors("--as-of"):
            _as_of(as_of)


def review(
    inputs: list[str] = INPUTS,
    month: str | None = MONTH,
    group_by: str = GROUP_BY,
    fmt: ReviewFormat = REVIEW_FORMAT,
    output: Path | None = options.OUTPUT,
    as_of: str | None = AS_OF,
    strict: bool = STRICT,
    wide: bool = options.WIDE,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Monthly cost review: totals month over month, top movers, GPU $/GPU-hour, commitment
    coverage and utilisation, anomalous days, a month-end forecast and data freshness."""
    from costmodels.billing.review import group_expr, monthly_review
    from planner.reports.billing_review import render

    _check_options(month, as_of)
    with usage_errors("--group-by"):
        group_expr(group_by)
    with user_errors(debug):
        today = _as_of(as_of)
        read = read_exports(inputs, strict=strict, compact=True, quiet=quiet)
        result = monthly_review(read.frame, month=month, group_by=group_by, today=today)
        emit(render(result, fmt.value, read_notes(read), wide=wide), output)


def rates(
    inputs: list[str] = INPUTS,
    month: str | None = MONTH,
    fmt: RatesFormat = RATES_FORMAT,
    output: Path | None = options.OUTPUT,
    strict: bool = STRICT,
    wide: bool = options.WIDE,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Effective $/hour by provider, region, instance type and purchase option, from the
    compute usage rows of the bills (what a scenario's pricing: {source: billing} uses)."""
    from costmodels.billing.rates import effective_rates

    _check_options(month, None)
    with user_errors(debug):
        read = read_exports(inputs, strict=strict, compact=True, quiet=quiet)
        frame = effective_rates(read.frame, month=month)
        if fmt == RatesFormat.csv:
            text = frame.write_csv()
        elif fmt == RatesFormat.json:
            from planner.reports.billing_review import render_rates_json

            text = render_rates_json(frame)
        else:
            text = render_rates_table(frame, wide=wide)
        emit(text, output)


def render_rates_table(frame: Any, *, width: int | None = None, wide: bool = False) -> str:
    """Return the rates frame as a plain-text table fitting ``width`` (default the terminal's;
    one table with ``wide``); unknown values read ``n/a``."""
    import io

    from rich.table import Table

    from planner.reports.fit import plain_console, print_fitted
    from planner.reports.sections import NA, fmt_number, fmt_unit

    buffer = io.StringIO()
    console = plain_console(buffer, width)
    period = frame["billing_period"][0]
    currencies = sorted({c for c in frame["currency"].to_list() if c})
    shown = ", ".join(currencies) or "currency n/a"
    table = Table(title=f"Effective rates, billing period {period} ({shown} per hour)",
                  title_justify="left")

    def money(value: float | None) -> str:
        text = fmt_unit(value)
        return text if currencies in ([], ["USD"]) or text == NA else text.lstrip("$")
    headers = [("provider", "left"), ("region", "left"), ("instance", "left"),
               ("purchase", "left"), ("hours", "right"), ("effective", "right"),
               ("eff $/h", "right"), ("list $/h", "right"), ("GPUs", "right"),
               ("eff $/GPU-h", "right"), ("note", "left")]
    for h, j in headers:
        table.add_column(h, justify=j, no_wrap=True)
    for r in frame.iter_rows(named=True):
        table.add_row(r["provider"] or NA, r["region"] or NA, r["instance_type"] or NA,
                      r["purchase_option"] or NA, fmt_number(r["usage_hours"], 1),
                      fmt_number(r["effective_cost"], 2), money(r["effective_usd_per_hour"]),
                      money(r["list_usd_per_hour"]),
                      str(r["gpus"]) if r["gpus"] is not None else NA,
                      money(r["usd_per_gpu_hour"]), r.get("note") or "")
    print_fitted(console, table, wide=wide, keys=3)
    sources = sorted(set(frame["source"].to_list()))
    console.print("Source: " + "; ".join(sources))
    console.print("Rates: Σ EffectiveCost / Σ x_UsageHours of Usage rows with an instance type "
                  "(hours-weighted), Unused commitment rows excluded; currency "
                  + ", ".join(sorted(set(frame["currency"].drop_nulls().to_list()))) or NA)
    return buffer.getvalue()


def register(app: typer.Typer) -> None:
    """Add ``review`` and ``rates`` to the ``billing`` sub-app (their help ends with the exit
    codes)."""
    for name, command in (("review", review), ("rates", rates)):
        app.command(name, help=f"{inspect.cleandoc(command.__doc__ or '')}\n\n{EXIT_CODES_HELP}")(
            command)
