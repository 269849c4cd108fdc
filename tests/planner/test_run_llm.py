"""LLM designs through the whole stack (schema -> llm kernel -> priced result), against closed
forms, the measured profile and hand-computed costs.

Prices: the built-in snapshot (aws p5.4xlarge, one H100 80GB, on-demand $6.88/h; p5.48xlarge,
eight H100s, $55.04/h on-demand, $20.20/h spot).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from domain.errors import ScenarioError
from planner.inputs_tokens import read_token_profile
from planner.reports.sections import slo_status
from planner.run import run_scenario
from planner.schema import parse_scenario
from simulators.core.llm_models import kv_cache_tokens, model_spec

P5_4X = 6.88
PROFILE = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "data",
                       "h100_llm_token_latency.csv")


def _scenario(design_changes=None, *, rate=0.5, slo=None, horizon_s=1200, replications=4,
              tokens=None, extra_designs=()):
    workload = {"name": "chat", "kind": "inference",
                "arrivals": {"kind": "poisson", "rate_rps": rate},
                "tokens": tokens or {"prompt_tokens": 512, "output_tokens": 64}}
    if slo is not None:
        workload["slo"] = slo
    design = {"name": "vllm", "workload": "chat", "pattern": "llm", "model": "llama-3-8b",
              "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
              "latency": {"kind": "profile", "path": PROFILE}}
    design.update(design_changes or {})
    return parse_scenario({"name": "t", "horizon_s": horizon_s, "warmup_s": 60,
                           "replications": replications, "seed": 5, "workloads": [workload],
                           "designs": [design, *extra_designs]})


@pytest.fixture(scope="module")
def profile():
    return read_token_profile(PROFILE, "llama-3-8b", field_path="test")


@pytest.fixture(scope="module")
def low_load():
    return run_scenario(_scenario(slo={"percentile": 99, "ttft_ms": 500, "tpot_ms": 50}))


def test_low_load_ttft_is_one_prefill_and_tpot_one_decode_step(low_load, profile):
    # 0.5 req/s of 64 output tokens at ~7 ms a step: a request is almost always alone, so its
    # TTFT is the prefill of 512 tokens and each later token one batch-1 decode step, each
    # step with the engine's default host time (docs/latency-model.md)
    from simulators.core.latency_model import DEFAULT_HOST_OVERHEAD_MS as host

    d = low_load.design("vllm")
    ttft = profile.prefill_ms(1, 512) + host
    decode = np.mean([profile.decode_step_ms(1, 512 + k) for k in range(1, 64)]) + host
    assert d.llm.ttft_ms["p50"].mean == pytest.approx(ttft, rel=0.02)
    assert d.llm.tpot_ms["p50"].mean == pytest.approx(decode, rel=0.03)
    assert d.llm.e2e_ms["p50"].mean == pytest.approx(ttft + 63 * decode, rel=0.03)


def test_slo_bounds_are_judged_one_by_one(low_load):
    d = low_load.design("vllm")
    assert [s.metric for s in d.slos] == ["ttft", "tpot"]
    assert all(s.met for s in d.slos) and d.meets_slo
    strict = run_scenario(_scenario(slo={"percentile": 99, "ttft_ms": 500, "tpot_ms": 5},
                                    horizon_s=600, replications=2)).design("vllm")
    assert [s.met for s in strict.slos] == [True, False] and strict.meets_slo is False
    assert strict.llm.goodput_rps.mean == pytest.approx(0.0, abs=1e-9)


def test_cost_per_million_tokens_by_hand(low_load):
    d = low_load.design("vllm")
    c = d.cost
    horizon_h = 1200 / 3600
    assert c.total_usd == pytest.approx(P5_4X * horizon_h)
    window_usd = P5_4X * (1200 - 60) / 3600
    finished = d.requests.completed_by_horizon_per_replication
    # constant tokens: every finished request brought 512 prompt and 64 output tokens
    assert d.pattern_metrics["prompt_tokens"] == pytest.approx(512)
    assert d.pattern_metrics["output_tokens"] == pytest.approx(64)
    assert c.usd_per_1m_input_tokens == pytest.approx(window_usd / (finished * 512) * 1e6,
                                                      rel=1e-6)
    assert c.usd_per_1m_output_tokens == pytest.approx(window_usd / (finished * 64) * 1e6,
                                                       rel=1e-6)
    assert c.usd_per_1m_tokens == pytest.approx(window_usd / (finished * 576) * 1e6, rel=1e-6)
    flat = d.flat_metrics()
    assert flat["ttft_p99_ms"] == d.llm.ttft_ms["p99"].mean
    assert flat["usd_per_1m_output_tokens"] == c.usd_per_1m_output_tokens


def test_kv_capacity_and_replicas_come_from_the_model_and_the_instance():
    one = _scenario({"fleet": {"instance": "aws:p5.48xlarge", "nodes": 1},
                     "engine": {"tensor_parallel": 2}}, horizon_s=300, replications=2)
    d = run_scenario(one).design("vllm")
    engine = d.llm.engine
    assert engine.replicas_per_node == 4 and d.fleet.workers_per_node == 4
    expected = kv_cache_tokens(model_spec("llama-3-8b"), gpu_memory_gib=80, tensor_parallel=2)
    assert d.llm.kv_cache_tokens == expected.tokens
    assert "per replica" in engine.kv_cache_source
    given = _scenario({"engine": {"kv_cache_tokens": 40_000}}, horizon_s=300, replications=2)
    assert run_scenario(given).design("vllm").llm.kv_cache_tokens == 40_000


def test_tensor_parallel_that_does_not_divide_the_gpus_is_named():
    bad = _scenario({"fleet": {"instance": "aws:p5.48xlarge", "nodes": 1},
                     "engine": {"tensor_parallel": 3}}, horizon_s=300, replications=2)
    with pytest.raises(ScenarioError, match=r"designs\[0\].engine.tensor_parallel.*8 GPU"):
        run_scenario(bad)


def test_a_small_kv_cache_preempts_and_is_flagged():
    # 24 blocks of 16 tokens hold 384 tokens; prompts of 100 tokens (7 blocks) are admitted
    # three at a time, but each grows to 350 tokens (22 blocks): the newest must be preempted
    tight = _scenario({"engine": {"kv_cache_tokens": 384, "max_num_seqs": 8,
                                  "max_num_batched_tokens": 512}},
                      rate=0.5, horizon_s=300, replications=2,
                      tokens={"prompt_tokens": 100, "output_tokens": 250})
    d = run_scenario(tight).design("vllm")
    assert d.llm.preemptions > 0 and d.llm.peak_kv_utilization.mean <= 1.0
    assert any("KV cache pressure" in w for w in d.warnings)


def test_continuous_batching_beats_static_batching_on_the_same_gpu():
    static = {"name": "static", "workload": "chat", "pattern": "realtime",
              "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
              "batching": {"max_batch": 16, "max_wait_ms": 50},
              "service_time": {"kind": "tokens", "path": PROFILE, "model": "llama-3-8b",
                               "jitter": "none"}}
    both = run_scenario(_scenario(rate=4.0, horizon_s=900, replications=3,
                                  slo={"percentile": 99, "latency_ms": 60_000},
                                  extra_designs=[static]))
    cont, stat = both.design("vllm"), both.design("static")
    assert cont.cost.total_usd == pytest.approx(stat.cost.total_usd)
    assert cont.latency_ms["p50"].mean < stat.latency_ms["p50"].mean
    assert stat.llm is None and not any("end-to-end latency only" in w for w in stat.warnings)


def test_a_design_that_cannot_report_ttft_is_never_recommended_on_a_ttft_slo():
    static = {"name": "a-static", "workload": "chat", "pattern": "realtime",
              "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
              "batching": {"max_batch": 8, "max_wait_ms": 20},
              "service_time": {"kind": "tokens", "path": PROFILE, "model": "llama-3-8b",
                               "jitter": "none"}}
    run = run_scenario(_scenario(rate=0.5, horizon_s=600, replications=2,
                                 slo={"percentile": 99, "latency_ms": 60_000, "ttft_ms": 5000},
                                 extra_designs=[static]))
    stat, cont = run.design("a-static"), run.design("vllm")
    # same instance, same price, and the static design sorts first by name: only the judging
    # of the TTFT bound can tell them apart
    assert stat.cost.usd_per_month == pytest.approx(cont.cost.usd_per_month)
    assert stat.meets_slo is True and stat.unjudged_slo == ("ttft",)
    assert stat.fully_meets_slo is False and cont.fully_meets_slo is True
    assert run.cheapest_meeting_slo().name == "vllm"
    assert run.to_dict()["designs"][1]["unjudged_slo"] == ["ttft"]
    assert any("first-token time" in w for w in stat.warnings)
    assert slo_status(stat) == "met (TTFT n/a)" and slo_status(cont) == "met"
