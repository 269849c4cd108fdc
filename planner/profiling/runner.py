"""Run the profile grid: build the decoder, check each point's memory, time its steps.

:func:`profile_model` imports PyTorch only when called (``planner --help`` and the rest of
the planner never load it); without PyTorch it raises :class:`TorchMissing`.
"""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable, Sequence

from domain.errors import PlannerError
from planner.profiling.rows import ProfileRow, ProfileRun, SkippedPoint, point_label
from planner.profiling.shape import (
    DTYPE_BYTES,
    DecoderShape,
    decode_footprint,
    decoder_shape,
    gib,
    prefill_footprint,
    weight_bytes,
)

INSTALL_HINT = "pip install 'gpu-planner[profile]'"

CUDA_HEADROOM = 0.92
"""Share of the free device memory a profile may plan for (the rest: CUDA graph pools,
cuBLAS workspaces, fragmentation)."""
CPU_HEADROOM = 0.5
"""Share of the available host memory a CPU profile may plan for."""

Progress = Callable[[int, int, str], None]
"""``progress(done, total, label)``: called once a grid point is measured or skipped."""


class TorchMissing(PlannerError):
    """PyTorch is not installed (the ``profile`` extra)."""


def require_torch():
    """Return the ``torch`` module, or raise :class:`TorchMissing` saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise TorchMissing(f"planner profile needs PyTorch, which is not installed ({exc}); "
                           f"install it with: {INSTALL_HINT}") from None
    return torch


def profile_model(spec, *, device: str = "auto", dtype: str | None = None,
                  prefill_tokens: Sequence[int] = (128, 256, 512, 1024, 2048, 4096, 8192),
                  decode_batches: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256),
                  decode_contexts: Sequence[int] = (512, 2048, 8192), repeats: int = 20,
                  warmup: int = 3, memory_budget_bytes: float | None = None, seed: int = 0,
                  cuda_graphs: bool = True, cpu_threads: int | None = None,
                  progress: Progress | None = None) -> ProfileRun:
    """Measure the prefill and decode step times of a decoder shaped like ``spec``.

    Parameters
    ----------
    spec : ModelSpec or DecoderShape
        The model's shape (:func:`planner.profiling.shape.decoder_shape` reads a ``ModelSpec``).
    device : {"auto", "cuda", "cpu"}
        ``auto``: CUDA when available, else CPU.
    dtype : {"float16", "bfloat16", "float32"}, optional
        Weights, activations and KV cache; default float16 on CUDA, float32 on CPU.
    prefill_tokens : sequence of int
        Prompt lengths of the prefill rows (one sequence each).
    decode_batches, decode_contexts : sequence of int
        The decode grid: every batch size at every context length.
    repeats : int
        Timed steps per grid point (``mean_ms``, ``max_ms`` over them).
    warmup : int
        Untimed steps per grid point before timing (and before capturing a CUDA graph).
    memory_budget_bytes : float, optional
        Memory the weights, KV cache and activations of a grid point may take; points above it
        are skipped and reported.  Default: 92% of the free CUDA memory, or half the available
        host memory on CPU.
    seed : int
        Seed of the weights, KV-cache contents and token ids.
    cuda_graphs : bool
        On CUDA, capture each step in a CUDA graph and time its replays (default); False
        times eager steps with CUDA events.
    cpu_threads : int, optional
        On CPU, the intra-op threads during the profile (``torch.set_num_threads``; restored
        afterwards).  One thread gives the steadiest times on a shared machine.
    progress : callable, optional
        ``progress(done, total, label)`` after each grid point; ``label`` names the point and
        its mean time, or says it was skipped.

    Returns
    -------
    ProfileRun
        The measured rows (``write_profile_csv(run.rows, path)`` writes them) and the skipped
        points.

    Raises
    ------
    TorchMissing
        PyTorch is not installed.
    PlannerError
        An argument out of range, or CUDA asked for but not available.
    """
    torch = require_torch()

    shape = decoder_shape(spec)
    dev = _device(torch, device)
    dtype = dtype or ("float16" if dev.type == "cuda" else "float32")
    _check_args(dtype, prefill_tokens, decode_batches, decode_contexts, repeats, warmup,
                cpu_threads)
    budget = (float(memory_budget_bytes) if memory_budget_bytes is not None
              else _default_budget(torch, dev))
    points = ([("prefill", 1, n, 0) for n in sorted(set(prefill_tokens))]
              + [("decode", b, 1, c) for c in sorted(set(decode_contexts))
                 for b in sorted(set(decode_batches))])
    threads = torch.get_num_threads()
    if cpu_threads is not None and dev.type == "cpu":
        torch.set_num_threads(cpu_threads)
    try:
        timer = _Timer(torch, dev, repeats=repeats, warmup=warmup,
                       graphs=cuda_graphs and dev.type == "cuda")
        grid = _Grid(torch, shape, dev, dtype, timer, ProfileRun(
            [], [], dev.type, _device_name(torch, dev), dtype, budget), len(points), progress)
        grid.run(points, seed)
    finally:
        torch.set_num_threads(threads)
        _release(torch, dev)
    return grid.result


# ---------------------------------------------------------------------------------------------
# The grid


class _Grid:
    """Measures the grid points of one profile into ``result``."""

    def __init__(self, torch, shape: DecoderShape, dev, dtype: str, timer: _Timer,
                 result: ProfileRun, total: int, progress: Progress | None) -> None:
        self.torch, self.shape, self.dev, self.dtype = torch, shape, dev, dtype
        self.timer, self.result, self.total, self.progress = timer, result, total, progress
        self.done = 0

    def run(self, points: list[tuple], seed: int) -> None:
        """Skip the points that do not fit, build the decoder, time the rest."""
        from planner.profiling import model as m

        budget = self.result.memory_budget_bytes
        weights = weight_bytes(self.shape, self.dtype)
        if weights > budget:
            reason = f"weights {gib(weights)} ({self.dtype}) > memory budget {gib(budget)}"
            for p in points:
                self.skip(p, reason)
            return
        wanted = []
        for p in points:
            need = _footprint(self.shape, p, self.dtype, self.dev.type)
            if need.total > budget:
                self.skip(p, need.describe(budget))
            else:
                wanted.append(p)
        if not wanted:
            return
        positions = max(n if ph == "prefill" else c + 1 for ph, _, n, c in wanted)
        self.torch.manual_seed(seed)
        with self.torch.inference_mode():
            try:
                net = m.Decoder(self.shape, device=self.dev, dtype=m.DTYPES[self.dtype],
                                max_positions=positions, seed=seed)
            except RuntimeError as exc:
                if not _out_of_memory(exc):
                    raise
                for p in wanted:
                    self.skip(p, f"out of memory allocating the weights ({_first_line(exc)})")
                return
            for group in _cache_groups(wanted):
                self.group(m, net, group, seed)
        self.result.rows.sort(key=lambda r: (r.phase != "prefill", r.context_tokens, r.batch,
                                             r.new_tokens_per_sequence))

    def group(self, m, net, group: list[tuple], seed: int) -> None:
        """Time every point of ``group`` on one KV cache sized for its largest point."""
        torch = self.torch
        phase = group[0][0]
        max_batch = max(p[1] for p in group)
        max_context = max(p[2] for p in group) if phase == "prefill" else group[0][3] + 1
        try:
            cache = m.KvCache(net.shape, max_batch=max_batch, max_context=max_context,
                              device=net.device, dtype=net.dtype, seed=seed + 1)
        except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError
            if not _out_of_memory(exc):
                raise
            _release(torch, net.device)
            for p in group:
                self.skip(p, f"out of memory allocating the KV cache ({_first_line(exc)})")
            return
        gen = torch.Generator().manual_seed(seed + 2)
        for p in group:
            _, b, n, c = p
            tokens = torch.randint(0, net.shape.vocab, (n if phase == "prefill" else b,),
                                   generator=gen).to(net.device)
            if phase == "prefill":
                def step(plan, tokens=tokens, cache=cache):
                    return net.prefill(tokens, cache, moe=plan)
            else:
                def step(plan, tokens=tokens, cache=cache, c=c):
                    return net.decode(tokens, cache, context=c, moe=plan)
            try:
                mean_ms, max_ms, how = self.timer.time(step, moe=net.shape.moe)
            except RuntimeError as exc:
                if not _out_of_memory(exc):
                    raise
                _release(torch, net.device)
                self.skip(p, f"out of memory ({_first_line(exc)})")
                continue
            method = self.timer.method
            if how != method:
                method = _eager_method(torch, net.device)
                if how not in self.result.notes:
                    self.result.notes.append(how)
            self.result.rows.append(ProfileRow(self.result.gpu, method, self.dtype,
                                               self.shape.name, phase, b, n, c, mean_ms,
                                               max_ms))
            self.tick(f"{point_label(*p)}: {mean_ms:.4g} ms")
        cache = step = None  # drop the KV cache before the next group allocates its own
        _release(torch, net.device)

    def skip(self, point: tuple, reason: str) -> None:
        """Report ``point`` as not measured."""
        self.result.skipped.append(SkippedPoint(*point, reason))
        self.tick(f"{point_label(*point)}: skipped ({reason})")

    def tick(self, label: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, label)


def _footprint(shape: DecoderShape, point: tuple, dtype: str, device_type: str):
    phase, b, n, c = point
    if phase == "prefill":
        return prefill_footprint(shape, n, dtype, device_type)
    return decode_footprint(shape, b, c, dtype, device_type)


def _cache_groups(points: list[tuple]) -> list[list[tuple]]:
    """Group the points that share one KV cache: all prefills, then each decode context."""
    groups: dict[tuple, list[tuple]] = {}
    for p in points:
        key = ("prefill", 0) if p[0] == "prefill" else ("decode", p[3])
        groups.setdefault(key, []).append(p)
    return list(groups.values())


# ---------------------------------------------------------------------------------------------
# Timing


class _Timer:
    """Times one step: CUDA graph replays with CUDA events, eager CUDA steps with CUDA
    events, or CPU steps with ``time.perf_counter``."""

    def __init__(self, torch, device, *, repeats: int, warmup: int, graphs: bool) -> None:
        self.torch, self.device = torch, device
        self.repeats, self.warmup, self.graphs = repeats, warmup, graphs
        version = f"pytorch {torch.__version__.split('+')[0]}"
        if device.type == "cuda" and graphs:
            self.method = f"{version} CUDA graph, preallocated KV cache, SDPA"
        else:
            self.method = _eager_method(torch, device)

    def time(self, step, *, moe: bool) -> tuple[float, float, str]:
        """Return ``(mean_ms, max_ms, method)`` of ``step(plan)`` (``plan`` a MoePlan or None).

        When the CUDA graph cannot be captured the step is timed eagerly and ``method`` says
        why.
        """
        from planner.profiling.model import MoePlan

        if self.device.type != "cuda":
            for _ in range(self.warmup):
                step(None)
            times = []
            for _ in range(self.repeats):
                t0 = time.perf_counter()
                step(None)
                times.append((time.perf_counter() - t0) * 1e3)
            return _summary(times) + (self.method,)
        torch = self.torch
        plan = MoePlan() if moe else None
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(max(self.warmup, 1)):  # MoE: the last pass records the counts
                plan = MoePlan() if moe else None
                step(plan)
        torch.cuda.current_stream(self.device).wait_stream(side)
        torch.cuda.synchronize(self.device)
        if self.graphs:
            try:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    step(plan.freeze() if plan is not None else None)
            except RuntimeError as exc:
                if _out_of_memory(exc):
                    raise
                torch.cuda.synchronize(self.device)
                why = (f"CUDA graph capture failed ({_first_line(exc)}); timed eager steps "
                       "with CUDA events instead")
                return self._events(lambda: step(None)) + (why,)
            result = self._events(graph.replay, warm=True)
            del graph
            return result + (self.method,)
        return self._events(lambda: step(None)) + (self.method,)

    def _events(self, fn, warm: bool = False) -> tuple[float, float]:
        torch = self.torch
        for _ in range(self.warmup if warm else 0):
            fn()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        for start, end in zip(starts, ends, strict=True):
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(self.device)
        return _summary([s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)])


def _summary(times_ms: list[float]) -> tuple[float, float]:
    return sum(times_ms) / len(times_ms), max(times_ms)


def _eager_method(torch, device) -> str:
    version = f"pytorch {torch.__version__.split('+')[0]}"
    if device.type == "cuda":
        return f"{version} eager CUDA (CUDA events), preallocated KV cache, SDPA"
    n = torch.get_num_threads()
    return (f"{version} eager CPU (perf_counter, {n} thread{'s' if n > 1 else ''}), "
            "preallocated KV cache, SDPA")


# ---------------------------------------------------------------------------------------------
# Device


def _device(torch, name: str):
    if name not in ("auto", "cuda", "cpu"):
        raise PlannerError(f"device {name!r} is not one of auto, cuda, cpu")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise PlannerError(f"device 'cuda' asked for, but PyTorch {torch.__version__} sees no "
                           "CUDA device; use --device cpu, or install a CUDA build of PyTorch")
    return torch.device("cuda", torch.cuda.current_device())


def _device_name(torch, dev) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU {name}".strip()


def _default_budget(torch, dev) -> float:
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        return free * CUDA_HEADROOM
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        available = 8 * 1024**3
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:  # pragma: no cover - not Linux
        pass
    return available * CPU_HEADROOM


def _release(torch, dev) -> None:
    gc.collect()
    if getattr(dev, "type", dev) == "cuda":
        torch.cuda.empty_cache()


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return ("out of memory" in text or "can't allocate memory" in text
            or type(exc).__name__ == "OutOfMemoryError")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# ---------------------------------------------------------------------------------------------
# Arguments


def _check_args(dtype: str, prefill_tokens, decode_batches, decode_contexts, repeats: int,
                warmup: int, cpu_threads: int | None) -> None:
    if dtype not in DTYPE_BYTES:
        raise PlannerError(f"dtype {dtype!r} is not one of {', '.join(DTYPE_BYTES)}")
    for name, values in (("prefill_tokens", prefill_tokens), ("decode_batches", decode_batches),
                         ("decode_contexts", decode_contexts)):
        bad = [v for v in values if not isinstance(v, int) or isinstance(v, bool) or v < 1]
        if bad:
            raise PlannerError(f"{name}: {bad[0]!r} is not a whole number >= 1")
    if not prefill_tokens and not (decode_batches and decode_contexts):
        raise PlannerError("nothing to measure: give prefill_tokens, or decode_batches and "
                           "decode_contexts")
    if not isinstance(repeats, int) or repeats < 1:
        raise PlannerError(f"repeats={repeats!r} must be a whole number >= 1")
    if not isinstance(warmup, int) or warmup < 0:
        raise PlannerError(f"warmup={warmup!r} must be a whole number >= 0")
    if cpu_threads is not None and (not isinstance(cpu_threads, int) or cpu_threads < 1):
        raise PlannerError(f"cpu_threads={cpu_threads!r} must be a whole number >= 1")
