"""``planner diff BASE HEAD``: what changed per design between two runs, like Infracost's diff.

BASE and HEAD are each a results JSON (``planner run|compare --format json``) or a scenario
YAML, simulated first as ``planner compare`` does (``--replications`` and ``--seed`` override
the scenarios'). Guardrails (``--fail-if``, ``--budget-usd-per-month``, ``--design``) are
checked on HEAD exactly as ``planner compare`` checks them: a malformed expression or an unknown
design or metric exits 2 before anything is simulated; the report is written first, then any
breach exits 3.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import check_size, emit, report_breaches, usage_errors, user_errors
from planner.reports.diff import RunDiff, Side, diff_runs
from planner.reports.diff_render import render_json, render_markdown, render_table

if TYPE_CHECKING:
    from planner.reports.guardrails import Guardrail
    from planner.results import RunResult
    from planner.schema import Scenario

BASE = typer.Argument(..., help="The run before: a results JSON (planner compare --format json) "
                      "or a scenario YAML.", dir_okay=False, show_default=False)
HEAD = typer.Argument(..., help="The run after: a results JSON or a scenario YAML; guardrails "
                      "are checked on it.", dir_okay=False, show_default=False)


class DiffFormat(str, Enum):
    """Formats the diff renders in."""

    table = "table"
    json = "json"
    markdown = "markdown"


FORMAT = typer.Option(DiffFormat.table, "--format", "-f", case_sensitive=False,
                      help="Output format: table, json (kind 'diff', schema_version) or "
                           "markdown (a pull-request comment).")

_HOW = ("pass a results JSON written by `planner run|compare SCENARIO --format json -o FILE` "
        "or a scenario YAML")


class _Input:
    """One argument of the diff: a results JSON read back, or a scenario not yet simulated."""

    def __init__(self, path: Path, replications: int | None, seed: int | None) -> None:
        self.path = path
        self.result: RunResult | None = None
        self.schema_version: int | None = None
        self.scenario: Scenario | None = None
        if not path.exists():
            raise PlannerError(f"{path}: file not found; {_HOW}")
        if not path.is_file():
            raise PlannerError(f"{path}: not a file; {_HOW}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlannerError(f"{path}: cannot read the file ({exc}); {_HOW}") from None
        if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
            self._read_results(text)
            return
        from planner.cli.simulate import _load  # the simulators only when simulating

        try:
            self.scenario = _load(path, replications, seed)
        except PlannerError as exc:
            raise PlannerError(f"{exc}\n{path} is neither a results JSON nor a valid "
                               f"scenario; {_HOW}") from None

    def _read_results(self, text: str) -> None:
        from planner.results import RunResult

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlannerError(f"{self.path}: not valid JSON (line {exc.lineno}, column "
                               f"{exc.colno}: {exc.msg}); {_HOW}") from None
        if isinstance(data, dict) and data.get("kind") == "diff":
            raise PlannerError(f"{self.path}: the JSON of a planner diff, not of a run; {_HOW}")
        self.result = RunResult.from_dict(data, source=str(self.path))
        self.schema_version = int(data["schema_version"])

    @property
    def design_patterns(self) -> dict[str, str]:
        """Each design's pattern, known before simulating."""
        if self.scenario is not None:
            return {d.name: d.pattern for d in self.scenario.designs}
        assert self.result is not None
        return {d.name: d.pattern for d in self.result.designs}

    def side(self, quiet: bool) -> Side:
        """Return the run: read from the JSON, or simulated from the scenario."""
        if self.scenario is not None:
            from planner.cli.simulate import _run

            return Side(str(self.path), "scenario", _run(self.scenario, quiet))
        assert self.result is not None and self.schema_version is not None
        return Side(str(self.path), "results", self.result, self.schema_version)


def _check_guardrails_early(head: _Input, guardrails: list[Guardrail], designs: list[str]
                            ) -> None:
    """Check guardrail metrics and designs against HEAD before simulating (exit 2)."""
    if not guardrails and not designs:
        return  # nothing to check: a diff of results JSONs imports no simulator
    from planner.reports.guardrails import check_guardrails, known_metrics

    patterns = head.design_patterns
    option = "--design" if designs and not guardrails else "--fail-if"
    with usage_errors(option):
        check_guardrails(guardrails, design_names=list(patterns), selected=designs,
                         metric_names=known_metrics(patterns.values()),
                         design_patterns=patterns)


def _render(diff: RunDiff, fmt: DiffFormat, wide: bool = False) -> str:
    if fmt == DiffFormat.json:
        return render_json(diff)
    if fmt == DiffFormat.markdown:
        return render_markdown(diff)
    return render_table(diff, wide=wide)


def diff(
    base: Path = BASE,
    head: Path = HEAD,
    fmt: DiffFormat = FORMAT,
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
    """Compare two runs (result JSONs or scenarios): what changed per design, as old -> new (+-%).

    Designs are matched by name (one only in HEAD is added, one only in BASE removed); each
    figure reads old -> new (+x.x%), 'unchanged' when equal, n/a when unknown. Formats: table
    (default), json (kind "diff", with schema_version), markdown (a pull-request comment).
    Guardrails are checked on HEAD as planner compare checks them: breach -> exit 3.
    """
    from planner.reports.guardrails import evaluate_guardrails, parse_guardrails

    with usage_errors("--fail-if"):
        guardrails = parse_guardrails(fail_if or [])
    designs = list(design or [])
    with user_errors(debug):
        inputs = [_Input(path, replications, seed) for path in (base, head)]
    if (replications is not None or seed is not None) and all(i.result for i in inputs):
        raise typer.BadParameter("--replications and --seed apply to scenario inputs; BASE and "
                                 "HEAD are both results JSONs", param_hint="--replications/--seed")
    _check_guardrails_early(inputs[1], guardrails, designs)
    with user_errors(debug):
        for scenario in (i.scenario for i in inputs if i.scenario is not None):
            check_size(scenario, force=force, quiet=quiet)
        old, new = (i.side(quiet) for i in inputs)
        emit(_render(diff_runs(old, new), fmt, wide), output)
    with usage_errors("--fail-if"):
        breaches = evaluate_guardrails(new.result, guardrails, designs=designs,
                                       budget_usd_per_month=budget_usd_per_month)
    report_breaches([b.message for b in breaches])


def register(app: typer.Typer) -> None:
    """Add ``diff`` to ``app``."""
    app.command("diff")(diff)
