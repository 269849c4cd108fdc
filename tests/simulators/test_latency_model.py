"""The roofline latency model against hand-computed FLOPs and bytes, the measured H100 steps it
was fitted to, shapes it was not fitted to, and a measured GPU-to-GPU ratio.

The measured profile is the bundled copy of ``../shared/data/gpu-profiles/
h100_llm_token_latency.csv`` (real CUDA-graph step times of two Llama-3 shapes on one H100).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from planner.inputs_llm import bundled_fit
from planner.inputs_tokens import read_token_profile
from simulators.core import latency_model
from simulators.core.gpus import GPU_SPECS
from simulators.core.latency_fit import (
    BUNDLED_FIT,
    MeasuredSteps,
    fit_latency,
    predict_ms,
    shape_error,
)
from simulators.core.latency_model import (
    ALLREDUCE_LATENCY_US,
    ALLREDUCE_LINK_EFFICIENCY,
    Hardware,
    LatencyFit,
    Shape,
    derived_profile,
    step_time,
)
from simulators.core.llm_models import model_spec

PROFILE = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "data",
                       "h100_llm_token_latency.csv")
H100 = GPU_SPECS["H100-SXM-80GB"]
SHAPES = ("llama-3-8b", "llama-3.2-1b")


@pytest.fixture(scope="module")
def measured():
    return {m: (model_spec(m), read_token_profile(PROFILE, m, field_path="test"))
            for m in SHAPES}


def ideal(**kw) -> LatencyFit:
    """Peak everything, no overhead: the model reduces to FLOPs / peak and bytes / bandwidth."""
    return LatencyFit(1.0, 1.0, 1.0, 1.0, 0.0, 0.0, "ideal", **kw)


@pytest.fixture
def sharp(monkeypatch):
    monkeypatch.setattr(latency_model, "ROOFLINE_SHARPNESS", 200.0)  # ~max(compute, memory)


def test_a_memory_bound_decode_step_is_the_weight_bytes_over_bandwidth(sharp):
    # Llama-3-8B, one token: every layer's weights are read once; by hand from config.json
    h, kv, d, inter, layers, vocab = 4096, 8, 128, 14336, 32, 128256
    per_layer = (2 * h * h + 2 * h * kv * d + 3 * h * inter) * 2.0  # bytes, bf16
    lm_head = h * vocab * 2.0
    want_ms = (layers * per_layer + lm_head) / (3350e9) * 1e3
    t = step_time(Shape.of(model_spec("llama-3-8b")), Hardware.of(H100), ideal(),
                  phase="decode", batch=1, context=0)
    assert t.gemm_bound == "memory"
    attention_ms = layers * 2 * kv * d * 2.0 / 3350e9 * 1e3  # one KV position per layer
    assert t.ms == pytest.approx(want_ms + attention_ms, rel=2e-3)


def test_a_long_prefill_is_the_flops_over_peak(sharp):
    h, kv, d, inter, layers, heads = 4096, 8, 128, 14336, 32, 32
    n = 8192
    gemm = 2.0 * n * (2 * h * h + 2 * h * kv * d + 3 * h * inter) * layers
    attention = 4.0 * heads * d * (n * (n + 1) / 2) * layers
    logits = 2.0 * h * 128256  # the last token's only
    want_ms = (gemm + attention) / 989e12 * 1e3 + max(logits / 989e12, h * 128256 * 2 / 3350e9) * 1e3
    t = step_time(Shape.of(model_spec("llama-3-8b")), Hardware.of(H100), ideal(),
                  phase="prefill", tokens=n)
    assert t.gemm_bound == t.attention_bound == "compute"
    assert t.ms == pytest.approx(want_ms, rel=2e-3)


def test_tensor_parallelism_splits_the_work_and_adds_two_ring_all_reduces_a_layer(sharp):
    shape, hw = Shape.of(model_spec("llama-2-70b")), Hardware.of(H100)
    one = step_time(shape, hw, ideal(), phase="prefill", tokens=4096)
    four = step_time(shape, hw, ideal(), phase="prefill", tokens=4096, tp=4)
    assert four.gemm_ms == pytest.approx(one.gemm_ms / 4, rel=1e-9)
    msg = 4096 * 8192 * 2.0
    per_call = (2 * 3 / 4 * msg / (450e9 * ALLREDUCE_LINK_EFFICIENCY)
                + ALLREDUCE_LATENCY_US * 1e-6)
    assert four.allreduce_ms == pytest.approx(2 * 80 * per_call * 1e3, rel=1e-9)
    assert one.allreduce_ms == 0.0


def test_moe_reads_only_the_experts_the_batch_touches(sharp):
    mixtral = model_spec("mixtral-8x7b")
    shape, hw = Shape.of(mixtral), Hardware.of(H100)
    one = step_time(shape, hw, ideal(), phase="decode", batch=1, context=0)
    many = step_time(shape, hw, ideal(), phase="decode", batch=256, context=0)
    expert = 3 * 4096 * 14336 * 2.0 * 32  # one expert's bytes over all layers
    dense = shape.dense_params * 2.0 * 32
    assert one.gemm_ms == pytest.approx((dense + 2 * expert) / 3350e9 * 1e3, rel=1e-6)
    assert many.gemm_ms > 3.5 * one.gemm_ms  # nearly all 8 experts at batch 256


def test_fp8_weights_halve_the_weight_bytes_and_use_the_fp8_peak(sharp):
    shape, hw = Shape.of(model_spec("llama-3.1-70b")), Hardware.of(H100)
    bf16 = step_time(shape, hw, ideal(), phase="decode", batch=1, context=0)
    fp8 = step_time(shape, hw, ideal(), phase="decode", batch=1, context=0, weight_bytes=1.0,
                    fp8_compute=True)
    assert fp8.gemm_ms == pytest.approx(bf16.gemm_ms / 2, rel=1e-6)
    big16 = step_time(shape, hw, ideal(), phase="prefill", tokens=8192)
    big8 = step_time(shape, hw, ideal(), phase="prefill", tokens=8192, weight_bytes=1.0,
                     fp8_compute=True)
    assert big8.gemm_ms == pytest.approx(big16.gemm_ms * 989 / 1979, rel=1e-3)


def test_the_shipped_fit_is_the_fit_of_the_bundled_profile(measured):
    report = fit_latency(list(measured.values()), H100, source="h100_llm_token_latency.csv")
    with open(BUNDLED_FIT, encoding="utf-8") as fh:
        shipped = json.load(fh)["fit"]
    for key, value in report.fit.as_dict().items():
        if key != "source":
            assert shipped[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_the_fit_predicts_every_measured_h100_step(measured):
    fit = bundled_fit()
    for model, profile in measured.values():
        err = shape_error(MeasuredSteps.of(profile), model, H100, fit)
        assert err.rows >= 30
        assert err.median_abs_pct < 1.5, err.as_dict()
        assert err.max_abs_pct < 7.5, err.as_dict()


@pytest.mark.parametrize(("train", "test", "max_pct", "median_pct"),
                         [("llama-3.2-1b", "llama-3-8b", 10.0, 5.0),
                          # one shape cannot separate weight streaming from per-layer overhead
                          # (docs/latency-model.md): 8B -> 1B misses the 10 % aim, stated so
                          ("llama-3-8b", "llama-3.2-1b", 15.0, 8.0)])
def test_a_fit_on_one_shape_predicts_the_other(measured, train, test, max_pct, median_pct):
    report = fit_latency([measured[train]], H100, source="one shape")
    assert any("tied" in n for n in report.notes)
    model, profile = measured[test]
    err = shape_error(MeasuredSteps.of(profile), model, H100, report.fit)
    assert err.max_abs_pct < max_pct and err.median_abs_pct < median_pct, err.as_dict()


def test_an_h200_decode_step_is_faster_than_an_h100_one_by_less_than_the_bandwidth_ratio():
    # measured on real GPUs (issue 14): 1.17-1.41x faster, not the 4.8/3.35 = 1.43x of bandwidth
    shape, fit = Shape.of(model_spec("llama-3-8b")), bundled_fit()
    ratios = [step_time(shape, Hardware.of(H100), fit, phase="decode", batch=b, context=c).ms
              / step_time(shape, Hardware.of(GPU_SPECS["H200-SXM-141GB"]), fit,
                          phase="decode", batch=b, context=c).ms
              for b in (1, 4, 16, 64, 256) for c in (512, 2048, 8192)]
    assert 1.15 < min(ratios) and max(ratios) < 4.8 / 3.35


def test_the_derived_profile_is_the_model_at_its_knots_and_close_between(measured):
    model, fit = model_spec("qwen2.5-7b"), bundled_fit()
    gpu = GPU_SPECS["L40S-48GB"]
    prof = derived_profile(model, gpu, fit, gpu_key="L40S-48GB", max_seqs=128)
    shape, hw = Shape.of(model), Hardware.of(gpu)
    for n in (64, 1000, 2048, 5000):
        want = step_time(shape, hw, fit, phase="prefill", tokens=n).ms
        assert prof.prefill_ms(1, n) == pytest.approx(want, rel=2e-3), n
    for b, c in ((1, 256), (7, 3000), (100, 1500), (128, 20000)):
        want = step_time(shape, hw, fit, phase="decode", batch=b, context=c).ms
        assert prof.decode_step_ms(b, c) == pytest.approx(want, rel=1e-2), (b, c)
    assert "fitted" in prof.derivation and gpu.name in prof.derivation


def test_predict_ms_matches_step_time_row_by_row(measured):
    fit = bundled_fit()
    model, profile = measured["llama-3-8b"]
    steps = MeasuredSteps.of(profile)
    got = predict_ms(steps, model, H100, fit)
    shape, hw = Shape.of(model), Hardware.of(H100)
    for i in range(steps.ms.size):
        want = step_time(shape, hw, fit, phase=str(steps.phase[i]), batch=int(steps.batch[i]),
                         tokens=int(steps.tokens[i]), context=int(steps.context[i])).ms
        assert got[i] == pytest.approx(want, rel=1e-9)
    assert np.all(got > 0)


def test_bad_fit_terms_are_refused():
    with pytest.raises(ValueError, match="gemm_efficiency must be a share"):
        LatencyFit(1.5, 0.3, 0.8, 0.9, 40.0, 0.0, "x")
    with pytest.raises(ValueError, match="layer_overhead_us"):
        LatencyFit(0.5, 0.3, 0.8, 0.9, -1.0, 0.0, "x")
