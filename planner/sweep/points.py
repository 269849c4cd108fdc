"""Sweep points: the base design with parameters applied, in a deterministic order.

:func:`plan_sweep` turns a scenario's ``sweep:`` into :class:`SweepPoint` objects.  Grid points
follow the parameters' declaration order (the last varies fastest, like nested loops); random
points follow their draw order, duplicates dropped.  A point's id is a hash of its parameter
values alone, so the same design gets the same id (and the same seed) in every run, whatever
other points the sweep holds; its seed is derived from ``(scenario seed, point id)``.

A point whose design breaks the design schema is planned as *skipped* with the validation
message as its reason; a sweep spec that cannot work at all (unknown design, a path the base
design lacks, an SLO constraint on a workload without an SLO, an instance that the price catalog
does not know and the scenario does not price, named by the sweep value that sets it) raises
:class:`ScenarioError`.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodels.catalog import PriceCatalog
from costmodels.price_cache import default_catalog
from domain.errors import ScenarioError
from planner.inputs import instance_problem
from planner.inputs_billing import BillingRates, load_billing_rates
from planner.schema import Scenario, parse_scenario
from planner.schema_sweep import SPOT_SHARE, Sweep, is_variant

__all__ = ["SweepPlan", "SweepPoint", "apply_parameters", "plan_sweep", "point_id",
           "point_seed", "scenario_data"]


@dataclass(frozen=True)
class SweepPoint:
    """One design of a sweep.

    ``design`` is the design's data (the base with ``params`` applied) or None when the
    combination is invalid, in which case ``status`` is ``"skipped"`` and ``reason`` says why.
    """

    index: int
    point_id: str
    params: dict[str, Any]
    seed: int
    design: dict[str, Any] | None
    status: str = "planned"
    reason: str | None = None


@dataclass(frozen=True)
class SweepPlan:
    """Every point of a sweep, with what they share: the scenario data without designs."""

    sweep: Sweep
    base_design: str
    points: tuple[SweepPoint, ...]
    scenario_data: dict[str, Any]
    """The validated scenario as JSON data, without ``sweep`` and ``source_path``, holding only
    the base design and its workload (each point replaces the design)."""

    @property
    def runnable(self) -> list[SweepPoint]:
        """Return the points that passed validation."""
        return [p for p in self.points if p.status == "planned"]


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def point_id(params: Mapping[str, Any]) -> str:
    """Return the stable id of a point: 12 hex digits of a hash of its parameter values.

    Whole floats hash as integers (``2.0`` and ``2`` are the same point); key order does not
    matter.
    """
    text = json.dumps(_canonical(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def point_seed(scenario_seed: int, pid: str) -> int:
    """Return the seed of point ``pid``: a hash of ``(scenario seed, point id)``, < 2**63."""
    digest = hashlib.sha256(f"{int(scenario_seed)}:{pid}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """Return the scenario as JSON data without ``sweep`` and ``source_path``."""
    return scenario.model_dump(mode="json", exclude={"sweep", "source_path"})


def _set(data: dict[str, Any], path: str, value: Any, *, create: bool) -> None:
    parts = path.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            where = ".".join(parts[:depth + 1])
            if nxt is None and create:
                nxt = {}
                node[part] = nxt
            else:
                raise KeyError(f"{where} is not set in the base design (got {nxt!r}); add "
                               f"{where}: to the base design so that {path} can vary")
        node = nxt
    if not isinstance(node, dict) or (not create and parts[-1] not in node):
        known = sorted(node) if isinstance(node, dict) else []
        close = difflib.get_close_matches(parts[-1], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"{path} is not a field of the base design{hint}; fields here: "
                       f"{', '.join(known)}")
    node[parts[-1]] = copy.deepcopy(value)


def apply_parameters(design: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``design`` (JSON data) with ``params`` applied.

    Variant parameters set each path of their mapping (creating missing parents); the
    pseudo-path ``fleet.spot_share`` is applied last, as ``fleet.on_demand_base = nodes -
    round(share * nodes)``.

    Raises
    ------
    KeyError
        A path the design lacks (the message names it and the fix).
    ValueError
        A ``fleet.spot_share`` outside 0..1 or on a fleet that is not ``purchase: spot``.
    """
    out = copy.deepcopy(dict(design))
    share = None
    for path, value in params.items():
        if path == SPOT_SHARE:
            share = value
        elif is_variant(path):
            for sub_path, sub_value in value.items():
                _set(out, str(sub_path), sub_value, create=True)
        else:
            _set(out, path, value, create=False)
    if share is not None:
        fleet = out.get("fleet") or {}
        if not isinstance(share, (int, float)) or isinstance(share, bool) or \
                not 0 <= share <= 1:
            raise ValueError(f"{SPOT_SHARE} must be a fraction in 0..1 (got {share!r}); use "
                             "e.g. 0.5")
        if fleet.get("purchase") != "spot":
            raise ValueError(f"{SPOT_SHARE} needs fleet.purchase: spot (got purchase: "
                             f"{fleet.get('purchase')}); set purchase: spot in the base design")
        nodes = int(fleet["nodes"])
        fleet["on_demand_base"] = nodes - int(round(share * nodes))
    return out


def _round_sig(value: float, digits: int = 6) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def _draw(spec, rng: np.random.Generator) -> Any:
    values = spec.grid_values()
    if values is not None:
        return values[int(rng.integers(len(values)))]
    r = spec.random_range()
    u = float(rng.random())
    if r.log:
        value = math.exp(math.log(r.low) + u * (math.log(r.high) - math.log(r.low)))
    else:
        value = r.low + u * (r.high - r.low)
    if r.integer:
        return int(min(max(round(value), math.ceil(r.low)), math.floor(r.high)))
    return _round_sig(value)


def _parameter_sets(sweep: Sweep, scenario_seed: int) -> list[dict[str, Any]]:
    names = list(sweep.parameters)
    if sweep.mode == "grid":
        grids = [sweep.parameters[n].grid_values() for n in names]
        return [dict(zip(names, combo)) for combo in itertools.product(*grids)]
    rng = np.random.default_rng(sweep.seed if sweep.seed is not None else scenario_seed)
    return [{n: _draw(sweep.parameters[n], rng) for n in names} for _ in range(sweep.samples)]


def _check_spec(scenario: Scenario, label: str) -> tuple[Sweep, Any]:
    sweep = scenario.sweep
    if sweep is None:
        raise ScenarioError(f"{label}: has no sweep: section; add sweep: {{design: NAME, "
                            "parameters: {fleet.nodes: [1, 2, 4]}}")
    names = [d.name for d in scenario.designs]
    if sweep.design not in names:
        close = difflib.get_close_matches(sweep.design, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScenarioError(f"{label}: sweep.design: {sweep.design!r} is not a design of this "
                            f"scenario (designs: {', '.join(names)}); use one of those "
                            f"names{hint}")
    base = scenario.design(sweep.design)
    if sweep.constraints.slo and scenario.workload(base.workload).slo is None:
        raise ScenarioError(f"{label}: sweep.constraints.slo: workload {base.workload!r} has "
                            "no SLO (got slo: true); add slo: to the workload or set "
                            "constraints: {slo: false}")
    return sweep, base


def plan_sweep(scenario: Scenario, *, catalog: PriceCatalog | None = None) -> SweepPlan:
    """Return every point of ``scenario.sweep``, validated, in a deterministic order.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with a ``sweep:`` section.
    catalog : PriceCatalog, optional
        The catalog the points are priced from, whose instances they may use (default
        :func:`costmodels.price_cache.default_catalog`, what :func:`planner.sweep.run_sweep`
        uses by default).

    Raises
    ------
    ScenarioError
        No sweep, an unknown base design, a path the base design lacks, an SLO constraint
        on a workload without an SLO, or an instance nobody prices
        (:func:`planner.inputs.instance_problem`), named by the sweep value that sets it.
    """
    label = scenario.source_path or "<scenario>"
    sweep, base = _check_spec(scenario, label)
    data = scenario_data(scenario)
    base_data = next(d for d in data["designs"] if d["name"] == base.name)
    data["designs"] = [base_data]
    data["workloads"] = [w for w in data["workloads"] if w["name"] == base.workload]
    problems = []
    first = _parameter_sets(sweep, scenario.seed)[:1] if sweep.mode == "grid" else []
    for path, spec in sweep.parameters.items():  # paths must exist whatever the values
        if path == SPOT_SHARE or is_variant(path):
            continue
        sample = (first[0][path] if first else (spec.grid_values() or [spec.low])[0])
        try:
            _set(copy.deepcopy(base_data), path, sample, create=False)
        except KeyError as exc:
            problems.append(f"sweep.parameters.{path}: {exc.args[0]}")
    if problems:
        body = "\n".join(f"  - {p}" for p in problems)
        raise ScenarioError(f"{label}: invalid sweep, {len(problems)} problem(s):\n{body}")

    points: list[SweepPoint] = []
    fleets: dict[tuple[str, str, str | None], str] = {}  # (path, instance, region) -> purchase
    bad_values: list[str] = []  # malformed instance keys among the sweep's values
    seen: set[str] = set()
    for params in _parameter_sets(sweep, scenario.seed):
        pid = point_id(params)
        if pid in seen:
            continue
        seen.add(pid)
        seed = point_seed(scenario.seed, pid)
        index = len(points)
        try:
            design = apply_parameters(base_data, params)
            design["name"] = base.name
            fleet = check_point(data, design, seed).designs[0].fleet
        except (KeyError, ValueError) as exc:
            points.append(SweepPoint(index, pid, params, seed, None, "skipped", exc.args[0]))
            continue
        except ScenarioError as exc:
            source = _instance_source(params)
            malformed = [line.strip().removeprefix("- ").replace(_POINT_INSTANCE, source, 1)
                         for line in str(exc).splitlines()[1:]
                         if source and line.strip().startswith(f"- {_POINT_INSTANCE}:")]
            if malformed:  # a typo in the sweep's values, not an invalid combination
                bad_values += [m for m in malformed if m not in bad_values]
                continue
            reason = str(exc).split("\n", 1)[-1].strip().removeprefix("- ")
            points.append(SweepPoint(index, pid, params, seed, None, "skipped",
                                     " ".join(reason.split())))
            continue
        points.append(SweepPoint(index, pid, params, seed, design))
        path = _instance_source(params) or \
            f"designs[{scenario.designs.index(base)}].fleet.instance"
        fleets.setdefault((path, fleet.instance, fleet.region),
                          getattr(fleet, "purchase", "on_demand"))
    problems = bad_values + _instance_problems(scenario, fleets, catalog)
    if problems:
        body = "\n".join(f"  - {p}" for p in problems)
        raise ScenarioError(f"{label}: invalid sweep, {len(problems)} problem(s):\n{body}")
    return SweepPlan(sweep=sweep, base_design=base.name, points=tuple(points),
                     scenario_data=data)


_POINT_INSTANCE = "designs[0].fleet.instance"
"""Where a point's instance is in its one-design scenario (:func:`check_point`)."""


def _instance_source(params: Mapping[str, Any]) -> str | None:
    """Return the sweep parameter that sets a point's ``fleet.instance`` (None: the base's)."""
    for path, value in params.items():
        sets_instance = path == "fleet.instance" or (
            is_variant(path) and isinstance(value, Mapping) and (
                "fleet.instance" in value
                or isinstance(value.get("fleet"), Mapping) and "instance" in value["fleet"]))
        if sets_instance:
            return f"sweep.parameters.{path}"
    return None


def _instance_problems(scenario: Scenario, fleets: Mapping[tuple[str, str, str | None], str],
                       catalog: PriceCatalog | None) -> list[str]:
    """Return a problem line for each distinct point instance nobody can price.

    The billing exports of ``pricing: {source: billing}`` are read only when the catalog and
    the effective rates leave an instance unpriced; if they cannot be read, the run reports
    that (here the instances they might price are not judged).
    """
    if not fleets:
        return []
    catalog = catalog if catalog is not None else default_catalog()
    billing: BillingRates | None = None
    problems: list[str] = []
    for (path, instance, region), purchase in fleets.items():
        found = instance_problem(instance, region, catalog=catalog, pricing=scenario.pricing,
                                 billing=None, purchase=purchase, field_path=path)
        if found is not None and scenario.pricing.source == "billing":
            try:
                billing = billing or load_billing_rates(scenario.pricing)
            except ScenarioError:
                return []
            found = instance_problem(instance, region, catalog=catalog,
                                     pricing=scenario.pricing, billing=billing,
                                     purchase=purchase, field_path=path)
        if found is not None:
            problems.append(found)
    return problems


def point_scenario_data(data: Mapping[str, Any], design: Mapping[str, Any],
                        seed: int) -> dict[str, Any]:
    """Return the one-design scenario data of a point (the shared data, its design, its seed)."""
    return {**data, "designs": [dict(design)], "seed": int(seed)}


def check_point(data: Mapping[str, Any], design: Mapping[str, Any], seed: int) -> Scenario:
    """Validate a point's one-design scenario (raises :class:`ScenarioError`)."""
    return parse_scenario(point_scenario_data(data, design, seed), source="sweep point")
