"""LLM serving with continuous batching: replicas of a model on the fleet's GPUs, each
scheduling every step (``docs/llm-serving.md``), on the shared autoscaled, spot-aware fleet."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from domain.errors import ScenarioError, SimulationError
from domain.purchase import Purchase
from planner import schema
from planner.build import build_arrivals, describe_arrivals
from planner.inputs import ScenarioInputs
from planner.patterns.base import (
    DesignContext,
    PatternRun,
    SloTarget,
    purchases_with_fallback,
    spot_interruptions,
    timeline_result,
    trace_warnings,
)
from planner.patterns.llm_steps import StepModel, kv_cache, step_model
from planner.patterns.realtime import fleet_result, fleet_spec
from planner.patterns.summary import summarise_distribution
from planner.pricing import PricedQuote
from planner.result_llm import LlmEngineResult, LlmResult
from planner.result_parts import ContinuousBatching, DesignWarning
from planner.stats import estimate
from simulators.llm import EngineConfig, LlmSlo, LlmSpec, TokenSamples, llm_usage, simulate

LLM_METRIC_NAMES = tuple(
    f"{which}_{key}_ms" for which in ("ttft", "tpot", "e2e")
    for key in ("mean", "p50", "p90", "p99")) + (
    "goodput_rps", "input_tokens_per_s", "output_tokens_per_s", "llm_preemptions",
    "rerouted_requests", "rejected_requests", "peak_kv_utilization", "mean_kv_utilization",
    "mean_running", "mean_waiting", "kv_cache_tokens", "tokens_per_request", "prompt_tokens",
    "output_tokens")


class LlmPattern:
    """Continuous batching on replicas of ``tensor_parallel`` GPUs; TTFT, TPOT and E2E."""

    name = "llm"
    metric = "latency"
    assumption = ("llm: continuous batching as vLLM V1 schedules it (decode tokens first, then "
                  "chunked prefills within the step's token budget; paged KV cache; recompute "
                  "preemption of the newest request); a step's time comes from the roofline "
                  "latency model (the model's shape, the GPU's datasheet, efficiencies fitted "
                  "to measured H100 steps) or a measured token profile, plus the engine's host "
                  "time per step; the latency distribution is end to end")
    metric_names = LLM_METRIC_NAMES

    def purchases(self, design: schema.LlmDesign) -> set[str]:
        """The fleet's purchase option, plus on-demand for the base and fallback of spot."""
        return purchases_with_fallback(design)

    def simulate(self, context: DesignContext, quotes: Mapping[str, PricedQuote]) -> PatternRun:
        """Simulate the design's replicas serving its workload."""
        design, workload, inputs = context.design, context.workload, context.inputs
        index = context.scenario.designs.index(design)
        quote = quotes[design.fleet.purchase].quote
        replicas = _replicas_per_node(design, quote.gpus, index)
        steps = step_model(design, inputs, quote, index)
        profile = steps.profile
        kv_tokens, kv_source = kv_cache(design, quote, steps, index)
        tokens = inputs.token_models[design.name]
        spot = spot_interruptions(design, inputs, context.hours_per_month)
        engine = design.engine
        slo = workload.slo
        spec = LlmSpec(
            arrivals=build_arrivals(workload, inputs),
            tokens=TokenSamples(
                prompt=np.asarray(tokens.prompt_tokens, dtype=np.int64),
                output=np.asarray(np.maximum(tokens.output_tokens, 1), dtype=np.int64),
                order="sequential" if workload.tokens.prompt_column is not None else "random"),
            profile=profile,
            engine=EngineConfig(
                kv_cache_tokens=kv_tokens, max_num_seqs=engine.max_num_seqs,
                max_num_batched_tokens=engine.max_num_batched_tokens,
                block_size=engine.block_size, prefix_tokens=engine.prefix_tokens,
                tensor_parallel=engine.tensor_parallel),
            fleet=fleet_spec(design, workload, inputs, spot, workers_per_node=replicas),
            run=context.run_spec(), router=engine.router,
            slo=LlmSlo(ttft_s=_seconds(slo, "ttft_ms"), tpot_s=_seconds(slo, "tpot_ms"),
                       e2e_s=_seconds(slo, "latency_ms")))
        try:
            sim = simulate(spec, progress=context.progress_of_design())
        except SimulationError as exc:
            raise ScenarioError(f"designs[{index}] ({design.name}): {exc}") from None
        base = design.fleet.purchase if design.fleet.purchase != Purchase.SPOT \
            else Purchase.ON_DEMAND
        usage = llm_usage(sim, base_purchase=base, priced=quotes)
        fleet = fleet_result(design, quote, sim, usage, spot, workers_per_node=replicas,
                             busy_by_class=sim.busy_replica_s_by_class)
        step_source = steps.description
        llm = _llm_result(sim, usage.window_s, LlmEngineResult(
            model=steps.model.name if steps.model is not None else design.model_name,
            tensor_parallel=engine.tensor_parallel,
            replicas_per_node=replicas, max_num_seqs=engine.max_num_seqs,
            max_num_batched_tokens=engine.max_num_batched_tokens, block_size=engine.block_size,
            gpu_memory_utilization=engine.gpu_memory_utilization,
            prefix_tokens=engine.prefix_tokens, router=engine.router,
            kv_cache_tokens=kv_tokens, kv_cache_source=kv_source,
            step_time_source=step_source))
        c = sim.counters()
        finished = float(np.mean(c.finished))
        split = None if finished <= 0 else (float(np.mean(c.input_tokens)) / finished,
                                            float(np.mean(c.output_tokens)) / finished)
        return PatternRun(
            usage=usage, fleet=fleet,
            batching=ContinuousBatching(engine.max_num_seqs, engine.max_num_batched_tokens),
            service_time=(f"continuous batching, {replicas} replica(s)/node of "
                          f"{engine.tensor_parallel} GPU(s); step times: {step_source}; "
                          f"tokens from {tokens.tokens_source}"),
            arrivals=describe_arrivals(workload.arrivals),
            timeline=timeline_result(usage.timeline), slo=None,
            extra_slos=_slos(sim, slo),
            pattern_metrics={} if split is None else {
                "tokens_per_request": split[0] + split[1], "prompt_tokens": split[0],
                "output_tokens": split[1], "tokens_source": tokens.tokens_source},
            warnings=tuple(_warnings(design, quote, usage, llm, inputs, workload.name, steps)),
            tokens_per_unit=None if split is None else split[0] + split[1],
            token_split=split, llm=llm)


def _seconds(slo: schema.LatencySLO | None, name: str) -> float | None:
    value = None if slo is None else getattr(slo, name)
    return None if value is None else value / 1000.0


def _slos(sim, slo: schema.LatencySLO | None) -> tuple:
    """The SLO's bounds in the order reports show them: TTFT, TPOT, end to end."""
    if slo is None:
        return ()
    out = []
    for name, field, dist in (("ttft", "ttft_ms", sim.ttft), ("tpot", "tpot_ms", sim.tpot),
                              ("e2e", "latency_ms", sim.e2e)):
        bound = getattr(slo, field)
        if bound is not None:
            out.append((name, dist, SloTarget(slo.percentile, bound)))
    return tuple(out)


def _replicas_per_node(design: schema.LlmDesign, gpus: int | None, index: int) -> int:
    tp = design.engine.tensor_parallel
    if gpus is None:
        raise ScenarioError(f"designs[{index}].fleet.instance: the price catalog does not say "
                            f"how many GPUs {design.fleet.instance} has, so its replicas are "
                            "unknown; pick a GPU instance the catalog knows")
    if gpus < tp or gpus % tp:
        raise ScenarioError(f"designs[{index}].engine.tensor_parallel: {design.fleet.instance} "
                            f"has {gpus} GPU(s) per node (got tensor_parallel {tp}); use a "
                            f"divisor of {gpus}, or a larger instance")
    return gpus // tp


def _llm_result(sim, window_s: float, engine: LlmEngineResult) -> LlmResult:
    c = sim.counters()
    dists = {}
    latency = {}
    for which in ("ttft", "tpot", "e2e"):
        est, dist = summarise_distribution(getattr(sim, which))
        latency[which] = {k: est[k] for k in ("mean", "p50", "p90", "p99")}
        dists[which] = dist
    per_s = max(window_s, 1e-9)
    return LlmResult(
        ttft_ms=latency["ttft"], tpot_ms=latency["tpot"], e2e_ms=latency["e2e"],
        input_tokens_per_s=estimate(c.input_tokens / per_s),
        output_tokens_per_s=estimate(c.output_tokens / per_s),
        goodput_rps=estimate(c.goodput_requests / per_s),
        preemptions=float(np.mean(c.preemptions)), rerouted_requests=float(np.mean(c.rerouted)),
        rejected_requests=float(np.mean(c.rejected)),
        recomputed_tokens=float(np.mean(c.recomputed_tokens)),
        kv_cache_tokens=engine.kv_cache_tokens,
        mean_kv_utilization=estimate(c.mean_kv_utilization),
        peak_kv_utilization=estimate(c.peak_kv_utilization),
        mean_running=estimate(c.mean_running), mean_waiting=estimate(c.mean_waiting),
        mean_decode_batch=estimate(c.mean_decode_batch), engine=engine,
        distributions_ms=dists)


def _warnings(design: schema.LlmDesign, quote, usage, llm: LlmResult, inputs: ScenarioInputs,
              workload: str, steps: StepModel) -> list[DesignWarning]:
    out = []
    if quote.usd_per_hour is None and quote.note:
        out.append(DesignWarning("price_unknown", f"price n/a: {quote.note}"))
    profile = steps.profile
    if isinstance(design.latency, schema.AutoLatency):
        out.append(DesignWarning(
            "model", f"step times from the roofline latency model for {profile.model} on "
            f"{steps.gpu}: FLOPs and bytes derived from the shape, peaks from the "
            "datasheet, efficiencies fitted to measured steps (the service time names "
            "the fit; docs/latency-model.md)"))
    elif not profile.derivation.startswith("measured"):
        out.append(DesignWarning(
            "model", f"step times derived for {steps.gpu} from a profile measured on "
            f"{profile.gpu}: {profile.derivation}"))
    if steps.host_overhead_ms:
        out.append(DesignWarning(
            "model", f"assumes {steps.host_overhead_ms:g} ms of engine host time per step "
            f"({steps.host_overhead_source}); set engine.host_overhead_ms to your engine's"))
    throughput = float(np.mean(usage.throughput_rps))
    arrival_rate = float(np.mean(usage.arrival_rate_rps))
    if throughput < 0.98 * arrival_rate:
        out.append(DesignWarning(
            "overload", f"overloaded: arrivals {arrival_rate:,.2f} req/s, served "
            f"{throughput:,.2f} req/s: the queues grow without bound, so latency and cost per "
            "token depend on the horizon and are not steady-state figures; add replicas"))
    if llm.rejected_requests > 0:
        out.append(DesignWarning(
            "model", f"{llm.rejected_requests:.1f} requests per replication could never fit "
            f"one replica's KV cache ({llm.kv_cache_tokens:,} tokens) and were rejected; "
            "raise gpu_memory_utilization or tensor_parallel"))
    finished = float(np.mean(usage.work.completed_window))
    if finished > 0 and llm.preemptions > 0.01 * finished:
        out.append(DesignWarning(
            "model", f"KV cache pressure: {llm.preemptions:,.0f} preemptions per replication "
            f"({llm.preemptions / finished:.1%} of requests) recompute their prompts; "
            "lower max_num_seqs or add KV capacity"))
    out += trace_warnings(inputs, workload)
    peak = llm.peak_kv_utilization.mean
    if peak is None or not math.isfinite(peak):
        out.append(DesignWarning("model", "KV utilisation n/a: no replica served in the window"))
    return out
