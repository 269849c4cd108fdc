"""The scenario schema: one typed, frozen model of a what-if scenario, validated once.

A scenario names workloads (what arrives) and candidate designs (how each workload is served).
Polymorphic parts are chosen by a discriminator field: ``kind`` for arrival processes, workloads
and service-time models, ``pattern`` for designs. Units are field-name suffixes (``_s``, ``_ms``,
``_rps``).

Building a scenario never touches the filesystem: relative ``path`` fields (a service-time
table, an arrival trace) are resolved against the scenario file's folder by string arithmetic,
using a pydantic validation context that carries ``base_dir``. Reading those files is the job of
:mod:`planner.inputs`.

Every problem a user can cause surfaces as one :class:`~planner.errors.ScenarioError` whose
message starts with the file name and lists each problem as
``<field path>: <what is wrong> (got <value>); <fix>``.
"""

from __future__ import annotations

import difflib
import math
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from planner.errors import ScenarioError

__all__ = [
    "Arrivals", "Batching", "ConstantServiceTime", "Design", "DiurnalArrivals",
    "ExponentialServiceTime", "Fleet", "InferenceWorkload", "LatencySLO", "LinearServiceTime",
    "PoissonArrivals", "Pricing", "RealtimeDesign", "Scenario", "ServiceTime", "TableServiceTime",
    "TraceArrivals", "Workload", "load_scenario", "parse_scenario",
]

PROVIDERS = ("aws", "gcp")
_PROBLEM = "scenario_problem"  # error type of our own validators; ctx["problems"] holds them

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _problem(*problems: tuple[str, str]) -> PydanticCustomError:
    """Build a validation error carrying ``(relative field path, text)`` pairs.

    The relative path is appended to pydantic's location of the validator ("" for none), and the
    text follows the house form ``<what is wrong> (got <value>); <fix>``.
    """
    summary = "; ".join(f"{field or '<here>'}: {text}" for field, text in problems)
    return PydanticCustomError(_PROBLEM, "{summary}", {"summary": summary, "problems": problems})


def _resolve_path(value: str, info: ValidationInfo) -> str:
    """Join a relative ``path`` to the context's ``base_dir`` (string math, no filesystem)."""
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is None or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(os.fspath(base_dir), value))


class _Frozen(BaseModel):
    """Base of every scenario model: immutable, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_bools_as_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1, and YAML 1.1 reads yes/no/on/off as booleans.
        if isinstance(data, Mapping):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if isinstance(value, bool) and field is not None and \
                        field.annotation in (int, float):
                    raise _problem((name, f"must be a number (got {value}; YAML reads yes, no, "
                                          "on, off, true and false as booleans); write a number"))
        return data


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
            raise _problem(("", f"needs 24 values, one per hour 0..23 (got {len(weights)} "
                                "values); add or remove values"))
        bad = [(i, w) for i, w in enumerate(weights) if w < 0]
        if bad:
            i, w = bad[0]
            raise _problem((f"[{i}]", f"must be >= 0 (got {w}); use a non-negative weight"))
        if sum(weights) <= 0:
            raise _problem(("", "must have a positive sum (got all zeros); give at least one "
                                "hour a positive weight"))
        return weights

    @model_validator(mode="after")
    def _check_shape(self) -> DiurnalArrivals:
        if self.hourly_weights is None:
            return self
        if self.shape != "piecewise":
            raise _problem(("hourly_weights", f"is only used with shape: piecewise (got shape: "
                                              f"{self.shape}); set shape: piecewise or remove "
                                              "hourly_weights"))
        fields = type(self).model_fields
        ignored = [name for name in ("peak_to_trough", "peak_hour")
                   if getattr(self, name) != fields[name].default]  # defaults: a dump reloads
        if ignored:
            raise _problem((ignored[0], "has no effect when hourly_weights is given (got "
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
        amplitude = (self.peak_to_trough - 1.0) / (self.peak_to_trough + 1.0)
        phase = 2.0 * math.pi * (hour - self.peak_hour) / 24.0
        return self.mean_rate_rps * (1.0 + amplitude * np.cos(phase))


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
    Union[PoissonArrivals, DiurnalArrivals, TraceArrivals], Field(discriminator="kind")
]


# ---------------------------------------------------------------------------------------------
# Workloads


class LatencySLO(_Frozen):
    """A latency objective: the ``percentile`` (0-100) of request latency at most ``latency_ms``."""

    percentile: float = Field(gt=0, lt=100)
    latency_ms: float = Field(gt=0)


class InferenceWorkload(_Frozen):
    """A stream of inference requests, one item each."""

    name: Name
    kind: Literal["inference"]
    arrivals: Arrivals
    slo: LatencySLO | None = None


# One member today; training and batch_scoring join this union.
Workload = Annotated[Union[InferenceWorkload], Field(discriminator="kind")]


# ---------------------------------------------------------------------------------------------
# Designs


class Fleet(_Frozen):
    """The nodes that serve a design: a catalog instance key such as ``aws:p5.48xlarge``."""

    instance: str
    region: str | None = None
    nodes: int = Field(ge=1)
    workers_per_node: int = Field(default=1, ge=1)
    purchase: Literal["on_demand", "spot", "reserved_1yr", "reserved_3yr"] = "on_demand"

    @field_validator("instance")
    @classmethod
    def _check_instance(cls, value: str) -> str:
        provider, sep, instance_type = value.strip().partition(":")
        if not sep or provider not in PROVIDERS or not instance_type or " " in instance_type:
            raise _problem(("", f"must be '<provider>:<instance_type>' with provider "
                                f"{' or '.join(PROVIDERS)} (got {value!r}); write e.g. "
                                "aws:p5.48xlarge or gcp:a3-highgpu-8g"))
        return f"{provider}:{instance_type}"

    @property
    def provider(self) -> str:
        """The cloud provider part of ``instance`` (``aws`` or ``gcp``)."""
        return self.instance.partition(":")[0]

    @property
    def instance_type(self) -> str:
        """The instance type part of ``instance``, e.g. ``p5.48xlarge``."""
        return self.instance.partition(":")[2]

    @property
    def n_workers(self) -> int:
        """Total workers in the fleet (``nodes * workers_per_node``)."""
        return self.nodes * self.workers_per_node


class Batching(_Frozen):
    """Dynamic batching: a batch starts when ``max_batch`` items wait or the oldest waited
    ``max_wait_ms`` (ms)."""

    max_batch: int = Field(default=1, ge=1, le=4096)
    max_wait_ms: float = Field(default=0.0, ge=0)


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
            raise _problem(("per_item_ms", "base_ms + per_item_ms must be > 0 (got 0 + 0); "
                                           "give at least one of them a positive value"))
        return self


ServiceTime = Annotated[
    Union[TableServiceTime, ExponentialServiceTime, ConstantServiceTime, LinearServiceTime],
    Field(discriminator="kind"),
]


class RealtimeDesign(_Frozen):
    """An always-on fleet serving requests as they arrive, with dynamic batching."""

    name: Name
    workload: Name
    pattern: Literal["realtime"]
    fleet: Fleet
    batching: Batching = Batching()
    service_time: ServiceTime


# One member today; streaming and batch join this union.
Design = Annotated[Union[RealtimeDesign], Field(discriminator="pattern")]


# ---------------------------------------------------------------------------------------------
# Scenario


class Pricing(_Frozen):
    """How simulated usage becomes money; ``hours_per_month`` projects monthly cost (h)."""

    hours_per_month: float = Field(default=730.0, gt=0)


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
    source_path: str | None = None

    @field_validator("workloads", "designs")
    @classmethod
    def _check_not_empty(cls, items: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        # Not Field(min_length=1): pydantic reports a spurious too_short for a tuple whose
        # items failed validation.
        if not items:
            raise _problem(("", f"needs at least one entry (got []); add one under "
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
        if problems:
            raise _problem(*problems)
        return self

    def workload(self, name: str) -> InferenceWorkload:
        """Return the workload called ``name`` (KeyError if there is none)."""
        return {workload.name: workload for workload in self.workloads}[name]

    def design(self, name: str) -> RealtimeDesign:
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
        lines = [line for err in exc.errors() for line in _format_error(err)]
    noun = "problem" if len(lines) == 1 else "problems"
    body = "\n".join(f"  - {line}" for line in lines)
    raise ScenarioError(f"{label}: invalid scenario, {len(lines)} {noun}:\n{body}")


# ---------------------------------------------------------------------------------------------
# Turning pydantic errors into path: what (got value); fix


def _unwrap(annotation: Any, discriminator: str | None = None) -> tuple[Any, str | None]:
    """Strip Annotated and Optional layers, noting a discriminator found on the way."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *meta = get_args(annotation)
            for item in meta:
                if isinstance(item, FieldInfo) and isinstance(item.discriminator, str):
                    discriminator = item.discriminator
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, discriminator
            annotation = members[0]
        else:
            return annotation, discriminator


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    return list(get_args(annotation)) if origin in (Union, types.UnionType) else [annotation]


def _tags(annotation: Any, discriminator: str) -> list[str]:
    tags: list[str] = []
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            tags += list(get_args(member.model_fields[discriminator].annotation))
    return tags


def _walk(loc: tuple[Any, ...]) -> tuple[str, Any, Any, str | None]:
    """Follow ``loc`` through the schema.

    Returns the readable path (``designs[0].batching.max_batch``, discriminator tags dropped),
    the annotation reached, the model class holding the last entry, and the discriminator of a
    union reached at the end (or None).
    """
    path = ""
    annotation: Any = Scenario
    parent: Any = None
    discriminator: str | None = None
    for item in loc:
        if discriminator is not None and isinstance(item, str):
            chosen = [m for m in _members(annotation) if item in _tags(m, discriminator)]
            annotation, discriminator = (chosen[0] if chosen else None), None
            continue
        if isinstance(item, int):
            path += f"[{item}]"
            origin = get_origin(annotation)
            if origin in (list, tuple) and get_args(annotation):
                annotation, discriminator = _unwrap(get_args(annotation)[0])
            else:
                annotation = None
            continue
        path += f".{item}" if path else str(item)
        parent = annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and \
                item in annotation.model_fields:
            info = annotation.model_fields[item]
            found = info.discriminator if isinstance(info.discriminator, str) else None
            annotation, discriminator = _unwrap(info.annotation, found)
        else:
            annotation = None
    return path, annotation, parent, discriminator


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _join(path: str, field: str) -> str:
    if not field:
        return path or "<top level>"
    if not path:
        return field.lstrip(".")
    return path + field if field.startswith("[") else f"{path}.{field}"


def _format_error(err: Mapping[str, Any]) -> list[str]:
    """Turn one pydantic error dict into ``path: what (got value); fix`` lines."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    path, annotation, parent, discriminator = _walk(tuple(err["loc"]))
    if kind == _PROBLEM:
        return [f"{_join(path, field)}: {text}" for field, text in ctx["problems"]]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", discriminator or "kind")).strip("'")
        tags = ", ".join(repr(t) for t in _tags(annotation, disc)) if annotation else ""
        tags = tags or str(ctx.get("expected_tags", ""))
        if kind == "union_tag_not_found":
            return [f"{_join(path, disc)}: is missing; add {disc}: one of {tags}"]
        return [f"{_join(path, disc)}: unknown {disc} (got {ctx.get('tag')!r}); use one of "
                f"{tags}"]
    if kind == "missing":
        return [f"{path}: is required but missing; add it"]
    if kind == "extra_forbidden":
        allowed = list(parent.model_fields) if isinstance(parent, type) else []
        allowed = [a for a in allowed if a != "source_path"]
        name = path.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return [f"{path}: unknown field (got {name}: {_got(value)}); {hint}remove it; allowed "
                f"fields: {', '.join(allowed)}"]
    if kind in _EXPLAIN:
        what, fix = _EXPLAIN[kind]
        safe = {key: _fmt(val) for key, val in ctx.items()}
        return [f"{path}: {what.format(**safe)} (got {_got(value)}); {fix.format(**safe)}"]
    message = str(err.get("msg", kind)).removeprefix("Value error, ")
    return [f"{path or '<top level>'}: {message} (got {_got(value)}); see the scenario schema in "
            "planner/schema.py"]


_NUMBER = ("must be a number", "write a number such as 1.5")
_INTEGER = ("must be a whole number", "write an integer such as 8")
_BOOL = ("must be true or false", "write true or false")
_LIST = ("must be a list", "write a YAML list (lines starting with '- ')")
_MAPPING = ("must be a mapping of fields", "write 'field: value' lines under it")
_EXPLAIN = {  # pydantic error type -> (what is wrong, fix), formatted with the error's ctx
    "greater_than": ("must be > {gt}", "use a value above {gt}"),
    "greater_than_equal": ("must be >= {ge}", "use {ge} or more"),
    "less_than": ("must be < {lt}", "use a value below {lt}"),
    "less_than_equal": ("must be <= {le}", "use {le} or less"),
    "literal_error": ("must be one of {expected}", "use one of {expected}"),
    "too_short": ("needs at least {min_length} item(s)", "add items"),
    "too_long": ("allows at most {max_length} item(s)", "remove items"),
    "string_too_short": ("must not be empty", "write a value"),
    "string_too_long": ("is too long", "use at most {max_length} characters"),
    "int_from_float": ("must be a whole number", "drop the fractional part"),
    "int_parsing": _INTEGER, "int_type": _INTEGER,
    "float_parsing": _NUMBER, "float_type": _NUMBER,
    "finite_number": ("must be a finite number", "write a finite number"),
    "bool_parsing": _BOOL, "bool_type": _BOOL,
    "string_type": ("must be a string", "quote the value"),
    "list_type": _LIST, "tuple_type": _LIST,
    "model_type": _MAPPING, "model_attributes_type": _MAPPING, "dict_type": _MAPPING,
}


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
