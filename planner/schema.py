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

The models are grouped by part: arrivals (:mod:`planner.schema_arrivals`), workloads
(:mod:`planner.schema_workloads`), batching and service times (:mod:`planner.schema_serving`),
fleets (:mod:`planner.schema_fleet`, :mod:`planner.schema_designs`), pricing and sweeps; this
module holds the designs, the scenario root and the loaders, and re-exports every model, so
``from planner.schema import ...`` reaches all of them.

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

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from domain.errors import ScenarioError
from planner.schema_errors import format_errors, problem, shorten
from planner.yaml_load import CLI_LIMITS, load_yaml

__all__ = [
    "PROVIDERS",
    "SPOT_NOTICE_S",
    "AdvisorInterruptions",
    "Arrivals",
    "AutoLatency",
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
    "LlmAutoscaling",
    "LlmDesign",
    "LlmEngine",
    "LlmFleet",
    "ModelConfig",
    "PoissonArrivals",
    "Pricing",
    "ProfileLatency",
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
    "TokenDistribution",
    "TokenServiceTime",
    "TraceArrivals",
    "TraceInterruptions",
    "TrainingDesign",
    "TrainingWorkload",
    "Workload",
    "load_scenario",
    "parse_scenario",
]

from planner.schema_arrivals import (  # re-exported
    Arrivals,
    DiurnalArrivals,
    PoissonArrivals,
    TraceArrivals,
)
from planner.schema_base import (  # PROVIDERS, SPOT_NOTICE_S, SpotBand are re-exported
    PROVIDERS,
    SPOT_NOTICE_S,
    Name,
    SpotBand,
    _Frozen,
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
from planner.schema_llm import (  # re-exported
    AutoLatency,
    LlmAutoscaling,
    LlmDesign,
    LlmEngine,
    LlmFleet,
    ModelConfig,
    ProfileLatency,
)
from planner.schema_pricing import Commitment, EffectiveRate, Pricing  # re-exported
from planner.schema_serving import (  # re-exported
    Batching,
    ConstantServiceTime,
    ExponentialServiceTime,
    LinearServiceTime,
    QueueLimits,
    ServiceTime,
    TableServiceTime,
    TokenServiceTime,
)
from planner.schema_sweep import Sweep  # a scenario's optional design-space sweep
from planner.schema_workloads import (  # re-exported
    InferenceWorkload,
    LatencySLO,
    TokenCounts,
    TokenDistribution,
    TrainingWorkload,
    Workload,
)

# ---------------------------------------------------------------------------------------------
# Designs


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


Design = Annotated[RealtimeDesign | StreamingDesign | BatchDesign | TrainingDesign | LlmDesign,
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
            problems.extend(_slo_problems(i, design, self.workload(design.workload)))
            if kind != wants:
                fit = ("a training design (pattern: training)" if kind == "training" else
                       "a realtime, streaming, batch or llm design")
                problems.append((f"designs[{i}].workload", f"a {design.pattern} design needs "
                                 f"a {wants} workload (got {design.workload!r}, kind {kind}); "
                                 f"serve it with {fit}"))
            elif (isinstance(getattr(design, "service_time", None), TokenServiceTime)
                  or design.pattern == "llm") and self.workload(design.workload).tokens is None:
                field_name = "latency" if design.pattern == "llm" else "service_time"
                problems.append((f"designs[{i}].{field_name}", f"a token service time needs "
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


def _slo_problems(i: int, design: Any, workload: Any) -> list[tuple[str, str]]:
    """TTFT/TPOT bounds judge LLM designs only; the other patterns need a latency bound (and
    are judged on it alone)."""
    slo = workload.slo if isinstance(workload, InferenceWorkload) else None
    if slo is None or design.pattern == "llm" or slo.latency_ms is not None:
        return []
    return [(f"designs[{i}].workload", f"workload {workload.name!r} has an SLO on ttft_ms/tpot_ms "
             f"only, which a {design.pattern} design cannot report (it has no first-token "
             "time); add latency_ms (end to end) to the workload's slo to judge it, or serve "
             "it with pattern: llm")]


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
        File missing or unreadable, YAML syntax error (with line and column), a key written
        twice, a document nested too deep or too large once its aliases are expanded
        (:func:`planner.yaml_load.load_yaml`), top level not a mapping, or any schema problem;
        the message starts with ``path``.
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
    data = load_yaml(text, label, CLI_LIMITS)
    if isinstance(data, Mapping) and "source_path" in data:
        raise ScenarioError(f"{label}: source_path: is set by the loader, not in the file (got "
                            f"{shorten(data['source_path'])}); remove it")
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
