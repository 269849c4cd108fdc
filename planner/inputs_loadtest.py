"""Read a load test of a serving system: per-request arrivals and latencies, or percentiles.

``planner calibrate`` fits a design's service-time corrections to load tests read here. Three
kinds of file are understood; every problem raises :class:`~domain.errors.ScenarioError` naming
the file, the line or column, the bad value and the fix.

**Per-request** (``kind = "requests"``): a CSV with a header line, or JSON lines (one object a
line, ``.jsonl``/``.ndjson``/``.json``), one request each:

- the arrival (send) time, the first of these columns present: ``arrival_s`` (seconds, any
  origin), ``arrival_ms`` (milliseconds, any origin), ``timestamp`` (seconds, or a date-time such
  as ``2026-11-20 14:03:07.123`` or ISO 8601 with an offset) or JMeter's ``timeStamp`` (epoch
  milliseconds);
- the latency (send to last byte), the first present of ``latency_ms``, ``latency_s`` or
  JMeter's ``elapsed`` (ms);
- optionally ``batch_size``: the size of the batch that served the request, when the server
  logs it (calibrate checks it against the design's ``max_batch``);
- optionally, for an LLM server, ``prompt_tokens`` (or ``input_tokens``) and
  ``output_tokens``: the request's token counts, replayed with it.

Its arrivals are replayed through the design as they happened.

**k6** ``--out json`` (``kind = "k6"``): JSON lines of ``Metric`` and ``Point`` records; the
``http_req_duration`` points (ms) give the latency distribution, their count over their time
span the rate. k6 stamps a sample when it is collected, not when its request was sent, so the
arrivals are not replayed: calibrate uses the percentiles, with Poisson arrivals at the rate.

**Locust** ``stats_history.csv`` (``kind = "locust"``): the rows named ``Aggregated``; each row
holds the percentiles of the requests of its reporting window (columns ``50%``, ``90%``,
``99%``, ...) and the rate (``Requests/s``). A percentile is the median over the rows with
traffic, the rate the median of ``Requests/s``; arrivals are replayed as Poisson at that rate.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from domain.errors import ScenarioError
from planner.inputs_common import ROW, check_file, columns_text, numbers, read_csv
from planner.inputs_traces import parse_time_column

__all__ = ["ARRIVAL_COLUMNS", "LATENCY_COLUMNS", "LoadTest", "MeasuredPercentiles",
           "load_loadtest"]

ARRIVAL_COLUMNS = ("arrival_s", "arrival_ms", "timestamp", "timeStamp")
"""Arrival-time columns of a per-request file, in the order they are looked for."""
LATENCY_COLUMNS = ("latency_ms", "latency_s", "elapsed")
"""Latency columns of a per-request file, in the order they are looked for."""
_MS_PER_UNIT = {"arrival_s": 1000.0, "arrival_ms": 1.0, "timestamp": 1000.0, "timeStamp": 1.0,
                "latency_ms": 1.0, "latency_s": 1000.0, "elapsed": 1.0}
_N_BLOCKS = 10
"""Contiguous time blocks the standard error of a measured percentile is estimated from."""
_MIN_SE_LOG = 0.005
"""Smallest standard error of a log percentile: half a percent, the resolution of the
simulator's latency histograms (0.78 %)."""
_LOCUST_QUANTILES = {"50%": 0.5, "66%": 0.66, "75%": 0.75, "80%": 0.8, "90%": 0.9, "95%": 0.95,
                     "98%": 0.98, "99%": 0.99, "99.9%": 0.999, "99.99%": 0.9999}


@dataclass(frozen=True)
class MeasuredPercentiles:
    """Percentiles of a load test's latencies and how well the test pins them down.

    Attributes
    ----------
    quantiles : float64[k]
        Quantiles in (0, 1).
    value_ms : float64[k]
        Measured latency at each quantile (ms).
    se_log : float64[k]
        Standard error of ``log(value_ms)``: the spread of the percentile across ``n_blocks``
        contiguous stretches of the test (batch means) over ``sqrt(n_blocks)``, at least 0.005.
    n_requests : int
        Requests the percentiles are taken over.
    n_blocks : int
        Stretches (Locust: report windows) the standard error comes from.
    """

    quantiles: np.ndarray
    value_ms: np.ndarray
    se_log: np.ndarray
    n_requests: int
    n_blocks: int


@dataclass(frozen=True, eq=False)
class LoadTest:
    """One load test, read and checked.

    Attributes
    ----------
    path : str
        The file read.
    kind : {"requests", "k6", "locust"}
        What the file held (module notes).
    rate_rps : float
        Mean arrival rate (requests/s).
    duration_s : float
        From the first to the last arrival (s).
    n_requests : int
        Requests the test sent.
    arrival_s : float64[n] or None
        Arrival times from the first (s), sorted; None when arrivals are not known.
    latency_ms : float64[n] or None
        Latencies (ms), in arrival order; None for Locust.
    batch_size : int64[n] or None
        The batch each request was served in, when the file says.
    columns : str
        The columns the arrivals and latencies were read from (for messages and reports).
    prompt_tokens, output_tokens : int64[n] or None
        Each request's prompt and output tokens, when the file says (an llm design replays
        them; else it draws the workload's).
    """

    path: str
    kind: str
    rate_rps: float
    duration_s: float
    n_requests: int
    arrival_s: np.ndarray | None
    latency_ms: np.ndarray | None
    batch_size: np.ndarray | None
    columns: str
    prompt_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    _windows: pl.DataFrame | None = None

    @property
    def name(self) -> str:
        """The file's name, without its folder."""
        return os.path.basename(self.path)

    @property
    def replays_arrivals(self) -> bool:
        """Whether the test's own arrival times are replayed (else Poisson at ``rate_rps``)."""
        return self.kind == "requests"

    def measured(self, quantiles: np.ndarray, warmup_s: float = 0.0) -> MeasuredPercentiles:
        """Return the measured latency percentiles of requests sent ``warmup_s`` or later."""
        q = np.asarray(quantiles, dtype=np.float64)
        if self._windows is not None:
            return self._locust_percentiles(q, warmup_s)
        assert self.latency_ms is not None and self.arrival_s is not None
        keep = self.arrival_s >= warmup_s
        latency = self.latency_ms[keep]
        if latency.size < 2 * _N_BLOCKS:
            raise ScenarioError(f"{self.path}: {latency.size} request(s) sent after the "
                                f"{warmup_s:g} s warm-up (got {self.n_requests} in all); lower "
                                "--warmup-s or use a longer test")
        value = np.percentile(latency, 100.0 * q)
        blocks = np.array_split(latency, _N_BLOCKS)
        per_block = np.log(np.array([np.percentile(b, 100.0 * q) for b in blocks]))
        se = per_block.std(axis=0, ddof=1) / math.sqrt(_N_BLOCKS)
        return MeasuredPercentiles(q, value, np.maximum(se, _MIN_SE_LOG), int(latency.size),
                                   _N_BLOCKS)

    def _locust_percentiles(self, q: np.ndarray, warmup_s: float) -> MeasuredPercentiles:
        rows = self._windows.filter(pl.col("t_s") >= warmup_s)
        if rows.height < 2:
            raise ScenarioError(f"{self.path}: {rows.height} Aggregated row(s) with traffic after "
                                f"the {warmup_s:g} s warm-up; a percentile needs at least two "
                                "report windows: lower --warmup-s or use a longer test")
        values, ses = [], []
        for quantile in q:
            column = next((c for c, v in _LOCUST_QUANTILES.items() if abs(v - quantile) < 1e-9),
                          None)
            if column is None or column not in rows.columns:
                have = ", ".join(c for c in _LOCUST_QUANTILES if c in rows.columns)
                raise ScenarioError(f"{self.path}: Locust reports no {100 * quantile:g}% "
                                    f"column (got columns {have}); calibrate on the "
                                    "percentiles it has")
            logs = np.log(rows[column].to_numpy())
            values.append(float(np.exp(np.median(logs))))
            ses.append(logs.std(ddof=1) / math.sqrt(logs.size))
        return MeasuredPercentiles(q, np.array(values), np.maximum(np.array(ses), _MIN_SE_LOG),
                                   int(self.n_requests), int(rows.height))


def load_loadtest(path: str) -> LoadTest:
    """Read a load test (module notes for the formats).

    Raises
    ------
    ScenarioError
        Missing or unreadable file, no arrival or latency column, an empty, non-numeric,
        negative or non-finite value (with its line), fewer than two requests.
    """
    file = check_file(path, field_path="load test")
    first = _first_line(file, path)
    if first.startswith("{"):
        record = _json_object(first, path, 1)
        if record.get("type") in ("Metric", "Point") and "metric" in record:
            return _read_k6(path)
        frame = _json_lines(path)
    else:
        frame = read_csv(path, field_path="load test")
        if {"Name", "Requests/s", "50%"} <= set(frame.columns):
            return _read_locust(path, frame)
    return _read_requests(path, frame)


def _first_line(file, path: str) -> str:
    try:
        with open(file, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    return line.strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc}); give a UTF-8 CSV or JSON "
                            "lines file") from None
    raise ScenarioError(f"{path}: the file is empty (got 0 lines); give one request a line "
                        "after a header (CSV) or one JSON object a line")


def _json_object(line: str, path: str, number: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: line {number} is not JSON ({exc.msg}; got "
                            f"{line[:60]!r}); write one JSON object a line") from None
    if not isinstance(record, dict):
        raise ScenarioError(f"{path}: line {number} is not a JSON object (got {line[:60]!r}); "
                            "write one object a line")
    return record


def _json_lines(path: str) -> pl.DataFrame:
    """Per-request JSON lines as a frame of strings with the CSV reader's row index."""
    records, lines = [], []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                records.append(_json_object(line, path, number))
                lines.append(number)
    keys = list(dict.fromkeys(k for r in records for k in r))
    data = {k: [None if r.get(k) is None else str(r[k]) for r in records] for k in keys}
    frame = pl.DataFrame(data, schema={k: pl.String for k in keys})
    # messages say line ROW + 2 (a CSV's header is line 1); JSON lines have no header
    return frame.with_columns(pl.Series(ROW, [n - 2 for n in lines], dtype=pl.Int64))


def _read_requests(path: str, frame: pl.DataFrame) -> LoadTest:
    arrival = next((c for c in ARRIVAL_COLUMNS if c in frame.columns), None)
    latency = next((c for c in LATENCY_COLUMNS if c in frame.columns), None)
    if latency is None:
        raise ScenarioError(f"{path}: no latency column (got columns {columns_text(frame)}); "
                            f"add one of {', '.join(LATENCY_COLUMNS)} per request (latency_ms: "
                            "milliseconds from send to response)")
    if arrival is None:
        raise ScenarioError(f"{path}: no arrival-time column (got columns "
                            f"{columns_text(frame)}); add one of {', '.join(ARRIVAL_COLUMNS)} "
                            "per request (arrival_s: seconds when the request was sent)")
    if frame.height < 2:
        raise ScenarioError(f"{path}: {frame.height} request(s) (got only a header); a load "
                            "test needs at least two")
    where = f"{path}: column {latency!r}"
    latency_ms = numbers(frame, latency, path, field_path=where, positive=True)
    latency_ms = latency_ms * _MS_PER_UNIT[latency]
    raw = parse_time_column(frame[arrival].str.strip_chars(), path, arrival,
                            where=f"{path}: column {arrival!r}")
    if raw.dtype.kind == "i":  # date-times, as epoch nanoseconds
        arrival_s = (raw - raw.min()) / 1e9
    else:
        arrival_s = (raw - raw.min()) * _MS_PER_UNIT[arrival] / 1000.0
    batch = None
    if "batch_size" in frame.columns:
        sizes = numbers(frame, "batch_size", path, field_path=f"{path}: column 'batch_size'",
                        positive=True)
        if (sizes != np.round(sizes)).any():
            i = int(np.flatnonzero(sizes != np.round(sizes))[0])
            raise ScenarioError(f"{path}: line {int(frame[ROW][i]) + 2}, column 'batch_size', "
                                f"is not a whole "
                                f"number (got {sizes[i]:g}); write the batch's size")
        batch = sizes.astype(np.int64)
    tokens = {}
    for name, aliases in (("prompt_tokens", ("prompt_tokens", "input_tokens")),
                          ("output_tokens", ("output_tokens",))):
        column = next((c for c in aliases if c in frame.columns), None)
        if column is not None:
            counts = numbers(frame, column, path, field_path=f"{path}: column {column!r}",
                             positive=True)
            tokens[name] = np.round(counts).astype(np.int64)
    order = np.argsort(arrival_s, kind="stable")
    arrival_s = arrival_s[order]
    span = float(arrival_s[-1])
    if span <= 0:
        raise ScenarioError(f"{path}: every request arrived at one time (got a zero span in "
                            f"column {arrival!r}); give each request its send time")
    return LoadTest(path=path, kind="requests", rate_rps=(arrival_s.size - 1) / span,
                    duration_s=span, n_requests=int(arrival_s.size), arrival_s=arrival_s,
                    latency_ms=latency_ms[order],
                    batch_size=None if batch is None else batch[order],
                    columns=f"{arrival}, {latency}",
                    **{name: values[order] for name, values in tokens.items()})


def _read_k6(path: str) -> LoadTest:
    times, values = [], []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            record = _json_object(line, path, number)
            if record.get("type") != "Point" or record.get("metric") != "http_req_duration":
                continue
            data = record.get("data") if isinstance(record.get("data"), dict) else {}
            value, stamp = data.get("value"), data.get("time")
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or value <= 0 or not isinstance(stamp, str):
                raise ScenarioError(f"{path}: line {number}: an http_req_duration point needs "
                                    f"data.time (a date-time) and data.value > 0 in ms (got "
                                    f"{stamp!r}, {value!r}); fix or remove the line")
            times.append(stamp)
            values.append(float(value))
    if len(values) < 2:
        raise ScenarioError(f"{path}: {len(values)} http_req_duration point(s) (got a k6 JSON "
                            "output without requests); run k6 with --out json=FILE and at "
                            "least two requests")
    stamps = pl.Series("time", times).str.replace(r"(\.\d{6})\d+", "$1")
    raw = parse_time_column(stamps, path, "data.time", where=f"{path}: k6 points")
    order = np.argsort(raw, kind="stable")
    t_s = (raw[order] - raw.min()) / 1e9
    span = float(t_s[-1])
    if span <= 0:
        raise ScenarioError(f"{path}: every http_req_duration point has one time (got a zero "
                            "span); a rate needs a test that lasts")
    return LoadTest(path=path, kind="k6", rate_rps=(t_s.size - 1) / span, duration_s=span,
                    n_requests=int(t_s.size), arrival_s=t_s,
                    latency_ms=np.asarray(values)[order], batch_size=None,
                    columns="http_req_duration points")


def _read_locust(path: str, frame: pl.DataFrame) -> LoadTest:
    rows = frame.filter(pl.col("Name") == "Aggregated")
    if rows.height == 0:
        raise ScenarioError(f"{path}: no row named 'Aggregated' (got names "
                            f"{', '.join(sorted(set(frame['Name'].to_list())))[:200]}); give "
                            "Locust's stats_history.csv as written")
    needed = ("Timestamp", "Requests/s", "Total Request Count")
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise ScenarioError(f"{path}: Locust stats_history.csv without column(s) "
                            f"{', '.join(missing)} (got {columns_text(frame)}); give the file "
                            "as Locust writes it")
    present = [c for c in _LOCUST_QUANTILES if c in rows.columns]
    rows = rows.filter(pl.col("50%") != "N/A")
    rate = numbers(rows, "Requests/s", path, field_path=f"{path}: column 'Requests/s'")
    rows = rows.filter(pl.Series(rate > 0))
    if rows.height < 2:
        raise ScenarioError(f"{path}: {rows.height} Aggregated row(s) with traffic (got "
                            f"{frame.height} rows); a calibration needs at least two report "
                            "windows")
    t = numbers(rows, "Timestamp", path, field_path=f"{path}: column 'Timestamp'")
    windows = pl.DataFrame({"t_s": t - t.min(), **{
        c: numbers(rows, c, path, field_path=f"{path}: column {c!r}", positive=True)
        for c in present}})
    counts = numbers(rows, "Total Request Count", path,
                     field_path=f"{path}: column 'Total Request Count'")
    rates = numbers(rows, "Requests/s", path, field_path=f"{path}: column 'Requests/s'")
    return LoadTest(path=path, kind="locust", rate_rps=float(np.median(rates)),
                    duration_s=float(t.max() - t.min()), n_requests=int(counts.max()),
                    arrival_s=None, latency_ms=None, batch_size=None,
                    columns="Aggregated rows: Requests/s, " + ", ".join(present),
                    _windows=windows)
