"""``planner run`` and ``planner compare``: simulate a scenario's designs and report them."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli import options
from planner.cli.common import emit, progress_bar, stderr_console, user_errors
from planner.reports.table import render_comparison, render_details
from planner.results import RunResult
from planner.run import run_scenario
from planner.schema import Scenario, load_scenario


def _load(path: Path, replications: int | None, seed: int | None) -> Scenario:
    scenario = load_scenario(path)
    update = {}
    if replications is not None:
        update["replications"] = replications
    if seed is not None:
        update["seed"] = seed
    return scenario.model_copy(update=update) if update else scenario


def _simulate(path: Path, replications: int | None, seed: int | None, quiet: bool) -> RunResult:
    scenario = _load(path, replications, seed)
    with progress_bar(not quiet) as callback:
        result = run_scenario(scenario, progress=callback)
    if not quiet:
        stderr_console().print(f"simulated {len(result.designs)} design(s) x "
                               f"{scenario.replications} replications in {result.wall_s:.1f} s")
    return result


def _render(result: RunResult, fmt: options.OutputFormat, *, details: bool) -> str:
    if fmt == options.OutputFormat.json:
        return result.to_json()
    text = render_comparison(result)
    if details:
        text += "\n" + render_details(result)
    return text


def _command(details: bool, doc: str):
    """Return a command that simulates a scenario and renders it (with per-design details)."""

    def command(
        scenario: Path = options.SCENARIO,
        fmt: options.OutputFormat = options.FORMAT,
        output: Path | None = options.OUTPUT,
        replications: int | None = options.REPLICATIONS,
        seed: int | None = options.SEED,
        quiet: bool = options.QUIET,
        debug: bool = options.DEBUG,
    ) -> None:
        with user_errors(debug):
            result = _simulate(scenario, replications, seed, quiet)
            emit(_render(result, fmt, details=details), output)

    command.__doc__ = doc
    return command


run = _command(True, "Simulate every design of SCENARIO and report each in detail.")
compare = _command(False, "Simulate every design of SCENARIO and compare them side by side.")


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("run")(run)
    app.command("compare")(compare)
