"""What only LLM designs report: TTFT, TPOT and E2E latency, token rates, goodput, KV cache.

Part of a design's results (:class:`planner.results.DesignResult` ``llm``); its JSON form is
the ``llm`` block of the design.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from planner.result_parts import DistributionResult
from planner.result_read import Node, read_estimate, read_estimates
from planner.stats import Estimate

LLM_LATENCY_KEYS = ("mean", "p50", "p90", "p99")
LLM_DISTRIBUTIONS = ("ttft", "tpot", "e2e")
LLM_RATES = ("input_tokens_per_s", "output_tokens_per_s", "goodput_rps", "mean_kv_utilization",
             "peak_kv_utilization", "mean_running", "mean_waiting", "mean_decode_batch")
"""The estimates of :class:`LlmResult` written as a mean and a ``_ci95`` interval."""
LLM_COUNTS = ("preemptions", "rerouted_requests", "rejected_requests", "recomputed_tokens")


@dataclass(frozen=True)
class LlmEngineResult:
    """The engine settings the design ran with, and where its KV capacity comes from."""

    model: str
    tensor_parallel: int
    replicas_per_node: int
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    gpu_memory_utilization: float
    prefix_tokens: int
    router: str
    kv_cache_tokens: int
    kv_cache_source: str
    step_time_source: str

    @classmethod
    def from_dict(cls, node: Node) -> LlmEngineResult:
        """Read back the design's ``llm.engine`` block."""
        read = {"str": Node.text, "int": Node.integer, "float": Node.num}
        return cls(**{f.name: read[str(f.type)](node[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class LlmResult:
    """LLM serving metrics of one design, over its replications (estimates: mean and 95 % CI).

    Latencies in ms: ``ttft`` (arrival to first token), ``tpot`` (per output token after the
    first), ``e2e`` (arrival to last token). ``goodput_rps``: measured requests per second that
    met every bound of the SLO (all requests finished when there is no SLO). Counts are per
    replication.
    """

    ttft_ms: dict[str, Estimate]
    tpot_ms: dict[str, Estimate]
    e2e_ms: dict[str, Estimate]
    input_tokens_per_s: Estimate
    output_tokens_per_s: Estimate
    goodput_rps: Estimate
    preemptions: float
    rerouted_requests: float
    rejected_requests: float
    recomputed_tokens: float
    kv_cache_tokens: int
    mean_kv_utilization: Estimate
    peak_kv_utilization: Estimate
    mean_running: Estimate
    mean_waiting: Estimate
    mean_decode_batch: Estimate
    engine: LlmEngineResult
    distributions_ms: dict[str, DistributionResult] = field(default_factory=dict, repr=False)

    def latency(self, which: str) -> dict[str, Estimate]:
        """Return the estimates of ``ttft``, ``tpot`` or ``e2e`` (ms)."""
        return {"ttft": self.ttft_ms, "tpot": self.tpot_ms, "e2e": self.e2e_ms}[which]

    def flat_metrics(self) -> dict[str, float | None]:
        """Return the scalar metrics a guardrail or sweep may name (``ttft_p99_ms`` ...)."""
        out: dict[str, float | None] = {}
        for which in LLM_DISTRIBUTIONS:
            for key, est in self.latency(which).items():
                out[f"{which}_{key}_ms"] = est.mean
        out.update(
            goodput_rps=self.goodput_rps.mean, input_tokens_per_s=self.input_tokens_per_s.mean,
            output_tokens_per_s=self.output_tokens_per_s.mean,
            llm_preemptions=self.preemptions, rerouted_requests=self.rerouted_requests,
            rejected_requests=self.rejected_requests,
            peak_kv_utilization=self.peak_kv_utilization.mean,
            mean_kv_utilization=self.mean_kv_utilization.mean,
            mean_running=self.mean_running.mean, mean_waiting=self.mean_waiting.mean,
            kv_cache_tokens=float(self.kv_cache_tokens))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (the design's ``llm`` block)."""
        out: dict[str, Any] = {}
        for which in LLM_DISTRIBUTIONS:
            est = self.latency(which)
            out[f"{which}_ms"] = {k: est[k].mean for k in LLM_LATENCY_KEYS}
            out[f"{which}_ms_ci95"] = {k: [est[k].low, est[k].high] for k in LLM_LATENCY_KEYS}
        for name in LLM_RATES:
            est = getattr(self, name)
            out[name] = est.mean
            out[f"{name}_ci95"] = [est.low, est.high]
        out.update(preemptions=self.preemptions, rerouted_requests=self.rerouted_requests,
                   rejected_requests=self.rejected_requests,
                   recomputed_tokens=self.recomputed_tokens,
                   kv_cache_tokens=self.kv_cache_tokens,
                   engine=dict(self.engine.__dict__),
                   distributions_ms={k: v.to_dict() for k, v in self.distributions_ms.items()})
        return out

    @classmethod
    def from_dict(cls, node: Node, n: int) -> LlmResult:
        """Read back :meth:`to_dict`; ``n``: the replications its estimates rest on."""
        lat = {f"{which}_ms": read_estimates(node[f"{which}_ms"], node[f"{which}_ms_ci95"],
                                             LLM_LATENCY_KEYS, n)
               for which in LLM_DISTRIBUTIONS}
        rates = {name: read_estimate(node[name], node[f"{name}_ci95"], n) for name in LLM_RATES}
        return cls(**lat, **rates, **{k: node[k].num() for k in LLM_COUNTS},
                   kv_cache_tokens=node["kv_cache_tokens"].integer(),
                   engine=LlmEngineResult.from_dict(node["engine"]),
                   distributions_ms={k: DistributionResult.from_dict(v) for k, v
                                     in node["distributions_ms"].entries().items()})
