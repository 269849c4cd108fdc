"""``planner schema``: print a shipped JSON Schema (scenario files, every command's JSON output).

The schemas are files in ``planner/schemas/`` generated from the models
(:mod:`planner.json_schemas`, standard library only); this command only reads them, so it
imports neither the models nor the simulators.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import emit, user_errors
from planner.json_schemas import SCHEMAS, shipped_text

NAME = typer.Argument(None, metavar="[NAME]", show_default=False,
                      help=f"The schema to print: {', '.join(SCHEMAS)} (none: list them).")
LIST = typer.Option(False, "--list", "-l", help="List the schema names, one a line.")


def listing() -> str:
    """Return one line per schema: its name and what it describes."""
    width = max(len(name) for name in SCHEMAS)
    return "\n".join(f"{name:<{width}}  {doc.summary}" for name, doc in SCHEMAS.items())


def unknown_name(name: str) -> typer.BadParameter:
    """Return the usage error for a name that is not a schema, with the closest names."""
    close = difflib.get_close_matches(name, list(SCHEMAS), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return typer.BadParameter(f"{name!r} is not a schema; {hint}choose one of "
                              f"{', '.join(SCHEMAS)} (planner schema --list)",
                              param_hint="NAME")


def schema(
    name: str | None = NAME,
    list_names: bool = LIST,
    output: Path | None = options.OUTPUT,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Print the JSON Schema of scenarios or of a command's JSON output (for editors and
    validators).

    'planner schema scenario -o scenario.schema.json' writes the scenario schema; a YAML editor
    with the YAML language server validates and completes a scenario whose first line is
    '# yaml-language-server: $schema=scenario.schema.json'.  Every JSON a command writes
    carries schema_version (and kind), which its schema pins; validate one with any JSON Schema
    (draft 2020-12) validator.
    """
    del quiet  # accepted as by every command; this one writes nothing to stderr
    if list_names or name is None:
        emit(listing(), output)
        return
    if name not in SCHEMAS:
        raise unknown_name(name)
    with user_errors(debug):
        try:
            text = shipped_text(name)
        except OSError as exc:
            raise PlannerError(f"the {name} schema is not installed ({exc}); reinstall the "
                               "package, or in a checkout run 'python -m planner.json_schemas "
                               "--write'") from None
        emit(text, output)


def register(app: typer.Typer) -> None:
    """Add the ``schema`` command to ``app``."""
    app.command("schema")(schema)
