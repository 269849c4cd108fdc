"""The SimPy reference of the ``llm`` pattern against hand-computed steps and closed forms.

The token profile here is made to give exact binary fractions: prefill ``f(n) = 1.75 + 0.25 n``
ms for ``n >= 1`` (``f(0) = 2`` ms, the profile's clamp below its first point) and decode step
``D(b, c) = 3 + b + (c - 1) / 256`` ms.  Each expected time below is written out step by step
from ``docs/llm-serving.md`` (step time, scheduler order, KV blocks, recompute preemption,
prefix caching, routing, notices and deaths).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.core.arrivals import PoissonArrivals, TraceArrivals
from simulators.core.fleet import AutoscalingPolicy, DelayComponent, FleetSpec, SpotModel
from simulators.core.spec import RunSpec
from simulators.core.tokens import token_profile
from simulators.llm.reference import (
    Replica,
    Request,
    arrival_times,
    schedule_step,
    simulate_reference,
    token_indices,
)
from simulators.llm.spec import EngineConfig, LlmSpec, TokenSamples
from tests.simulators.test_llm_service import load_token_profile

PROFILE = token_profile("toy", "toy gpu", prefill_tokens=[1, 1025], prefill_ms=[2.0, 258.0],
                        decode_batch=[1, 2, 1, 2], decode_context=[1, 1, 1025, 1025],
                        decode_ms=[4.0, 5.0, 8.0, 9.0], source="hand-made")


def f_ms(n: int) -> float:
    """Prefill of n tokens, ms."""
    return 2.0 if n == 0 else 1.75 + 0.25 * n


def d_ms(b: int, c: float) -> float:
    """Decode step of b sequences at mean context c, ms."""
    return 3.0 + b + (c - 1.0) / 256.0


def spec_of(times, prompt, output, *, kv=4096, seqs=256, budget=2048, bs=16, prefix=0,
            fleet=None, horizon=100.0, warmup=0.0, order="sequential", router="least_outstanding",
            profile=PROFILE, seed=1) -> LlmSpec:
    arrivals = times if not isinstance(times, (list, tuple, np.ndarray)) else \
        TraceArrivals(np.asarray(times, dtype=np.float64))
    return LlmSpec(
        arrivals=arrivals,
        tokens=TokenSamples(*np.broadcast_arrays(np.atleast_1d(np.asarray(prompt, np.int64)),
                                                 np.atleast_1d(np.asarray(output, np.int64))),
                            order),
        profile=profile,
        engine=EngineConfig(kv_cache_tokens=kv, max_num_seqs=seqs, max_num_batched_tokens=budget,
                            block_size=bs, prefix_tokens=prefix),
        fleet=fleet or FleetSpec.fixed(1, 1), run=RunSpec(horizon, warmup, 1, seed),
        router=router)


def ms(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64) * 1000.0


# --- hand-computed timelines -------------------------------------------------------------------


def test_profile_is_the_hand_formula():
    for n in (0, 1, 31, 100, 256, 2000):
        assert PROFILE.prefill_ms(1, n) == f_ms(n)
    for b, c in ((1, 1), (1, 101), (2, 101.5), (2, 33), (4, 700)):
        assert PROFILE.decode_step_ms(b, c) == pytest.approx(d_ms(b, c), rel=1e-14)


def test_two_requests_step_by_step():
    """A at 0 and B at 1 ms, 100-token prompts, 3 output tokens, one replica."""
    r = simulate_reference(spec_of([0.0, 0.001], [100], [3]))
    s1 = f_ms(100)  # A's prefill; B arrives during it
    s2 = s1 + d_ms(1, 101) + f_ms(1 + 100) - f_ms(1)  # A decodes at 101, B prefills: mixed
    s3 = s2 + d_ms(2, (102 + 101) / 2)  # both decode: A's 3rd token, A done
    s4 = s3 + d_ms(1, 102)  # B's 3rd token
    np.testing.assert_allclose(ms(r.ttft_s), [s1, s2 - 1.0], rtol=1e-12)
    np.testing.assert_allclose(ms(r.e2e_s), [s3, s4 - 1.0], rtol=1e-12)
    np.testing.assert_allclose(ms(r.tpot_s), [(s3 - s1) / 2, (s4 - s2) / 2], rtol=1e-12)
    assert (r.n_steps, r.decode_seqs, r.n_preemptions) == (4, 4, 0)
    assert r.mean_decode_batch == 1.0
    assert (r.input_tokens, r.output_tokens, r.recomputed_tokens) == (200, 6, 0)
    assert r.busy_replica_s[0] == pytest.approx(s4 / 1000.0, rel=1e-12)


def test_chunked_prefill_shares_the_budget():
    """A 1000-token prompt in chunks of 256; B (100 tokens, 1 output) takes what is left."""
    r = simulate_reference(spec_of([0.0, 0.001], [1000, 100], [2, 1], budget=256))
    t = 3 * f_ms(256)  # A: 256, 256, 256 (B waits: no budget left)
    t += f_ms(232 + 24)  # A's last 232 complete its prefill, B is admitted with 24
    ttft_a = t
    t += d_ms(1, 1001) + f_ms(1 + 76) - f_ms(1)  # A decodes (its 2nd token: done), B's last 76
    np.testing.assert_allclose(ms(r.ttft_s), [ttft_a, t - 1.0], rtol=1e-12)
    np.testing.assert_allclose(ms(r.e2e_s), [t, t - 1.0], rtol=1e-12)
    assert np.isnan(r.tpot_s[1]) and r.n_steps == 5


def test_preemption_of_the_most_recent_request():
    """10 KV blocks of 16 tokens; A and B (64-token prompts, 40 outputs) both fit at first.

    At context 80 both need a 6th block: A (admitted first) takes it and B, the most recently
    admitted, is preempted; it cannot come back (6 blocks > 4 free) until A finishes, then
    recomputes its 64 + 16 tokens in one prefill and emits its 17th token.
    """
    r = simulate_reference(spec_of([0.0, 0.0], [64], [40], kv=160))
    t = f_ms(128)  # both prefills: 1st token each, context 65
    ttft = t
    for c in range(65, 80):  # both decode at contexts 65..79 (5 blocks each, no new one)
        t += d_ms(2, c)
    for c in range(80, 104):  # B preempted at the first of these; A alone to 40 tokens
        t += d_ms(1, c)
    e2e_a = t
    t += f_ms(80)  # B recomputes 64 + 16 tokens: its 17th token
    for c in range(81, 104):  # B's tokens 18..40
        t += d_ms(1, c)
    np.testing.assert_allclose(ms(r.ttft_s), [ttft, ttft], rtol=1e-12)
    np.testing.assert_allclose(ms(r.e2e_s), [e2e_a, t], rtol=1e-12)
    assert r.preemptions.tolist() == [0, 1]
    assert (r.n_preemptions, r.recomputed_tokens) == (1, 80)
    assert r.n_steps == 1 + 15 + 24 + 1 + 23
    assert r.output_tokens == 80 and r.input_tokens == 128


def test_several_preempted_in_one_step_keep_their_admission_order():
    """Four running requests at context 32 on 8 blocks all need a 3rd block: A takes D's
    blocks (D preempted), B takes the one left, C is then the most recent and preempts itself;
    the waiting queue then starts C, D."""
    replica = Replica(0, EngineConfig(kv_cache_tokens=128, block_size=16))
    reqs = [Request(i, 0.0, 31, 3, to_prefill=31) for i in range(4)]
    replica.waiting.extend(reqs)
    counter = iter(range(100))
    step, preempted = schedule_step(replica, lambda: next(counter))
    assert [req for req, _ in step.chunks] == reqs and replica.used_blocks() == 8
    for req in reqs:  # the step's end: prompt done, first token
        req.computed, req.emitted = 31, 1
    step, preempted = schedule_step(replica, lambda: next(counter))
    a, b, c, d = reqs
    assert preempted == [d, c]
    assert list(replica.waiting) == [c, d]
    assert step.decodes == [a, b] and step.chunks == []
    assert (c.to_prefill, c.computed, c.blocks, c.n_preemptions) == (32, 0, 0, 1)
    assert step.recomputed == 64 and replica.used_blocks() == 6


def test_several_preempted_timeline():
    """The same four requests end to end: C and D recompute 32 tokens after A and B finish."""
    r = simulate_reference(spec_of([0.0] * 4, [31], [3], kv=128))
    t1 = f_ms(124)
    t2 = t1 + d_ms(2, 32)  # A and B (C, D preempted)
    t3 = t2 + d_ms(2, 33)  # A and B finish
    t4 = t3 + f_ms(64)  # C and D recompute 31 + 1 tokens: 2nd token each
    t5 = t4 + d_ms(2, 33)
    np.testing.assert_allclose(ms(r.ttft_s), [t1] * 4, rtol=1e-12)
    np.testing.assert_allclose(ms(r.e2e_s), [t3, t3, t5, t5], rtol=1e-12)
    assert r.preemptions.tolist() == [0, 0, 1, 1] and r.recomputed_tokens == 64


def test_prefix_caching_saves_the_prefix_compute():
    """64 shared tokens: B, admitted while A holds the prefix, computes 36 of its 100 tokens;
    C, arriving after both left, computes the whole prompt again."""
    r = simulate_reference(spec_of([0.0, 0.001, 1.0], [100], [2, 1, 1], prefix=64))
    s1 = f_ms(100)
    s2 = s1 + d_ms(1, 101) + f_ms(1 + 36) - f_ms(1)
    np.testing.assert_allclose(ms(r.ttft_s), [s1, s2 - 1.0, f_ms(100)], rtol=1e-12)
    np.testing.assert_allclose(ms(r.e2e_s), [s2, s2 - 1.0, f_ms(100)], rtol=1e-12)
    plain = simulate_reference(spec_of([0.0, 0.001, 1.0], [100], [2, 1, 1]))
    assert ms(plain.ttft_s)[1] == pytest.approx(
        s1 + d_ms(1, 101) + f_ms(1 + 100) - f_ms(1) - 1.0)


def test_prefix_blocks_are_held_once():
    """With a 64-token prefix (4 blocks), A holds 4 + 3 blocks at context 101 and B, admitted
    with the prefix, 0 + 3: 10 blocks in all, against 14 without sharing."""
    replica = Replica(0, EngineConfig(kv_cache_tokens=4096, block_size=16, prefix_tokens=64))
    a = Request(0, 0.0, 100, 5, to_prefill=100)
    replica.waiting.append(a)
    step, _ = schedule_step(replica, iter(range(9)).__next__)
    assert step.chunks == [(a, 100)] and replica.used_blocks() == 7
    a.computed, a.emitted = 100, 1
    b = Request(1, 0.0, 100, 5, to_prefill=100)
    replica.waiting.append(b)
    step, _ = schedule_step(replica, iter(range(9)).__next__)
    assert step.decodes == [a] and step.chunks == [(b, 36)]
    assert b.computed == 64 and (a.blocks, b.blocks) == (3, 3) and replica.used_blocks() == 10


def test_a_prompt_inside_the_prefix():
    """A 40-token prompt admitted beside a holder of the 64-token prefix finds 39 tokens cached
    (the last prompt token is always computed): its one-token chunk completes its prefill and
    emits its first token; it holds no block of its own (its 40 tokens and its first output
    token fit in the 3 blocks of its part of the prefix)."""
    r = simulate_reference(spec_of([0.0, 0.001], [100, 40], [2, 1], prefix=64))
    s1 = f_ms(100)
    s2 = s1 + d_ms(1, 101) + f_ms(1 + 1) - f_ms(1)
    np.testing.assert_allclose(ms(r.ttft_s), [s1, s2 - 1.0], rtol=1e-12)
    assert r.step_prefix_hit.tolist() == [0, 39]
    assert r.step_kv_share.tolist() == [7 / 256, 7 / 256]


def test_a_request_that_can_never_fit_is_rejected():
    r = simulate_reference(spec_of([0.0, 0.1, 0.2], [100, 150, 100], [20, 20, 20], kv=160))
    assert r.rejected.tolist() == [False, True, False]
    assert r.finished.tolist() == [True, False, True]
    assert (r.n_rejected, r.n_finished, r.n_stranded) == (1, 2, 0)
    assert np.isnan(r.ttft_s[1]) and r.replica[1] == -1


def test_a_prompt_shorter_than_the_prefix_holds_the_whole_prefix():
    """Blocks of one token, a 100-token prefix and 129 blocks: a 62-token prompt with 51
    output tokens shares 62 of the prefix's 100 blocks and needs 51 of its own, 151 in all, so
    it is rejected although 62 + 51 <= 129; a 120-token prompt with 2 outputs needs
    100 + 22 = 122 and is served."""
    r = simulate_reference(spec_of([0.0, 0.0], [62, 120], [51, 2], kv=129, bs=1, prefix=100))
    assert r.rejected.tolist() == [True, False] and r.finished.tolist() == [False, True]
    assert r.step_kv_share.max() == 122 / 129


# --- routing and the fleet ---------------------------------------------------------------------


@pytest.mark.parametrize("router, expected", [
    ("least_outstanding", [0, 1, 2, 3, 0, 1, 3]),
    ("round_robin", [0, 1, 2, 3, 0, 1, 2]),
])
def test_routing(router, expected):
    """Two nodes of two replicas.  Six requests at 0 go to replicas 0, 1, 2, 3, 0, 1 (ties to
    the lowest index, or in turn).  Request 3 (10-token prompt, 1 output token) leaves replica
    3 at f(10) = 4.25 ms; the others (3000-token prompts) are still running at 0.5 s, when the
    7th request comes: the least outstanding replica is 3, the next in turn is 2."""
    prompt = [3000, 3000, 3000, 10, 3000, 3000, 3000]
    output = [5, 5, 5, 1, 5, 5, 5]
    times = [0.0] * 6 + [0.5]
    r = simulate_reference(spec_of(times, prompt, output, fleet=FleetSpec.fixed(2, 2),
                                   router=router))
    assert r.replica.tolist() == expected


def test_central_queue_until_the_first_node_is_ready():
    """No node at 0; the autoscaler's first evaluation (t = 1) launches one that boots in 10 s;
    the two requests wait in the central queue and are routed at 11 s."""
    fleet = FleetSpec(workers_per_node=1, initial_nodes=0, max_nodes=1,
                      autoscaling=AutoscalingPolicy("in_flight_per_replica", 1.0, 1, 1, 1.0, 1.0),
                      provisioning=(DelayComponent("boot", 10.0),))
    r = simulate_reference(spec_of([0.5, 2.0], [100], [2], fleet=fleet, horizon=20.0))
    start = 11.0
    s1 = start * 1000 + f_ms(200)
    s2 = s1 + d_ms(2, 101)
    np.testing.assert_allclose(ms(r.ttft_s), [s1 - 500, s1 - 2000], rtol=1e-12)
    np.testing.assert_allclose(ms(r.e2e_s), [s2 - 500, s2 - 2000], rtol=1e-12)
    assert r.node_s[0, 0] == pytest.approx(10.0) and r.node_s[0, 1] == pytest.approx(9.0)
    assert r.central_area == pytest.approx(10.5 + 9.0)


def test_spot_death_reroutes_with_recomputation():
    """A base node and a spot node (one replica each); the spot capacity drops to 0 at 1 s, the
    notice lasts 2 s.  Requests: A (base), B (spot), both long; C arrives at 1.5 s and goes to the
    base node (spot is on notice).  At 3 s B loses its KV: rerouted to the base replica, it
    recomputes its prompt and the tokens it had emitted, keeping its TTFT."""
    spot = SpotModel(notice_s=2.0, replacement_delay_s=1000.0,
                     trace_times_s=np.array([0.0, 1.0]), trace_capacity=np.array([1, 0]))
    fleet = FleetSpec(workers_per_node=1, initial_nodes=2, max_nodes=3, on_demand_base=1,
                      extra_is_spot=True, spot=spot)
    r = simulate_reference(spec_of([0.0, 0.0, 1.5], [500, 500, 50], [2000, 2000, 5],
                                   fleet=fleet, horizon=10.0, kv=16384))
    assert r.replica.tolist() == [0, 0, 0]  # B ended on replica 0
    assert r.rerouted.tolist() == [0, 1, 0] and r.n_rerouted == 1
    assert r.finished.all() and r.n_preemptions == 0
    assert r.ttft_s[1] == pytest.approx(f_ms(500) / 1000)  # B's first token on the spot node
    assert r.recomputed_tokens > 500
    assert r.n_spot_notices == 1 and r.node_s[1, 1] == pytest.approx(1.0)
    assert r.node_s[1, 2] == pytest.approx(2.0)
    assert [kind for _, kind, _ in r.events][:3] == ["notice", "reroute", "death"]


def test_scale_out_under_load_and_drain():
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=4, on_demand_base=1,
                      autoscaling=AutoscalingPolicy("in_flight_per_replica", 4.0, 1, 4, 10.0,
                                                    30.0, 30.0),
                      provisioning=(DelayComponent("boot", 20.0),))
    r = simulate_reference(spec_of(PoissonArrivals(15.0), [400], [150], fleet=fleet,
                                   horizon=120.0, kv=8192))
    assert r.n_scale_out >= 1 and r.max_nodes_seen > 1
    assert r.finished.sum() + r.n_rejected == r.n_arrived


# --- conservation and closed forms -------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), rate=st.floats(2.0, 40.0), kv_blocks=st.integers(20, 200),
       budget=st.sampled_from([64, 256, 2048]), seqs=st.sampled_from([2, 8, 256]),
       prefix=st.sampled_from([0, 0, 40]), nodes=st.integers(1, 3),
       router=st.sampled_from(["least_outstanding", "round_robin"]))
def test_conservation(seed, rate, kv_blocks, budget, seqs, prefix, nodes, router):
    rng = np.random.default_rng(seed)
    prompt = rng.integers(1, 600, 30)
    output = rng.integers(1, 200, 30)
    spec = spec_of(PoissonArrivals(rate), prompt, output, kv=16 * kv_blocks, budget=budget,
                   seqs=seqs, prefix=prefix, fleet=FleetSpec.fixed(nodes, 2), horizon=10.0,
                   warmup=1.0, order="random", router=router, seed=seed)
    r = simulate_reference(spec)
    assert r.n_finished + r.n_rejected == r.n_arrived and r.n_stranded == 0
    need = np.ceil((r.prompt + r.output) / 16)
    if prefix:  # the prefix's blocks, less the request's part of them
        need += np.ceil(prefix / 16) - np.ceil(np.minimum(prefix, r.prompt) / 16)
    assert r.rejected.tolist() == (need > kv_blocks).tolist()
    done = r.finished
    assert r.input_tokens == r.prompt[done].sum() and r.output_tokens == r.output[done].sum()
    assert np.all(r.ttft_s[done] > 0) and np.all(r.ttft_s[done] <= r.e2e_s[done])
    assert np.isnan(r.tpot_s[r.output == 1]).all()
    assert r.preemptions.sum() == r.n_preemptions
    assert (r.recomputed_tokens > 0) == (r.n_preemptions > 0)
    # each output token but the first is a decode step, unless a recomputation emits it
    decodes = (r.output[done] - 1).sum()
    assert r.decode_seqs <= decodes
    if r.n_preemptions == 0:
        assert r.decode_seqs == decodes
        assert r.step_completions.sum() == r.n_finished
    assert r.recomputed.sum() == r.recomputed_tokens
    assert r.step_prefix_hit.sum() <= prefix * r.n_finished + prefix * r.n_preemptions
    assert 0.0 <= r.mean_kv_utilization <= r.peak_kv_utilization <= 1.0
    assert r.replica_s == pytest.approx(2 * nodes * 9.0)
    assert r.busy_replica_s_window.sum() <= r.replica_s + 1e-9
    assert r.in_flight_area == pytest.approx(r.running_area + r.waiting_area + r.central_area)
    assert r.measured.tolist() == (r.arrival_s >= 1.0).tolist()


def test_littles_law():
    """Requests in the system on average = arrival rate x mean time in the system."""
    spec = spec_of(PoissonArrivals(8.0), [300, 800, 120], [100, 40, 300], kv=16 * 400,
                   fleet=FleetSpec.fixed(1, 2), horizon=400.0, warmup=0.0, order="random")
    r = simulate_reference(spec)
    assert r.finished.all()
    in_window = r.e2e_s.sum() - np.maximum(r.arrival_s + r.e2e_s - 400.0, 0).sum()
    assert r.in_flight_area == pytest.approx(in_window, rel=1e-9)


def test_low_load_closed_forms(shared_data):
    """Requests far apart on the measured H100 profile: TTFT = f(p), TPOT = the mean of
    D(1, c) over contexts p + 1 .. p + o - 1."""
    path = shared_data / "gpu-profiles" / "h100_llm_token_latency.csv"
    profile = load_token_profile(path, "llama-3-8b")
    prompt, output = [200, 1500, 3000, 37], [64, 300, 2, 900]
    times = 100.0 * np.arange(8)
    r = simulate_reference(spec_of(times, prompt, output, profile=profile, kv=100_000,
                                   budget=8192, horizon=900.0))
    p = np.resize(prompt, 8)
    o = np.resize(output, 8)
    np.testing.assert_allclose(r.ttft_s, profile.prefill_ms(1, p) / 1000.0, rtol=1e-9)
    tpot = [profile.decode_sum_ms(1, pi + 1, oi - 1) / (oi - 1) / 1000 for pi, oi in zip(p, o)]
    np.testing.assert_allclose(r.tpot_s, tpot, rtol=1e-9)
    assert r.n_preemptions == 0 and r.mean_decode_batch <= 1.0


# --- random streams ----------------------------------------------------------------------------


def test_token_draws_and_arrivals():
    idx = token_indices(5000, 7, "random", 3, 0)
    assert idx.min() == 0 and idx.max() == 6
    counts = np.bincount(idx, minlength=7)
    assert np.all(np.abs(counts - 5000 / 7) < 5 * math.sqrt(5000 / 7))
    assert token_indices(5000, 7, "random", 3, 0).tolist() == idx.tolist()
    assert token_indices(10, 7, "random", 3, 1).tolist() != idx[:10].tolist()
    assert token_indices(9, 4, "sequential", 3, 0).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    spec = spec_of(PoissonArrivals(5.0), [10], [10], horizon=2000.0)
    for like_kernel in (False, True):
        t = arrival_times(spec, 0, like_kernel=like_kernel)
        assert abs(t.size - 10_000) < 5 * 100 and np.all(np.diff(t) >= 0) and t[-1] < 2000.0
    looped = replace(spec, arrivals=TraceArrivals(np.array([0.0, 1.0, 2.0]), repeat=True),
                     run=RunSpec(7.5, 0.0, 1, 1))
    assert arrival_times(looped).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
