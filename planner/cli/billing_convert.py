"""``planner billing convert``: billing exports -> FOCUS 1.3 or 1.2 Parquet or CSV, reconciled."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from planner.cli.billing import EXIT_CODES_HELP, STRICT, read_exports
from planner.cli.common import user_errors
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
    strict: bool = STRICT,
    quiet: bool = QUIET,
    debug: bool = DEBUG,
) -> None:
    """Convert AWS CUR, GCP or FOCUS exports to FOCUS 1.3 or 1.2, printing the reconciliation."""
    from costmodels.billing.focus_writer import write_focus

    with user_errors(debug):
        result = read_exports(inputs, strict=strict, quiet=quiet)
        write_focus(result.frame, output, version=focus_version.value, parts=result.parts)
        rec = result.reconciliation
        standard = f"FOCUS {focus_version.value}, {to.value}"
        written = _rows_in(output)
        derived = written - rec.rows_out
        implied = (f" ({rec.rows_out} source rows + {derived} rows they imply: unused "
                   "commitment)" if derived else "")
        typer.echo(f"wrote {written} rows{implied} ({standard}) to {output}; "
                   f"{rec.rows_rejected} rejected; reconciliation {rec.verdict}")


def _rows_in(path: Path) -> int:
    """Return the rows of the file just written (Parquet or CSV)."""
    import polars as pl

    scan = pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_csv(path)
    return int(scan.select(pl.len()).collect().item())


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``billing`` sub-app."""
    app.command("convert", help=f"{convert.__doc__}\n\n{EXIT_CODES_HELP}")(convert)
