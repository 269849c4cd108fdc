"""Model shapes (catalog and Hugging Face config.json files) against published parameter
counts, and the KV-cache capacity they leave on a GPU against hand arithmetic."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from domain.errors import SimulationError
from planner.inputs_llm import load_model, model_from_hf_config
from simulators.core.llm_models import (
    AUTO_DTYPE,
    DTYPE_BYTES,
    GIB,
    MODEL_SPECS,
    RUNTIME_RESERVE_GIB,
    ModelSpec,
    dtype_bytes,
    dtype_name,
    kv_cache_tokens,
    model_spec,
)


def test_llama3_8b_kv_bytes_per_token_is_128_kib():
    # 32 layers x 8 KV heads x 128 head dim x 2 (K and V) x 2 bytes (bf16) = 131,072 bytes
    assert model_spec("llama-3-8b").kv_bytes_per_token() == 131_072
    # Llama-2-7B has no grouped-query attention: 32 KV heads, four times as much
    assert model_spec("meta-llama/Llama-2-7b").kv_bytes_per_token() == 524_288


def test_capacity_on_an_h100_by_hand():
    m = model_spec("llama-3-8b")
    cap = kv_cache_tokens(m, gpu_memory_gib=80, gpu_memory_utilization=0.9,
                          max_num_batched_tokens=2048, max_num_seqs=256, block_size=16)
    weights = 8.03e9 * 2
    activations = 2048 * (3 * 14336 + 4 * 4096) * 2 + 256 * 128256 * 4 + RUNTIME_RESERVE_GIB * GIB
    budget = 80 * GIB * 0.9 - weights - activations
    assert cap.tokens == int(budget // 131_072 // 16) * 16
    assert 400_000 < cap.tokens < 500_000  # vLLM logs ~450k tokens for this pair
    assert "456,240" in cap.derivation and "llama-3-8b" in cap.derivation


def test_tensor_parallel_pools_memory_and_splits_activations():
    m = model_spec("llama-3-70b")
    with pytest.raises(SimulationError, match="does not fit on 1 GPU"):
        kv_cache_tokens(m, gpu_memory_gib=80)
    four = kv_cache_tokens(m, gpu_memory_gib=80, tensor_parallel=4)
    eight = kv_cache_tokens(m, gpu_memory_gib=80, tensor_parallel=8)
    per_token = 2 * 80 * 8 * 128 * 2
    # four more GPUs add 4 x 72 GiB less the change in activation reserves (weights are paid
    # once), to within one block of rounding on each side
    added = 4 * 80 * 0.9 * GIB - (eight.activation_gib - four.activation_gib) * GIB
    assert eight.tokens - four.tokens == pytest.approx(added / per_token, abs=32)
    assert eight.tokens > 2 * four.tokens  # the weights' share shrinks


def test_unknown_model_suggests_a_close_name():
    with pytest.raises(SimulationError, match="did you mean 'llama-3-8b'"):
        model_spec("llama-3-8")


# --- the catalog against published parameter counts ----------------------------------------

DATA = Path(__file__).parent / "data" / "hf_configs"

# (name, published total parameters (billions), published active (billions) or None): model
# cards and Hugging Face safetensors metadata. parameters() is counted from the shape alone, so
# agreement within 1 % checks every dimension of the entry.
PUBLISHED = [
    ("llama-2-7b", 6.74, None), ("llama-2-13b", 13.0, None), ("llama-2-70b", 68.98, None),
    ("codellama-34b", 33.7, None), ("llama-3-8b", 8.03, None), ("llama-3-70b", 70.55, None),
    ("llama-3.1-8b", 8.03, None), ("llama-3.1-70b", 70.6, None), ("llama-3.2-1b", 1.24, None),
    ("llama-3.2-3b", 3.21, None), ("llama-3.3-70b", 70.6, None), ("mistral-7b", 7.25, None),
    ("mistral-7b-v0.1", 7.24, None), ("mixtral-8x7b", 46.7, 12.9), ("mixtral-8x22b", 141, 39),
    ("qwen2.5-7b", 7.62, None), ("qwen2.5-14b", 14.7, None), ("qwen2.5-32b", 32.5, None),
    ("qwen2.5-72b", 72.7, None), ("qwen3-4b", 4.0, None), ("qwen3-8b", 8.2, None),
    ("qwen3-14b", 14.8, None), ("qwen3-32b", 32.8, None), ("qwen3-30b-a3b", 30.5, 3.3),
    ("qwen3-235b-a22b", 235, 22),
]


@pytest.mark.parametrize(("name", "total_b", "active_b"), PUBLISHED)
def test_parameter_count_matches_the_published_one(name, total_b, active_b):
    m = model_spec(name)
    assert m.params_b == pytest.approx(total_b, rel=0.01)
    assert m.parameters() == pytest.approx(m.params_b * 1e9)
    if active_b is None:
        assert not m.is_moe and m.active_parameters() == m.parameters()
    else:
        # Qwen's card gives 3.3 B active for Qwen3-30B-A3B; counted with the embeddings and
        # LM head it is 3.35 B, so that one is held to 2 %
        assert m.active_parameters() / 1e9 == pytest.approx(active_b, rel=0.02 if
                                                             name == "qwen3-30b-a3b" else 0.01)


def test_every_published_model_is_in_the_catalog():
    assert {name for name, _, _ in PUBLISHED} == set(MODEL_SPECS)


def test_exact_counts_by_hand():
    # safetensors totals on Hugging Face, to the parameter
    assert model_spec("llama-3-8b").parameters() == 8_030_261_248
    assert model_spec("llama-2-7b").parameters() == 6_738_415_616
    assert model_spec("mixtral-8x7b").parameters() == 46_702_792_704
    assert model_spec("qwen2.5-7b").parameters() == 7_615_616_512  # with its q/k/v biases
    assert model_spec("llama-3.2-1b").parameters() == 1_235_814_400  # tied: one 128256 x 2048
    # Llama-3.2-1B by hand: embeddings once (tied), 16 layers of attention (q, o 2048x2048;
    # k, v 2048x512), gated MLP 3 x 2048 x 8192, two norms; the final norm
    layer = 2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048
    assert model_spec("llama-3.2-1b").parameters() == 128256 * 2048 + 16 * layer + 2048


def test_moe_counts_every_expert_in_total_and_top_k_in_active():
    m = model_spec("qwen3-30b-a3b")
    assert (m.experts, m.experts_per_token, m.intermediate) == (128, 8, 768)
    expert = 3 * 2048 * 768
    assert m.parameters() - m.active_parameters() == 48 * (128 - 8) * expert
    assert m.mlp_parameters() == 128 * expert + 2048 * 128  # experts and the router
    mixtral = model_spec("mixtral-8x7b")
    assert mixtral.is_moe and not model_spec("llama-3-8b").is_moe
    assert mixtral.active_parameters() / 1e9 == pytest.approx(12.88, abs=0.01)


def test_head_dim_is_the_configs_when_stated():
    m = model_spec("qwen3-30b-a3b")
    assert (m.hidden, m.attention_heads, m.head_dim) == (2048, 32, 128)  # not 2048 / 32
    assert m.kv_bytes_per_token() == 2 * 48 * 4 * 128 * 2
    assert model_spec("llama-3.2-1b").head_dim == 64
    assert model_spec("llama-2-70b").head_dim == 8192 // 64


def test_embeddings_bias_and_norm_flags():
    assert model_spec("llama-3.2-1b").tied_embeddings and model_spec("llama-3.2-3b").tied_embeddings
    assert not model_spec("llama-3.1-8b").tied_embeddings
    assert model_spec("qwen2.5-7b").qkv_bias and not model_spec("qwen3-8b").qkv_bias
    assert model_spec("qwen3-8b").qk_norm and not model_spec("qwen2.5-7b").qk_norm
    assert "Qwen/Qwen3-30B-A3B" in model_spec("qwen3-30b-a3b").source


@pytest.mark.parametrize(("alias", "name"), [
    ("meta-llama/Meta-Llama-3-8B", "llama-3-8b"), ("Llama-3.1-8B", "llama-3.1-8b"),
    ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"), ("Llama-2-7b-hf", "llama-2-7b"),
    ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b"), ("Mixtral-8x7B-v0.1", "mixtral-8x7b"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"), ("Qwen2.5-7B-Instruct", "qwen2.5-7b"),
    ("Mistral-7B-v0.1", "mistral-7b-v0.1"), ("mistralai/Mistral-7B-Instruct-v0.3", "mistral-7b"),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"), ("codellama/CodeLlama-34b-hf",
                                                           "codellama-34b"),
    ("QWEN3-8B", "qwen3-8b"),
])
def test_names_resolve_to_catalog_entries(alias, name):
    assert model_spec(alias) is MODEL_SPECS[name]


def test_mistral_versions_differ_in_vocab_only():
    v01, v03 = model_spec("Mistral-7B-v0.1"), model_spec("mistral-7b")
    assert (v01.vocab, v03.vocab) == (32000, 32768)
    assert replace(v01, vocab=32768, name="x", source="") == replace(v03, name="x", source="")


# --- dtypes -----------------------------------------------------------------------------------


def test_dtypes_resolve_and_fp8_halves_the_bytes():
    m = model_spec("llama-3-8b")
    for name, size in [("bf16", 2), ("bfloat16", 2), ("torch.float16", 2), ("fp32", 4),
                       ("float32", 4), ("fp8_e4m3", 1), ("FP8", 1), ("float8_e5m2", 1),
                       ("auto", DTYPE_BYTES[AUTO_DTYPE])]:
        assert dtype_bytes(name) == size, name
    assert dtype_name("bfloat16") == "bf16" and dtype_name(1) == "1 byte"
    assert m.weight_bytes(2.0) == m.weight_bytes() == m.weight_bytes("bf16") == 2 * 8_030_261_248
    assert m.weight_bytes("fp8") == m.weight_bytes() / 2
    assert m.kv_bytes_per_token("fp8_e4m3") == 65_536


@pytest.mark.parametrize("bad", ["int3", "", 0, -2.0, float("nan"), True])
def test_unknown_dtype_lists_the_choices(bad):
    with pytest.raises(SimulationError) as err:
        dtype_bytes(bad)
    assert ("fp32, fp16, bf16, fp8" in str(err.value)) or "number > 0" in str(err.value)


def test_fp8_weights_and_kv_cache_grow_the_cache_and_say_so():
    m = model_spec("llama-3-8b")
    base = kv_cache_tokens(m, gpu_memory_gib=80)
    fp8 = kv_cache_tokens(m, gpu_memory_gib=80, weight_dtype="fp8", kv_dtype="fp8_e4m3")
    assert fp8.weights_gib == pytest.approx(base.weights_gib / 2)
    assert fp8.bytes_per_token == base.bytes_per_token / 2
    freed = base.weights_gib * GIB / 2
    assert fp8.tokens == pytest.approx(2 * (base.tokens + freed / base.bytes_per_token), abs=64)
    assert "weights 7.5 GiB (fp8)" in fp8.derivation and "x 1 byte (fp8)" in fp8.derivation
    # the default (bf16) keeps the derivation the golden files pin
    assert base.derivation.endswith("x 128 x 2 (K, V) x 2 bytes)")
    assert kv_cache_tokens(m, gpu_memory_gib=80, weight_dtype="bfloat16",
                           kv_dtype="auto").derivation == base.derivation
    with pytest.raises(SimulationError, match="dtype 'int4' is not known"):
        kv_cache_tokens(m, gpu_memory_gib=80, kv_dtype="int4")


def test_moe_model_fits_where_its_total_weights_do():
    m = model_spec("mixtral-8x7b")  # 93.4 GB of bf16 weights
    with pytest.raises(SimulationError, match="does not fit on 1 GPU.*or fp8 weights"):
        kv_cache_tokens(m, gpu_memory_gib=80)
    two = kv_cache_tokens(m, gpu_memory_gib=80, tensor_parallel=2)
    assert two.weights_gib == pytest.approx(46_702_792_704 * 2 / GIB)
    assert two.tokens > 100_000


# --- reading Hugging Face config.json files ------------------------------------------------


def _same_shape(a: ModelSpec, b: ModelSpec) -> bool:
    return replace(a, name="", source="") == replace(b, name="", source="")


@pytest.mark.parametrize(("folder", "name"), [
    ("Llama-3.2-1B", "llama-3.2-1b"), ("Mistral-7B-v0.1", "mistral-7b-v0.1"),
    ("Mixtral-8x7B-v0.1", "mixtral-8x7b"), ("Qwen2.5-7B", "qwen2.5-7b"),
    ("Qwen3-30B-A3B", "qwen3-30b-a3b"),
])
def test_real_config_files_read_as_the_catalog_entry(folder, name):
    spec = model_from_hf_config(DATA / folder / "config.json")
    assert _same_shape(spec, MODEL_SPECS[name])
    assert spec.name == folder and str(DATA / folder) in spec.source
    assert _same_shape(model_from_hf_config(DATA / folder), spec)  # the folder works too


def test_load_model_takes_a_catalog_name_or_a_path(monkeypatch):
    assert load_model("Llama-3.1-8B") is MODEL_SPECS["llama-3.1-8b"]
    rel = os.path.join("Qwen3-30B-A3B", "config.json")
    assert load_model(rel, base_dir=str(DATA)).experts == 128
    assert load_model("Qwen3-30B-A3B", base_dir=str(DATA)).name == "Qwen3-30B-A3B"  # folder
    assert load_model(str(DATA / "Mixtral-8x7B-v0.1")).experts_per_token == 2  # absolute
    monkeypatch.chdir(DATA)
    assert load_model("Qwen2.5-7B/config.json").qkv_bias
    with pytest.raises(SimulationError, match=r"nope\.json: no such file"):
        load_model("nope.json", base_dir=str(DATA))
    with pytest.raises(SimulationError, match=r"has no shape on record.*as a path, .* does not"):
        load_model("some-org/unknown-model")
    with pytest.raises(SimulationError, match="did you mean 'qwen3-8b'"):
        load_model("qwen3-8")


def _write(tmp_path, config, name="config.json") -> Path:
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


LLAMA_8B = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
            "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "vocab_size": 128256}


def test_name_comes_from_name_or_path_or_the_folder(tmp_path):
    spec = model_from_hf_config(_write(tmp_path, {**LLAMA_8B,
                                                  "_name_or_path": "meta-llama/Llama-3.1-8B"}))
    assert spec.name == "meta-llama/Llama-3.1-8B"
    assert _same_shape(spec, MODEL_SPECS["llama-3.1-8b"])  # tie_word_embeddings defaults false
    local = model_from_hf_config(_write(tmp_path, {**LLAMA_8B, "_name_or_path": "/m/my-8b/"}))
    assert local.name == "my-8b"
    assert model_from_hf_config(_write(tmp_path, LLAMA_8B)).name == tmp_path.name


def test_kv_heads_default_to_the_attention_heads(tmp_path):
    config = {k: v for k, v in LLAMA_8B.items() if k != "num_key_value_heads"}
    assert model_from_hf_config(_write(tmp_path, config)).kv_heads == 32


def test_multimodal_config_reads_its_text_config(tmp_path):
    config = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
              "text_config": LLAMA_8B, "vision_config": {"hidden_size": 1024}}
    assert _same_shape(model_from_hf_config(_write(tmp_path, config)), MODEL_SPECS["llama-3-8b"])


@pytest.mark.parametrize(("config", "expected"), [
    ("{not json", ["config.json", "not valid JSON", "line 1, column 2"]),
    ("[1, 2]", ["holds list", "JSON object"]),
    ({k: v for k, v in LLAMA_8B.items() if k != "hidden_size"},
     ["config.json: hidden_size is missing", "Hugging Face"]),
    ({**LLAMA_8B, "num_key_value_heads": 8.5}, ["num_key_value_heads is 8.5", "whole number"]),
    ({**LLAMA_8B, "num_hidden_layers": "32"}, ["num_hidden_layers is '32'", "whole number"]),
    ({**LLAMA_8B, "vocab_size": True}, ["vocab_size is True"]),
    ({**LLAMA_8B, "intermediate_size": 0}, ["intermediate_size is 0", ">= 1"]),
    ({**LLAMA_8B, "num_key_value_heads": 5}, ["num_key_value_heads is 5", "does not divide"]),
    ({**LLAMA_8B, "tie_word_embeddings": "yes"}, ["tie_word_embeddings is 'yes'", "true or"]),
    ({**LLAMA_8B, "num_local_experts": 8}, ["num_experts_per_tok is missing"]),
    ({**LLAMA_8B, "kv_lora_rank": 512}, ["kv_lora_rank is 512", "latent attention",
                                        "engine.kv_cache_tokens"]),
    ({**LLAMA_8B, "num_experts": 60, "num_experts_per_tok": 4,
      "shared_expert_intermediate_size": 5632}, ["shared_expert_intermediate_size is 5632"]),
    ({**LLAMA_8B, "num_experts": 64, "num_experts_per_tok": 8, "mlp_only_layers": [0]},
     ["mlp_only_layers [0]", "mix dense and MoE"]),
    ({**LLAMA_8B, "architectures": ["BertForMaskedLM"]}, ["BertForMaskedLM", "not a causal"]),
    ({**LLAMA_8B, "hidden_size": 4000, "num_attention_heads": 48, "num_key_value_heads": 8},
     ["head_dim is missing", "hidden_size 4000"]),
])
def test_bad_config_names_the_file_key_value_and_fix(tmp_path, config, expected):
    path = _write(tmp_path, config)
    with pytest.raises(SimulationError) as err:
        model_from_hf_config(path)
    assert isinstance(err.value, ValueError)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message, (part, message)


def test_missing_files_and_folders_say_what_to_give(tmp_path):
    with pytest.raises(SimulationError, match=r"nothing\.json: no such file; give the path"):
        model_from_hf_config(tmp_path / "nothing.json")
    with pytest.raises(SimulationError, match="folder has no config.json"):
        model_from_hf_config(tmp_path)
    with pytest.raises(SimulationError, match="not a JSON text file"):
        model_from_hf_config(_binary(tmp_path))


def _binary(tmp_path) -> Path:
    path = tmp_path / "weights.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    return path


def test_model_spec_checks_its_own_shape():
    m = model_spec("llama-3-8b")
    with pytest.raises(SimulationError, match="kv_heads must divide"):
        replace(m, kv_heads=5)
    with pytest.raises(SimulationError, match="experts_per_token <= experts"):
        replace(m, experts=8, experts_per_token=0)
    with pytest.raises(SimulationError, match="hidden must be a whole number"):
        replace(m, hidden=0)
