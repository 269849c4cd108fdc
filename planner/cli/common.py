"""Helpers every command uses: error handling, progress, writing output."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from domain.errors import PlannerError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BREACH = 3
"""A CI guardrail (``--fail-if``, ``--budget-usd-per-month``) is breached."""
EXIT_DATA_WARNINGS = 4
"""A billing command under ``--strict`` counted a data warning (a rejected row or an
oddity); every warning is printed and nothing is written."""


def stderr_console() -> Console:
    """Return a console that writes messages and progress to stderr."""
    return Console(stderr=True, highlight=False)


@contextlib.contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Turn a :class:`PlannerError` into a message on stderr and exit code 1.

    With ``debug`` the exception propagates so that its traceback is shown.
    """
    try:
        yield
    except PlannerError as exc:
        if debug:
            raise
        from rich.markup import escape

        stderr_console().print(f"[bold red]error:[/] {escape(str(exc))}", markup=True,
                               soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int | None = None,
                 compiling: str | None = None) -> Iterator[object]:
    """Yield a ``callback(design, done, total)`` drawing a progress bar on stderr, or None.

    ``total`` (replications of every design) adds an overall line with the time remaining;
    ``compiling`` names the kernels being compiled: until the first replication ends that line
    spins and says so (the first run on a machine compiles for a while and would otherwise
    look stuck).
    """
    console = stderr_console()
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("replications"), TimeElapsedColumn(),
               TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}
        overall = None
        if total:
            label = f"compiling {compiling} kernels (first run only)" if compiling else "all"
            overall = progress.add_task(label, total=total)
        done_by: dict[str, int] = {}

        def callback(design: str, done: int, total: int) -> None:
            if design not in tasks:
                tasks[design] = progress.add_task(design, total=total)
            progress.update(tasks[design], completed=done)
            done_by[design] = done
            if overall is not None:
                progress.update(overall, completed=sum(done_by.values()), description="all")

        yield callback


@contextlib.contextmanager
def count_progress(enabled: bool, label: str, unit: str = "") -> Iterator[object]:
    """Yield a ``callback(done, total)`` drawing ``label``, a bar, done/total ``unit``, the time
    spent and the time left on a terminal's stderr (gone when it ends); None otherwise."""
    console = stderr_console()
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def callback(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield callback


def compile_notice(patterns: list[str], quiet: bool) -> str | None:
    """Print, before a run, which simulation kernels it must compile first (none once this
    machine has compiled them: they are cached on disk) and about how long that takes; return
    their names for :func:`progress_bar`, or None when every kernel is cached."""
    from simulators.core.jit import cold_kernels

    cold = cold_kernels(patterns)
    if not cold:
        return None
    names = ", ".join(cold)
    if not quiet:
        seconds = sum(c.compile_s for c in cold.values())
        stderr_console().print(
            f"compiling the {names} simulation kernels (first run on this machine only, about "
            f"{seconds:.0f} s on 2 cores; cached in {next(iter(cold.values())).cache_dir})",
            markup=False, soft_wrap=True)
    return names


@contextlib.contextmanager
def usage_errors(option: str) -> Iterator[None]:
    """Turn a :class:`PlannerError` raised while checking options into a usage error (exit 2)."""
    try:
        yield
    except PlannerError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def report_breaches(messages: list[str]) -> None:
    """Print each guardrail breach to stderr and exit with :data:`EXIT_BREACH` if any."""
    if not messages:
        return
    console = stderr_console()
    for message in messages:
        console.print(f"breach: {message}", markup=False, soft_wrap=True)
    console.print(f"{len(messages)} guardrail breach(es)", markup=False)
    raise typer.Exit(EXIT_BREACH)


def emit(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (a file) or to stdout."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise PlannerError(f"cannot write --output {output}: {exc.strerror}; choose a writable "
                           "path") from None


def check_size(scenario: Any, *, force: bool, quiet: bool, points: int = 1) -> None:
    """Estimate a run before starting it (:mod:`planner.estimate`): past the limits, refuse
    (a :class:`~planner.estimate.RunTooLargeError`: exit 1 with the estimate and the fix)
    unless ``force``, which runs it and notes the estimate on stderr. ``points``: sweep points,
    each simulating every design of ``scenario``."""
    from planner.estimate import RunLimits, check_run_size

    estimate = check_run_size(scenario, force=force, points=points)
    over = estimate.over(RunLimits())
    if over and not quiet:
        stderr_console().print(f"running anyway (--force), past the limit on "
                               f"{' and '.join(over)}: {estimate.describe()}", markup=False)
