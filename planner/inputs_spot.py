"""Read spot capacity traces (the SkyPilot spot-traces JSON format) for a scenario.

Part of :mod:`planner.inputs`; every problem raises :class:`~domain.errors.ScenarioError`
naming the scenario field path, the file, the bad value (with its index) and the fix.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.errors import ScenarioError
from planner.inputs_common import check_file, readonly
from planner.schema import TraceInterruptions


@dataclass(frozen=True, eq=False)
class SpotTraceData:
    """Spot capacity replayed from a SkyPilot spot trace (``docs/fleet-dynamics.md``).

    Attributes
    ----------
    times_s : float64[n]
        Tick times (s): tick ``i`` at ``i * gap_s``.
    capacity : int64[n]
        Spot nodes available (or alive) at each tick: the file's values times
        ``capacity_scale``.
    gap_s : float
        Time between ticks (s), the file's ``metadata.gap_seconds``.
    n_drops : int
        Ticks at which the value decreased (preemption events).
    source_path : str
        The JSON file read.
    capacity_scale : int
        The factor applied to the file's values.
    notes : tuple of str
        Things the user should know: a trace shorter than the horizon, a capacity below what
        the fleet could hold.
    """

    times_s: np.ndarray
    capacity: np.ndarray
    gap_s: float
    n_drops: int
    source_path: str
    capacity_scale: int = 1
    notes: tuple[str, ...] = ()

    @property
    def n_ticks(self) -> int:
        """Number of ticks in the trace."""
        return int(self.times_s.size)

    @property
    def span_s(self) -> float:
        """Time of the last tick (s)."""
        return float(self.times_s[-1])


# ---------------------------------------------------------------------------------------------
# Spot capacity traces

_SKYPILOT_FORMAT = ('{"metadata": {"gap_seconds": G}, "data": [n0, n1, ...]} (the SkyPilot '
                    'spot-traces format)')


def load_spot_trace(
    spec: TraceInterruptions,
    *,
    field_path: str,
    horizon_s: float | None = None,
    max_spot_nodes: int | None = None,
) -> SpotTraceData:
    """Read a spot capacity trace in the SkyPilot JSON format.

    Parameters
    ----------
    spec : TraceInterruptions
        The scenario's trace spec (``path`` already resolved by the schema).
    field_path : str
        Where the spec sits in the scenario, e.g. ``designs[0].fleet.spot.interruptions``;
        starts messages.
    horizon_s : float, optional
        The scenario horizon (s); a note says when the trace ends before it.
    max_spot_nodes : int, optional
        The most spot nodes the fleet can hold; a note says when the trace never allows that
        many.

    Returns
    -------
    SpotTraceData

    Notes
    -----
    The file is ``{"metadata": {"gap_seconds": G}, "data": [n0, n1, ...], "prices": [...]}``:
    ``data[i]`` spot nodes available (or alive) at ``i * G`` seconds. ``prices`` is optional and
    not read. Values must be whole numbers >= 0 (``3`` or ``3.0``).

    Raises
    ------
    ScenarioError
        Missing or unreadable file, not JSON (with line and column), not the SkyPilot layout
        (missing ``metadata.gap_seconds`` or ``data``), ``gap_seconds`` not a number > 0, no
        ticks, or a value that is negative or not a whole number (with its index).
    """
    path = spec.path
    gap, raw = _skypilot_ticks(_read_json(path, field_path=f"{field_path}.path"), path,
                               where=f"{field_path}.path")
    capacity = raw * spec.capacity_scale
    times_s = np.arange(raw.size, dtype=np.float64) * gap
    notes: list[str] = []
    if horizon_s is not None and times_s[-1] < horizon_s:
        notes.append(f"{field_path}: {path} covers {times_s[-1]:.0f} s of the {horizon_s:g} s "
                     f"horizon; after its last tick spot capacity stays at {capacity[-1]}")
    if max_spot_nodes is not None and capacity.max() < max_spot_nodes:
        notes.append(f"{field_path}: {path} never allows more than {capacity.max()} spot "
                     f"node(s) (values up to {raw.max()} x capacity_scale {spec.capacity_scale})"
                     f" while the fleet can hold {max_spot_nodes}; raise capacity_scale if the "
                     "trace stands for a larger pool")
    return SpotTraceData(times_s=readonly(times_s), capacity=readonly(capacity),
                         gap_s=gap, n_drops=int(np.count_nonzero(np.diff(raw) < 0)),
                         source_path=path, capacity_scale=spec.capacity_scale,
                         notes=tuple(notes))


def _skypilot_ticks(document: Any, path: str, *, where: str) -> tuple[float, np.ndarray]:
    """Return ``metadata.gap_seconds`` and the ticks (int64[n]) of a SkyPilot trace document."""
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not isinstance(metadata, dict) or \
            "gap_seconds" not in metadata or "data" not in document:
        got = (f"keys: {', '.join(map(str, document))}" if isinstance(document, dict) else
               f"a JSON {type(document).__name__}")
        if isinstance(metadata, dict):
            got += f"; metadata keys: {', '.join(map(str, metadata)) or 'none'}"
        raise ScenarioError(f"{where}: {path} is not a spot capacity trace (got {got}); expected "
                            f"{_SKYPILOT_FORMAT}")
    gap = metadata["gap_seconds"]
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or \
            not math.isfinite(gap) or gap <= 0:
        raise ScenarioError(f"{where}: metadata.gap_seconds in {path} must be a number of "
                            f"seconds > 0 (got {gap!r}); fix the file's gap_seconds")
    data = document["data"]
    if not isinstance(data, list) or not data:
        got = "[]" if isinstance(data, list) else f"a JSON {type(data).__name__}"
        raise ScenarioError(f"{where}: data in {path} must be a non-empty list of spot node "
                            f"counts, one per tick (got {got}); point to a trace with ticks")
    for i, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not float(value).is_integer() or value < 0 or value > 2**31:
            raise ScenarioError(f"{where}: data[{i}] of {path} must be a whole number of spot "
                                f"nodes >= 0 (got {value!r}); fix or remove that tick")
    return float(gap), np.asarray(data, dtype=np.float64).astype(np.int64)


def _read_json(path: str, *, field_path: str) -> Any:
    """Read and parse a JSON file, naming the line and column of a syntax error."""
    file = check_file(path, field_path=field_path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{field_path}: cannot read {path} ({exc}); pass a readable UTF-8 "
                            "JSON file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{field_path}: {path} is not valid JSON (line {exc.lineno}, column "
                            f"{exc.colno}: {exc.msg}); fix the file near that line, expected "
                            f"{_SKYPILOT_FORMAT}") from None


