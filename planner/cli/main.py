"""The ``planner`` command: a thin Typer app; each command group lives in its own module.

The command modules are imported lazily (:class:`LazyGroup`): ``planner --help`` lists the
commands from :data:`COMMANDS` without importing any, and ``planner billing review`` imports the
billing modules only, not the simulators, SciPy or the reports of the other commands.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import typer
from typer.core import TyperGroup, TyperOption

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("planner.cli.simulate",
            "Simulate every design of SCENARIO and report each in detail."),
    "compare": ("planner.cli.simulate",
                "Simulate every design of SCENARIO and compare them side by side."),
    "diff": ("planner.cli.diff", "Compare two runs (result JSONs or scenarios): what changed "
                                 "per design, as old -> new (+-%)."),
    "output": ("planner.cli.output", "Render a saved results JSON as a table, Markdown, HTML or "
                                     "an ADR, without simulating again."),
    "adr": ("planner.cli.adr", "Simulate SCENARIO and write an Architecture Decision Record "
                               "(MADR) choosing a design."),
    "dashboard": ("planner.cli.dashboard",
                  "Serve the dashboard on http://HOST:PORT (Ctrl-C stops it)."),
    "calibrate": ("planner.cli.calibrate", "Fit a design's service-time corrections to load "
                                           "tests and write a calibrated scenario."),
    "sweep": ("planner.cli.sweep", "Run the sweep of SCENARIO; report Pareto fronts, the "
                                   "cheapest feasible point and its sensitivity."),
    "profile": ("planner.cli.profile",
                "Measure an LLM token-latency profile of MODEL's shape on this GPU (or CPU)."),
    "billing": ("planner.cli.billing", "Billing exports (AWS CUR, GCP billing export, FOCUS): "
                                       "convert, review, rates."),
    "llm": ("planner.cli.llm", "The LLM step-latency model: time one step, fit it to a "
                               "measured profile, replay a recorded engine run."),
    "schema": ("planner.cli.schema", "Print the JSON Schema of scenarios or of a command's "
                                     "JSON output (for editors and validators)."),
    "prices": ("planner.cli.prices", "Browse the dated GPU price catalog (the newest refreshed "
                                     "cache, else the built-in snapshot) and refresh it from "
                                     "the AWS Pricing API or the GCP Cloud Billing Catalog "
                                     "API."),
}
"""Every command, in help order: the module that registers it and its one-line help."""


def _load(name: str) -> click.Command:
    """Import the module of command ``name`` and return its click command."""
    module_name, short = COMMANDS[name]
    module = importlib.import_module(module_name)
    holder = typer.Typer()
    holder.callback()(lambda: None)  # a group even when the module adds a single command
    if name == "prices":
        holder.add_typer(module.app, name="prices", help=short)
    else:
        module.register(holder)
    group = typer.main.get_command(holder)
    command = group.get_command(click.Context(group), name)  # type: ignore[attr-defined]
    if command is None:  # pragma: no cover - a registry entry that registers nothing
        raise RuntimeError(f"{module_name} does not register the command {name!r}")
    return command


def _flags_without_type(display_type_rich: Any) -> Any:
    """Typer's rich help prints ``<bool>`` beside every flag; a flag takes no value, so show
    none (options that take a value keep their type)."""

    def shown(self: Any, ctx: click.Context) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return display_type_rich(self, ctx)

    return shown


if hasattr(TyperOption, "display_type_rich"):
    TyperOption.display_type_rich = _flags_without_type(TyperOption.display_type_rich)


class LazyGroup(TyperGroup):
    """The root group: lists :data:`COMMANDS` from their help lines, imports one when it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}
        self._resolving = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name in self._loaded or self._resolving:
            return self.real_command(cmd_name)
        # listing (help, completion): a stand-in with the help line, nothing imported
        return click.Command(cmd_name, help=COMMANDS[cmd_name][1],
                             short_help=COMMANDS[cmd_name][1])

    def real_command(self, name: str) -> click.Command:
        """Return command ``name``, importing its module the first time."""
        if name not in self._loaded:
            self._loaded[name] = _load(name)
        return self._loaded[name]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        self._resolving = True
        try:
            return super().resolve_command(ctx, args)
        finally:
            self._resolving = False


app = typer.Typer(
    name="planner",
    help="FinOps capacity planner and architecture simulator for ML platforms.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


def _print_version(value: bool) -> None:
    if value:
        from planner.version import planner_version

        typer.echo(f"planner {planner_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version,
                                 is_eager=True, help="Print the version and exit."),
) -> None:
    """Simulate GPU serving designs and price them from dated catalogs."""


def main() -> None:
    """Entry point of the ``planner`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
