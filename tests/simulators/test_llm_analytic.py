"""The llm kernel against closed forms (``docs/llm-serving.md``).

* The step time: the kernel's interpolation of the token profile equals
  :class:`simulators.core.tokens.TokenProfile`'s.
* An isolated request: TTFT is its prefill step(s) ``f(p)``, every later token one decode step
  ``D(1, p + g)`` at the context it has then; so E2E and TPOT are sums of profile values.
* A saturated replica: ``max_num_seqs`` slots, each holding a request for one prefill step and
  ``o - 1`` decode steps, so ``max_num_seqs / o`` requests finish per step; with the synthetic
  profile's bilinear decode step ``D(b, C / b) = a + b1 b + b2 C`` the mean step time follows
  from the mean batch and the mean summed context alone.
* A KV cache too small for ``max_num_seqs``: admissions stop at the free blocks, the running
  requests never hold more blocks than the cache has, and preemptions occur.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.fleet import FleetSpec
from simulators.core.histogram import RELATIVE_ERROR_BOUND
from simulators.core.tokens import TokenProfile, token_profile
from simulators.llm import EngineConfig, TokenSamples
from simulators.llm._steptime import (
    decode_ms,
    prefill_one_ms,
    profile_arrays,
    step_seconds,
    step_tables,
)
from simulators.llm.api import simulate_llm
from tests.simulators.helpers import ci
from tests.simulators.test_llm_kernel import DECODE_A, DECODE_B1, DECODE_B2, PROFILE


def h100_profile(shared_data: Path, model: str) -> TokenProfile:
    """The measured H100 profile of ``model``, read with the standard library."""
    path = shared_data / "gpu-profiles" / "h100_llm_token_latency.csv"
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["model"] == model]
    pre = [r for r in rows if r["phase"] == "prefill"]
    dec = [r for r in rows if r["phase"] == "decode"]
    return token_profile(
        model, rows[0]["gpu"],
        prefill_tokens=[float(r["new_tokens_per_sequence"]) for r in pre],
        prefill_ms=[float(r["mean_ms"]) for r in pre],
        decode_batch=[float(r["batch"]) for r in dec],
        decode_context=[float(r["context_tokens"]) for r in dec],
        decode_ms=[float(r["mean_ms"]) for r in dec], source=str(path))


def assert_step_time_matches(profile: TokenProfile) -> None:
    prof = profile_arrays(profile)
    for n in (0, 1, 64, 127, 128, 129, 300, 512, 1000, 2048, 3000, 8191, 8192, 9000, 20_000):
        assert prefill_one_ms(prof.pre_x, prof.pre_y, float(n)) == pytest.approx(
            profile.prefill_ms(1, n), abs=1e-9), n
    for b in (1, 2, 3, 5, 8, 17, 63, 64, 100, 128, 256, 300):
        for c in (0.0, 1.0, 100.0, 511.5, 512.0, 700.0, 2048.0, 5000.25, 8192.0, 12_000.0):
            assert decode_ms(prof, float(b), c) == pytest.approx(
                profile.decode_step_ms(b, c), abs=1e-9), (b, c)
    tab = step_tables(prof, 2048, 256)
    for b, c_sum, n in ((0, 0, 700), (1, 513, 0), (37, 37 * 900, 0), (64, 64 * 3000, 1500),
                        (256, 256 * 600, 2048), (5, 5 * 100, 3)):
        if b == 0:
            want = profile.prefill_ms(1, n)
        else:
            want = profile.decode_step_ms(b, c_sum / b)
            if n > 0:
                want += max(0.0, profile.prefill_ms(1, b + n) - profile.prefill_ms(1, b))
        assert step_seconds(tab, b, float(c_sum), n) == pytest.approx(want / 1000, abs=1e-12)


def test_step_time_equals_the_token_profile_synthetic():
    assert_step_time_matches(PROFILE)


@pytest.mark.parametrize("model", ["llama-3-8b", "llama-3.2-1b"])
def test_step_time_equals_the_token_profile_h100(shared_data: Path, model: str):
    assert_step_time_matches(h100_profile(shared_data, model))


def isolated(prompt: int, output: int, *, max_batched: int = 2048) -> tuple[float, float]:
    """Expected (TTFT, TPOT) of a request alone on a replica, in seconds, from the profile."""
    chunks = []
    left = prompt
    while left > 0:
        chunks.append(min(left, max_batched))
        left -= chunks[-1]
    ttft = sum(PROFILE.prefill_ms(1, x) for x in chunks) / 1000
    decode = sum(PROFILE.decode_step_ms(1, prompt + g) for g in range(1, output)) / 1000
    return ttft, decode / (output - 1)


@pytest.mark.parametrize("prompt, output", [(300, 50), (5_000, 20), (1, 2)])
def test_an_isolated_request_takes_its_prefill_then_one_decode_step_a_token(prompt, output):
    """Requests 20 s apart never meet: TTFT, TPOT and E2E are exact sums of profile values
    (a 5,000-token prompt is prefilled in chunks of max_num_batched_tokens = 2,048)."""
    trace = TraceArrivals(np.arange(25) * 20.0 + 1.0)
    sim = simulate_llm(arrivals=trace, tokens=TokenSamples.constant(prompt, output),
                       profile=PROFILE, engine=EngineConfig(100_000), fleet=FleetSpec.fixed(1),
                       horizon_s=500.0, warmup_s=0.0, n_replications=1, seed=0)
    ttft, tpot = isolated(prompt, output)
    c = sim.counters()
    assert c.finished[0] == 25
    assert sim.ttft.mean_s[0] == pytest.approx(ttft, rel=1e-9)
    assert sim.tpot.mean_s[0] == pytest.approx(tpot, rel=1e-9)
    assert sim.e2e.mean_s[0] == pytest.approx(ttft + (output - 1) * tpot, rel=1e-9)
    n_chunks = -(-prompt // 2048)
    assert c.steps[0] == 25 * (n_chunks + output - 1)
    assert c.mean_decode_batch[0] == 1.0
    assert c.busy_replica_s[0] == pytest.approx(25 * (ttft + (output - 1) * tpot), rel=1e-9)


def test_low_poisson_load_gives_the_isolated_request_latencies():
    """At 0.05 req/s requests rarely overlap: the median TTFT is one prefill step ``f(p)`` (to
    the histogram's resolution) and the mean TPOT the mean of ``D(1, c)`` over the contexts the
    request sees (to the rare overlaps, which add a sequence to a batch)."""
    prompt, output = 300, 50
    sim = simulate_llm(arrivals=PoissonArrivals(0.05), tokens=TokenSamples.constant(prompt, output),
                       profile=PROFILE, engine=EngineConfig(100_000), fleet=FleetSpec.fixed(1),
                       horizon_s=20_000.0, warmup_s=0.0, n_replications=4, seed=11)
    ttft, tpot = isolated(prompt, output)
    median = sim.ttft.percentiles_s(np.array([0.5]))[:, 0]
    np.testing.assert_allclose(median, ttft, rtol=RELATIVE_ERROR_BOUND)
    est = ci(sim.tpot.mean_s)
    assert est.contains(tpot, rel_tol=0.005), (est, tpot)
    assert ci(sim.counters().mean_decode_batch).contains(1.0, rel_tol=0.01)


def test_saturated_replica_serves_max_num_seqs_over_o_requests_a_step():
    """p = 16, o = 128, 64 slots, three times more requests than it serves: each slot finishes
    a request every 128 steps, the prefill chunks stay under the profile's smallest prompt (so
    they cost nothing beyond the pass), and the mean step is ``a + b1 E[b] + b2 E[C]`` with
    ``E[b] = 64 * 127 / 128`` and ``E[C] = E[b] * (p + 64)``."""
    p, o, slots = 16, 128, 64
    mean_b = slots * (o - 1) / o
    step_s = (DECODE_A + DECODE_B1 * mean_b + DECODE_B2 * mean_b * (p + o / 2)) / 1000
    capacity_rps = slots / o / step_s
    warmup, horizon = 60.0, 300.0
    sim = simulate_llm(arrivals=PoissonArrivals(3 * capacity_rps),
                       tokens=TokenSamples.constant(p, o), profile=PROFILE,
                       engine=EngineConfig(1_000_000, max_num_seqs=slots),
                       fleet=FleetSpec.fixed(1), horizon_s=horizon, warmup_s=warmup,
                       n_replications=3, seed=5)
    tl = sim.timeline_per_replication()
    inside = (tl["start_s"] >= warmup) & (tl["start_s"] < horizon)
    throughput = tl["finished"][:, inside].sum(axis=1) / (horizon - warmup)
    np.testing.assert_allclose(throughput, capacity_rps, rtol=0.005)
    c = sim.counters()
    np.testing.assert_allclose(c.mean_decode_batch, mean_b, rtol=0.005)
    np.testing.assert_array_equal(c.peak_running, slots)
    assert (c.preemptions == 0).all()
    np.testing.assert_allclose(sim.utilization(), 1.0, rtol=1e-6)


def test_a_small_kv_cache_caps_the_running_requests_and_preempts():
    """200 blocks of 16 tokens for prompts of 200 and outputs of 400: a request holds
    ``ceil(201 / 16) = 13`` blocks when admitted and up to 38 at its end, so at most
    ``200 // 13 = 15`` run at once (however large ``max_num_seqs``), the held context never
    exceeds the cache, and requests growing into a full cache are preempted."""
    p, o, bs, blocks = 200, 400, 16, 200
    sim = simulate_llm(arrivals=PoissonArrivals(4.0), tokens=TokenSamples.constant(p, o),
                       profile=PROFILE,
                       engine=EngineConfig(blocks * bs, max_num_seqs=256, block_size=bs),
                       fleet=FleetSpec.fixed(1), horizon_s=600.0, warmup_s=60.0,
                       n_replications=2, seed=2)
    c = sim.counters()
    assert (c.peak_running <= blocks // -(-(p + 1) // bs)).all()
    assert (c.peak_running >= blocks // -(-(p + o) // bs)).all()
    assert (c.peak_kv_utilization <= 1.0).all()
    assert (c.mean_running * (p + 1) <= blocks * bs).all()
    assert (c.preemptions > 0).all() and (c.recomputed_tokens > 0).all()
    assert (c.mean_kv_utilization > 0.8).all()
