"""The one Numba settings wrapper every kernel uses.

``cache=True`` so that compiled kernels survive between processes (CLI runs, test workers);
``error_model="numpy"`` so that a division by zero gives inf/nan instead of a Python exception
inside a kernel; ``fastmath`` stays off: the kernels accumulate sums of many small numbers and
the tests compare them with closed forms, so reassociation is not worth its surprises.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba

_SIMULATORS = Path(__file__).resolve().parents[1]
_KERNEL_SOURCES = tuple(sorted(
    path for path in _SIMULATORS.rglob("*.py")
    if path.name == "jit.py" or "from simulators.core.jit import jit" in path.read_text()
    or "kernel source: " in path.read_text()))
"""Every module with a compiled kernel, every plain module a kernel compiles from (marked
``kernel source:``), and this one: their text keys the on-disk cache."""


def _cache_dir() -> str:
    """Return the on-disk cache folder of the compiled kernels, keyed by their sources.

    Numba invalidates a cached function when its own file changes, but not when a kernel it
    inlines from another module does; keying the folder by a hash of every kernel source makes
    a stale cache impossible.  ``NUMBA_CACHE_DIR`` still wins when the user sets it.
    """
    digest = hashlib.sha256()
    for path in _KERNEL_SOURCES:
        digest.update(str(path.relative_to(_SIMULATORS)).encode())
        digest.update(path.read_bytes())
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "gpu-planner", "numba", digest.hexdigest()[:16])


if not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = _cache_dir()


def jit(*args: Any, **kwargs: Any) -> Any:
    """Compile a function in nopython mode with the project's settings.

    Parameters
    ----------
    *args, **kwargs
        Passed to :func:`numba.njit`; ``parallel=True`` is allowed only for kernels whose loop
        runs over independent replications, each with its own output slice and seed.

    Returns
    -------
    callable
        The compiled dispatcher (or a decorator when called with options only).
    """
    options = {"cache": True, "error_model": "numpy", "fastmath": False}
    options.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


COMPILE_S: dict[str, float] = {"realtime": 60.0, "streaming": 35.0, "batch": 6.0,
                               "training": 4.0, "llm": 80.0}
"""About how long a first run compiles each pattern's kernels (s, 2 cores), from ``make
bench-cold`` (2026-12-05): a bundled scenario's first run less its cached run, less the other
patterns it runs (fraud-scoring: realtime + streaming + batch 102.8 s; llm-chat: realtime + llm
139.7 s; bert-serving: realtime 61.2 s; nightly-recsys 6.1 s; training-spot 3.7 s)."""


@dataclass(frozen=True)
class ColdKernels:
    """A pattern whose kernels are not yet compiled on this machine."""

    pattern: str
    compile_s: float
    cache_dir: str


def _cache_folder(pattern: str) -> Path:
    """Numba's cache folder of ``simulators/<pattern>``: ``<pattern>_<sha1 of its absolute
    path>`` (so another checkout's compiled kernels do not count)."""
    kernel = _SIMULATORS / pattern / "_kernel.py"
    try:
        from numba.core.caching import _CacheLocator

        sub = _CacheLocator.get_suitable_cache_subpath(str(kernel))
    except (ImportError, AttributeError):  # pragma: no cover - numba's layout, as of 0.60
        folder = str(kernel.resolve().parent)
        sub = f"{pattern}_{hashlib.sha1(folder.encode()).hexdigest()}"
    return Path(numba.config.CACHE_DIR) / sub


def cold_kernels(patterns: Iterable[str]) -> dict[str, ColdKernels]:
    """The patterns among ``patterns`` whose entry kernel (``<pattern>_kernel``) has no
    compiled code in this checkout's on-disk cache.

    Numba compiles a kernel the first time it runs and writes it to the cache (``*.nbc`` files
    in a folder per package and checkout); a later process loads it in milliseconds.
    """
    out = {}
    for pattern in dict.fromkeys(patterns):
        if pattern not in COMPILE_S:
            continue
        folder = _cache_folder(pattern)
        if next(folder.glob(f"_kernel.{pattern}_kernel-*.nbc"), None) is None:
            out[pattern] = ColdKernels(pattern, COMPILE_S[pattern], str(numba.config.CACHE_DIR))
    return out
