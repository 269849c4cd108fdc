"""The scenario schema: one typed, frozen model of a what-if scenario, validated once.

A scenario names workloads (what arrives) and candidate designs (how each workload is served,
including fleet dynamics: autoscaling, spot nodes, provisioning delays and request deadlines,
whose semantics are ``docs/fleet-dynamics.md``). Polymorphic parts are chosen by a
discriminator field: ``kind`` for arrival processes, workloads, service-time models and spot
interruptions, ``pattern`` for designs. Units are field-name suffixes (``_s``, ``_ms``,
``_rps``). Every fleet-dynamics field is optional; the defaults give a fixed fleet.

Building a scenario never touches the filesystem: relative ``path`` fields (a service-time
table, an arrival trace) are resolved against the scenario file's folder by string arithmetic,
using a pydantic validation context that carries ``base_dir``. Reading those files is the job of
:mod:`planner.inputs`.

Every problem a user can cause surfaces as one :class:`~domain.errors.ScenarioError` whose
message starts with the file name and lists each problem as
``<field path>: <what is wrong> (got <value>); <fix>`` (rendered by :mod:`planner.schema_errors`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.errors import ScenarioError
from planner.schema_errors import format_errors, problem

__all__ = [
    "PROVIDERS",
    "SPOT_NOTICE_S",
    "AdvisorInterruptions",
    "Arrivals",
    "Autoscaling",
    "BatchDesign",
    "Batching",
    "Checkpointing",
    "Commitment",
    "ConstantServiceTime",
    "Design",
    "DiurnalArrivals",
    "EffectiveRate",
    "ExponentialServiceTime",
    "Fleet",
    "InferenceWorkload",
    "JobFleet",
    "JobSpot",
    "LatencySLO",
    "LinearServiceTime",
    "PoissonArrivals",
    "Pricing",
    "ProvisioningDelay",
    "QueueLimits",
    "RateInterruptions",
    "RealtimeDesign",
    "Scenario",
    "Schedule",
    "ScheduledMinimum",
    "ServiceTime",
    "Spot",
    "SpotBand",
    "SpotInterruptions",
    "StreamingAutoscaling",
    "StreamingDesign",
    "StreamingFleet",
    "TableServiceTime",
    "TokenCounts",
    "TokenServiceTime",
    "TraceArrivals",
    "TraceInterruptions",
    "TrainingDesign",
    "TrainingWorkload",
    "Workload",
    "load_scenario",
    "parse_scenario",
]

from planner.schema_base import (  # PROVIDERS, SPOT_NOTICE_S, SpotBand are re-exported
    PROVIDERS,
    SPOT_NOTICE_S,
    Name,
    SpotBand,
    _Frozen,
    _resolve_path,
)
from planner.schema_designs import (  # re-exported
    COMMITTED,
    Checkpointing,
    JobFleet,
    JobSpot,
    Schedule,
    StreamingAutoscaling,
    StreamingFleet,
)
from planner.schema_fleet import (  # re-exported
    AdvisorInterruptions,
    Autoscaling,
    Fleet,
    ProvisioningDelay,
    RateInterruptions,
    ScheduledMinimum,
    Spot,
    SpotInterruptions,
    TraceInterruptions,
)
from planner.schema_pricing import Commitment, EffectiveRate, Pricing  # re-exported
from planner.schema_sweep import Sweep  # a scenario's optional design-space sweep
from simulators.core.arrivals import diurnal_amplitude, diurnal_rate_rps

# ---------------------------------------------------------------------------------------------
# Arrival processes


class PoissonArrivals(_Frozen):
    """Poisson arrivals: independent exponential gaps at a constant rate ``rate_rps`` (1/s)."""

    kind: Literal["poisson"]
    rate_rps: float = Field(gt=0)


class DiurnalArrivals(_Frozen):
    """A non-homogeneous Poisson process whose rate follows the hour of day.

    ``smooth``: ``rate(h) = mean_rate_rps * (1 + a * cos(2 pi (h - peak_hour) / 24))`` with
    ``a = (peak_to_trough - 1) / (peak_to_trough + 1)``, so the peak is ``peak_to_trough`` times
    the trough and the daily mean is ``mean_rate_rps``. ``piecewise``: a constant rate per hour,
    ``mean_rate_rps * 24 * w[i] / sum(w)`` for ``hourly_weights`` ``w``, or, without weights, the
    smooth curve's value at each hour's midpoint (whose 24-point mean is exactly the mean rate).
    Simulation time 0 is the clock hour ``start_hour`` (hours, in [0, 24)).
    """

    kind: Literal["diurnal"]
    mean_rate_rps: float = Field(gt=0)
    peak_to_trough: float = Field(default=3.0, ge=1)
    peak_hour: float = Field(default=14.0, ge=0, lt=24)
    start_hour: float = Field(default=0.0, ge=0, lt=24)
    shape: Literal["smooth", "piecewise"] = "smooth"
    hourly_weights: tuple[float, ...] | None = None

    @field_validator("hourly_weights")
    @classmethod
    def _check_weights(cls, weights: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if weights is None:
            return weights
        if len(weights) != 24:
            raise problem(("", f"needs 24 values, one per hour 0..23 (got {len(weights)} "
                               "values); add or remove values"))
        bad = [(i, w) for i, w in enumerate(weights) if w < 0]
        if bad:
            i, w = bad[0]
            raise problem((f"[{i}]", f"must be >= 0 (got {w}); use a non-negative weight"))
        if sum(weights) <= 0:
            raise problem(("", "must have a positive sum (got all zeros); give at least one "
                               "hour a positive weight"))
        return weights

    @model_validator(mode="after")
    def _check_shape(self) -> DiurnalArrivals:
        if self.hourly_weights is None:
            return self
        if self.shape != "piecewise":
            raise problem(("hourly_weights", f"is only used with shape: piecewise (got shape: "
                                             f"{self.shape}); set shape: piecewise or remove "
                                             "hourly_weights"))
        fields = type(self).model_fields
        ignored = [name for name in ("peak_to_trough", "peak_hour")
                   if getattr(self, name) != fields[name].default]  # defaults: a dump reloads
        if ignored:
            raise problem((ignored[0], "has no effect when hourly_weights is given (got "
                                       f"{getattr(self, ignored[0])}); remove it"))
        return self

    def hourly_rates_rps(self) -> np.ndarray:
        """Return the piecewise rate of each clock hour, float64[24] in requests/s."""
        if self.hourly_weights is not None:
            weights = np.asarray(self.hourly_weights, dtype=np.float64)
            return self.mean_rate_rps * 24.0 * weights / weights.sum()
        return self._smooth_rps(np.arange(24, dtype=np.float64) + 0.5)

    def rate_rps_at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Return the arrival rate (requests/s) at simulation times ``t_s`` (s, float64[n])."""
        hour = (self.start_hour + np.asarray(t_s, dtype=np.float64) / 3600.0) % 24.0
        if self.shape == "piecewise":
            return self.hourly_rates_rps()[np.minimum(hour.astype(np.int64), 23)]
        return self._smooth_rps(hour)

    def _smooth_rps(self, hour: np.ndarray) -> np.ndarray:
        return diurnal_rate_rps(hour, self.mean_rate_rps, diurnal_amplitude(self.peak_to_trough),
                                self.peak_hour, 24.0)


class TraceArrivals(_Frozen):
    """Arrivals replayed from a CSV column of timestamps (seconds, or date-time strings).

    ``time_scale`` multiplies the gaps between arrivals (0.5 replays twice as fast); ``repeat``
    loops the trace to fill the horizon. A relative ``path`` is resolved against the scenario
    file's folder.
    """

    kind: Literal["trace"]
    path: str = Field(min_length=1)
    column: str = Field(default="TIMESTAMP", min_length=1)
    time_scale: float = Field(default=1.0, gt=0)
    repeat: bool = False

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


Arrivals = Annotated[
    PoissonArrivals | DiurnalArrivals | TraceArrivals, Field(discriminator="kind")
]


# ---------------------------------------------------------------------------------------------
# Workloads


class LatencySLO(_Frozen):
    """A latency objective: the ``percentile`` (0-100) of request latency at most ``latency_ms``.

    For streaming and batch designs the latency is the record's freshness (arrival to the end of
    the processing of its window or job). ``latency_s`` may be written instead of
    ``latency_ms`` for long objectives (e.g. ``latency_s: 21600`` for 6 hours).
    """

    percentile: float = Field(gt=0, lt=100)
    latency_ms: float = Field(gt=0)

    @model_validator(mode="before")
    @classmethod
    def _seconds(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "latency_s" in data:
            if "latency_ms" in data:
                raise problem(("latency_s", "give latency_ms or latency_s, not both (got "
                                            f"{data['latency_ms']!r} ms and "
                                            f"{data['latency_s']!r} s); keep one"))
            data = dict(data)
            value = data.pop("latency_s")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                data["latency_ms"] = value * 1000.0
            else:
                data["latency_ms"] = value
        return data


class TokenCounts(_Frozen):
    """Tokens per request, for $ per 1 million tokens: mean counts, or trace columns.

    Either ``prompt_tokens`` / ``output_tokens`` (means per request) or ``prompt_column`` /
    ``output_column`` (columns of the workload's arrival trace, whose means are used).
    """

    prompt_tokens: float | None = Field(default=None, ge=0)
    output_tokens: float | None = Field(default=None, ge=0)
    prompt_column: str | None = Field(default=None, min_length=1)
    output_column: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _check_one_way(self) -> TokenCounts:
        means = self.prompt_tokens is not None or self.output_tokens is not None
        columns = self.prompt_column is not None or self.output_column is not None
        if means == columns:
            raise problem(("", "give token means (prompt_tokens, output_tokens) or trace "
                               "columns (prompt_column, output_column), not both or neither "
                               f"(got {self.model_dump(exclude_none=True)}); e.g. "
                               "prompt_tokens: 1000, output_tokens: 200"))
        if means and (self.prompt_tokens or 0) + (self.output_tokens or 0) <= 0:
            raise problem(("prompt_tokens", "prompt_tokens + output_tokens must be > 0 (got 0); "
                                            "give the mean tokens per request"))
        return self


class InferenceWorkload(_Frozen):
    """A stream of inference requests, one item each; ``tokens`` enables $ per 1M tokens."""

    name: Name
    kind: Literal["inference"]
    arrivals: Arrivals
    slo: LatencySLO | None = None
    tokens: TokenCounts | None = None

    @model_validator(mode="after")
    def _check_token_columns(self) -> InferenceWorkload:
        t = self.tokens
        if t is not None and t.prompt_column is None and t.output_column is None:
            return self
        if t is not None and self.arrivals.kind != "trace":
            raise problem(("tokens", f"token columns need trace arrivals (got arrivals kind "
                                     f"{self.arrivals.kind!r}); give prompt_tokens and "
                                     "output_tokens means instead"))
        return self


class TrainingWorkload(_Frozen):
    """A training job of ``gpu_hours`` GPU-hours (on the ideal gang), optionally with a deadline.

    ``deadline_h`` counts from submission; the job should finish by it in at least
    ``deadline_percentile`` % of runs (the SLO). ``runs_per_month`` projects the monthly cost
    (1 for a one-off job: the month it runs).
    """

    name: Name
    kind: Literal["training"]
    gpu_hours: float = Field(gt=0)
    deadline_h: float | None = Field(default=None, gt=0)
    deadline_percentile: float = Field(default=95.0, gt=0, lt=100)
    runs_per_month: float = Field(default=1.0, gt=0)

    @property
    def slo(self) -> LatencySLO | None:
        """The deadline as a completion-time objective (ms), or None."""
        if self.deadline_h is None:
            return None
        return LatencySLO(percentile=self.deadline_percentile,
                          latency_ms=self.deadline_h * 3_600_000.0)


Workload = Annotated[InferenceWorkload | TrainingWorkload, Field(discriminator="kind")]


# ---------------------------------------------------------------------------------------------
# Designs


class Batching(_Frozen):
    """Dynamic batching: a batch starts when ``max_batch`` items wait or the oldest waited
    ``max_wait_ms`` (ms)."""

    max_batch: int = Field(default=1, ge=1, le=4096)
    max_wait_ms: float = Field(default=0.0, ge=0)


class QueueLimits(_Frozen):
    """A request still queued ``deadline_ms`` (ms) after its arrival is dropped when a batch is
    formed; None (the default) keeps every request."""

    deadline_ms: float | None = Field(default=None, gt=0)


class TableServiceTime(_Frozen):
    """Service time per batch size from a measured CSV profile (see :mod:`planner.inputs`).

    ``column`` is the per-batch time in ms, ``batch_column`` the batch size, ``model_column``
    selects the rows of ``model``. ``jitter: lognormal`` draws around the table value with a
    spread fitted to the file's ``p50_ms`` and ``p99_ms`` columns.
    """

    kind: Literal["table"]
    path: str = Field(min_length=1)
    model: str | None = None
    column: str = Field(default="mean_ms", min_length=1)
    batch_column: str = Field(default="batch", min_length=1)
    model_column: str = Field(default="model", min_length=1)
    jitter: Literal["none", "lognormal"] = "none"

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


class ExponentialServiceTime(_Frozen):
    """Exponentially distributed service time per batch with mean ``mean_ms`` (ms)."""

    kind: Literal["exponential"]
    mean_ms: float = Field(gt=0)


class ConstantServiceTime(_Frozen):
    """A fixed service time of ``ms`` per batch (ms)."""

    kind: Literal["constant"]
    ms: float = Field(gt=0)


class LinearServiceTime(_Frozen):
    """A deterministic batch time ``base_ms + per_item_ms * batch_size`` (ms)."""

    kind: Literal["linear"]
    base_ms: float = Field(ge=0)
    per_item_ms: float = Field(ge=0)

    @model_validator(mode="after")
    def _check_positive(self) -> LinearServiceTime:
        if self.base_ms + self.per_item_ms <= 0:
            raise problem(("per_item_ms", "base_ms + per_item_ms must be > 0 (got 0 + 0); "
                                          "give at least one of them a positive value"))
        return self


class TokenServiceTime(_Frozen):
    """An LLM's batch service time from a measured token-level profile (see
    :mod:`simulators.core.tokens`): prefill by prompt tokens, decode steps by batch size and
    context, for token counts drawn from the workload's ``tokens`` (trace columns or means).

    ``gpu: auto`` derives the profile for the fleet instance's GPU (catalog GPU model and memory)
    by FLOP ratio (prefill) and memory-bandwidth ratio (decode); a GPU key such as
    ``A100-SXM-80GB`` forces one. ``prefill: padded`` pads a batch's prompts to the longest
    (static batching with a rectangular KV cache, as measured); ``packed`` does not.
    """

    kind: Literal["tokens"]
    path: str = Field(min_length=1)
    model: str = Field(min_length=1)
    gpu: str = "auto"
    prefill: Literal["padded", "packed"] = "padded"
    samples: int = Field(default=2000, ge=100, le=100_000)
    jitter: Literal["none", "lognormal"] = "lognormal"

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return _resolve_path(value, info)


ServiceTime = Annotated[
    TableServiceTime | ExponentialServiceTime | ConstantServiceTime | LinearServiceTime | TokenServiceTime,
    Field(discriminator="kind"),
]


class RealtimeDesign(_Frozen):
    """An always-on fleet serving requests as they arrive, with dynamic batching."""

    name: Name
    workload: Name
    pattern: Literal["realtime"]
    fleet: Fleet
    batching: Batching = Batching()
    queue: QueueLimits = QueueLimits()
    service_time: ServiceTime


class StreamingDesign(_Frozen):
    """Micro-batches every ``window_s`` on a standing (optionally autoscaled) fleet; a window's
    records are processed in batches of up to ``batching.max_batch`` spread over the workers,
    plus ``overhead_s`` per window (see :mod:`simulators.streaming.api`)."""

    name: Name
    workload: Name
    pattern: Literal["streaming"]
    window_s: float = Field(gt=0)
    overhead_s: float = Field(default=0.0, ge=0)
    fleet: StreamingFleet
    batching: Batching = Batching()
    service_time: ServiceTime


class BatchDesign(_Frozen):
    """Scheduled jobs that cold-start a gang, process the backlog at the gang's throughput,
    checkpoint, and shut down (see :mod:`simulators.batch.api`). ``deadline_s`` counts from each
    job's scheduled start; ``startup_s`` is paid time before processing (model load)."""

    name: Name
    workload: Name
    pattern: Literal["batch"]
    schedule: Schedule
    fleet: JobFleet
    startup_s: float = Field(default=0.0, ge=0)
    checkpoint: Checkpointing | None = None
    deadline_s: float | None = Field(default=None, gt=0)
    batching: Batching = Batching()
    service_time: ServiceTime

    @model_validator(mode="after")
    def _check_job(self) -> BatchDesign:
        sp = self.fleet.spot
        if sp is not None and (sp.fallback_near_deadline or sp.fallback_margin_s):
            raise problem(("fleet.spot.fallback_near_deadline", "applies to training designs "
                           "only (got it on a batch design); use fallback_after_interruptions"))
        return self


class TrainingDesign(_Frozen):
    """A training job on a gang (see :mod:`simulators.training.api`): on-demand, spot with
    checkpoints and fallback, or reserved capacity held for ``reserved_hours`` (default: the
    run's own duration). ``restart_overhead_s`` loads the model/checkpoint at start and after
    every interruption."""

    name: Name
    workload: Name
    pattern: Literal["training"]
    fleet: JobFleet
    checkpoint: Checkpointing | None = None
    restart_overhead_s: float = Field(default=0.0, ge=0)
    reserved_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_job(self) -> TrainingDesign:
        if self.reserved_hours is not None and self.fleet.purchase not in COMMITTED:
            raise problem(("reserved_hours", f"applies to reserved capacity (got purchase: "
                                             f"{self.fleet.purchase}); remove it or set "
                                             "purchase: reserved_1yr"))
        if self.fleet.workers_per_node != 1:
            raise problem(("fleet.workers_per_node", "does not apply to training: the gang uses "
                           f"every GPU of its nodes (got {self.fleet.workers_per_node}); remove "
                           "it"))
        return self


# One member today; streaming and batch join this union.
Design = Annotated[RealtimeDesign | StreamingDesign | BatchDesign | TrainingDesign,
                  Field(discriminator="pattern")]


# ---------------------------------------------------------------------------------------------
# Scenario


class Scenario(_Frozen):
    """A what-if scenario: workloads, candidate designs and the simulation settings.

    ``horizon_s`` and ``warmup_s`` are simulated seconds (the warm-up is left out of the
    statistics); ``replications`` independent runs give confidence intervals; each is seeded from
    ``(seed, replication index)``. ``source_path`` is set by :func:`load_scenario`.
    """

    name: Name
    description: str | None = None
    horizon_s: float = Field(gt=0)
    warmup_s: float = Field(default=0.0, ge=0)
    replications: int = Field(default=8, ge=2, le=10_000)
    seed: int = Field(default=0, ge=0, lt=2**63)
    workloads: tuple[Workload, ...]
    designs: tuple[Design, ...]
    pricing: Pricing = Pricing()
    sweep: Sweep | None = None
    source_path: str | None = None

    @field_validator("workloads", "designs")
    @classmethod
    def _check_not_empty(cls, items: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        # Not Field(min_length=1): pydantic reports a spurious too_short for a tuple whose
        # items failed validation.
        if not items:
            raise problem(("", f"needs at least one entry (got []); add one under "
                               f"{info.field_name}:"))
        return items

    @model_validator(mode="after")
    def _check_cross_fields(self) -> Scenario:
        problems: list[tuple[str, str]] = []
        if self.warmup_s >= self.horizon_s:
            problems.append(("warmup_s", f"must be < horizon_s (got {self.warmup_s:g} >= "
                                         f"{self.horizon_s:g}); lower warmup_s or raise "
                                         "horizon_s"))
        for group, items in (("workloads", self.workloads), ("designs", self.designs)):
            first: dict[str, int] = {}
            for i, item in enumerate(items):
                if item.name in first:
                    problems.append((f"{group}[{i}].name", f"{item.name!r} is already used by "
                                     f"{group}[{first[item.name]}]; give each a unique name"))
                first.setdefault(item.name, i)
        names = [w.name for w in self.workloads]
        for i, design in enumerate(self.designs):
            if design.workload not in names:
                close = difflib.get_close_matches(design.workload, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append((f"designs[{i}].workload", f"{design.workload!r} is not a "
                                 f"workload of this scenario (workloads: {', '.join(names)}); "
                                 f"use one of those names{hint}"))
                continue
            kind = self.workload(design.workload).kind
            wants = "training" if design.pattern == "training" else "inference"
            if kind != wants:
                fit = ("a training design (pattern: training)" if kind == "training" else
                       "a realtime, streaming or batch design")
                problems.append((f"designs[{i}].workload", f"a {design.pattern} design needs "
                                 f"a {wants} workload (got {design.workload!r}, kind {kind}); "
                                 f"serve it with {fit}"))
            elif isinstance(getattr(design, "service_time", None), TokenServiceTime) and \
                    self.workload(design.workload).tokens is None:
                problems.append((f"designs[{i}].service_time", f"a token service time needs "
                                 f"token counts on workload {design.workload!r} (got no "
                                 "tokens:); add tokens: {prompt_column: ContextTokens, "
                                 "output_column: GeneratedTokens} or token means"))
        if problems:
            raise problem(*problems)
        return self

    def workload(self, name: str) -> InferenceWorkload | TrainingWorkload:
        """Return the workload called ``name`` (KeyError if there is none)."""
        return {workload.name: workload for workload in self.workloads}[name]

    def design(self, name: str) -> Design:
        """Return the design called ``name`` (KeyError if there is none)."""
        return {design.name: design for design in self.designs}[name]


# ---------------------------------------------------------------------------------------------
# Loading


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario YAML file and validate it once.

    Parameters
    ----------
    path : str or path-like
        The scenario file. Relative ``path`` fields inside it are resolved against its folder.

    Returns
    -------
    Scenario
        The frozen scenario, with ``source_path`` set to the file's absolute path.

    Raises
    ------
    ScenarioError
        File missing or unreadable, YAML syntax error (with line and column), top level not a
        mapping, or any schema problem; the message starts with ``path``.
    """
    label = os.fspath(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{label}: file not found (got {file.absolute()}); check the path "
                            "and the current folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{label}: cannot read the file ({exc}); pass a readable UTF-8 "
                            "YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise ScenarioError(f"{label}: YAML syntax error at {where}: {what}; fix the YAML near "
                            "that line (check indentation, colons and quotes)") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{label}: YAML error ({exc}); fix the YAML syntax") from None
    if isinstance(data, Mapping) and "source_path" in data:
        raise ScenarioError(f"{label}: source_path: is set by the loader, not in the file (got "
                            f"{data['source_path']!r}); remove it")
    return _validate(data, base_dir=file.absolute().parent, label=label,
                     source_path=str(file.absolute()))


def parse_scenario(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    source: str | None = None,
) -> Scenario:
    """Validate an in-memory scenario mapping (as YAML would give).

    Parameters
    ----------
    data : mapping
        The scenario fields.
    base_dir : str or path-like, optional
        Folder that relative ``path`` fields are resolved against; without it they stay as
        written (relative to the current folder when the files are read).
    source : str, optional
        Where ``data`` came from: starts error messages and is stored as ``source_path``.

    Raises
    ------
    ScenarioError
        Listing every problem with its field path, bad value and fix.
    """
    return _validate(data, base_dir=base_dir, label=source or "<scenario>", source_path=source)


def _validate(data: Any, *, base_dir: Any, label: str, source_path: str | None) -> Scenario:
    if data is None:
        raise ScenarioError(f"{label}: the scenario is empty; write a mapping with name, "
                            "horizon_s, workloads and designs")
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{label}: the top level must be a mapping of fields (got a "
                            f"{type(data).__name__}); write 'name: ...', 'horizon_s: ...' etc. "
                            "at the top level")
    if source_path is not None:
        data = {**data, "source_path": source_path}
    context = {"base_dir": None if base_dir is None else os.fspath(base_dir)}
    try:
        return Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        lines = format_errors(exc, Scenario)
    noun = "problem" if len(lines) == 1 else "problems"
    body = "\n".join(f"  - {line}" for line in lines)
    raise ScenarioError(f"{label}: invalid scenario, {len(lines)} {noun}:\n{body}")
