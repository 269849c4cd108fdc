"""The llm kernel (continuous batching, ``docs/llm-serving.md``): conservation of requests and
tokens, routing, prefix caching, spot nodes, autoscaling, determinism and input errors.

Closed forms (an isolated request, a saturated replica, the step time) are in
``test_llm_analytic.py``.  Most tests use a synthetic token profile whose decode step is exactly
bilinear, ``D(b, c) = a + b1 b + b2 b c``, so expected values follow by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from domain.errors import SimulationError
from simulators.core.arrivals import DiurnalArrivals, PoissonArrivals, TraceArrivals
from simulators.core.fleet import AutoscalingPolicy, DelayComponent, FleetSpec, SpotModel
from simulators.core.spec import RunSpec
from simulators.core.tokens import TokenProfile, token_profile
from simulators.llm import EngineConfig, LlmSlo, LlmSpec, TokenSamples, llm_usage, simulate
from simulators.llm.api import simulate_llm

DECODE_A, DECODE_B1, DECODE_B2 = 6.5, 0.03, 5e-6  # ms, ms per sequence, ms per context token


def synthetic_profile() -> TokenProfile:
    """A profile with a piecewise-linear prefill and an exactly bilinear decode step."""
    batches = np.array([1.0, 8.0, 64.0, 256.0])
    contexts = np.array([512.0, 2048.0, 8192.0])
    bb, cc = np.meshgrid(batches, contexts, indexing="ij")
    grid = DECODE_A + DECODE_B1 * bb + DECODE_B2 * bb * cc
    return token_profile(
        "synthetic", "NVIDIA H100 80GB HBM3",
        prefill_tokens=[128.0, 512.0, 2048.0, 8192.0], prefill_ms=[8.0, 14.0, 55.0, 240.0],
        decode_batch=bb.ravel(), decode_context=cc.ravel(), decode_ms=grid.ravel(),
        source="synthetic")


PROFILE = synthetic_profile()


def run(*, rate=5.0, tokens=None, engine=None, fleet=None, horizon_s=300.0, warmup_s=0.0,
        reps=2, seed=3, router="least_outstanding", slo=None, arrivals=None):
    return simulate_llm(
        arrivals=arrivals if arrivals is not None else PoissonArrivals(rate),
        tokens=tokens if tokens is not None else TokenSamples.constant(300, 60),
        profile=PROFILE, engine=engine if engine is not None else EngineConfig(100_000),
        fleet=fleet if fleet is not None else FleetSpec.fixed(2), horizon_s=horizon_s,
        warmup_s=warmup_s, n_replications=reps, seed=seed, router=router, slo=slo)


def random_tokens(n=400, seed=0) -> TokenSamples:
    rng = np.random.default_rng(seed)
    return TokenSamples(rng.integers(1, 1500, n), rng.integers(1, 400, n))


def assert_conserved(sim, *, prefix=False) -> None:
    """Requests: arrived = finished + rejected + stranded, and at the horizon; tokens: every
    prompt token is computed or a prefix hit once, plus the context lost; every output token
    is one decode token or one completed prefill (warm-up 0: every request is counted)."""
    c = sim.counters()
    assert (c.stalls == 0).all()
    np.testing.assert_array_equal(c.arrived, c.arrived_total)
    np.testing.assert_array_equal(c.arrived, c.finished + c.rejected + c.stranded)
    np.testing.assert_array_equal(c.arrived,
                                  c.finished_by_horizon + c.in_system_at_horizon + c.rejected)
    np.testing.assert_array_equal(c.prefill_tokens + c.prefix_hit_tokens,
                                  c.input_tokens + c.recomputed_tokens)
    np.testing.assert_array_equal(c.decode_tokens + c.prefill_completions, c.output_tokens)
    if not prefix:
        assert (c.prefix_hit_tokens == 0).all()
    assert (sim.hist[:, 2].sum(axis=1) == c.finished).all()


def test_conservation_with_random_tokens_and_preemptions():
    engine = EngineConfig(kv_cache_tokens=8_000, max_num_seqs=32, max_num_batched_tokens=512)
    sim = run(rate=8.0, tokens=random_tokens(), engine=engine, reps=3)
    assert_conserved(sim)
    c = sim.counters()
    assert (c.preemptions > 0).all() and (c.recomputed_tokens > 0).all()
    assert (c.peak_kv_utilization <= 1.0).all()
    assert (c.stranded == 0).all()


def test_rejected_requests_are_counted_never_dropped():
    tokens = TokenSamples(np.array([100, 5_000]), np.array([50, 200]), order="sequential")
    sim = run(rate=2.0, tokens=tokens, engine=EngineConfig(kv_cache_tokens=4_096))
    c = sim.counters()
    np.testing.assert_allclose(c.rejected, np.floor((c.arrived + 0) / 2), atol=1)
    assert_conserved(sim)


def test_same_seed_same_result_and_replications_independent_of_chunks():
    a = run(reps=3, tokens=random_tokens())
    b = run(reps=3, tokens=random_tokens())
    np.testing.assert_array_equal(a.stats, b.stats)
    np.testing.assert_array_equal(a.hist, b.hist)
    progress = []
    c = simulate_llm(arrivals=PoissonArrivals(5.0), tokens=random_tokens(), profile=PROFILE,
                     engine=EngineConfig(100_000), fleet=FleetSpec.fixed(2), horizon_s=300.0,
                     warmup_s=0.0, n_replications=3, seed=3,
                     progress=lambda done, total: progress.append((done, total)))
    np.testing.assert_array_equal(a.stats, c.stats)
    assert progress[-1] == (3, 3)


def test_sequential_tokens_replay_the_samples_in_order():
    prompts = np.array([10, 20, 30, 40])
    outputs = np.array([1, 2, 3, 4])
    trace = TraceArrivals(np.arange(8) * 50.0)  # isolated requests
    sim = run(arrivals=trace, tokens=TokenSamples(prompts, outputs, order="sequential"),
              horizon_s=400.0, reps=1)
    c = sim.counters()
    assert c.arrived[0] == 8
    assert c.input_tokens[0] == 2 * prompts.sum()
    assert c.output_tokens[0] == 2 * outputs.sum()


def test_least_outstanding_fills_the_lowest_replica_round_robin_spreads():
    """Isolated requests: least-outstanding sends each to replica 0 (ties go to the lowest
    index), round robin cycles through the replicas; busy time shows where they ran."""
    trace = TraceArrivals(np.arange(30) * 20.0)
    fleet = FleetSpec.fixed(3)
    lo = run(arrivals=trace, fleet=fleet, horizon_s=600.0, reps=1)
    rr = run(arrivals=trace, fleet=fleet, horizon_s=600.0, reps=1, router="round_robin")
    np.testing.assert_array_equal(lo.replica_busy_s()[0, 1:], 0.0)
    busy_rr = rr.replica_busy_s()[0]
    np.testing.assert_allclose(busy_rr, busy_rr.mean(), rtol=1e-9)
    np.testing.assert_allclose(lo.replica_busy_s().sum(), busy_rr.sum(), rtol=1e-9)
    np.testing.assert_array_equal(rr.replica_routed()[0], [10, 10, 10])
    np.testing.assert_array_equal(lo.replica_routed()[0], [30, 0, 0])


def test_least_outstanding_balances_what_round_robin_does_not():
    """Alternating long and short requests on two replicas: round robin sends every long one
    to replica 0, least-outstanding spreads them; its mean E2E is lower."""
    tokens = TokenSamples(np.array([1_500, 20]), np.array([300, 2]), order="sequential")
    kw = {"rate": 4.0, "tokens": tokens, "horizon_s": 400.0, "reps": 3}
    lo = run(**kw)
    rr = run(**kw, router="round_robin")
    routed = rr.replica_routed()
    np.testing.assert_allclose(routed[:, 0], routed[:, 1], atol=1)
    assert (lo.e2e.mean_s < rr.e2e.mean_s).all()


def test_prefix_caching_skips_the_shared_prompt_and_conserves_tokens():
    engine = EngineConfig(kv_cache_tokens=60_000, prefix_tokens=200)
    plain = run(rate=8.0, tokens=random_tokens(), engine=EngineConfig(60_000), reps=2)
    cached = run(rate=8.0, tokens=random_tokens(), engine=engine, reps=2)
    assert_conserved(cached, prefix=True)
    c = cached.counters()
    assert (c.prefix_hit_tokens > 0).all()
    assert (c.prefill_tokens < plain.counters().prefill_tokens).all()


def spot_fleet(notice_s=0.5, rate_per_h=20.0):
    return FleetSpec(workers_per_node=2, initial_nodes=3, max_nodes=6, on_demand_base=1,
                     extra_is_spot=True,
                     spot=SpotModel(interruptions_per_hour=rate_per_h, notice_s=notice_s,
                                    replacement_delay_s=10.0),
                     provisioning=(DelayComponent("model load", 60.0),))


def test_spot_interruptions_reroute_requests_and_keep_conservation():
    sim = run(rate=6.0, tokens=random_tokens(), fleet=spot_fleet(), horizon_s=1_800.0, reps=3)
    c = sim.counters()
    assert (c.spot_preemptions > 0).all()
    assert c.rerouted.sum() > 0
    assert c.recomputed_tokens.sum() > 0
    assert_conserved(sim)
    assert (sim.node_seconds("horizon")[:, 1].sum(axis=1) > 0).all()  # spot node time


def test_autoscaling_scales_out_under_load():
    policy = AutoscalingPolicy("in_flight_per_replica", target=4.0, min_nodes=1, max_nodes=8,
                               interval_s=30.0, window_s=60.0, scale_in_cooldown_s=120.0)
    fleet = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=8, on_demand_base=1,
                      autoscaling=policy, provisioning=(DelayComponent("load", 30.0),))
    sim = run(rate=20.0, tokens=TokenSamples.constant(500, 150), fleet=fleet,
              horizon_s=1_200.0, reps=2)
    c = sim.counters()
    assert (c.scale_out > 0).all() and (c.max_nodes > 2).all()
    assert_conserved(sim)
    for metric in ("kv_utilization", "waiting_per_replica"):
        p = AutoscalingPolicy(metric, target=0.5 if metric == "kv_utilization" else 2.0,
                              min_nodes=1, max_nodes=8, interval_s=30.0, window_s=60.0)
        f = FleetSpec(workers_per_node=1, initial_nodes=1, max_nodes=8, on_demand_base=1,
                      autoscaling=p)
        s = run(rate=20.0, tokens=TokenSamples.constant(500, 150), fleet=f,
                engine=EngineConfig(16_000), horizon_s=900.0, reps=1)
        assert s.counters().max_nodes[0] > 1, metric


def test_usage_and_spec_entry_point():
    spec = LlmSpec(arrivals=PoissonArrivals(4.0), tokens=TokenSamples.constant(300, 60),
                   profile=PROFILE, engine=EngineConfig(100_000, tensor_parallel=2),
                   fleet=FleetSpec.fixed(2), run=RunSpec(600.0, 60.0, 2, 1),
                   slo=LlmSlo(ttft_s=0.5, tpot_s=0.05, e2e_s=5.0))
    sim = simulate(spec)
    usage = llm_usage(sim, base_purchase="on_demand", priced=("on_demand", "spot"))
    assert usage.metric == "latency"
    np.testing.assert_allclose(usage.node_s_horizon, 2 * 600.0)
    np.testing.assert_allclose(usage.busy_gpu_s_horizon, 2 * sim.busy_replica_s("horizon"))
    assert ((usage.utilization > 0) & (usage.utilization < 1)).all()
    assert usage.timeline is not None and "kv_utilization" in usage.timeline.series
    assert sim.ttft.slo_attainment is not None and (sim.e2e.slo_attainment > 0.9).all()
    tl = sim.timeline_mean()
    np.testing.assert_allclose(tl["nodes_base"], 2.0)
    c = sim.counters()
    # Little's law on the per-replica running count: L = lambda E2E (all requests end in time)
    np.testing.assert_allclose(c.mean_running * 2 + c.mean_waiting * 2,
                               sim.arrival_rate_rps() * sim.e2e.mean_s, rtol=0.05)


def test_a_large_fleet_keeps_its_steps_in_a_heap_with_the_same_results():
    """Over 40 replicas the step ends live in an indexed heap instead of a scanned array.
    Isolated requests all go to replica 0 (least outstanding, lowest index), so 48 replicas
    give exactly the one-replica results; a loaded large fleet conserves requests and tokens."""
    trace = TraceArrivals(np.arange(40) * 15.0)
    one = run(arrivals=trace, fleet=FleetSpec.fixed(1), horizon_s=600.0, reps=1)
    many = run(arrivals=trace, fleet=FleetSpec.fixed(24, workers_per_node=2), horizon_s=600.0,
               reps=1)
    np.testing.assert_array_equal(one.hist, many.hist)
    np.testing.assert_array_equal(one.counters().steps, many.counters().steps)
    loaded = run(rate=120.0, tokens=random_tokens(), fleet=FleetSpec.fixed(24, 2),
                 horizon_s=120.0, reps=2,
                 arrivals=DiurnalArrivals(120.0, peak_to_trough=3.0, start_hour=13.0))
    assert_conserved(loaded)
    assert (loaded.replica_routed() > 0).all()


def test_requests_wait_in_the_central_queue_until_a_node_is_ready():
    """No node at t = 0: requests wait centrally until the autoscaler's node is READY (first
    evaluation at 30 s, 60 s of provisioning), then all are served; without any node to come
    every request is stranded, counted, never lost."""
    policy = AutoscalingPolicy("in_flight_per_replica", target=4.0, min_nodes=1, max_nodes=2,
                               interval_s=30.0, window_s=30.0)
    fleet = FleetSpec(workers_per_node=1, initial_nodes=0, max_nodes=2, autoscaling=policy,
                      provisioning=(DelayComponent("load", 60.0),))
    sim = run(rate=2.0, fleet=fleet, horizon_s=300.0, reps=2)
    assert_conserved(sim)
    c = sim.counters()
    assert (c.stranded == 0).all() and (c.finished == c.arrived).all()
    first = sim.e2e.percentiles_s(np.array([1.0]))[:, 0]
    assert (first >= 60.0).all()  # the earliest requests waited for the node
    none = run(rate=2.0, fleet=FleetSpec(1, 0, 1), horizon_s=100.0, reps=1)
    c = none.counters()
    assert c.stranded[0] == c.arrived[0] > 0 and c.finished[0] == 0
    assert c.in_system_at_horizon[0] == c.arrived[0]


@pytest.mark.parametrize("kwargs, words", [
    ({"engine": EngineConfig(kv_cache_tokens=8, block_size=16)}, "kv_cache_tokens"),
    ({"engine": EngineConfig(10_000, block_size=0)}, "block_size"),
    ({"engine": EngineConfig(10_000, max_num_batched_tokens=0)}, "max_num_batched_tokens"),
    ({"engine": EngineConfig(10_000, max_num_seqs=64, max_num_batched_tokens=32)},
     "max_num_seqs"),
    ({"engine": EngineConfig(10_000, prefix_tokens=20_000)}, "prefix_tokens"),
    ({"router": "random"}, "router"),
    ({"tokens": TokenSamples(np.array([0, 5]), np.array([1, 1]))}, "tokens.prompt[0]"),
    ({"tokens": TokenSamples(np.array([3, 5]), np.array([1]))}, "tokens.prompt has 2"),
    ({"tokens": TokenSamples(np.array([3]), np.array([1]), order="shuffled")}, "order"),
    ({"slo": LlmSlo(ttft_s=-1.0)}, "slo.ttft_s"),
    ({"fleet": FleetSpec(1, 1, 2, autoscaling=AutoscalingPolicy("utilization", 0.5, 1, 2))},
     "kv_utilization"),
])
def test_bad_inputs_name_the_argument(kwargs, words):
    with pytest.raises(SimulationError, match=words.replace("[", r"\[").replace("]", r"\]")):
        run(**kwargs)
