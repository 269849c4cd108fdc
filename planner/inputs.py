"""Read the data files a scenario points to: service-time tables, arrival and spot traces.

:mod:`planner.schema` validates a scenario without touching the filesystem; this module is where
the files named by its ``path`` fields are opened (CSV with polars, spot traces as JSON), checked
and turned into numpy arrays for the simulators, and where Spot Advisor bands are looked up in
the bundled table. Every problem raises :class:`~domain.errors.ScenarioError` naming the
scenario field path, the file, the bad value (with its line number or index) and the fix.

Line numbers count the CSV header as line 1, so the first data row is line 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import polars as pl

from costmodels.spot_advisor import DEFAULT_REGION, SpotAdvice, lookup_band
from domain.errors import CatalogError, PlannerError, ScenarioError
from planner.inputs_spot import SpotTraceData, _readonly, load_spot_trace
from planner.schema import (
    AdvisorInterruptions,
    InferenceWorkload,
    Scenario,
    TableServiceTime,
    TokenServiceTime,
    TraceArrivals,
    TraceInterruptions,
)

__all__ = [
    "ScenarioInputs",
    "ServiceTable",
    "SpotTraceData",
    "TokenMeans",
    "TraceArrivalsData",
    "load_scenario_inputs",
    "load_service_table",
    "load_spot_trace",
    "load_trace",
]

# Date-time layouts tried, in order, on a trace column that does not hold plain numbers.
# ``%.f`` accepts any number of fractional digits (the Azure trace has 7) or none.
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
)
_ROW = "__row"  # 0-based data-row index added before filtering; line number = row + 2


@dataclass(frozen=True, eq=False)
class ServiceTable:
    """A measured per-batch service-time profile for one GPU worker.

    Attributes
    ----------
    batch_sizes : int64[k]
        Measured batch sizes, sorted ascending, unique, all >= 1.
    mean_ms : float64[k]
        Service time of one batch of each size (ms), from the spec's ``column`` (``mean_ms``
        unless the scenario chose another column such as ``p50_ms``).
    p50_ms, p99_ms : float64[k] or None
        The file's median and 99th-percentile batch times (ms) when it has those columns.
    source_path : str
        The CSV file read.
    model : str or None
        The model whose rows were selected, or None when the file was used whole.
    column : str
        The column ``mean_ms`` was read from.

    Notes
    -----
    Between measured sizes the service time is interpolated linearly; a batch smaller than the
    smallest measured size takes that first measurement (clamped, never extrapolated down).
    Batches above the largest measured size are refused when the table is loaded.
    """

    batch_sizes: np.ndarray
    mean_ms: np.ndarray
    p50_ms: np.ndarray | None
    p99_ms: np.ndarray | None
    source_path: str
    model: str | None
    column: str

    def service_time_ms(self, batch_size: np.ndarray | int) -> np.ndarray:
        """Return the interpolated batch service time (ms) for batch sizes (int[n] or int).

        Linear between measured sizes, clamped to the first measurement below the smallest
        measured size; a size above the largest measured one raises ``ValueError``.
        """
        sizes = np.asarray(batch_size, dtype=np.float64)
        if np.any(sizes > self.batch_sizes[-1]):
            raise ValueError(f"batch size above the largest measured size {self.batch_sizes[-1]}")
        return np.interp(sizes, self.batch_sizes.astype(np.float64), self.mean_ms)


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


def _no_entries() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, eq=False)
class ScenarioInputs:
    """Every file-backed input of a scenario, loaded and checked.

    Attributes
    ----------
    service_tables : mapping of str to ServiceTable
        By design name, for designs whose service time is a table.
    traces : mapping of str to TraceArrivalsData
        By workload name, for workloads whose arrivals come from a trace.
    spot_traces : mapping of str to SpotTraceData
        By design name, for designs whose spot interruptions replay a capacity trace.
    spot_advice : mapping of str to SpotAdvice
        By design name, for designs whose spot interruptions use the Spot Advisor band of
        their instance and region (``kind: advisor`` without ``band``; a fleet without a
        region is looked up in :data:`costmodels.spot_advisor.DEFAULT_REGION`).
    """

    service_tables: Mapping[str, ServiceTable]
    traces: Mapping[str, TraceArrivalsData]
    spot_traces: Mapping[str, SpotTraceData] = field(default_factory=_no_entries)
    spot_advice: Mapping[str, SpotAdvice] = field(default_factory=_no_entries)
    token_means: Mapping[str, TokenMeans] = field(default_factory=_no_entries)
    token_models: Mapping[str, TokenModelInputs] = field(default_factory=_no_entries)
    billing_rates: BillingRates | None = None


_BILLING_OPTIONS = {
    "on_demand": ("on_demand",), "spot": ("spot",),
    "reserved_1yr": ("reserved", "committed_use"), "reserved_3yr": ("reserved", "committed_use"),
    "savings_plan_1yr": ("savings_plan",), "savings_plan_3yr": ("savings_plan",),
}
"""Scenario purchase option -> the billing export's ``x_PurchaseOption`` values that price it."""


@dataclass(frozen=True, eq=False)
class BillingRates:
    """Effective $/hour observed in billing exports (``pricing: {source: billing}``).

    Attributes
    ----------
    table : polars.DataFrame
        :func:`costmodels.billing.rates.effective_rates` of the exports.
    label : str
        Which files and month, for reports.
    reconciliation : str
        The reader's rows and money in = out + rejected line.
    """

    table: pl.DataFrame
    label: str
    reconciliation: str

    def rate(self, instance_type: str, region: str | None, purchase: str
             ) -> tuple[float, str, str] | None:
        """Return (USD per node-hour, source, as-of date) for an instance and purchase option,
        or None when the bills hold no such usage (in that region, when one is given)."""
        options = _BILLING_OPTIONS.get(purchase, ())
        rows = self.table.filter(pl.col("instance_type") == instance_type,
                                 pl.col("purchase_option").is_in(list(options)),
                                 pl.col("effective_usd_per_hour").is_not_null())
        if region is not None and rows.height:
            rows = rows.filter(pl.col("region") == region)
        if rows.height == 0:
            return None
        hours = float(rows["usage_hours"].sum())
        cost = float(rows["effective_cost"].sum())
        if hours <= 0:
            return None
        period = str(rows["billing_period"][0])
        year, month = (int(x) for x in period.split("-"))
        import calendar

        as_of = f"{period}-{calendar.monthrange(year, month)[1]:02d}"
        source = (f"effective rate from billing: {rows['source'][0]} "
                  f"({hours:,.1f} {purchase} hours)")
        return cost / hours, source, as_of


def load_billing_rates(pricing, *, field_path: str = "pricing") -> BillingRates | None:
    """Read the exports of ``pricing: {source: billing}`` and their effective rates."""
    if pricing.source != "billing":
        return None
    from costmodels.billing.rates import effective_rates
    from costmodels.billing.readers import read_billing

    try:
        read = read_billing(list(pricing.paths))
        table = effective_rates(read.frame, month=pricing.month)
    except PlannerError as exc:
        raise ScenarioError(f"{field_path}.paths: {exc}") from None
    rec = read.reconciliation
    line = (f"rows {rec.rows_in:,} in = {rec.rows_out:,} out + {rec.rows_rejected:,} rejected"
            f"{'' if rec.balanced else ' (NOT balanced)'}")
    period = table["billing_period"][0] if table.height else (pricing.month or "n/a")
    return BillingRates(table=table, label=f"billing exports {', '.join(read.sources[:3])}"
                        f"{' and more' if len(read.sources) > 3 else ''}, {period}",
                        reconciliation=line)


@dataclass(frozen=True, eq=False)
class TokenModelInputs:
    """The measured token profile of a design and the token counts it is driven by."""

    profile: Any  # simulators.core.tokens.TokenProfile
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    tokens_source: str


@dataclass(frozen=True)
class TokenMeans:
    """Mean tokens per request of a workload, and where they come from."""

    prompt_tokens: float
    output_tokens: float
    source: str

    @property
    def per_request(self) -> float:
        """Prompt + output tokens per request."""
        return self.prompt_tokens + self.output_tokens


def load_token_model(spec: TokenServiceTime, workload: InferenceWorkload, *,
                     field_path: str) -> TokenModelInputs:
    """Load a design's token profile and the workload's token counts (trace rows or means)."""
    from simulators.core.tokens import TokenProfileError, load_token_profile, load_token_samples

    try:
        profile = load_token_profile(spec.path, spec.model)
    except TokenProfileError as exc:
        raise ScenarioError(f"{field_path}: {exc}") from None
    t = workload.tokens
    assert t is not None  # the schema requires tokens with a token service time
    if t.prompt_column is not None or t.output_column is not None:
        path = workload.arrivals.path  # type: ignore[union-attr]
        try:
            prompt, output = load_token_samples(path, t.prompt_column or "ContextTokens",
                                                t.output_column or "GeneratedTokens")
        except TokenProfileError as exc:
            raise ScenarioError(f"{field_path}: {exc}") from None
        source = f"{prompt.size:,} requests of {os.path.basename(path)}"
    else:
        prompt = np.array([max(int(round(t.prompt_tokens or 1)), 1)])
        output = np.array([max(int(round(t.output_tokens or 1)), 1)])
        source = "the workload's token means"
    return TokenModelInputs(profile, prompt, output, source)


def load_token_means(workload: InferenceWorkload, *, field_path: str) -> TokenMeans | None:
    """Return the workload's mean tokens per request (None when it declares no tokens).

    Means given in the scenario are used as they are; trace columns are read from the
    workload's arrival trace and averaged over every row.

    Raises
    ------
    ScenarioError
        A missing column, or a value that is not a number >= 0 (with its line).
    """
    t = getattr(workload, "tokens", None)
    if t is None:
        return None
    if t.prompt_column is None and t.output_column is None:
        return TokenMeans(t.prompt_tokens or 0.0, t.output_tokens or 0.0,
                          "scenario means per request")
    path = workload.arrivals.path  # type: ignore[union-attr]  # the schema checks trace arrivals
    wanted = tuple(c for c in (t.prompt_column, t.output_column) if c is not None)
    frame = _read_csv(path, field_path=f"{field_path}.arrivals.path", columns=wanted)
    means = []
    for name, column in (("prompt_column", t.prompt_column), ("output_column", t.output_column)):
        if column is None:
            means.append(0.0)
            continue
        _require_column(frame, column, path, f"{field_path}.tokens.{name}")
        values = _numbers(frame, column, path, field_path=f"{field_path}.tokens.{name}")
        if (values < 0).any():
            i = int(np.flatnonzero(values < 0)[0])
            raise ScenarioError(f"{field_path}.tokens.{name}: line {i + 2} of {path}, column "
                                f"{column!r}: a token count must be >= 0 (got {values[i]:g}); "
                                "fix that row")
        means.append(float(values.mean()) if values.size else 0.0)
    return TokenMeans(means[0], means[1], f"means of {', '.join(wanted)} over the "
                      f"{frame.height:,} rows of {os.path.basename(path)}")


# ---------------------------------------------------------------------------------------------
# Service-time tables


def load_service_table(spec: TableServiceTime, *, field_path: str, max_batch: int) -> ServiceTable:
    """Read and check a per-batch-size service-time table.

    Parameters
    ----------
    spec : TableServiceTime
        The scenario's table spec (its ``path`` already resolved by the schema).
    field_path : str
        Where the spec sits in the scenario, e.g. ``designs[0].service_time``; starts messages.
    max_batch : int
        The design's ``batching.max_batch``; it must not exceed the largest measured size.

    Returns
    -------
    ServiceTable

    Raises
    ------
    ScenarioError
        Missing or unreadable file, missing column, no rows for ``model`` (or several models and
        none chosen), a non-numeric, non-finite or non-positive value, a non-integer batch size,
        duplicate batch sizes, or ``max_batch`` above the largest measured batch size.
    """
    frame = _read_csv(spec.path, field_path=f"{field_path}.path")
    file = spec.path
    _require_column(frame, spec.batch_column, file, f"{field_path}.batch_column")
    _require_column(frame, spec.column, file, f"{field_path}.column")
    frame = _select_model(frame, spec, field_path=field_path)
    if frame.height == 0:
        raise ScenarioError(f"{field_path}.path: {file} has no data rows (got only a header); "
                            "add one row per measured batch size")
    rows = frame[_ROW].to_numpy()
    batch = _numbers(frame, spec.batch_column, file, field_path=f"{field_path}.batch_column")
    fractional = np.flatnonzero((batch != np.round(batch)) | (batch < 1))
    if fractional.size:
        i = fractional[0]
        raise ScenarioError(f"{field_path}.batch_column: line {rows[i] + 2} of {file} has batch "
                            f"size {batch[i]:g} in column {spec.batch_column!r} (got "
                            f"{batch[i]:g}); batch sizes must be whole numbers >= 1")
    mean = _numbers(frame, spec.column, file, field_path=f"{field_path}.column", positive=True)
    extras = {}
    for name in ("p50_ms", "p99_ms"):
        if name in frame.columns:
            extras[name] = _numbers(frame, name, file, field_path=field_path, positive=True)
    if spec.jitter == "lognormal" and len(extras) < 2:
        raise ScenarioError(f"{field_path}.jitter: lognormal jitter needs p50_ms and p99_ms "
                            f"columns in {file} (got columns: {_columns(frame)}); add them or "
                            "set jitter: none")

    order = np.argsort(batch, kind="stable")
    batch_sizes = batch[order].astype(np.int64)
    repeated = np.flatnonzero(np.diff(batch_sizes) == 0)
    if repeated.size:
        j = repeated[0]
        lines = f"lines {rows[order[j]] + 2} and {rows[order[j + 1]] + 2}"
        raise ScenarioError(f"{field_path}.path: batch size {batch_sizes[j]} appears twice in "
                            f"{file} ({lines}){_for_model(spec.model)} (got duplicate batch "
                            "sizes); keep one row per batch size")
    largest = int(batch_sizes[-1])
    if max_batch > largest:
        raise ScenarioError(f"{field_path}: max_batch {max_batch} exceeds the largest measured "
                            f"batch size {largest} in {file}{_for_model(spec.model)}; lower "
                            "batching.max_batch or add measurements")
    return ServiceTable(
        batch_sizes=_readonly(batch_sizes),
        mean_ms=_readonly(mean[order]),
        p50_ms=_readonly(extras["p50_ms"][order]) if "p50_ms" in extras else None,
        p99_ms=_readonly(extras["p99_ms"][order]) if "p99_ms" in extras else None,
        source_path=file,
        model=spec.model,
        column=spec.column,
    )


def _for_model(model: str | None) -> str:
    return f" for model {model}" if model is not None else ""


def _select_model(frame: pl.DataFrame, spec: TableServiceTime, *, field_path: str) -> pl.DataFrame:
    """Keep the rows of ``spec.model``; without a model, the file must hold at most one."""
    has_column = spec.model_column in frame.columns
    if spec.model is None:
        if not has_column:
            return frame
        models = _distinct(frame[spec.model_column])
        if len(models) > 1:
            raise ScenarioError(f"{field_path}.model: {spec.path} holds several models in column "
                                f"{spec.model_column!r} (got none chosen; models: "
                                f"{', '.join(models)}); set model: to one of them")
        return frame
    if not has_column:
        raise ScenarioError(f"{field_path}.model_column: {spec.path} has no column "
                            f"{spec.model_column!r} to select model {spec.model!r} from "
                            f"(columns: {_columns(frame)}); set model_column or remove model")
    selected = frame.filter(pl.col(spec.model_column) == spec.model)
    if selected.height == 0:
        models = _distinct(frame[spec.model_column])
        raise ScenarioError(f"{field_path}.model: no rows for model {spec.model!r} in "
                            f"{spec.path} (got {spec.model!r}; models: {', '.join(models)}); "
                            "use one of those models")
    return selected


def _distinct(column: pl.Series) -> list[str]:
    return sorted(str(v) for v in column.drop_nulls().unique().to_list())


def _numbers(
    frame: pl.DataFrame, column: str, file: str, *, field_path: str, positive: bool = False
) -> np.ndarray:
    """Parse a string column as float64, naming the first bad row (line) in the error."""
    text = frame[column].str.strip_chars()
    values = text.cast(pl.Float64, strict=False).to_numpy()
    bad = ~np.isfinite(values)
    if positive:
        bad |= np.isfinite(values) & (values <= 0)
    if not bad.any():
        return values.astype(np.float64)
    i = int(np.flatnonzero(bad)[0])
    line = int(frame[_ROW][i]) + 2
    raw = text[i]
    what = "is not a finite number" if not np.isfinite(values[i]) else "must be > 0"
    fix = "write a positive number" if positive else "write a number"
    raise ScenarioError(f"{field_path}: line {line} of {file}, column {column!r}: the value "
                        f"{what} (got {raw!r}); {fix} in every row")


# ---------------------------------------------------------------------------------------------
# Arrival traces


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
    frame = _read_csv(spec.path, field_path=f"{field_path}.path", columns=(spec.column,))
    _require_column(frame, spec.column, spec.path, f"{field_path}.column")
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
    return TraceArrivalsData(times_s=_readonly(times_s), n_rows=int(raw.size),
                             notes=tuple(notes), source_path=spec.path, column=spec.column,
                             time_scale=spec.time_scale)


def _parse_times(text: pl.Series, spec: TraceArrivals, *, field_path: str) -> np.ndarray:
    """Parse a trace column: float64 seconds, or int64 nanoseconds since the epoch."""
    empty = text.is_null() | (text == "")
    if empty.any():
        line = int(empty.arg_true()[0]) + 2
        raise ScenarioError(f"{field_path}.column: line {line} of {spec.path}, column "
                            f"{spec.column!r}, is empty (got ''); give every row an arrival time "
                            "or remove the row")
    numbers = text.cast(pl.Float64, strict=False)
    if numbers[0] is not None:
        values = numbers.to_numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise ScenarioError(f"{field_path}.column: line {i + 2} of {spec.path}, column "
                                f"{spec.column!r}, is not a number of seconds like the first row "
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
            raise ScenarioError(f"{field_path}.column: line {i + 2} of {spec.path}, column "
                                f"{spec.column!r}, is not a time in the first row's format "
                                f"{layout} (got {text[i]!r}); fix or remove that row")
        # Epoch nanoseconds: UTC for zoned times, the wall clock for naive ones.
        return parsed.dt.epoch(time_unit="ns").to_numpy().astype(np.int64)
    raise ScenarioError(f"{field_path}.column: line 2 of {spec.path}, column {spec.column!r}, "
                        f"holds neither seconds nor a date-time like 2023-11-16 18:17:03.98 "
                        f"(got {text[0]!r}); point column at the arrival times")


# ---------------------------------------------------------------------------------------------
# Whole scenario and shared helpers


def load_scenario_inputs(scenario: Scenario) -> ScenarioInputs:
    """Load every table and trace a scenario points to, reporting all problems at once.

    Also looks up the Spot Advisor band of each design with ``spot.interruptions: {kind:
    advisor}`` and no ``band``, in the bundled snapshot (:mod:`costmodels.spot_advisor`).

    Raises
    ------
    ScenarioError
        One message, starting with the scenario's file (or name), listing every file problem.
    """
    tables: dict[str, ServiceTable] = {}
    traces: dict[str, TraceArrivalsData] = {}
    spot_traces: dict[str, SpotTraceData] = {}
    spot_advice: dict[str, SpotAdvice] = {}
    token_means: dict[str, TokenMeans] = {}
    token_models: dict[str, TokenModelInputs] = {}
    problems: list[str] = []
    for i, workload in enumerate(scenario.workloads):
        try:
            tokens = load_token_means(workload, field_path=f"workloads[{i}]")
        except ScenarioError as exc:
            problems.append(str(exc))
        else:
            if tokens is not None:
                token_means[workload.name] = tokens
        if isinstance(getattr(workload, "arrivals", None), TraceArrivals):
            try:
                traces[workload.name] = load_trace(workload.arrivals,
                                                   field_path=f"workloads[{i}].arrivals",
                                                   horizon_s=scenario.horizon_s)
            except ScenarioError as exc:
                problems.append(str(exc))
    for i, design in enumerate(scenario.designs):
        if isinstance(getattr(design, "service_time", None), TableServiceTime):
            try:
                tables[design.name] = load_service_table(
                    design.service_time, field_path=f"designs[{i}].service_time",
                    max_batch=design.batching.max_batch)
            except ScenarioError as exc:
                problems.append(str(exc))
        if isinstance(getattr(design, "service_time", None), TokenServiceTime):
            try:
                token_models[design.name] = load_token_model(
                    design.service_time, scenario.workload(design.workload),
                    field_path=f"designs[{i}].service_time")
            except ScenarioError as exc:
                problems.append(str(exc))
        fleet = design.fleet
        spot = getattr(fleet, "spot", None)
        interruptions = None if spot is None else spot.interruptions
        where = f"designs[{i}].fleet.spot.interruptions"
        if isinstance(interruptions, TraceInterruptions):
            try:
                spot_traces[design.name] = load_spot_trace(
                    interruptions, field_path=where, horizon_s=scenario.horizon_s,
                    max_spot_nodes=fleet.n_node_slots - fleet.on_demand_base)
            except ScenarioError as exc:
                problems.append(str(exc))
        elif isinstance(interruptions, AdvisorInterruptions) and interruptions.band is None:
            try:
                spot_advice[design.name] = lookup_band(fleet.instance_type,
                                                        fleet.region or DEFAULT_REGION)
            except CatalogError as exc:
                problems.append(f"{where}: {exc}")
    billing = None
    try:
        billing = load_billing_rates(scenario.pricing)
    except ScenarioError as exc:
        problems.append(str(exc))
    if problems:
        label = scenario.source_path or scenario.name
        noun = "problem" if len(problems) == 1 else "problems"
        body = "\n".join(f"  - {p}" for p in problems)
        raise ScenarioError(f"{label}: {len(problems)} {noun} in the files this scenario "
                            f"points to:\n{body}")
    return ScenarioInputs(service_tables=MappingProxyType(tables),
                          traces=MappingProxyType(traces),
                          spot_traces=MappingProxyType(spot_traces),
                          spot_advice=MappingProxyType(spot_advice),
                          token_means=MappingProxyType(token_means),
                          token_models=MappingProxyType(token_models),
                          billing_rates=billing)


def _read_csv(
    path: str, *, field_path: str, columns: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """Read a CSV as strings (types are checked by the caller), with a row-index column.

    With ``columns``, only those are read when the header has them (all otherwise, so the
    missing-column error can list what is there).
    """
    file = Path(path)
    if not file.is_file():
        where = "is a folder" if file.is_dir() else "not found"
        raise ScenarioError(f"{field_path}: file {where} (got {path}); check the path (a "
                            "relative path is resolved against the scenario file's folder)")
    try:
        header = pl.read_csv(file, n_rows=0, infer_schema=False).columns
        wanted = list(columns) if columns and set(columns) <= set(header) else None
        frame = pl.read_csv(file, columns=wanted, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise ScenarioError(f"{field_path}: {path} is empty (got 0 bytes of data); write a "
                            "header line and one row per measurement") from None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(f"{field_path}: cannot read {path} as CSV ({first}); save it as "
                            "comma-separated UTF-8 text with one header line") from None
    return frame.with_row_index(_ROW)


def _columns(frame: pl.DataFrame) -> str:
    return ", ".join(c for c in frame.columns if c != _ROW)


def _require_column(frame: pl.DataFrame, column: str, file: str, field_path: str) -> None:
    if column not in frame.columns:
        raise ScenarioError(f"{field_path}: {file} has no column {column!r} (got {column!r}; "
                            f"columns: {_columns(frame)}); use one of those columns")
