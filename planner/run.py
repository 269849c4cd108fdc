"""Orchestration: a validated scenario in, one :class:`RunResult` out.

For every design, the same four steps (``docs/architecture.md``): resolve its inputs and
quotes, simulate it with its pattern (:data:`planner.patterns.PATTERNS`), price the usage,
summarise. Nothing here knows any one pattern.
"""

from __future__ import annotations

import time

from costmodels.catalog import PriceCatalog
from costmodels.price_cache import default_catalog
from planner import schema
from planner.inputs import ScenarioInputs, load_scenario_inputs
from planner.patterns import PATTERNS
from planner.patterns.base import DesignContext, ProgressCallback
from planner.patterns.summary import price_run, summarise
from planner.pricing import describe_discounts, quotes_for
from planner.results import DesignResult, RunResult
from planner.version import planner_version


def run_design(scenario: schema.Scenario, design, inputs: ScenarioInputs,
               catalog: PriceCatalog, progress: ProgressCallback | None = None
               ) -> DesignResult:
    """Simulate, price and summarise one design of ``scenario``."""
    pattern = PATTERNS[design.pattern]
    context = DesignContext(scenario=scenario, design=design,
                            workload=scenario.workload(design.workload), inputs=inputs,
                            catalog=catalog, progress=progress)
    f = design.fleet
    quotes = quotes_for(catalog, scenario.pricing, f.instance, f.region,
                        pattern.purchases(design), inputs.billing_rates)
    run = pattern.simulate(context, quotes)
    return summarise(context, run, price_run(context, run, quotes))


def run_scenario(
    scenario: schema.Scenario,
    *,
    catalog: PriceCatalog | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Simulate and price every design of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see :func:`planner.schema.load_scenario`).
    catalog : PriceCatalog, optional
        Prices to use; by default the newest local price cache merged with the built-in
        snapshot, else the snapshot (:func:`costmodels.price_cache.default_catalog`).
    progress : callable, optional
        ``progress(design_name, replications_done, replications_total)``.

    Returns
    -------
    RunResult
    """
    started = time.perf_counter()
    catalog = catalog if catalog is not None else default_catalog()
    inputs = load_scenario_inputs(scenario, catalog=catalog)
    results = tuple(run_design(scenario, design, inputs, catalog, progress)
                    for design in scenario.designs)
    return RunResult(
        scenario={
            "name": scenario.name,
            "description": scenario.description,
            "path": scenario.source_path,
            "horizon_s": scenario.horizon_s,
            "warmup_s": scenario.warmup_s,
            "replications": scenario.replications,
            "seed": scenario.seed,
        },
        designs=results,
        assumptions=_assumptions(scenario, inputs, catalog),
        planner_version=planner_version(),
        wall_s=time.perf_counter() - started,
    )


def _unit_cost_basis(patterns: set[str]) -> str:
    """Say how each unit cost the run shows is computed, for the patterns present."""
    parts = []
    if patterns & {"realtime", "llm"}:
        parts.append("$ per 1,000 requests (and per 1M tokens) = cost of the nodes during the "
                     "window after warm-up / requests (tokens) completed in it")
    if patterns & {"streaming", "batch"}:
        parts.append("$ per 1,000 records = cost of the nodes during the window after warm-up "
                     "/ records processed in it")
    if "training" in patterns:
        parts.append("$ per run = the cost of one run (a commitment: its term's cost per "
                     "month / runs per month)")
    return "; ".join(parts)


def _monthly_basis(patterns: set[str]) -> str:
    """Say how the monthly figure is projected, for the patterns present."""
    parts = []
    if patterns & {"realtime", "llm", "streaming"}:
        parts.append("cost of the simulated horizon scaled to hours_per_month (daily traffic "
                     "needs whole days: a partial day is flagged)")
    if "batch" in patterns:
        parts.append("batch: the horizon's cost per job x jobs per month (steady state)")
    if "training" in patterns:
        parts.append("training: $ per run x runs_per_month")
    return "; ".join(parts) + "; a commitment purchase is paid for every hour of its term"


def _assumptions(scenario: schema.Scenario, inputs: ScenarioInputs,
                 catalog: PriceCatalog) -> dict[str, object]:
    """Return what every figure of the run rests on, for every format."""
    present = {d.pattern for d in scenario.designs}
    return {
        "hours_per_month": scenario.pricing.hours_per_month,
        "price_catalog": catalog.label,
        "price_catalog_as_of": catalog.as_of,
        "discounts": describe_discounts(scenario.pricing, inputs.billing_rates),
        "cost_basis": "allocated: every node-hour of the fleet is paid for (a commitment: every "
                      "hour of its term); busy: only the GPU-seconds spent on work, at the "
                      "node price / GPUs per node",
        "unit_cost_basis": _unit_cost_basis(present),
        "monthly_projection": _monthly_basis(present),
        "utilization_basis": "busy worker-seconds / worker-seconds of nodes ready, under "
                             "notice or draining; one worker per GPU",
        "fleet": "provisioning nodes are paid; a spot node under notice runs beside its "
                 "replacement until it dies; its batch in service is lost and re-queued",
        "statistics": f"mean of {scenario.replications} replications with a Student-t 95% "
                      "confidence interval; work arriving in the warm-up excluded; an SLO "
                      "whose interval straddles its bound is inconclusive",
        "percentiles": "nearest-rank, from log-bucket histograms (relative error <= 0.78%)",
        **{f"pattern_{name}": p.assumption for name, p in PATTERNS.items()
           if name in present and p.assumption},
    }
