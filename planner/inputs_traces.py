"""Read a workload's arrival trace (``arrivals: {kind: trace}``): seconds or date-times.

Part of the input layer (:mod:`planner.inputs`); every problem raises
:class:`~domain.errors.ScenarioError` naming the scenario field path, the file, the bad value
(with its line; the CSV header is line 1) and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from domain.errors import ScenarioError
from planner.inputs_common import read_csv, readonly, require_column
from planner.schema import TraceArrivals

__all__ = ["TraceArrivalsData", "load_trace", "parse_time_column"]

# Date-time layouts tried, in order, on a trace column that does not hold plain numbers.
# ``%.f`` accepts any number of fractional digits (the Azure trace has 7) or none.
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
)


@dataclass(frozen=True, eq=False)
class TraceArrivalsData:
    """Arrival times replayed from a trace file.

    Attributes
    ----------
    times_s : float64[n]
        Arrival times (s) from the first arrival, so ``times_s[0] == 0.0``; sorted (stable),
        gaps already multiplied by ``time_scale``.
    n_rows : int
        Data rows read from the file (equal to ``n``).
    notes : tuple of str
        Things the user should know: rows re-sorted, the scaled span and rate, a trace shorter
        than the horizon.
    source_path : str
        The file read.
    column : str
        The column the times came from.
    time_scale : float
        The factor applied to the gaps.
    """

    times_s: np.ndarray
    n_rows: int
    notes: tuple[str, ...]
    source_path: str
    column: str
    time_scale: float

    @property
    def span_s(self) -> float:
        """Time from the first to the last arrival (s), after scaling."""
        return float(self.times_s[-1])

    @property
    def mean_rate_rps(self) -> float:
        """Mean arrival rate over the span (requests/s); ``nan`` for a zero span."""
        return (self.n_rows - 1) / self.span_s if self.span_s > 0 else float("nan")

    @property
    def period_s(self) -> float:
        """Length of one copy when the trace is looped (``repeat: true``), in s.

        The span plus one mean gap, so the last arrival of a copy and the first of the next are
        a typical gap apart.
        """
        return self.span_s * self.n_rows / (self.n_rows - 1) if self.n_rows > 1 else 0.0



def load_trace(
    spec: TraceArrivals, *, field_path: str, horizon_s: float | None = None
) -> TraceArrivalsData:
    """Read arrival times from a trace file.

    Parameters
    ----------
    spec : TraceArrivals
        The scenario's trace spec (``path`` already resolved by the schema).
    field_path : str
        Where the spec sits in the scenario, e.g. ``workloads[0].arrivals``; starts messages.
    horizon_s : float, optional
        The scenario horizon (s); when given and the scaled trace is shorter and
        ``repeat`` is false, a note says so.

    Returns
    -------
    TraceArrivalsData
        ``times_s`` float64[n] in seconds from the first arrival.

    Notes
    -----
    The column may hold numbers (seconds, any origin) or date-time strings such as
    ``2023-11-16 18:17:03.9799600`` (any number of fractional digits; also ``T``-separated and
    with a UTC offset). The kind is decided by the first row; every other row must then match.
    Rows out of time order are sorted (stable) and a note says how many were out of order.

    Raises
    ------
    ScenarioError
        Missing or unreadable file, missing column, no data rows, an empty or unparseable value
        (with its line), or ``repeat: true`` on a trace whose arrivals all share one time.
    """
    frame = read_csv(spec.path, field_path=f"{field_path}.path", columns=(spec.column,))
    require_column(frame, spec.column, spec.path, f"{field_path}.column")
    if frame.height == 0:
        raise ScenarioError(f"{field_path}.path: {spec.path} has no data rows (got only a "
                            "header); point to a trace with at least one arrival")
    text = frame[spec.column].str.strip_chars()
    raw = _parse_times(text, spec, field_path=field_path)

    notes: list[str] = []
    n_unsorted = int(np.count_nonzero(np.diff(raw) < 0))
    if n_unsorted:
        notes.append(f"{field_path}: {n_unsorted} of {raw.size} rows of {spec.path} were "
                     "earlier than the row before; sorted them by time (stable)")
        raw = np.sort(raw, kind="stable")
    if raw.dtype.kind == "i":  # int64 nanoseconds from a date-time column
        times_s = (raw - raw[0]) / 1e9
    else:
        times_s = (raw - raw[0]).astype(np.float64)
    times_s = times_s * spec.time_scale
    span_s = float(times_s[-1])
    if spec.repeat and span_s <= 0:
        raise ScenarioError(f"{field_path}.repeat: {spec.path} has {raw.size} arrival(s) all at "
                            "one time (got a zero span), so it cannot be looped; set repeat: "
                            "false or use a longer trace")
    if spec.time_scale != 1.0 and span_s > 0:
        rate_rps = (raw.size - 1) / span_s
        notes.append(f"{field_path}: gaps scaled by {spec.time_scale:g}: "
                     f"{span_s / spec.time_scale:.0f} s of trace replayed in {span_s:.0f} s "
                     f"(mean rate {rate_rps * spec.time_scale:.3g} -> {rate_rps:.3g} "
                     "requests/s)")
    if horizon_s is not None and not spec.repeat and span_s < horizon_s:
        notes.append(f"{field_path}: the trace covers {span_s:.0f} s of the {horizon_s:g} s "
                     "horizon, after which no requests arrive; set repeat: true to loop it or "
                     "lower time_scale")
    return TraceArrivalsData(times_s=readonly(times_s), n_rows=int(raw.size),
                             notes=tuple(notes), source_path=spec.path, column=spec.column,
                             time_scale=spec.time_scale)


def _parse_times(text: pl.Series, spec: TraceArrivals, *, field_path: str) -> np.ndarray:
    """Parse a trace column: float64 seconds, or int64 nanoseconds since the epoch."""
    return parse_time_column(text, spec.path, spec.column, where=f"{field_path}.column")


def parse_time_column(text: pl.Series, path: str, column: str, *, where: str) -> np.ndarray:
    """Parse a column of times: float64 numbers (seconds, any origin), or int64 nanoseconds
    since the epoch from date-times (``2023-11-16 18:17:03.98``, ``T``-separated, with a UTC
    offset or ``Z``). The first row decides the kind; ``where`` starts the messages, which name
    ``path``, ``column`` and the line (the header is line 1)."""
    empty = text.is_null() | (text == "")
    if empty.any():
        line = int(empty.arg_true()[0]) + 2
        raise ScenarioError(f"{where}: line {line} of {path}, column "
                            f"{column!r}, is empty (got ''); give every row an arrival time "
                            "or remove the row")
    numbers = text.cast(pl.Float64, strict=False)
    if numbers[0] is not None:
        values = numbers.to_numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise ScenarioError(f"{where}: line {i + 2} of {path}, column "
                                f"{column!r}, is not a number of seconds like the first row "
                                f"(got {text[i]!r}); fix or remove that row")
        return values.astype(np.float64)
    zoned = text.str.replace(r"Z$", "+00:00")  # chrono's %z does not take a bare Z
    for layout in _DATETIME_FORMATS:
        parsed = zoned.str.to_datetime(format=layout, strict=False, time_unit="ns")
        if parsed[0] is None:
            continue
        failed = parsed.is_null()
        if failed.any():
            i = int(failed.arg_true()[0])
            raise ScenarioError(f"{where}: line {i + 2} of {path}, column "
                                f"{column!r}, is not a time in the first row's format "
                                f"{layout} (got {text[i]!r}); fix or remove that row")
        # Epoch nanoseconds: UTC for zoned times, the wall clock for naive ones.
        return parsed.dt.epoch(time_unit="ns").to_numpy().astype(np.int64)
    raise ScenarioError(f"{where}: line 2 of {path}, column {column!r}, "
                        f"holds neither seconds nor a date-time like 2023-11-16 18:17:03.98 "
                        f"(got {text[0]!r}); point column at the arrival times")

