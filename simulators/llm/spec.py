"""The llm pattern's typed spec and its one entry point (``docs/llm-serving.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulators.core.arrivals import Arrivals
from simulators.core.fleet import FleetSpec
from simulators.core.spec import RunSpec
from simulators.core.tokens import TokenProfile
from simulators.core.usage import ProgressCallback

if TYPE_CHECKING:
    from simulators.llm.api import LlmSimResult


@dataclass(frozen=True)
class EngineConfig:
    """One replica's serving engine (vLLM's names).

    Attributes
    ----------
    kv_cache_tokens : int
        KV cache capacity per replica (tokens); ``kv_cache_tokens // block_size`` blocks.
    max_num_seqs : int
        Most requests running at once on a replica.
    max_num_batched_tokens : int
        A step's token budget (decode tokens and prefill chunks); at least ``max_num_seqs``,
        as vLLM requires.
    block_size : int
        Tokens per KV block.
    prefix_tokens : int
        Length of the prompt prefix every request shares (0: no prefix caching).
    tensor_parallel : int
        GPUs per replica: a node of ``g`` GPUs runs ``g // tensor_parallel`` replicas (the
        fleet's ``workers_per_node``); busy GPU-seconds are busy replica-seconds times this.
    """

    kv_cache_tokens: int
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 2048
    block_size: int = 16
    prefix_tokens: int = 0
    tensor_parallel: int = 1

    @property
    def total_blocks(self) -> int:
        """KV blocks per replica."""
        return int(self.kv_cache_tokens) // int(self.block_size)


@dataclass(frozen=True)
class TokenSamples:
    """Paired prompt and output token counts, drawn per request (``"random"``) or replayed in
    arrival order (``"sequential"``); constant tokens are one-sample arrays."""

    prompt: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    order: str = "random"

    @classmethod
    def constant(cls, prompt_tokens: int, output_tokens: int) -> TokenSamples:
        """Return every request with the same prompt and output lengths."""
        return cls(np.array([prompt_tokens], dtype=np.int64),
                   np.array([output_tokens], dtype=np.int64))


@dataclass(frozen=True)
class LlmSlo:
    """Latency objectives (s): time to first token, time per output token, end to end."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None


@dataclass(frozen=True)
class LlmSpec:
    """Replicas of an LLM engine with continuous batching behind a router."""

    arrivals: Arrivals
    tokens: TokenSamples
    profile: TokenProfile
    engine: EngineConfig
    fleet: FleetSpec
    run: RunSpec
    router: str = "least_outstanding"
    slo: LlmSlo = LlmSlo()
    timeline_bin_s: float = 60.0


def simulate(spec: LlmSpec, *, progress: ProgressCallback | None = None) -> LlmSimResult:
    """Simulate ``spec`` (:func:`simulators.llm.api.simulate_llm` checks it)."""
    from simulators.llm.api import simulate_llm

    r = spec.run
    return simulate_llm(
        arrivals=spec.arrivals, tokens=spec.tokens, profile=spec.profile, engine=spec.engine,
        fleet=spec.fleet, horizon_s=r.horizon_s, warmup_s=r.warmup_s,
        n_replications=r.n_replications, seed=r.seed, router=spec.router, slo=spec.slo,
        timeline_bin_s=spec.timeline_bin_s, progress=progress)
