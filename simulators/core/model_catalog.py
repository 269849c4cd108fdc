"""The bundled LLM shapes: the shape keys of each model's ``config.json`` on Hugging Face.

Each entry is ``short name: (repository, keys)`` with the keys spelled and valued exactly as in
the repository's ``config.json`` (only the keys that decide the shape; the file's other keys,
rope settings, token ids, are left out). :mod:`simulators.core.llm_models` turns every entry
into a ``ModelSpec`` through the same reader as a user's ``config.json``, so the catalog and a
file give the same shape. Pure data: imports nothing.

Parameter counts published for these models (model cards, safetensors metadata) are checked
against the shapes in ``tests/simulators/test_llm_models.py``.
"""

from __future__ import annotations

_LLAMA = ["LlamaForCausalLM"]
_MISTRAL = ["MistralForCausalLM"]
_MIXTRAL = ["MixtralForCausalLM"]
_QWEN2 = ["Qwen2ForCausalLM"]
_QWEN3 = ["Qwen3ForCausalLM"]
_QWEN3_MOE = ["Qwen3MoeForCausalLM"]


def _llama(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, vocab: int,
           *, tied: bool = False, head_dim: int | None = None) -> dict:
    keys = {"architectures": _LLAMA, "model_type": "llama", "hidden_size": hidden,
            "intermediate_size": intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "vocab_size": vocab, "tie_word_embeddings": tied}
    if head_dim is not None:
        keys["head_dim"] = head_dim
    return keys


def _qwen2(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, vocab: int,
           *, tied: bool = False) -> dict:
    return {"architectures": _QWEN2, "model_type": "qwen2", "hidden_size": hidden,
            "intermediate_size": intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "vocab_size": vocab, "tie_word_embeddings": tied}


def _qwen3(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int,
           *, tied: bool = False) -> dict:
    return {"architectures": _QWEN3, "model_type": "qwen3", "attention_bias": False,
            "head_dim": 128, "hidden_size": hidden, "intermediate_size": intermediate,
            "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": kv_heads, "vocab_size": 151936, "tie_word_embeddings": tied}


def _qwen3_moe(hidden: int, intermediate: int, moe_intermediate: int, layers: int, heads: int,
               kv_heads: int, experts: int, per_token: int) -> dict:
    return {"architectures": _QWEN3_MOE, "model_type": "qwen3_moe", "attention_bias": False,
            "decoder_sparse_step": 1, "mlp_only_layers": [], "head_dim": 128,
            "hidden_size": hidden, "intermediate_size": intermediate,
            "moe_intermediate_size": moe_intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "num_experts": experts, "num_experts_per_tok": per_token, "vocab_size": 151936,
            "tie_word_embeddings": False}


def _mistral(vocab: int) -> dict:
    return {"architectures": _MISTRAL, "model_type": "mistral", "hidden_size": 4096,
            "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "vocab_size": vocab, "tie_word_embeddings": False}


def _mixtral(hidden: int, intermediate: int, layers: int, heads: int, vocab: int) -> dict:
    return {"architectures": _MIXTRAL, "model_type": "mixtral", "hidden_size": hidden,
            "intermediate_size": intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": 8, "num_local_experts": 8,
            "num_experts_per_tok": 2, "vocab_size": vocab, "tie_word_embeddings": False}


CATALOG: dict[str, tuple[str, dict]] = {
    # Llama 2 and Code Llama: no grouped-query attention below 34B, 32k SentencePiece vocab
    "llama-2-7b": ("meta-llama/Llama-2-7b-hf", _llama(4096, 11008, 32, 32, 32, 32000)),
    "llama-2-13b": ("meta-llama/Llama-2-13b-hf", _llama(5120, 13824, 40, 40, 40, 32000)),
    "llama-2-70b": ("meta-llama/Llama-2-70b-hf", _llama(8192, 28672, 80, 64, 8, 32000)),
    "codellama-34b": ("codellama/CodeLlama-34b-hf", _llama(8192, 22016, 48, 64, 8, 32000)),
    # Llama 3.x: 128k tiktoken vocab; 3.2 1B/3B tie the embeddings and state head_dim
    "llama-3-8b": ("meta-llama/Meta-Llama-3-8B", _llama(4096, 14336, 32, 32, 8, 128256)),
    "llama-3-70b": ("meta-llama/Meta-Llama-3-70B", _llama(8192, 28672, 80, 64, 8, 128256)),
    "llama-3.1-8b": ("meta-llama/Llama-3.1-8B", _llama(4096, 14336, 32, 32, 8, 128256)),
    "llama-3.1-70b": ("meta-llama/Llama-3.1-70B", _llama(8192, 28672, 80, 64, 8, 128256)),
    "llama-3.2-1b": ("meta-llama/Llama-3.2-1B",
                     _llama(2048, 8192, 16, 32, 8, 128256, tied=True, head_dim=64)),
    "llama-3.2-3b": ("meta-llama/Llama-3.2-3B",
                     _llama(3072, 8192, 28, 24, 8, 128256, tied=True, head_dim=128)),
    "llama-3.3-70b": ("meta-llama/Llama-3.3-70B-Instruct",
                      _llama(8192, 28672, 80, 64, 8, 128256)),
    # Mistral: v0.3 extends the vocab to 32768; v0.1 and v0.2 keep 32000
    "mistral-7b": ("mistralai/Mistral-7B-v0.3", _mistral(32768)),
    "mistral-7b-v0.1": ("mistralai/Mistral-7B-v0.1", _mistral(32000)),
    "mixtral-8x7b": ("mistralai/Mixtral-8x7B-v0.1", _mixtral(4096, 14336, 32, 32, 32000)),
    "mixtral-8x22b": ("mistralai/Mixtral-8x22B-v0.1", _mixtral(6144, 16384, 56, 48, 32000)),
    # Qwen2.5: q/k/v biases (hard-wired in Qwen2's modelling code, not a config key)
    "qwen2.5-7b": ("Qwen/Qwen2.5-7B", _qwen2(3584, 18944, 28, 28, 4, 152064)),
    "qwen2.5-14b": ("Qwen/Qwen2.5-14B", _qwen2(5120, 13824, 48, 40, 8, 152064)),
    "qwen2.5-32b": ("Qwen/Qwen2.5-32B", _qwen2(5120, 27648, 64, 40, 8, 152064)),
    "qwen2.5-72b": ("Qwen/Qwen2.5-72B", _qwen2(8192, 29568, 80, 64, 8, 152064)),
    # Qwen3: head_dim 128 whatever hidden_size / heads is; RMSNorm on q and k, no biases
    "qwen3-4b": ("Qwen/Qwen3-4B", _qwen3(2560, 9728, 36, 32, 8, tied=True)),
    "qwen3-8b": ("Qwen/Qwen3-8B", _qwen3(4096, 12288, 36, 32, 8)),
    "qwen3-14b": ("Qwen/Qwen3-14B", _qwen3(5120, 17408, 40, 40, 8)),
    "qwen3-32b": ("Qwen/Qwen3-32B", _qwen3(5120, 25600, 64, 64, 8)),
    "qwen3-30b-a3b": ("Qwen/Qwen3-30B-A3B", _qwen3_moe(2048, 6144, 768, 48, 32, 4, 128, 8)),
    "qwen3-235b-a22b": ("Qwen/Qwen3-235B-A22B",
                        _qwen3_moe(4096, 12288, 1536, 94, 64, 4, 128, 8)),
}
"""Short name -> (Hugging Face repository, the shape keys of its ``config.json``)."""

ALIASES: dict[str, str] = {
    "mistral-7b-v0.3": "mistral-7b",
    "mistral-7b-v0.2": "mistral-7b-v0.1",  # same shape as v0.1 (32000 vocab)
    "mixtral-8x7b-v0.1": "mixtral-8x7b",
    "mixtral-8x22b-v0.1": "mixtral-8x22b",
}
"""Other names of catalog entries, looked up once ``model_spec`` has dropped an org prefix,
``Meta-`` and the suffixes ``-hf``, ``-instruct``, ``-chat``, ``-base``, ``-it`` and a trailing
date such as ``-2507``."""
