"""The llm design schema: defaults, and every user mistake named with its field, value and fix."""

from __future__ import annotations

import copy

import pytest

from domain.errors import ScenarioError
from planner.schema import LlmDesign, parse_scenario

BASE = {
    "name": "llm",
    "horizon_s": 600,
    "workloads": [{
        "name": "chat", "kind": "inference", "arrivals": {"kind": "poisson", "rate_rps": 8},
        "tokens": {"prompt_tokens": 575, "output_tokens": 210},
        "slo": {"ttft_ms": 500, "tpot_ms": 50, "percentile": 99},
    }],
    "designs": [{
        "name": "vllm-h100", "workload": "chat", "pattern": "llm", "model": "llama-3-8b",
        "engine": {"max_num_seqs": 256, "max_num_batched_tokens": 2048, "block_size": 16,
                   "gpu_memory_utilization": 0.9, "tensor_parallel": 1,
                   "prefix_caching": False},
        "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1, "purchase": "on_demand"},
        "latency": {"kind": "profile", "path": "data/h100_llm_token_latency.csv",
                    "gpu": "auto"},
    }],
}


def scenario(**changes):
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return parse_scenario(data)


def error(**changes) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario(**changes)
    return str(info.value)


def test_issue_example_parses_with_engine_defaults():
    s = scenario()
    d = s.designs[0]
    assert isinstance(d, LlmDesign)
    assert d.engine.router == "least_outstanding" and d.engine.kv_cache_tokens is None
    slo = s.workloads[0].slo
    assert (slo.ttft_ms, slo.tpot_ms, slo.latency_ms) == (500, 50, None)
    minimal = scenario(**{"designs.0.engine": None})
    assert minimal.designs[0].engine.max_num_seqs == 256


@pytest.mark.parametrize(("changes", "needles"), [
    ({"designs.0.engine.prefix_caching": True}, ["prefix_tokens", "got 0"]),
    ({"designs.0.engine.prefix_tokens": 100}, ["prefix_tokens", "prefix_caching: true"]),
    ({"designs.0.engine.kv_cache_tokens": 8}, ["kv_cache_tokens", "block_size 16", "got 8"]),
    ({"designs.0.engine.gpu_memory_utilization": 1.5}, ["gpu_memory_utilization", "1.5"]),
    ({"designs.0.engine.router": "random"}, ["router", "random", "least_outstanding"]),
    ({"designs.0.fleet.workers_per_node": 2}, ["workers_per_node", "tensor_parallel"]),
    ({"designs.0.fleet.autoscaling": {"metric": "kv_utilization", "target": 70,
                                      "max_nodes": 4}}, ["target", "at most 1", "70"]),
    ({"designs.0.fleet.autoscaling": {"metric": "utilization", "target": 0.5,
                                      "max_nodes": 4}}, ["metric", "in_flight_per_replica"]),
    ({"workloads.0.tokens": None}, ["designs[0].latency", "tokens"]),
    ({"workloads.0.slo": {"percentile": 99}}, ["latency_ms", "ttft_ms"]),
])
def test_mistakes_are_named(changes, needles):
    message = error(**changes)
    for needle in needles:
        assert needle in message, (needle, message)


def test_token_slo_alone_cannot_judge_a_static_batching_design():
    data = copy.deepcopy(BASE)
    data["designs"].append({"name": "static", "workload": "chat", "pattern": "realtime",
                            "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
                            "service_time": {"kind": "constant", "ms": 5}})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert "designs[1].workload" in str(info.value) and "latency_ms" in str(info.value)
    data["workloads"][0]["slo"]["latency_ms"] = 20_000  # judged on end to end: accepted
    assert parse_scenario(data).designs[1].pattern == "realtime"


def test_token_distribution_only_with_means():
    message = error(**{"workloads.0.tokens": {"prompt_column": "a", "output_column": "b",
                                              "distribution": {"kind": "lognormal"}},
                       "workloads.0.arrivals": {"kind": "trace", "path": "x.csv"}})
    assert "distribution" in message and "trace columns" in message


def test_latency_defaults_to_the_latency_model_and_gpu_names_resolve():
    from planner.schema import AutoLatency

    design = scenario(**{"designs.0.latency": None}).designs[0]
    assert isinstance(design.latency, AutoLatency) and design.latency.gpu == "auto"
    named = scenario(**{"designs.0.latency": {"kind": "auto", "gpu": "nvidia h200 141gb"}})
    assert named.designs[0].latency.gpu == "H200-SXM-141GB"
    profile = scenario(**{"designs.0.latency.gpu": "RTX 4090"})
    assert profile.designs[0].latency.gpu == "RTX4090-24GB"


def test_a_bad_gpu_name_or_dtype_is_named_with_its_field():
    with pytest.raises(ScenarioError, match=r"designs\[0\]\.latency.*H1000"):
        scenario(**{"designs.0.latency": {"kind": "auto", "gpu": "H1000"}})
    with pytest.raises(ScenarioError, match=r"designs\[0\]\.engine\.dtype"):
        scenario(**{"designs.0.engine.dtype": "int3"})


def test_a_model_can_be_a_hugging_face_config(tmp_path):
    import json

    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": 2048, "intermediate_size": 8192, "num_attention_heads": 32,
              "num_key_value_heads": 8, "num_hidden_layers": 16, "vocab_size": 128256,
              "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    design = scenario(**{"designs.0.model": {"config": str(tmp_path / "config.json")}})
    assert design.designs[0].model.config == str(tmp_path / "config.json")
    from planner.inputs_llm import load_model
    from simulators.core.llm_models import model_spec

    got = load_model(design.designs[0].model.config)
    assert got.parameters() == model_spec("llama-3.2-1b").parameters()
