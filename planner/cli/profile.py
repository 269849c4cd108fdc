"""``planner profile``: measure an LLM token-latency profile on the local GPU (or CPU).

Builds a decoder with random weights in the shape of ``--model`` and times its prefill passes
and decode steps (:mod:`planner.profiling`), then writes the CSV an ``llm`` design reads with
``latency: {kind: profile, path: ...}`` (``docs/profiling.md``).  PyTorch is imported only
when the command runs, so ``planner --help`` stays fast and works without it.
"""

from __future__ import annotations

import dataclasses
import time
from enum import Enum
from pathlib import Path

import typer

from domain.errors import PlannerError
from planner.cli import options
from planner.cli.common import EXIT_ERROR, emit, stderr_console, usage_errors, user_errors
from planner.profiling import (
    TorchMissing,
    profile_csv,
    profile_model,
    require_torch,
    resolve_model,
    write_profile_csv,
)
from planner.profiling.shape import GIB, decoder_shape
from simulators.core.gpus import gpu_key

DEFAULT_PREFILL = "128,256,512,1024,2048,4096,8192"
DEFAULT_BATCHES = "1,2,4,8,16,32,64,128,256"
DEFAULT_CONTEXTS = "512,2048,8192"
"""The grid of the shipped ``h100_llm_token_latency.csv``."""


class Device(str, Enum):
    """Where to run the profile."""

    auto = "auto"
    cuda = "cuda"
    cpu = "cpu"


class Dtype(str, Enum):
    """Weights, activations and KV cache."""

    float16 = "float16"
    bfloat16 = "bfloat16"
    float32 = "float32"


MODEL = typer.Option(..., "--model", "-m", show_default=False,
                     help="A model name of the catalog (llama-3-8b, ...) or the path of a "
                          "Hugging Face config.json.")
NAME = typer.Option(None, "--name", show_default=False,
                    help="The model column of the CSV (default: the model's name); an llm "
                         "design selects its rows by this name.")
OUT = typer.Option(None, "--out", "-o", dir_okay=False,
                   help="CSV file to write (parent folders are created); default: stdout.")
DEVICE = typer.Option(Device.auto, "--device", case_sensitive=False,
                      help="auto: CUDA when PyTorch sees a GPU, else CPU.")
DTYPE = typer.Option(None, "--dtype", case_sensitive=False, show_default=False,
                     help="Default: float16 on CUDA, float32 on CPU.")
PREFILL = typer.Option(DEFAULT_PREFILL, "--prefill-tokens", metavar="N,N,...",
                       help="Prompt lengths of the prefill rows (one sequence each).")
BATCHES = typer.Option(DEFAULT_BATCHES, "--batches", metavar="N,N,...",
                       help="Batch sizes (sequences) of the decode rows.")
CONTEXTS = typer.Option(DEFAULT_CONTEXTS, "--contexts", metavar="N,N,...",
                        help="KV-cache lengths of the decode rows (every batch at each).")
REPEATS = typer.Option(20, "--repeats", help="Timed steps per grid point (>= 1).")
WARMUP = typer.Option(3, "--warmup", help="Untimed steps per grid point before timing (>= 0).")
MEMORY = typer.Option(None, "--memory-budget-gib", metavar="GIB",
                      help="Skip grid points whose weights + KV cache + activations need more "
                           "(default: 92% of the free GPU memory, or half the free host "
                           "memory on CPU).")
CUDA_GRAPHS = typer.Option(True, "--cuda-graphs/--no-cuda-graphs",
                           help="On CUDA, time replays of a CUDA graph per step (as serving "
                                "engines run), or eager steps.")
THREADS = typer.Option(None, "--cpu-threads", show_default=False,
                       help="On CPU, PyTorch's intra-op threads, >= 1 (1 gives steady times on "
                            "a busy machine; default: PyTorch's).")
SEED = typer.Option(0, "--seed", help="Seed of the random weights and tokens (>= 0).")


def parse_sizes(text: str, option: str) -> list[int]:
    """Return the whole numbers >= 1 of a comma-separated ``option`` value.

    Raises
    ------
    typer.BadParameter
        An empty list, or an item that is not a whole number >= 1 (exit 2, naming both).
    """
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise typer.BadParameter(f"{text!r} is empty; give comma-separated whole numbers, e.g. "
                                 "128,512", param_hint=option)
    out = []
    for item in items:
        try:
            value = int(item)
        except ValueError:
            raise typer.BadParameter(f"{item!r} in {text!r} is not a whole number; give "
                                     "comma-separated whole numbers >= 1, e.g. 128,512",
                                     param_hint=option) from None
        if value < 1:
            raise typer.BadParameter(f"{value} in {text!r} must be >= 1", param_hint=option)
        out.append(value)
    return out


def profile(
    model: str = MODEL,
    out: Path | None = OUT,
    name: str | None = NAME,
    device: Device = DEVICE,
    dtype: Dtype | None = DTYPE,
    prefill_tokens: str = PREFILL,
    batches: str = BATCHES,
    contexts: str = CONTEXTS,
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    memory_budget_gib: float | None = MEMORY,
    cuda_graphs: bool = CUDA_GRAPHS,
    cpu_threads: int | None = THREADS,
    seed: int = SEED,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Measure an LLM token-latency profile of MODEL's shape on this GPU (or CPU).

    Prefill rows time one sequence of N prompt tokens; decode rows time one new token for
    each of B sequences whose KV cache holds C tokens (random weights, preallocated KV cache).
    On CUDA each step is captured in a CUDA graph and its replays are timed with CUDA events;
    on CPU eager steps are timed with perf_counter. Grid points that do not fit in memory are
    skipped and listed. An llm design reads the CSV with latency: {kind: profile, path: CSV}.
    """
    grid = {"prefill_tokens": parse_sizes(prefill_tokens, "--prefill-tokens"),
            "decode_batches": parse_sizes(batches, "--batches"),
            "decode_contexts": parse_sizes(contexts, "--contexts")}
    for option, value, low in (("--repeats", repeats, 1), ("--warmup", warmup, 0),
                               ("--cpu-threads", cpu_threads, 1), ("--seed", seed, 0)):
        if value is not None and value < low:
            raise typer.BadParameter(f"{value} must be >= {low}", param_hint=option)
    if memory_budget_gib is not None and not memory_budget_gib > 0:
        raise typer.BadParameter(f"{memory_budget_gib:g} must be > 0 (GiB)",
                                 param_hint="--memory-budget-gib")
    with usage_errors("--model"):
        try:
            spec = resolve_model(model)
        except (OSError, ValueError) as exc:  # a config.json that cannot be read or parsed
            if isinstance(exc, PlannerError):
                raise
            raise PlannerError(f"{model!r}: {exc}") from None
        shape = decoder_shape(spec)
    if name is not None:
        if not name.strip() or "," in name:
            raise typer.BadParameter(f"{name!r} must be a non-empty name without commas",
                                     param_hint="--name")
        shape = dataclasses.replace(shape, name=name.strip())
    torch = _torch(debug)
    with user_errors(debug):
        if device == Device.cuda and not torch.cuda.is_available():
            raise typer.BadParameter(
                f"cuda, but PyTorch {torch.__version__} sees no CUDA device; use --device cpu "
                "or auto, or install a CUDA build of PyTorch", param_hint="--device")
        console = stderr_console()
        started = time.perf_counter()
        with _progress(console, enabled=not quiet) as callback:
            run = profile_model(
                shape, device=device.value, dtype=dtype.value if dtype else None, **grid,
                repeats=repeats, warmup=warmup, cuda_graphs=cuda_graphs,
                memory_budget_bytes=None if memory_budget_gib is None else memory_budget_gib * GIB,
                cpu_threads=cpu_threads, seed=seed, progress=callback)
        if not run.rows:
            reasons = sorted({s.reason for s in run.skipped})
            fix = ("the weights alone do not fit: profile on a device with more memory"
                   if any(r.startswith("weights ") for r in reasons)
                   else "use a device with more memory or a smaller grid")
            if run.dtype == "float32":
                fix += ", or --dtype float16"
            raise PlannerError(f"nothing measured: every grid point of {shape.name} was "
                               f"skipped on {run.gpu} ({'; '.join(reasons[:3])}); {fix}")
        if out is None:
            emit(profile_csv(run.rows), None)
        else:
            write_profile_csv(run.rows, out)
        if not quiet:
            _summary(console, run, out, time.perf_counter() - started)


def _torch(debug: bool):
    """Return ``torch``, or print how to install it and exit 1 (the message holds
    ``[profile]``, which rich markup would eat: printed plain)."""
    try:
        return require_torch()
    except TorchMissing as exc:
        if debug:
            raise
        stderr_console().print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_ERROR) from None


class _progress:
    """A rich progress bar on a terminal, else one line per grid point (or nothing)."""

    def __init__(self, console, *, enabled: bool) -> None:
        self.console, self.enabled, self.bar, self.task = console, enabled, None, None

    def __enter__(self):
        if not self.enabled:
            return None
        if not self.console.is_terminal:
            return lambda done, total, label: self.console.print(
                f"[{done}/{total}] {label}", markup=False, soft_wrap=True)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(TextColumn("profiling"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.description}"),
                            console=self.console, transient=True)
        self.bar.__enter__()
        self.task = self.bar.add_task("", total=None)

        def callback(done: int, total: int, label: str) -> None:
            self.bar.update(self.task, completed=done, total=total, description=label)

        return callback

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _summary(console, run, out: Path | None, wall_s: float) -> None:
    where = f"wrote {out}" if out is not None else "profile on stdout"
    console.print(f"{where}: {len(run.rows)} rows of {run.rows[0].model} on {run.gpu} "
                  f"({run.rows[0].method}, {run.rows[0].dtype}) in {wall_s:.1f} s",
                  markup=False, soft_wrap=True)
    if run.skipped:
        console.print(f"skipped {len(run.skipped)} grid point(s) that do not fit (memory "
                      f"budget {run.memory_budget_bytes / GIB:.1f} GiB):", markup=False)
        for s in run.skipped:
            console.print(f"  {s.label()}: {s.reason}", markup=False, soft_wrap=True)
    for note in run.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    for problem in run.loadable_problems():
        console.print(f"warning: {problem}; an llm design cannot use this profile as it is",
                      markup=False, soft_wrap=True)
    if run.device != "cuda":
        console.print("note: measured on the CPU; an llm design scales a profile from its GPU's "
                      "datasheet, so it needs one measured on a GPU (--device cuda)",
                      markup=False, soft_wrap=True)
        return
    try:
        gpu_key(run.gpu)
    except PlannerError as exc:
        console.print(f"warning: the gpu column {run.gpu!r} has no datasheet entry ({exc}); "
                      "rename it to a known GPU for an llm design to use the profile",
                      markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``planner profile`` to ``app``."""
    app.command("profile")(profile)

