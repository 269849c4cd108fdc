"""Scenario schema of a design-space sweep: which design to vary, over which values, under which
constraints.  Attached to a scenario as its optional ``sweep:`` field (:class:`Sweep`).

A sweep varies one *base* design of the scenario.  Each entry of ``parameters`` maps a dotted
path into that design (``fleet.nodes``, ``batching.max_wait_ms``, ``fleet.autoscaling.target``,
``window_s``, ``checkpoint.interval_s`` ...) to the values it takes::

    sweep:
      design: realtime-base          # the base design (a name under designs:)
      mode: grid                     # grid (every combination) or random (samples points)
      parameters:
        fleet.instance: ["aws:g5.xlarge", "aws:g6.xlarge"]       # a list is values: [...]
        fleet.nodes: {range: {start: 1, stop: 6, step: 1}}       # stop is inclusive
        batching.max_wait_ms: {values: [1, 5, 20]}
      constraints: {slo: true, budget_usd_per_month: 5000}

``mode: random`` draws ``samples`` points (seeded by ``seed``, default the scenario's seed);
there a parameter may also be ``{low: 0.5, high: 20, log: true}`` (uniform, or log-uniform;
whole numbers when ``low`` and ``high`` are, or with ``integer: true``).  Two pseudo-paths
exist: ``fleet.spot_share`` (fraction of a spot fleet's initial nodes that are spot, which sets
``fleet.on_demand_base``), and a value that is a mapping may set several paths at once under
a parameter named ``variant`` or any name starting with ``variant.`` (e.g. ``on_demand`` vs
``spot`` with its ``fleet.spot`` block).

Validation of the sweep's own grammar happens here; whether the paths exist in the base design,
and whether each point is a valid design, is checked by :mod:`planner.sweep.points` (a point
that breaks the design schema is *skipped* with its reason, never a crash).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from planner.schema_base import Name, _Frozen
from planner.schema_errors import problem

__all__ = [
    "MAX_POINTS",
    "SPOT_SHARE",
    "GridRange",
    "RandomRange",
    "Sweep",
    "SweepConstraints",
    "SweepParameter",
    "is_variant",
]

MAX_POINTS = 1_000_000
"""Most points one sweep may plan (a guard against a typo in a step)."""

MAX_SWEEP_VALUE = 1e15
"""Largest magnitude of a range's bounds (every design field's own limit is smaller): ranges
stay exact in float64, and their point counts finite."""

SPOT_SHARE = "fleet.spot_share"
"""Pseudo-path: the fraction of a spot fleet's initial nodes that are spot (0..1)."""

Scalar = bool | int | float | str | None


def is_variant(path: str) -> bool:
    """Whether ``path`` names a variant parameter (values are mappings of paths to values)."""
    return path == "variant" or path.startswith("variant.")


class GridRange(_Frozen):
    """Evenly spaced values ``start, start + step, ...`` up to and including ``stop`` (when a
    whole number of steps reaches it).  Whole numbers when ``start`` and ``step`` are."""

    start: float = Field(ge=-MAX_SWEEP_VALUE, le=MAX_SWEEP_VALUE)
    stop: float = Field(ge=-MAX_SWEEP_VALUE, le=MAX_SWEEP_VALUE)
    step: float = Field(ge=1e-12, le=2 * MAX_SWEEP_VALUE)

    def values(self) -> list[float | int]:
        """Return the grid's values, in increasing order."""
        n = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        whole = float(self.start).is_integer() and float(self.step).is_integer()
        out: list[float | int] = []
        for i in range(n):
            value = self.start + i * self.step
            out.append(int(round(value)) if whole else round(value, 12))
        return out

    @model_validator(mode="after")
    def _check_order(self) -> GridRange:
        if self.stop < self.start:
            raise problem(("stop", f"must be >= start (got stop {self.stop:g} < start "
                                   f"{self.start:g}); swap them or raise stop"))
        n = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
        if n > MAX_POINTS:
            raise problem(("step", f"gives {n:,} values (more than {MAX_POINTS:,}); use a "
                                   "larger step"))
        return self


class RandomRange(_Frozen):
    """Values drawn uniformly from ``[low, high]`` (log-uniformly with ``log: true``), for
    ``mode: random``.  ``integer`` (default: ``low`` and ``high`` are whole numbers) rounds each
    draw to a whole number."""

    low: float = Field(ge=-MAX_SWEEP_VALUE, le=MAX_SWEEP_VALUE)
    high: float = Field(ge=-MAX_SWEEP_VALUE, le=MAX_SWEEP_VALUE)
    log: bool = False
    integer: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_integer(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("integer") is None:
            low, high = data.get("low"), data.get("high")
            data = {**data, "integer": isinstance(low, int) and isinstance(high, int)
                    and not isinstance(low, bool) and not isinstance(high, bool)}
        return data

    @model_validator(mode="after")
    def _check_bounds(self) -> RandomRange:
        if self.high < self.low:
            raise problem(("high", f"must be >= low (got high {self.high:g} < low "
                                   f"{self.low:g}); swap them"))
        if self.log and self.low <= 0:
            raise problem(("low", f"must be > 0 with log: true (got {self.low:g}); use a "
                                  "positive low or log: false"))
        return self


class SweepParameter(_Frozen):
    """The values of one swept parameter: exactly one of ``values``, ``range`` (a grid) or
    ``low``/``high`` (random sampling; see :class:`RandomRange`)."""

    values: tuple[Any, ...] | None = None
    range: GridRange | None = None
    low: float | None = Field(default=None, ge=-MAX_SWEEP_VALUE, le=MAX_SWEEP_VALUE)
    high: float | None = Field(default=None, ge=-MAX_SWEEP_VALUE, le=MAX_SWEEP_VALUE)
    log: bool = False
    integer: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, (list, tuple)):
            return {"values": list(data)}
        if isinstance(data, Mapping) and isinstance(data.get("range"), Mapping) and \
                ("low" in data["range"] or "high" in data["range"]):
            return {**{k: v for k, v in data.items() if k != "range"}, **data["range"]}
        return data

    @model_validator(mode="after")
    def _one_way(self) -> SweepParameter:
        ways = [w for w, on in (("values", self.values is not None),
                                ("range", self.range is not None),
                                ("low/high", self.low is not None or self.high is not None))
                if on]
        if len(ways) != 1:
            raise problem(("", f"give exactly one of values: [...], range: {{start, stop, "
                               f"step}} or low/high (got {', '.join(ways) or 'none'}); e.g. "
                               "values: [1, 2, 4]"))
        if self.values is not None:
            if not self.values:
                raise problem(("values", "needs at least one value (got []); list the values "
                                         "to try"))
            for i, value in enumerate(self.values):
                if isinstance(value, float) and not math.isfinite(value):
                    raise problem((f"values[{i}]", f"must be finite (got {value}); write a "
                                                   "finite number"))
        if (self.low is None) != (self.high is None):
            raise problem(("high" if self.high is None else "low", "give both low and high "
                           f"(got low {self.low}, high {self.high}); add the missing bound"))
        if self.low is not None:
            self.random_range()  # checks bounds
        return self

    def random_range(self) -> RandomRange | None:
        """Return the ``low``/``high`` sampling range, or None."""
        if self.low is None or self.high is None:
            return None
        data: dict[str, Any] = {"low": self.low, "high": self.high, "log": self.log,
                                "integer": self.integer}
        if self.integer is None:
            data["integer"] = float(self.low).is_integer() and float(self.high).is_integer()
        return RandomRange.model_validate(data)

    def grid_values(self) -> list[Any] | None:
        """Return the values of a list or grid parameter, or None for a sampling range."""
        if self.values is not None:
            return list(self.values)
        if self.range is not None:
            return self.range.values()
        return None


class SweepConstraints(_Frozen):
    """What a feasible point must satisfy: meet the workload's SLO (``slo``), and cost at most
    ``budget_usd_per_month`` (an unknown or incomplete cost is never feasible)."""

    slo: bool = True
    budget_usd_per_month: float | None = Field(default=None, gt=0)


class Sweep(_Frozen):
    """A design-space sweep of one base design (see the module docstring for the grammar)."""

    design: Name
    mode: Literal["grid", "random"] = "grid"
    samples: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    parameters: dict[str, SweepParameter]
    constraints: SweepConstraints = SweepConstraints()

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: dict[str, SweepParameter]) -> dict[str, SweepParameter]:
        if not value:
            raise problem(("", "needs at least one parameter (got {}); e.g. parameters: "
                               "{fleet.nodes: [1, 2, 4]}"))
        for path, spec in value.items():
            parts = path.split(".")
            if not path or any(not p or not p.replace("_", "").isalnum() for p in parts):
                raise problem((f"{path}", f"is not a dotted field path (got {path!r}); write "
                                          "e.g. fleet.nodes or batching.max_wait_ms"))
            if is_variant(path):
                for i, option in enumerate(spec.values or ()):
                    if not isinstance(option, Mapping) or not option:
                        raise problem((f"{path}.values[{i}]", "a variant is a mapping of "
                                       f"paths to values (got {option!r}); write e.g. "
                                       "{fleet.purchase: on_demand}"))
                if spec.values is None:
                    raise problem((f"{path}", "a variant parameter needs values: [...] of "
                                              "mappings (got a range); list the variants"))
        return value

    @model_validator(mode="after")
    def _check_mode(self) -> Sweep:
        problems: list[tuple[str, str]] = []
        if self.mode == "grid":
            if self.samples is not None:
                problems.append(("samples", f"applies to mode: random (got samples "
                                            f"{self.samples} with mode: grid); remove it or set "
                                            "mode: random"))
            for path, spec in self.parameters.items():
                if spec.random_range() is not None:
                    problems.append((f"parameters.{path}", f"low/high sampling needs mode: "
                                     f"random (got low {spec.low:g}, high {spec.high:g} in a "
                                     "grid); use range: {start, stop, step} or set mode: "
                                     "random"))
            n = 1
            for spec in self.parameters.values():
                n *= len(spec.grid_values() or ())
            if n > MAX_POINTS:
                problems.append(("parameters", f"the grid has {n:,} points (more than "
                                               f"{MAX_POINTS:,}); use fewer values or mode: "
                                               "random"))
        elif self.samples is None:
            problems.append(("samples", "is required with mode: random (got none); add e.g. "
                                        "samples: 100"))
        if problems:
            raise problem(*problems)
        return self
