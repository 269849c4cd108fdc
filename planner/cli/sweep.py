"""``planner sweep``: run a scenario's design-space sweep and report the cheapest feasible point.

Points are written to the output folder as they finish; rerunning the same command resumes
where an interrupted run stopped (``--no-resume`` starts over).  The report goes to stdout (or
``--report FILE``); ``--format parquet`` writes ``points.parquet`` into the output folder.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import (
    check_size,
    compile_notice,
    count_progress,
    emit,
    stderr_console,
    user_errors,
)
from planner.schema import load_scenario


class SweepFormat(str, Enum):
    """Formats of the sweep report."""

    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"
    parquet = "parquet"


class ExecutorKind(str, Enum):
    """Where the points run."""

    local = "local"
    ray = "ray"


class _Stopped(SystemExit):
    """Raised in the main thread by SIGTERM or SIGHUP, so that the sweep cleans up and exits."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into an exception while the sweep runs, so that its workers are
    stopped, its folder lock released and its temporary files removed (finished points are
    kept); Ctrl-C already raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise _Stopped(128 + signum)

    wanted = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
              if s is not None]
    previous = {s: signal.signal(s, stop) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _check_sweep_size(loaded: Any, *, force: bool, quiet: bool) -> None:
    """Estimate the sweep before it starts: every runnable point simulates the base design."""
    from planner.sweep.points import plan_sweep

    plan = plan_sweep(loaded)
    base = next(d for d in loaded.designs if d.name == plan.base_design)
    one_design = loaded.model_copy(update={"designs": (base,)})
    check_size(one_design, force=force, quiet=quiet, points=max(len(plan.runnable), 1))


def sweep(
    scenario: Path = options.SCENARIO,
    executor: ExecutorKind = typer.Option(ExecutorKind.local, "--executor", "-e",
                                          case_sensitive=False,
                                          help="local: a process pool on this machine; ray: "
                                               "Ray tasks (a cluster with --address, else a "
                                               "local Ray instance)."),
    address: str | None = typer.Option(None, "--address", metavar="ADDRESS",
                                       help="Ray cluster to join, e.g. ray://head:10001 or "
                                            "auto (only with --executor ray)."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=0,
                                       help="Worker processes (default: the CPU count; 0 runs "
                                            "in this process; with a local Ray instance, its "
                                            "CPUs)."),
    output_dir: Path | None = typer.Option(None, "--output-dir", file_okay=False,
                                           help="Folder of the incremental results (default "
                                                ".planner-sweeps/<scenario>-<fingerprint>)."),
    resume: bool = typer.Option(True, "--resume/--no-resume",
                                help="Skip the points already in the output folder, or start "
                                     "over."),
    fmt: SweepFormat = typer.Option(SweepFormat.table, "--format", "-f", case_sensitive=False,
                                    help="Report format; parquet writes points.parquet into "
                                         "the output folder."),
    output: Path | None = typer.Option(None, "--output", "-o", "--report", dir_okay=False,
                                       help="Write the report to this file instead of stdout "
                                            "(parquet: the points table; default "
                                            "points.parquet in the --output-dir folder). "
                                            "--report is the old name."),
    sensitivity: bool = typer.Option(True, "--sensitivity/--no-sensitivity",
                                     help="Re-run the cheapest feasible point with the "
                                          "arrival rate x0.8/x1.2 and spot interruptions "
                                          "x0.5/x2."),
    show_progress: bool = typer.Option(True, "--progress/--quiet", " /-q",
                                       help="Progress bar and notes on stderr, or none."),
    force: bool = options.FORCE,
    debug: bool = options.DEBUG,
) -> None:
    """Run the sweep of SCENARIO; report Pareto fronts, the cheapest feasible point and its
    sensitivity."""
    from planner.sweep import make_executor, run_sweep
    from planner.sweep import report as sweep_report

    if address and executor != ExecutorKind.ray:
        raise typer.BadParameter(f"applies to --executor ray (got {address!r} with --executor "
                                 f"{executor.value}); add --executor ray", param_hint="--address")
    with user_errors(debug):
        loaded = load_scenario(scenario)
        if loaded.sweep is None:
            raise PlannerError(f"{scenario}: has no sweep: section; add sweep: {{design: NAME, "
                               "parameters: {fleet.nodes: [1, 2, 4]}} (see "
                               "scenarios/sweep-example.yaml)")
        _check_sweep_size(loaded, force=force, quiet=not show_progress)
        compile_notice([d.pattern for d in loaded.designs], not show_progress)
        runner = make_executor(executor.value, workers=workers, address=address)
        try:
            with _stop_on_signals(), count_progress(show_progress, "sweep", "points") as callback:
                result = run_sweep(loaded, executor=runner, output=output_dir, resume=resume,
                                   progress=callback, sensitivity=sensitivity)
        except (_Stopped, KeyboardInterrupt):
            stderr_console().print("sweep stopped; the finished points are kept in the output "
                                   "folder: run the same command again to resume",
                                   markup=False, soft_wrap=True)
            raise
        finally:
            runner.close()
        for note in result.notes:
            stderr_console().print(f"note: {note}", markup=False, soft_wrap=True)
        if show_progress:
            c = result.counts()
            stderr_console().print(
                f"swept {c['points']} points ({c['ran_now']} run now, {c['resumed']} resumed, "
                f"{c['skipped']} skipped, {c['error']} failed) in {result.wall_s:.1f} s; "
                f"results in {result.output}", markup=False, soft_wrap=True)
        if fmt == SweepFormat.parquet:
            target = output or Path(result.output) / "points.parquet"
            try:
                sweep_report.render_sweep_parquet(result, target)
            except OSError as exc:
                raise PlannerError(f"cannot write {target}: {exc}; choose a writable "
                                   "--output file or --output-dir folder") from None
            if show_progress:
                stderr_console().print(f"wrote {target}", markup=False, soft_wrap=True)
            return
        render = {SweepFormat.json: lambda r: r.to_json(),
                  SweepFormat.markdown: sweep_report.render_sweep_markdown,
                  SweepFormat.html: sweep_report.render_sweep_html,
                  SweepFormat.table: sweep_report.render_sweep_table}[fmt]
        emit(render(result), output)


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to ``app``."""
    app.command("sweep")(sweep)
