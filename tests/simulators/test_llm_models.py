"""KV-cache capacity from a model's shape and a GPU's memory, against hand arithmetic."""

from __future__ import annotations

import pytest

from domain.errors import SimulationError
from simulators.core.llm_models import GIB, RUNTIME_RESERVE_GIB, kv_cache_tokens, model_spec


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
