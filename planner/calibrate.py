"""Calibrate a serving design's service-time model from load tests (``planner calibrate``).

A measured per-batch profile is taken in isolation; in a serving loop the same model runs
slower. Two correction terms, each with a physical meaning, close the gap
(:class:`planner.schema_serving._Corrected`): a batch of ``n`` takes ``scale * t(n) +
overhead_ms``, where ``overhead_ms`` is the fixed per-batch cost the profile leaves out (batch
formation, host-side bookkeeping, launches outside the timed region) and ``scale`` the loop's
speed relative to the profile (clocks under sustained load, shape switching).

Each load test is replayed through the design: its own arrival times when the file has them
(else Poisson arrivals at its rate), on the design's fixed fleet (``fleet.nodes`` x
``workers_per_node`` workers; no autoscaling or spot during a test), with its batching and
queue deadline. The terms are fitted by least squares on log latency percentiles (default p50,
p90, p99), each residual divided by the standard error of the measured percentile (batch means
over stretches of the test), with the same seeds at every evaluation (common random numbers).
With several tests, each is also left out in turn: fitted on the others, predicted.

A one-worker realtime design calibrated on per-request tests is served instead from the
batch times measured in its loop (``method="table"``, the default there:
:mod:`planner.calibrate_table`, :mod:`planner.calibrate_batches`): two terms cannot follow a
loop whose batch time steps with the batch size. The terms stay for k6 and Locust tests (no
per-request completions) and multi-worker designs (batches interleave).

An ``llm`` design (``latency: {kind: auto}``) is calibrated the same way on its end-to-end
latency, with the latency model's terms (:mod:`planner.calibrate_llm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodels.catalog import InstanceQuote
from domain.errors import ScenarioError
from planner import schema
from planner.build import build_service, correct_service
from planner.calibrate_result import (
    CalibrationResult,
    Comparison,
    Fit,
    LoadTestReport,
    Prediction,
    TermEstimate,
    Terms,
)
from planner.inputs import ScenarioInputs
from planner.inputs_loadtest import LoadTest
from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.fleet import FleetSpec
from simulators.core.service import ServiceTime
from simulators.core.spec import RunSpec
from simulators.realtime.spec import RealtimeSpec, simulate

__all__ = ["DEFAULT_QUANTILES", "Replay", "calibrate_design", "check_loadtest", "compare",
           "fit_terms", "fleet_quote", "replay_arrivals"]

DEFAULT_QUANTILES = (0.5, 0.9, 0.99)
_MAX_SCALE = 10.0
"""Widest scale searched (either way): a serving loop 10x slower or faster than its profile is
a different design, not a correction."""
_MAX_OVERHEAD = 50.0
"""Largest overhead searched, in units of the model's batch-1 time (host time: of 1 ms)."""
_DIFF_STEP = 0.05
"""Finite-difference step of the optimiser, in units of the model's batch-1 time (overhead) and
of log scale: wide enough to move percentiles by a few histogram buckets."""
_Z95 = 1.959963984540054


@dataclass(frozen=True, eq=False)
class Replay:
    """One load test replayed through one design, ready to simulate under any terms.

    ``model`` is the design's service time before correction terms; :meth:`simulate` applies
    ``terms`` and returns float64[R, k] latency percentiles (ms), one row per replication.
    """

    test: LoadTest
    model: ServiceTime
    fleet: FleetSpec
    max_batch: int
    max_wait_s: float
    run: RunSpec
    quantiles: np.ndarray

    @property
    def unit_ms(self) -> float:
        """The overhead's search unit: the model's time for a batch of one (ms)."""
        return 1000.0 * float(self.model.mean_s[1])

    @property
    def description(self) -> str:
        """The service time before correction terms, for reports."""
        return self.model.description

    @property
    def arrivals_text(self) -> str:
        """How the test's arrivals are replayed, for reports."""
        return arrivals_text(self.test)

    def simulate(self, terms: Terms) -> np.ndarray:
        """Return float64[R, k]: simulated latency percentiles (ms) under ``terms``."""
        service = correct_service(self.model, terms.overhead_ms, terms.scale)
        sim = simulate(RealtimeSpec(arrivals=replay_arrivals(self.test), service=service, fleet=self.fleet,
                                    max_batch=self.max_batch, max_wait_s=self.max_wait_s,
                                    run=self.run, timeline_bin_s=self.run.horizon_s))
        return sim.latency_percentiles_s(self.quantiles) * 1000.0


def replay_arrivals(test: LoadTest) -> TraceArrivals | PoissonArrivals:
    """The arrivals a test is replayed with: its own times, else Poisson at its rate."""
    if test.replays_arrivals:
        return TraceArrivals(times_s=np.array(test.arrival_s, dtype=np.float64))
    return PoissonArrivals(rate_rps=test.rate_rps)


def arrivals_text(test: LoadTest) -> str:
    """How a test's arrivals are replayed, for reports."""
    if test.replays_arrivals:
        return f"replayed from the file ({test.n_requests:,} requests)"
    return f"Poisson at the test's {test.rate_rps:,.4g} requests/s ({test.kind})"


def design_terms(design: schema.RealtimeDesign) -> Terms:
    """Return the correction terms a design's service time carries now."""
    return Terms(design.service_time.overhead_ms, design.service_time.scale)


def check_loadtest(test: LoadTest, design: schema.RealtimeDesign, model: ServiceTime,
                   n_workers: int) -> None:
    """Refuse a load test that cannot have been run against ``design``.

    A request served in a batch larger than the design's ``max_batch``, or a test rate above
    what the design's workers can serve even in full batches of the model's time
    (``n_workers * max_batch / t(max_batch)``), means the test ran on another batching or fleet.
    """
    b = design.batching.max_batch
    if test.batch_size is not None and int(test.batch_size.max()) > b:
        raise ScenarioError(
            f"{test.path}: requests were served in batches of up to {int(test.batch_size.max())} "
            f"(column batch_size) but design {design.name!r} batches at most {b} "
            f"(batching.max_batch); the test ran with other batching: calibrate a design with "
            f"max_batch >= {int(test.batch_size.max())} or use a test of this one")
    capacity_rps = n_workers * b / float(model.mean_s[b])
    if test.rate_rps > capacity_rps:
        raise ScenarioError(
            f"{test.path}: the test sent {test.rate_rps:,.0f} requests/s but design "
            f"{design.name!r} can serve at most {capacity_rps:,.0f} requests/s ({n_workers} "
            f"worker(s) x full batches of {b} in {1000 * float(model.mean_s[b]):.3g} ms); the "
            "test ran on a larger fleet or other batching: give the design the test's fleet "
            "(fleet.nodes, workers_per_node, batching.max_batch) or pick the design it ran on")


def replays_of(scenario: schema.Scenario, design: schema.RealtimeDesign,
               inputs: ScenarioInputs, tests: Sequence[LoadTest], *,
               quantiles: Sequence[float], warmup_s: float, replications: int, seed: int,
               gpu_model: str | None = None, gpu_memory_gib: float | None = None,
               ) -> list[Replay]:
    """Return one :class:`Replay` per test, after checking each against the design."""
    plain = design.model_copy(update={"service_time": design.service_time.model_copy(
        update={"overhead_ms": 0.0, "scale": 1.0, "calibrated_from": ()})})
    model = build_service(plain, inputs, gpu_model=gpu_model, gpu_memory_gib=gpu_memory_gib,
                          seed=scenario.seed)
    f = design.fleet
    queue = getattr(design, "queue", None)
    deadline_ms = None if queue is None else queue.deadline_ms
    fleet = FleetSpec(workers_per_node=f.workers_per_node, initial_nodes=f.nodes,
                      max_nodes=f.nodes, on_demand_base=f.nodes,
                      deadline_s=None if deadline_ms is None else deadline_ms / 1000.0)
    q = np.asarray(quantiles, dtype=np.float64)
    replays = []
    for test in tests:
        check_loadtest(test, design, model, f.nodes * f.workers_per_node)
        if warmup_s >= test.duration_s:
            raise ScenarioError(f"{test.path}: the warm-up of {warmup_s:g} s covers the whole "
                                f"test ({test.duration_s:.3g} s); lower --warmup-s")
        horizon = test.duration_s + (1e-3 if test.replays_arrivals else 0.0)
        replays.append(Replay(test, model, fleet, design.batching.max_batch,
                              design.batching.max_wait_ms / 1000.0,
                              RunSpec(horizon_s=horizon, warmup_s=warmup_s,
                                      n_replications=replications, seed=seed), q))
    return replays


def fit_terms(replays: Sequence[Replay], start: Terms, *, warmup_s: float) -> Fit:
    """Fit ``overhead_ms`` and ``scale`` so that the replays' percentiles match the tests'.

    Least squares on ``(log simulated - log measured) / se`` over every test and percentile,
    ``se`` the measured percentile's standard error (and the replications' spread, at the
    start); the overhead is searched in units of the model's batch-1 time and the scale in log,
    from ``start``. The 95 % intervals come from the Jacobian at the optimum, widened by the
    reduced chi-square when it exceeds 1.
    """
    from scipy.optimize import least_squares

    unit_ms = replays[0].unit_ms
    measured = [r.test.measured(r.quantiles, warmup_s) for r in replays]
    log_measured = np.concatenate([np.log(m.value_ms) for m in measured])
    first = [r.simulate(start) for r in replays]
    sim_se = np.concatenate([_log_se_across(s) for s in first])
    se = np.sqrt(np.concatenate([m.se_log for m in measured]) ** 2 + sim_se**2)
    n_evaluations = 0
    last: dict[bytes, np.ndarray] = {}  # the latest few evaluations

    def residuals(x: np.ndarray) -> np.ndarray:
        key = np.asarray(x, dtype=np.float64).tobytes()
        if key not in last:
            nonlocal n_evaluations
            n_evaluations += 1
            terms = Terms(float(x[0]) * unit_ms, float(math.exp(x[1])))
            sim = np.concatenate([np.log(r.simulate(terms).mean(axis=0)) for r in replays])
            if len(last) > 8:
                last.clear()
            last[key] = (sim - log_measured) / se
        return last[key]

    lower = np.array([0.0, -math.log(_MAX_SCALE)])
    upper = np.array([_MAX_OVERHEAD, math.log(_MAX_SCALE)])

    def jacobian(x: np.ndarray) -> np.ndarray:
        """Central differences with an absolute step (one-sided at a bound)."""
        columns = []
        for i in range(2):
            ahead, behind = np.array(x, dtype=np.float64), np.array(x, dtype=np.float64)
            ahead[i] = min(x[i] + _DIFF_STEP, upper[i])
            behind[i] = max(x[i] - _DIFF_STEP, lower[i])
            columns.append((residuals(ahead) - residuals(behind)) / (ahead[i] - behind[i]))
        return np.column_stack(columns)

    # start inside the bounds: trf's first trust region is as large as the start's norm
    x0 = np.array([max(start.overhead_ms / unit_ms, 2 * _DIFF_STEP), math.log(start.scale)])
    x0 = np.clip(x0, lower, upper - _DIFF_STEP)
    best = least_squares(residuals, x0, jac=jacobian, bounds=(lower, upper), method="trf",
                         x_scale="jac", max_nfev=100, ftol=1e-10, xtol=1e-10, gtol=1e-10)
    chi2 = float(np.sum(best.fun**2))
    dof = best.fun.size - 2
    cov = _covariance(best.jac, chi2, dof)
    overhead = _estimate(best.x[0], cov[0, 0], unit_ms, log=False)
    scale = _estimate(best.x[1], cov[1, 1], 1.0, log=True)
    corr = None
    if np.isfinite(cov).all() and cov[0, 0] > 0 and cov[1, 1] > 0:
        corr = float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
    return Fit(overhead, scale, tuple(r.test.name for r in replays), chi2, dof, corr,
               n_evaluations)


def _log_se_across(per_replication: np.ndarray) -> np.ndarray:
    """Standard error of the log mean over replications (0 for a single replication)."""
    if per_replication.shape[0] < 2:
        return np.zeros(per_replication.shape[1])
    logs = np.log(per_replication)
    return logs.std(axis=0, ddof=1) / math.sqrt(per_replication.shape[0])


def _covariance(jac: np.ndarray, chi2: float, dof: int) -> np.ndarray:
    """Covariance of the search variables: (J'J)^-1, times chi2/dof when that exceeds 1."""
    info = jac.T @ jac
    if np.linalg.cond(info) > 1e12:
        return np.full((2, 2), np.nan)
    cov = np.linalg.inv(info)
    if dof > 0 and chi2 / dof > 1.0:
        cov = cov * (chi2 / dof)
    return cov


def _estimate(x: float, var: float, unit: float, *, log: bool) -> TermEstimate:
    """A fitted term with its 95 % interval, clipped to the searched range (overhead
    ``[0, 50 units]``, scale ``[1/10, 10]`` through exp): a wider interval says the tests do
    not pin the term down."""
    x, var = float(x), float(var)
    value = math.exp(x) if log else x * unit
    if not (math.isfinite(var) and var >= 0):
        return TermEstimate(value, None, None)
    half = _Z95 * math.sqrt(var)
    if log:
        bound = math.log(_MAX_SCALE)
        return TermEstimate(value, math.exp(max(x - half, -bound)),
                            math.exp(min(x + half, bound)))
    return TermEstimate(value, max(0.0, x - half) * unit, min(x + half, _MAX_OVERHEAD) * unit)


def calibrate_design(scenario: schema.Scenario, design_name: str, inputs: ScenarioInputs,
                     tests: Sequence[LoadTest], *, quantiles: Sequence[float] = DEFAULT_QUANTILES,
                     warmup_s: float = 0.0, replications: int | None = None,
                     quote: InstanceQuote | None = None, method: str = "auto",
                     ) -> CalibrationResult:
    """Fit the design's correction terms to ``tests`` and report each test before and after.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario; its ``seed`` seeds every replay, its ``replications`` are the
        default number of replications.
    design_name : str
        A ``realtime`` design of the scenario, or an ``llm`` one with ``latency: {kind: auto}``
        (:mod:`planner.calibrate_llm`: ``overhead_ms`` is then the host time per step and
        ``scale`` divides the GEMM and attention efficiencies).
    inputs : ScenarioInputs
        The scenario's files, loaded (:func:`planner.inputs.load_scenario_inputs`).
    tests : sequence of LoadTest
        One or more load tests of the design; with two or more, each is also left out in turn.
    quantiles : sequence of float
        Percentiles matched, in (0, 1).
    warmup_s : float
        Requests sent earlier in a test are neither measured nor counted in the simulation.
    quote : InstanceQuote, optional
        The fleet instance's catalog quote (:func:`fleet_quote`): its GPUs. An llm design needs
        it; a realtime design's token service time with ``gpu: auto`` too.
    method : {"auto", "terms", "table"}
        ``terms``: fit ``overhead_ms`` and ``scale`` by replay. ``table``: a measured in-loop
        table from the tests' recovered batches (:mod:`planner.calibrate_table`; one-worker
        realtime designs, per-request tests). ``auto``: ``table`` where batches can be
        recovered from every test, else ``terms``. Batch recovery is reported either way.

    Raises
    ------
    ScenarioError
        Unknown design, a pattern calibrate cannot fit, a test that does not match the design
        (:func:`check_loadtest`), a warm-up longer than a test.
    """
    design = _design(scenario, design_name)
    if not tests:
        raise ScenarioError("calibrate needs at least one load test; pass its file")
    names = [t.name for t in tests]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ScenarioError(f"two load tests share the name {dup!r}; give each file its own "
                            "name (reports and calibrated_from name tests by file name)")
    reps = scenario.replications if replications is None else replications
    if isinstance(design, schema.LlmDesign):
        from planner.calibrate_llm import llm_replays

        if quote is None:
            raise ScenarioError(f"design {design.name!r}: the price catalog does not know "
                                f"{design.fleet.instance}, so its GPUs are unknown; pick an "
                                "instance the catalog lists")
        replays = llm_replays(scenario, design, inputs, tests, quote, quantiles=quantiles,
                              warmup_s=warmup_s, replications=reps, seed=scenario.seed)
        before_terms = Terms(replays[0].steps.host_overhead_ms, 1.0)
    else:
        replays = replays_of(scenario, design, inputs, tests, quantiles=quantiles,
                             warmup_s=warmup_s, replications=reps, seed=scenario.seed,
                             gpu_model=None if quote is None else quote.gpu_model,
                             gpu_memory_gib=None if quote is None else quote.gpu_memory_gib)
        before_terms = design_terms(design)
    batches: tuple = ()
    chosen = "terms"
    if isinstance(design, schema.RealtimeDesign):
        from planner.calibrate_table import choose_method, recover_all, table_calibration

        f = design.fleet
        batches, recovered = recover_all(replays, f.nodes * f.workers_per_node,
                                         design.batching.max_wait_ms, warmup_s)
        chosen = choose_method(method, batches)
        if chosen == "table":
            table, reports, loo = table_calibration(replays, recovered, before_terms, warmup_s,
                                                    compare)
            return CalibrationResult(
                scenario=scenario.name, design=design.name, pattern=design.pattern,
                service_time=replays[0].description, quantiles=np.asarray(quantiles, float),
                warmup_s=warmup_s, replications=reps, seed=scenario.seed,
                before_terms=before_terms, fit=None, tests=reports, leave_one_out=loo,
                method_id="table", batches=batches, table=table)
    elif method == "table":
        raise ScenarioError(f"--method table: design {design.name!r} is an llm design; its "
                            "batches change every step, so only --method terms (or auto) fits it")
    fit = fit_terms(replays, before_terms, warmup_s=warmup_s)
    reports = tuple(_report(r, before_terms, fit.terms, warmup_s) for r in replays)
    before_by_name = {rep.name: rep.before for rep in reports}
    loo = []
    if len(replays) > 1:
        for i, left in enumerate(replays):
            others = [r for j, r in enumerate(replays) if j != i]
            partial = fit_terms(others, before_terms, warmup_s=warmup_s)
            loo.append(Prediction(left.test.name, partial, before_by_name[left.test.name],
                                  compare(left, partial.terms, warmup_s)))
    latency_fit = None
    if isinstance(design, schema.LlmDesign):
        from planner.calibrate_llm import fit_document

        latency_fit = fit_document(replays[0], fit.terms, fit.fitted_on)
    return CalibrationResult(
        scenario=scenario.name, design=design.name, pattern=design.pattern,
        service_time=replays[0].description, quantiles=np.asarray(quantiles, float),
        warmup_s=warmup_s, replications=reps, seed=scenario.seed, before_terms=before_terms,
        fit=fit, tests=reports, leave_one_out=tuple(loo), latency_fit=latency_fit,
        method_id=chosen, batches=batches)


def fleet_quote(scenario: schema.Scenario, design_name: str) -> InstanceQuote | None:
    """Return the catalog quote of a design's instance (its GPUs), from the default price
    catalog, or None when the catalog does not know it (only designs that need the GPU say
    so)."""
    from costmodels.catalog import quote_instance
    from costmodels.price_cache import default_catalog
    from domain.errors import CatalogError

    design = next((d for d in scenario.designs if d.name == design_name), None)
    if design is None:
        return None
    try:
        return quote_instance(default_catalog(), design.fleet.instance,
                              region=design.fleet.region)
    except CatalogError:
        return None


def _design(scenario: schema.Scenario, name: str):
    found = next((d for d in scenario.designs if d.name == name), None)
    if found is None:
        known = ", ".join(d.name for d in scenario.designs)
        raise ScenarioError(f"--design: no design named {name!r} in {scenario.name} (got "
                            f"{name!r}; designs: {known}); pass one of them")
    if not isinstance(found, (schema.RealtimeDesign, schema.LlmDesign)):
        raise ScenarioError(f"--design {name!r}: calibrate fits realtime and llm designs (got "
                            f"pattern {found.pattern!r}); only request-serving designs have "
                            "load tests")
    return found


def compare(replay: Replay, terms: Terms, warmup_s: float) -> Comparison:
    """Return a test's measured percentiles against its replay under ``terms``."""
    measured = replay.test.measured(replay.quantiles, warmup_s)
    return Comparison(replay.quantiles, measured.value_ms, replay.simulate(terms))


def _report(replay: Replay, before: Terms, after: Terms, warmup_s: float) -> LoadTestReport:
    t = replay.test
    return LoadTestReport(t.name, t.path, t.kind, t.n_requests, t.rate_rps, t.duration_s,
                          replay.arrivals_text, compare(replay, before, warmup_s),
                          compare(replay, after, warmup_s))
