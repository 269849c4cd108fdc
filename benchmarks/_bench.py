"""What the benchmark scripts share: the spread of repeated timings and the machine they ran on.

Imported by the scripts as ``_bench`` (a script's folder is first on ``sys.path``).
"""

from __future__ import annotations

import platform
import statistics

import numba


def spread(values: list[float]) -> dict[str, float]:
    """Return ``{"min", "median", "max"}`` of repeated measurements."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def machine() -> dict[str, str]:
    """Return the machine, Python and Numba versions a result line was measured with."""
    return {"machine": platform.machine(), "python": platform.python_version(),
            "numba": numba.__version__}
