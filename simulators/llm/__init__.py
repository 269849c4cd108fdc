"""The llm pattern: replicas of an LLM engine with continuous batching (``LlmSpec`` in,
``simulate(spec)`` runs the kernel, ``llm_usage`` gives the shared usage record; see
``docs/architecture.md``).  The semantics are ``docs/llm-serving.md``, summarised at the top of
``api.py``; ``reference.py`` is the SimPy model the kernel is tested against."""

from simulators.llm.api import LlmCounters, LlmSimResult
from simulators.llm.spec import EngineConfig, LlmSlo, LlmSpec, TokenSamples, simulate
from simulators.llm.usage import llm_usage

__all__ = ["EngineConfig", "LlmCounters", "LlmSimResult", "LlmSlo", "LlmSpec", "TokenSamples",
           "llm_usage", "simulate"]
