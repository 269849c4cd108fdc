"""``planner billing convert``: billing exports -> FOCUS 1.3 or 1.2 Parquet or CSV, reconciled."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from planner.cli.common import EXIT_ERROR, stderr_console, user_errors
from planner.cli.options import DEBUG, QUIET


class Target(str, Enum):
    """Output dataset standards ``convert`` can write."""

    focus = "focus"


class FocusVersion(str, Enum):
    """FOCUS versions ``convert --to focus`` can write."""

    v1_3 = "1.3"
    v1_2 = "1.2"


def convert(
    inputs: list[str] = typer.Argument(..., help="Billing files, folders, globs, CUR manifests "
                                       "or s3://bucket/prefix URIs.", show_default=False),
    to: Target = typer.Option(Target.focus, "--to", help="Output standard (FOCUS)."),
    focus_version: FocusVersion = typer.Option(
        FocusVersion.v1_3, "--focus-version",
        help="FOCUS version to write: 1.3 (ServiceProviderName, HostProviderName, "
             "ContractApplied, allocation columns) or 1.2."),
    output: Path = typer.Option(..., "--output", "-o", dir_okay=False, writable=True,
                                help="Output file: .parquet or .csv."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first bad row instead of "
                                "rejecting it."),
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Convert AWS CUR, GCP or FOCUS exports to FOCUS 1.3 or 1.2, printing the reconciliation."""
    from costmodels.billing.focus_writer import write_focus
    from costmodels.billing.readers import read_billing

    console = stderr_console()
    with user_errors(debug):
        result = read_billing(inputs, strict=strict)
        write_focus(result.frame, output, version=focus_version.value)
        rec = result.reconciliation
        if not quiet:
            for line in rec.summary_lines():
                console.print(line, markup=False, soft_wrap=True)
            for odd in result.oddities:
                column = f" column {odd.column}" if odd.column else ""
                console.print(f"oddity {odd.kind}: {odd.source_file}{column}: {odd.count} x, "
                              f"e.g. {odd.example!r}: {odd.message}", markup=False, soft_wrap=True)
        standard = f"FOCUS {focus_version.value}, {to.value}"
        typer.echo(f"wrote {rec.rows_out} rows ({standard}) to {output}; "
                   f"{rec.rows_rejected} rejected; reconciliation "
                   f"{'balanced' if rec.balanced else 'NOT balanced'}")
        if not rec.balanced:
            raise typer.Exit(EXIT_ERROR)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``billing`` sub-app."""
    app.command("convert")(convert)
