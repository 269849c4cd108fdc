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
        Arrivals kept (equal to ``n``): every row of a looped trace, else the rows within the
        horizon of the earliest arrival (a long trace is read a block at a time).
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
    head = read_csv(spec.path, field_path=f"{field_path}.path", columns=(spec.column,),
                    n_rows=1)
    require_column(head, spec.column, spec.path, f"{field_path}.column")
    if head.height == 0:
        raise ScenarioError(f"{field_path}.path: {spec.path} has no data rows (got only a "
                            "header); point to a trace with at least one arrival")
    notes: list[str] = []
    if spec.repeat or horizon_s is None:  # a looped trace needs every row
        frame = read_csv(spec.path, field_path=f"{field_path}.path", columns=(spec.column,))
        raw = _parse_times(frame[spec.column].str.strip_chars(), spec, field_path=field_path)
        whole = _Whole(raw.size, int(np.count_nonzero(np.diff(raw) < 0)),
                       _seconds(raw.max() - raw.min(), raw.dtype.kind))
    else:
        raw, whole = _read_within(spec, horizon_s / spec.time_scale, field_path=field_path)
    if whole.n_unsorted:
        notes.append(f"{field_path}: {whole.n_unsorted} of {whole.n_rows} rows of {spec.path} "
                     "were earlier than the row before; sorted them by time (stable)")
        raw = np.sort(raw, kind="stable")
    if raw.dtype.kind == "i":  # int64 nanoseconds from a date-time column
        times_s = (raw - raw[0]) / 1e9
    else:
        times_s = (raw - raw[0]).astype(np.float64)
    times_s = times_s * spec.time_scale
    span_s = whole.span_s * spec.time_scale  # the whole trace's, also where only part is kept
    if spec.repeat and span_s <= 0:
        raise ScenarioError(f"{field_path}.repeat: {spec.path} has {raw.size} arrival(s) all at "
                            "one time (got a zero span), so it cannot be looped; set repeat: "
                            "false or use a longer trace")
    if spec.time_scale != 1.0 and span_s > 0:
        rate_rps = (whole.n_rows - 1) / span_s
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


TRACE_BLOCK_ROWS = 1_000_000
"""Rows of a trace parsed at a time when only the horizon's part of it is kept."""


@dataclass(frozen=True)
class _Whole:
    """What a trace file holds as a whole, when only part of it is kept."""

    n_rows: int
    n_unsorted: int
    """Rows earlier than the row before."""
    span_s: float
    """Latest minus earliest time, unscaled (s)."""


def _seconds(raw_span: float, kind: str) -> float:
    """A span of raw times (int64 ns from date-times, else seconds) in seconds."""
    return float(raw_span) / 1e9 if kind == "i" else float(raw_span)


def _read_within(spec: TraceArrivals, span: float, *, field_path: str
                 ) -> tuple[np.ndarray, _Whole]:
    """Return the raw times of the rows that arrive within ``span`` seconds (unscaled) of the
    trace's earliest arrival, in file order, and what the whole file holds.

    The file is parsed a block of :data:`TRACE_BLOCK_ROWS` at a time and only rows at most
    ``span`` after the earliest time so far are kept. The earliest time only falls, so a row
    left out stays out: the result equals filtering the whole parsed column, in file order,
    while memory holds one block and the kept rows. Every row is still checked, and a bad one
    is named with its line.
    """
    where = f"{field_path}.column"
    kept: list[np.ndarray] = []
    earliest, latest, previous, n_read, n_unsorted, kind = None, None, None, 0, 0, None
    try:
        blocks = (pl.scan_csv(spec.path, infer_schema=False).select(spec.column)
                  .collect_batches(chunk_size=TRACE_BLOCK_ROWS))
        for block in blocks:
            raw = parse_time_column(block[spec.column].str.strip_chars(), spec.path,
                                    spec.column, where=where, first_line=n_read + 2)
            if kind is None:
                kind = raw.dtype.kind
            elif raw.dtype.kind != kind:
                raise ScenarioError(f"{where}: line {n_read + 2} of {spec.path}, column "
                                    f"{spec.column!r}, is not a time of the first row's kind "
                                    f"(got {block[spec.column][0]!r}); fix or remove that row")
            n_read += block.height
            n_unsorted += int(np.count_nonzero(np.diff(raw) < 0))
            if previous is not None and raw[0] < previous:
                n_unsorted += 1
            previous, high = raw[-1], raw.max()
            latest = high if latest is None else max(latest, high)
            low = raw.min()
            if earliest is None or low < earliest:
                earliest = low
                cutoff = earliest + (span * 1e9 if kind == "i" else span)
                kept = [k[k <= cutoff] for k in kept]
            kept.append(raw[raw <= cutoff])
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(f"{field_path}.path: cannot read {spec.path} as CSV ({first}); save "
                            "it as comma-separated UTF-8 text with one header line") from None
    return np.concatenate(kept), _Whole(n_read, n_unsorted, _seconds(latest - earliest, kind))


def _parse_times(text: pl.Series, spec: TraceArrivals, *, field_path: str) -> np.ndarray:
    """Parse a trace column: float64 seconds, or int64 nanoseconds since the epoch."""
    return parse_time_column(text, spec.path, spec.column, where=f"{field_path}.column")


def parse_time_column(text: pl.Series, path: str, column: str, *, where: str,
                      first_line: int = 2) -> np.ndarray:
    """Parse a column of times: float64 numbers (seconds, any origin), or int64 nanoseconds
    since the epoch from date-times (``2023-11-16 18:17:03.98``, ``T``-separated, with a UTC
    offset or ``Z``). The first row decides the kind; ``where`` starts the messages, which name
    ``path``, ``column`` and the line (the header is line 1; ``text[0]`` is ``first_line``)."""
    empty = text.is_null() | (text == "")
    if empty.any():
        line = int(empty.arg_true()[0]) + first_line
        raise ScenarioError(f"{where}: line {line} of {path}, column "
                            f"{column!r}, is empty (got ''); give every row an arrival time "
                            "or remove the row")
    numbers = text.cast(pl.Float64, strict=False)
    if numbers[0] is not None:
        values = numbers.to_numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise ScenarioError(f"{where}: line {i + first_line} of {path}, column "
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
            raise ScenarioError(f"{where}: line {i + first_line} of {path}, column "
                                f"{column!r}, is not a time in the first row's format "
                                f"{layout} (got {text[i]!r}); fix or remove that row")
        # Epoch nanoseconds: UTC for zoned times, the wall clock for naive ones.
        return parsed.dt.epoch(time_unit="ns").to_numpy().astype(np.int64)
    raise ScenarioError(f"{where}: line {first_line} of {path}, column {column!r}, "
                        f"holds neither seconds nor a date-time like 2023-11-16 18:17:03.98 "
                        f"(got {text[0]!r}); point column at the arrival times")

