"""The one Numba settings wrapper every kernel uses.

``cache=True`` so that compiled kernels survive between processes (CLI runs, test workers);
``error_model="numpy"`` so that a division by zero gives inf/nan instead of a Python exception
inside a kernel; ``fastmath`` stays off: the kernels accumulate sums of many small numbers and
the tests compare them with closed forms, so reassociation is not worth its surprises.
"""

from __future__ import annotations

from typing import Any

import numba


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
