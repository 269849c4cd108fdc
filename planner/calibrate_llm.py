"""Calibrate an ``llm`` design's latency model from load tests (``planner calibrate``).

The llm pattern times each engine step with the roofline latency model (``latency: {kind:
auto}``, ``docs/latency-model.md``). Its efficiency terms were fitted to isolated CUDA-graph
steps; a serving engine under load adds host time per step and runs its kernels at sustained
clocks. The two terms fitted here are those of ``planner llm replay --fit``
(:func:`planner.llm_replay.fit_engine_run`), in the shape of :class:`Terms`:

- ``overhead_ms``: the engine's host time per step (``engine.host_overhead_ms``);
- ``scale``: the compute-bound parts' slowdown: the GEMM and attention efficiencies of the fit
  are divided by it (capped at 1), the memory-bound parts are left alone.

Each load test is replayed with its arrival times (Poisson at its rate for k6 and Locust) and,
when it has them, its requests' token counts (else the workload's), on one fixed fleet of the
design's nodes, and matched on end-to-end latency percentiles. The calibrated scenario points
``latency.fit`` at a fit file with the scaled efficiencies (their ``source`` names the tests)
and sets ``engine.host_overhead_ms``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np

from domain.errors import ScenarioError, SimulationError
from planner import schema
from planner.calibrate import arrivals_text, replay_arrivals
from planner.calibrate_result import Terms
from planner.inputs import ScenarioInputs
from planner.inputs_llm import load_fit_file
from planner.inputs_loadtest import LoadTest
from planner.json_schemas import LATENCY_FIT_VERSION
from planner.patterns.llm_steps import StepModel, kv_cache, step_model, weight_and_kv_dtypes
from simulators.core.fleet import FleetSpec
from simulators.core.gpus import GPU_SPECS
from simulators.core.latency_model import LatencyFit, derived_profile
from simulators.core.spec import RunSpec
from simulators.llm import EngineConfig, LlmSpec, TokenSamples, simulate

__all__ = ["LlmReplay", "fit_document", "llm_replays", "scaled_fit"]


def scaled_fit(fit: LatencyFit, terms: Terms, source: str | None = None) -> LatencyFit:
    """Return ``fit`` with its GEMM and attention efficiencies divided by ``terms.scale``
    (capped at 1) and, when given, a new ``source``."""
    return replace(fit, gemm_efficiency=min(1.0, fit.gemm_efficiency / terms.scale),
                   attention_efficiency=min(1.0, fit.attention_efficiency / terms.scale),
                   source=fit.source if source is None else source)


@dataclass(frozen=True, eq=False)
class LlmReplay:
    """One load test replayed through an llm design, ready to simulate under any terms."""

    test: LoadTest
    design: schema.LlmDesign
    steps: StepModel
    fit: LatencyFit
    engine: EngineConfig
    tokens: TokenSamples
    fleet: FleetSpec
    run: RunSpec
    quantiles: np.ndarray
    unit_ms: float = 1.0
    """The overhead's search unit (ms of host time per step)."""

    @property
    def description(self) -> str:
        """The step times before the fitted terms, for reports."""
        return (f"continuous batching; step times: {self.steps.description} (host time: "
                f"{self.steps.host_overhead_source})")

    @property
    def arrivals_text(self) -> str:
        """How the test's arrivals are replayed, for reports."""
        return arrivals_text(self.test)

    def simulate(self, terms: Terms) -> np.ndarray:
        """Return float64[R, k]: simulated end-to-end latency percentiles (ms) under ``terms``."""
        e = self.design.engine
        weights, kv = weight_and_kv_dtypes(e)
        model = self.steps.model
        assert model is not None  # kind: auto needs the model's shape
        profile = derived_profile(model, GPU_SPECS[self.steps.gpu], scaled_fit(self.fit, terms),
                                  gpu_key=self.steps.gpu, tp=e.tensor_parallel,
                                  weight_dtype=weights, kv_dtype=kv, max_seqs=e.max_num_seqs,
                                  host_overhead_ms=terms.overhead_ms)
        sim = simulate(LlmSpec(arrivals=replay_arrivals(self.test), tokens=self.tokens, profile=profile,
                               engine=self.engine, fleet=self.fleet, run=self.run,
                               router=e.router))
        return sim.e2e.percentiles_s(self.quantiles) * 1000.0


def llm_replays(scenario: schema.Scenario, design: schema.LlmDesign, inputs: ScenarioInputs,
                tests, quote, *, quantiles, warmup_s: float, replications: int,
                seed: int) -> list[LlmReplay]:
    """Return one :class:`LlmReplay` per test (``quote``: the fleet instance's catalog quote,
    for its GPUs)."""
    index = scenario.designs.index(design)
    if not isinstance(design.latency, schema.AutoLatency):
        raise ScenarioError(f"designs[{index}].latency: calibrate fits the latency model's "
                            "efficiency terms (latency: {kind: auto}); a measured profile has "
                            "none (got kind: profile): measure the profile through the engine "
                            "or switch to kind: auto")
    gpus = quote.gpus
    tp = design.engine.tensor_parallel
    if not gpus or gpus % tp:
        raise ScenarioError(f"designs[{index}].fleet.instance: the catalog gives {gpus!r} GPU(s) "
                            f"per node for {design.fleet.instance} and tensor_parallel is {tp}; "
                            "pick an instance the catalog knows with a multiple of "
                            "tensor_parallel GPUs")
    try:
        fit = load_fit_file(design.latency.fit).fit
    except SimulationError as exc:
        raise ScenarioError(f"designs[{index}].latency.fit: {exc}") from None
    steps = step_model(design, inputs, quote, index)
    kv_tokens, _ = kv_cache(design, quote, steps, index)
    e = design.engine
    engine = EngineConfig(kv_cache_tokens=kv_tokens, max_num_seqs=e.max_num_seqs,
                          max_num_batched_tokens=e.max_num_batched_tokens,
                          block_size=e.block_size, prefix_tokens=e.prefix_tokens,
                          tensor_parallel=tp)
    fleet = FleetSpec.fixed(design.fleet.nodes, workers_per_node=gpus // tp)
    workload_tokens = inputs.token_models[design.name]
    replays = []
    for test in tests:
        if warmup_s >= test.duration_s:
            raise ScenarioError(f"{test.path}: the warm-up of {warmup_s:g} s covers the whole "
                                f"test ({test.duration_s:.3g} s); lower --warmup-s")
        if test.prompt_tokens is not None and test.output_tokens is not None:
            tokens = TokenSamples(test.prompt_tokens, np.maximum(test.output_tokens, 1),
                                  order="sequential")
        else:
            tokens = TokenSamples(np.asarray(workload_tokens.prompt_tokens, dtype=np.int64),
                                  np.asarray(np.maximum(workload_tokens.output_tokens, 1),
                                             dtype=np.int64))
        horizon = test.duration_s + (1e-3 if test.replays_arrivals else 0.0)
        replays.append(LlmReplay(test, design, steps, fit, engine, tokens, fleet,
                                 RunSpec(horizon_s=horizon, warmup_s=warmup_s,
                                         n_replications=replications, seed=seed),
                                 np.asarray(quantiles, dtype=np.float64)))
    return replays


def fit_document(replay: LlmReplay, terms: Terms, fitted_on: tuple[str, ...]) -> str:
    """Return the latency fit file (JSON, ``kind: latency-fit``) of the calibrated terms: the
    scaled efficiencies with a ``source`` naming the load tests, and the host time per step."""
    source = (f"{replay.fit.source}; GEMM and attention efficiencies divided by "
              f"{terms.scale:.4g} and host time {terms.overhead_ms:.4g} ms/step calibrated from "
              f"{', '.join(fitted_on)} (planner calibrate)")
    fit = scaled_fit(replay.fit, terms, source)
    return json.dumps({"schema_version": LATENCY_FIT_VERSION, "kind": "latency-fit",
                       "fit": fit.as_dict(), "host_overhead_ms": terms.overhead_ms,
                       "errors": [], "notes": [source]}, indent=2) + "\n"
