"""Measure an LLM token-latency profile (prefill and decode step times) with PyTorch.

``planner profile`` builds a Llama-style decoder with random weights in the shape of a
``ModelSpec`` (:mod:`planner.profiling.model`), times its prefill passes and decode steps on
the local GPU (CUDA graphs, CUDA events) or CPU (``time.perf_counter``) over a grid of prompt
lengths, batch sizes and contexts (:mod:`planner.profiling.runner`), skipping grid points that
do not fit in memory (:mod:`planner.profiling.shape`), and writes the CSV the ``llm`` pattern
reads (:mod:`planner.profiling.rows`; ``docs/profiling.md``).

Importing this package does not import PyTorch; :func:`profile_model` does.
"""

from __future__ import annotations

from planner.profiling.rows import (
    COLUMNS,
    ProfileRow,
    ProfileRun,
    SkippedPoint,
    profile_csv,
    write_profile_csv,
)
from planner.profiling.runner import INSTALL_HINT, TorchMissing, profile_model, require_torch
from planner.profiling.shape import DecoderShape, decoder_shape, resolve_model

__all__ = ["COLUMNS", "INSTALL_HINT", "DecoderShape", "ProfileRow", "ProfileRun",
           "SkippedPoint", "TorchMissing", "decoder_shape", "profile_csv", "profile_model",
           "require_torch", "resolve_model", "write_profile_csv"]
