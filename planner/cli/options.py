"""Options shared by every command, spelled and documented once."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from pathlib import Path

import typer


class OutputFormat(str, Enum):
    """Formats a command can render its results in."""

    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


SCENARIO = typer.Argument(
    ..., help="Scenario YAML file.", exists=False, dir_okay=False, show_default=False
)
FORMAT = typer.Option(OutputFormat.table, "--format", "-f", help="Output format.",
                      case_sensitive=False)
OUTPUT = typer.Option(None, "--output", "-o", help="Write the output to this file instead of "
                      "stdout.", dir_okay=False, writable=True)
REPLICATIONS = typer.Option(None, "--replications", "-r", min=2, max=10_000, metavar="N",
                            help="Override the scenario's number of replications (2 to 10,000, "
                                 "as in the scenario).")
SEED = typer.Option(None, "--seed", min=0, max=2**63 - 1, metavar="N",
                    help="Override the scenario's seed.")
FORCE = typer.Option(False, "--force", help="Run even when the estimate before the run passes "
                     "30 minutes or half of this machine's memory (the estimate is printed).")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or notes on stderr.")
DEBUG = typer.Option(False, "--debug", help="Show the full traceback on errors.")
WIDE = typer.Option(False, "--wide", help="Print each table in one piece, as wide as its values "
                    "need (default: fit the terminal, wrapping columns into stacked tables; "
                    "no value is ever cut).")

FAIL_IF = typer.Option(
    None, "--fail-if", metavar="EXPR",
    help="CI guardrail naming a breach, [DESIGN:]METRIC OP NUMBER with OP one of < <= > >= == "
         "!=, e.g. 'p99_ms > 150' or 'fraud-rt:usd_per_month > 20000'; repeatable. Metrics are "
         "a design's figures as the results JSON names them (p50_ms, p99_ms, slo_attainment, "
         "utilization, usd_per_month, usd_per_1k_requests, ttft_p99_ms, ...; a misspelt one "
         "lists them all). A metric that is n/a for a checked design is a breach. The report "
         "is written first; any breach exits 3.")
BUDGET = typer.Option(None, "--budget-usd-per-month", min=0, metavar="USD",
                      help="Breach (exit 3) when a checked design costs more than this per month "
                           "or its cost is unknown.")
DESIGN = typer.Option(None, "--design", metavar="NAME",
                      help="Check the guardrails on this design only; repeatable (default: "
                           "every design).")

ScenarioPath = Path


def check_date(value: str | None) -> str | None:
    """Return ``value`` when it is a YYYY-MM-DD date (``--date``); otherwise a usage error."""
    if value is None:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-07-30",
                                 param_hint="--date") from None
    if len(value) != 10:
        raise typer.BadParameter(f"{value!r} is not YYYY-MM-DD", param_hint="--date")
    return value
