"""``planner run`` and ``planner compare``: simulate a scenario's designs, report, check guardrails.

The report is always written first; then every breached guardrail (``--fail-if``,
``--budget-usd-per-month``) is printed to stderr and the command exits 3. Guardrail expressions
are checked before simulating, so a typo fails at once with exit 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli import options
from planner.cli.common import (
    check_size,
    compile_notice,
    emit,
    progress_bar,
    report_breaches,
    stderr_console,
    usage_errors,
    user_errors,
)
from planner.reports.guardrails import (
    Guardrail,
    check_guardrails,
    evaluate_guardrails,
    known_metrics,
    parse_guardrails,
)
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


def _run(scenario: Scenario, quiet: bool) -> RunResult:
    compiling = compile_notice([d.pattern for d in scenario.designs], quiet)
    total = len(scenario.designs) * scenario.replications
    with progress_bar(not quiet, total=total, compiling=compiling) as callback:
        result = run_scenario(scenario, progress=callback)
    if not quiet:
        stderr_console().print(f"simulated {len(result.designs)} design(s) x "
                               f"{scenario.replications} replications in {result.wall_s:.1f} s")
    return result


def _simulate(path: Path, replications: int | None, seed: int | None, quiet: bool) -> RunResult:
    return _run(_load(path, replications, seed), quiet)


def _render(result: RunResult, fmt: options.OutputFormat, *, details: bool,
            wide: bool = False) -> str:
    if fmt == options.OutputFormat.json:
        return result.to_json()
    if fmt == options.OutputFormat.markdown:
        from planner.reports.markdown import render_markdown

        return render_markdown(result)
    if fmt == options.OutputFormat.html:
        from planner.reports.html import render_html  # plotly only when asked for

        return render_html(result)
    text = render_comparison(result, wide=wide)
    if details:
        text += "\n" + render_details(result, wide=wide)
    return text


def parse_fail_if(fail_if: list[str] | None) -> list[Guardrail]:
    """Parse ``--fail-if`` expressions; a malformed one is a usage error (exit 2)."""
    with usage_errors("--fail-if"):
        return parse_guardrails(fail_if or [])


def check_against_scenario(scenario: Scenario, guardrails: list[Guardrail],
                           designs: list[str]) -> None:
    """Check guardrail metrics and designs against the scenario, before simulating (exit 2);
    each problem is reported against the option that holds it."""
    names = [d.name for d in scenario.designs]
    patterns = {d.name: d.pattern for d in scenario.designs}
    metrics = known_metrics(d.pattern for d in scenario.designs)
    with usage_errors("--design"):
        check_guardrails([], design_names=names, selected=designs, metric_names=metrics,
                         design_patterns=patterns)
    with usage_errors("--fail-if"):
        check_guardrails(guardrails, design_names=names, selected=designs, metric_names=metrics,
                         design_patterns=patterns)


def _command(details: bool, doc: str):
    """Return a command that simulates a scenario and renders it (with per-design details)."""

    def command(
        scenario: Path = options.SCENARIO,
        fmt: options.OutputFormat = options.FORMAT,
        output: Path | None = options.OUTPUT,
        fail_if: list[str] | None = options.FAIL_IF,
        budget_usd_per_month: float | None = options.BUDGET,
        design: list[str] | None = options.DESIGN,
        replications: int | None = options.REPLICATIONS,
        seed: int | None = options.SEED,
        quiet: bool = options.QUIET,
        force: bool = options.FORCE,
        wide: bool = options.WIDE,
        debug: bool = options.DEBUG,
    ) -> None:
        guardrails = parse_fail_if(fail_if)
        designs = list(design or [])
        with user_errors(debug):
            loaded = _load(scenario, replications, seed)
        check_against_scenario(loaded, guardrails, designs)
        with user_errors(debug):
            check_size(loaded, force=force, quiet=quiet)
            result = _run(loaded, quiet)
            emit(_render(result, fmt, details=details, wide=wide), output)
        with usage_errors("--fail-if"):
            breaches = evaluate_guardrails(result, guardrails, designs=designs,
                                           budget_usd_per_month=budget_usd_per_month)
        report_breaches([b.message for b in breaches])

    command.__doc__ = doc
    return command


run = _command(True, "Simulate every design of SCENARIO and report each in detail.")
compare = _command(False, "Simulate every design of SCENARIO and compare them side by side.")


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``app``."""
    app.command("run")(run)
    app.command("compare")(compare)
