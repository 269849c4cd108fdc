"""Options shared by every command, spelled and documented once."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer


class OutputFormat(str, Enum):
    """Formats a command can render its results in."""

    table = "table"
    json = "json"


SCENARIO = typer.Argument(
    ..., help="Scenario YAML file.", exists=False, dir_okay=False, show_default=False
)
FORMAT = typer.Option(OutputFormat.table, "--format", "-f", help="Output format.",
                      case_sensitive=False)
OUTPUT = typer.Option(None, "--output", "-o", help="Write the output to this file instead of "
                      "stdout.", dir_okay=False, writable=True)
REPLICATIONS = typer.Option(None, "--replications", "-r", min=2,
                            help="Override the scenario's number of replications.")
SEED = typer.Option(None, "--seed", min=0, help="Override the scenario's seed.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or notes on stderr.")
DEBUG = typer.Option(False, "--debug", help="Show the full traceback on errors.")

ScenarioPath = Path
