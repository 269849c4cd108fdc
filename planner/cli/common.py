"""Helpers every command uses: error handling, progress, writing output."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
        stderr_console().print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[object]:
    """Yield a ``callback(design, done, total)`` drawing a progress bar on stderr, or None."""
    console = stderr_console()
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("replications"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def callback(design: str, done: int, total: int) -> None:
            if design not in tasks:
                tasks[design] = progress.add_task(design, total=total)
            progress.update(tasks[design], completed=done)

        yield callback


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
