"""Run a scenario's sweep: plan the points, run the missing ones, analyse, test the choice.

:func:`run_sweep` is the library entry point behind ``planner sweep``.  Finished points are
appended to the output folder as they end (:mod:`planner.sweep.store`), so an interrupted sweep
resumes where it stopped.  After the points, the cheapest feasible point is re-run with the
arrival rate x0.8 and x1.2 and, on spot, the interruption rate x0.5 and x2 (same seed, so the
comparison uses common random numbers).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costmodels.catalog import PriceCatalog
from costmodels.price_cache import default_catalog
from domain.errors import PlannerError
from planner.schema import Scenario
from planner.schema_sweep import SweepConstraints
from planner.sweep import analysis
from planner.sweep.analysis import Row, SensitivityCase
from planner.sweep.executors import Executor, LocalExecutor
from planner.sweep.points import SweepPlan, SweepPoint, check_point, plan_sweep
from planner.sweep.runner import PointTask, SweepJob, _fingerprint, build_job
from planner.sweep.store import SweepStore

__all__ = ["ARRIVAL_FACTORS", "SCHEMA_VERSION", "SPOT_FACTORS", "SweepResult", "default_output",
           "run_sweep"]

SCHEMA_VERSION = 2
"""Version of the sweep's JSON (``planner sweep --format json``, ``kind: sweep``); its JSON
Schema is ``planner schema sweep``. 2: ``notes`` (what reading the output folder reported, e.g. a
damaged line of ``points.jsonl`` skipped and run again)."""
ARRIVAL_FACTORS = (0.8, 1.2)
SPOT_FACTORS = (0.5, 2.0)
SweepProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepResult:
    """Every point of a sweep (ordered by plan index, skipped ones included) and what they say."""

    scenario: dict[str, Any]
    base_design: str
    mode: str
    constraints: SweepConstraints
    slo: dict[str, float | None] | None
    rows: tuple[Row, ...]
    n_ran: int
    n_resumed: int
    executor: str
    workers: int
    wall_s: float
    output: str
    fingerprint: str
    catalog: str
    catalog_as_of: str | None
    sensitivity: tuple[SensitivityCase, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    """What reading the output folder back skipped (a torn or damaged line), for stderr."""

    def pareto(self, axis: str = "latency") -> list[Row]:
        """Return the Pareto front of cost against ``latency`` or ``attainment``."""
        return analysis.pareto_front(self.rows, axis=axis)

    def cheapest(self) -> Row | None:
        """Return the cheapest point meeting every constraint, or None."""
        return analysis.cheapest_feasible(self.rows, self.constraints)

    def is_feasible(self, row: Row) -> bool:
        """Return whether ``row`` meets every constraint."""
        return analysis.feasible(row, self.constraints)

    def counts(self) -> dict[str, int]:
        """Return how many points are ok, feasible, skipped and failed."""
        status = [r.get("status") for r in self.rows]
        return {"points": len(self.rows), "ok": status.count("ok"),
                "feasible": sum(self.is_feasible(r) for r in self.rows),
                "skipped": status.count("skipped"), "error": status.count("error"),
                "ran_now": self.n_ran, "resumed": self.n_resumed}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form of the sweep."""
        best = self.cheapest()
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "sweep",
            "scenario": self.scenario,
            "base_design": self.base_design,
            "mode": self.mode,
            "constraints": self.constraints.model_dump(),
            "slo": self.slo,
            "counts": self.counts(),
            "executor": self.executor,
            "workers": self.workers,
            "wall_s": self.wall_s,
            "output": self.output,
            "fingerprint": self.fingerprint,
            "price_catalog": self.catalog,
            "price_catalog_as_of": self.catalog_as_of,
            "cheapest_feasible": best,
            "pareto_latency": [r["point_id"] for r in self.pareto("latency")],
            "pareto_attainment": [r["point_id"] for r in self.pareto("attainment")],
            "sensitivity": [{"case": c.case, "factor": c.factor, "note": c.note,
                             "row": c.row,
                             "meets_constraints": None if c.row is None
                             else self.is_feasible(c.row)} for c in self.sensitivity],
            "points": [{**r, "feasible": self.is_feasible(r)} for r in self.rows],
            "notes": list(self.notes),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON (NaN and inf become null)."""
        from planner.results import json_ready

        return json.dumps(json_ready(self.to_dict()), indent=indent)


def default_output(scenario: Scenario, fingerprint: str) -> Path:
    """Return the default output folder: ``.planner-sweeps/<scenario>-<fingerprint[:8]>``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in scenario.name)
    return Path(".planner-sweeps") / f"{safe}-{fingerprint[:8]}"


def _skipped_row(point: SweepPoint) -> Row:
    return {"point_id": point.point_id, "index": point.index, "params": point.params,
            "seed": point.seed, "status": "skipped", "error": point.reason, "metrics": None,
            "slo_ms": None, "meets_slo": None, "cost_incomplete": None,
            "usd_per_month_half_width": None, "kernel_s": None,
            "wall_s": 0.0}


def _run_points(plan: SweepPlan, job: SweepJob, store: SweepStore, executor: Executor,
                progress: SweepProgress | None) -> tuple[int, int]:
    """Run the runnable points not yet in ``store``, appending each row as it ends.

    Returns (points run now, points resumed from the store).
    """
    runnable = plan.runnable
    todo = [PointTask.of(p) for p in runnable if p.point_id not in store.rows]
    done = len(runnable) - len(todo)
    n_resumed = done
    n_ran = 0
    if progress is not None:
        progress(done, len(runnable))
    if todo:
        for row in executor.map(job, todo):
            store.append(row)
            n_ran += 1
            done += 1
            if progress is not None:
                progress(done, len(runnable))
    return n_ran, n_resumed


def _slo(scenario: Scenario, plan: SweepPlan) -> dict[str, float | None] | None:
    """The base design's workload SLO (percentile, latency and, for LLM workloads, TTFT and
    TPOT bounds; None where not set), or None."""
    slo = scenario.workload(scenario.design(plan.base_design).workload).slo
    if slo is None:
        return None
    return {"percentile": slo.percentile, "latency_ms": slo.latency_ms,
            "ttft_ms": getattr(slo, "ttft_ms", None), "tpot_ms": getattr(slo, "tpot_ms", None)}


def run_sweep(
    scenario: Scenario,
    *,
    executor: Executor | None = None,
    output: str | Path | None = None,
    resume: bool = True,
    catalog: PriceCatalog | None = None,
    progress: SweepProgress | None = None,
    sensitivity: bool = True,
    measure_kernels: bool = False,
) -> SweepResult:
    """Run every point of ``scenario.sweep`` not already in ``output`` and analyse them all.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario with a ``sweep:`` section.
    executor : Executor, optional
        Where points run (default: a :class:`LocalExecutor` over every core, closed after).
    output : path, optional
        The results folder (default :func:`default_output`).
    resume : bool
        Keep the points already in ``output`` and run only the others; False starts over.
    catalog : PriceCatalog, optional
        Prices (default: :func:`costmodels.price_cache.default_catalog`, chosen once here and
        sent to every worker).
    progress : callable, optional
        ``progress(done, total)`` over the runnable points (resumed ones count as done).
    sensitivity : bool
        Re-run the cheapest feasible point under perturbed arrival and interruption rates.
    measure_kernels : bool
        Time the compiled kernels inside each point (rows get ``kernel_s``).

    Raises
    ------
    ScenarioError
        A bad sweep spec or unreadable data file.
    planner.sweep.datafiles.DataFileChanged
        A data file edited, replaced or removed while the sweep ran (the finished points are
        kept; rerunning makes a new sweep).
    PlannerError
        An output folder that cannot be written, holds another sweep, or is being written by
        another process (the message names its pid).
    """
    started = time.perf_counter()
    label = scenario.source_path or "<scenario>"
    catalog = catalog if catalog is not None else default_catalog()
    plan = plan_sweep(scenario, catalog=catalog)
    job = build_job(plan, catalog, label=label, measure_kernels=measure_kernels)
    folder = Path(output) if output is not None else default_output(scenario, job.key)
    manifest = {"scenario": scenario.name, "source_path": scenario.source_path,
                "fingerprint": job.key, "base_design": plan.base_design}
    owned = executor is None
    executor = executor if executor is not None else LocalExecutor()
    try:
        with SweepStore.open(folder, manifest, resume=resume) as store:
            n_ran, n_resumed = _run_points(plan, job, store, executor, progress)
            rows = tuple(store.rows[p.point_id] if p.status == "planned" else _skipped_row(p)
                         for p in plan.points)
            notes = tuple(store.notes)
        result = SweepResult(
            scenario={"name": scenario.name, "path": scenario.source_path,
                      "horizon_s": scenario.horizon_s, "replications": scenario.replications,
                      "seed": scenario.seed},
            base_design=plan.base_design, mode=plan.sweep.mode,
            constraints=plan.sweep.constraints, slo=_slo(scenario, plan),
            rows=rows, n_ran=n_ran, n_resumed=n_resumed, executor=executor.name,
            workers=executor.workers, wall_s=0.0, output=str(folder), fingerprint=job.key,
            catalog=catalog.label, catalog_as_of=catalog.as_of, notes=notes)
        cases: tuple[SensitivityCase, ...] = ()
        best = result.cheapest()
        if sensitivity and best is not None:
            cases = tuple(_sensitivity(plan, job, plan.points[best["index"]], executor))
    finally:
        if owned:
            executor.close()
    return _replace(result, sensitivity=cases, wall_s=time.perf_counter() - started)


def _replace(result: SweepResult, **changes: Any) -> SweepResult:
    from dataclasses import replace

    return replace(result, **changes)


# ------------------------------------------------------------------------------ sensitivity

def _scale_arrivals(arrivals: dict[str, Any], factor: float) -> dict[str, Any] | None:
    out = dict(arrivals)
    kind = arrivals.get("kind")
    if kind == "poisson":
        out["rate_rps"] = arrivals["rate_rps"] * factor
    elif kind == "diurnal":
        out["mean_rate_rps"] = arrivals["mean_rate_rps"] * factor
    elif kind == "trace":
        out["time_scale"] = arrivals.get("time_scale", 1.0) / factor
    else:
        return None
    return out


def _spot_rate(plan: SweepPlan, job: SweepJob, point: SweepPoint) -> tuple[float | None, str]:
    """Return the point's spot interruption rate (1/node-hour) and how it is given."""
    interruptions = ((point.design or {}).get("fleet") or {}).get("spot") or {}
    interruptions = interruptions.get("interruptions") or {}
    kind = interruptions.get("kind")
    if kind == "rate":
        return float(interruptions["per_node_hour"]), "rate"
    if kind == "advisor":
        from costmodels.spot_advisor import rate_per_node_hour

        band = interruptions.get("band")
        if band is None:
            from planner.inputs import load_scenario_inputs

            scenario = check_point(plan.scenario_data, point.design, point.seed)
            band = load_scenario_inputs(scenario).spot_advice[point.design["name"]].band
        return rate_per_node_hour(band, plan.scenario_data["pricing"]["hours_per_month"]), \
            f"advisor band {band}"
    return None, str(kind)


def _sensitivity(plan: SweepPlan, job: SweepJob, point: SweepPoint,
                 executor: Executor) -> list[SensitivityCase]:
    """Re-run ``point`` with arrival rate x0.8/x1.2 and spot interruptions x0.5/x2."""
    variants: list[tuple[str, float, dict[str, Any], dict[str, Any]]] = []
    notes: list[SensitivityCase] = []
    workload = plan.scenario_data["workloads"][0]
    for factor in ARRIVAL_FACTORS:
        scaled = _scale_arrivals(workload.get("arrivals") or {}, factor)
        if scaled is None:
            notes.append(SensitivityCase(f"arrival rate x{factor:g}", factor, None,
                                         "n/a: the workload has no arrival rate"))
            continue
        data = copy.deepcopy(plan.scenario_data)
        data["workloads"][0]["arrivals"] = scaled
        variants.append((f"arrival rate x{factor:g}", factor, data, point.design))
    fleet = (point.design or {}).get("fleet") or {}
    if fleet.get("purchase") == "spot":
        try:
            rate, given = _spot_rate(plan, job, point)
        except PlannerError as exc:
            rate, given = None, f"unknown ({exc})"
        for factor in SPOT_FACTORS:
            case = f"spot interruptions x{factor:g}"
            if rate is None:
                notes.append(SensitivityCase(case, factor, None,
                                             f"n/a: interruptions given as {given}"))
                continue
            design = copy.deepcopy(point.design)
            design["fleet"]["spot"]["interruptions"] = {"kind": "rate",
                                                        "per_node_hour": rate * factor}
            variants.append((case, factor, plan.scenario_data, design))
    by_job: dict[str, tuple[SweepJob, list[tuple[int, PointTask]]]] = {}
    for i, (case, factor, data, design) in enumerate(variants):
        key = _fingerprint(data, job.files, job.catalog)
        variant_job = by_job.get(key, (SweepJob(data, job.files, job.catalog, key,
                                                job.measure_kernels), []))
        task = PointTask(f"{point.point_id}~{i}", i, {**point.params, "sensitivity": case},
                         point.seed, design)
        variant_job[1].append((i, task))
        by_job[key] = variant_job
    rows: dict[int, Row] = {}
    for variant_job, tasks in by_job.values():
        for row in executor.map(variant_job, [t for _, t in tasks]):
            rows[row["index"]] = row
    out = [SensitivityCase(case, factor, rows.get(i)) for i, (case, factor, _, _)
           in enumerate(variants)]
    return out + notes
