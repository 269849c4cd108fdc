"""Token-based LLM service times against the measured H100 profile, hand sums and the Azure trace.

The profile is built from the CSV's rows read with the standard library; reading and checking
the files themselves is :mod:`planner.inputs_tokens`'s job (``tests/planner/test_inputs_tokens.py``).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from simulators.core.service import table_service
from simulators.core.token_batches import batch_service_table
from simulators.core.tokens import GPU_SPECS, TokenProfile, gpu_key, scale_profile, token_profile

MODELS = ("llama-3-8b", "llama-3.2-1b")
AZURE = ("traces", "azure_llm_inference_2023")
CATALOG = Path(__file__).resolve().parents[2] / "costmodels" / "data" / "gpu_catalog_snapshot.csv"


def _profile_csv(shared_data: Path) -> Path:
    return shared_data / "gpu-profiles" / "h100_llm_token_latency.csv"


def _rows(path: Path, model: str) -> list[dict]:
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["model"] == model]


def load_token_profile(path: Path, model: str) -> TokenProfile:
    """The profile of ``model`` from a profile CSV's rows (no checks: the files are good)."""
    rows = _rows(path, model)
    pre = [r for r in rows if r["phase"] == "prefill"]
    dec = [r for r in rows if r["phase"] == "decode"]
    return token_profile(
        model, rows[0]["gpu"],
        prefill_tokens=[float(r["new_tokens_per_sequence"]) for r in pre],
        prefill_ms=[float(r["mean_ms"]) for r in pre],
        decode_batch=[float(r["batch"]) for r in dec],
        decode_context=[float(r["context_tokens"]) for r in dec],
        decode_ms=[float(r["mean_ms"]) for r in dec], source=str(path))


def load_token_samples(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Prompt and output tokens of an Azure LLM trace, read with the standard library."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return (np.array([int(r["ContextTokens"]) for r in rows]),
            np.array([int(r["GeneratedTokens"]) for r in rows]))


@pytest.fixture(params=MODELS)
def measured(request, shared_data: Path) -> tuple[TokenProfile, list[dict]]:
    path = _profile_csv(shared_data)
    return load_token_profile(path, request.param), _rows(path, request.param)


# ----------------------------------------------------------------------------- interpolators


def test_measured_rows_are_reproduced_exactly(measured) -> None:
    profile, rows = measured
    assert profile.gpu == "NVIDIA H100 80GB HBM3" and profile.gpu_key == "H100-SXM-80GB"
    for r in rows:
        want = float(r["mean_ms"])
        if r["phase"] == "prefill":
            assert profile.prefill_ms(1, int(r["new_tokens_per_sequence"])) == want
        else:
            assert profile.decode_step_ms(int(r["batch"]), int(r["context_tokens"])) == want


def test_interpolation_is_monotone_and_bracketed_between_grid_points(measured) -> None:
    profile, rows = measured
    pre = sorted((int(r["new_tokens_per_sequence"]), float(r["mean_ms"]))
                 for r in rows if r["phase"] == "prefill")
    for (n0, t0), (n1, t1) in itertools.pairwise(pre):
        t = profile.prefill_ms(1, np.linspace(n0, n1, 33))
        assert np.all(np.diff(t) >= 0) and t.min() >= t0 and t.max() <= t1
    dec = {(int(r["batch"]), int(r["context_tokens"])): float(r["mean_ms"])
           for r in rows if r["phase"] == "decode"}
    contexts = sorted({c for _, c in dec})
    for c in contexts:  # along batch, at each measured context
        batches = sorted(b for b, cc in dec if cc == c)
        for b0, b1 in itertools.pairwise(batches):
            t = profile.decode_step_ms(np.linspace(b0, b1, 17), c)
            assert np.all(np.diff(t) >= 0)
            assert t.min() >= dec[b0, c] and t.max() <= dec[b1, c]
    for b in sorted({b for b, _ in dec}):  # along context, where both ends are measured
        for c0, c1 in itertools.pairwise(contexts):
            if (b, c0) in dec and (b, c1) in dec:
                t = profile.decode_step_ms(b, np.linspace(c0, c1, 17))
                assert np.all(np.diff(t) >= 0)
                assert t.min() >= dec[b, c0] and t.max() <= dec[b, c1]


def test_extrapolation_rules_follow_the_measured_end_segments(shared_data: Path) -> None:
    path = _profile_csv(shared_data)
    profile = load_token_profile(path, "llama-3-8b")
    rows = _rows(path, "llama-3-8b")
    pre = {int(r["new_tokens_per_sequence"]): float(r["mean_ms"])
           for r in rows if r["phase"] == "prefill"}
    # below the grid: clamped to the 128-token pass; above: the 4096->8192 slope
    assert profile.prefill_ms(1, 10) == pre[128]
    slope = (pre[8192] - pre[4096]) / 4096
    assert profile.prefill_ms(1, 12288) == pytest.approx(pre[8192] + slope * 4096, rel=1e-12)
    # decode at context 8192 was measured to batch 32 only: batch 64 continues the 16->32 line
    dec = {(int(r["batch"]), int(r["context_tokens"])): float(r["mean_ms"])
           for r in rows if r["phase"] == "decode"}
    line = dec[32, 8192] + (dec[32, 8192] - dec[16, 8192]) / 16 * 32
    assert profile.decode_step_ms(64, 8192) == pytest.approx(line, rel=1e-12)
    assert not profile.decode_measured[list(profile.decode_batches).index(64), -1]


def test_batched_prefill_is_the_tighter_of_two_measured_upper_bounds(shared_data: Path) -> None:
    path = _profile_csv(shared_data)
    profile = load_token_profile(path, "llama-3-8b")
    pre = {int(r["new_tokens_per_sequence"]): float(r["mean_ms"])
           for r in _rows(path, "llama-3-8b") if r["phase"] == "prefill"}
    # 8 x 128 tokens: one 1024-token pass (27.2 ms) beats 8 passes of 128 (60 ms)
    assert profile.prefill_ms(8, 128) == pre[1024]
    # 2 x 4096 tokens: two 4096-token passes beat one 8192-token pass (quadratic attention)
    assert profile.prefill_ms(2, 4096) == 2 * pre[4096] < pre[8192]


def test_interpolators_refuse_a_batch_below_one(shared_data: Path) -> None:
    profile = load_token_profile(_profile_csv(shared_data), "llama-3-8b")
    with pytest.raises(ValueError, match="batch must be a finite number >= 1"):
        profile.decode_step_ms(0, 512)
    with pytest.raises(ValueError, match="prompt_tokens"):
        profile.prefill_ms(1, -5)


# ----------------------------------------------------------------------------- GPU scaling


def test_scaling_to_the_same_gpu_is_the_identity(measured) -> None:
    profile, _ = measured
    assert scale_profile(profile, "H100-SXM-80GB") is profile


@pytest.mark.parametrize("target", ["A100-SXM-80GB", "A100-SXM-40GB", "L4-24GB", "L40S-48GB",
                                    "A10G-24GB", "H200-SXM-141GB"])
def test_scaled_profile_keeps_the_datasheet_ratios(measured, target: str) -> None:
    profile, _ = measured
    scaled = scale_profile(profile, target)
    src, dst = GPU_SPECS["H100-SXM-80GB"], GPU_SPECS[target]
    flop, bw = src.dense_tflops / dst.dense_tflops, src.bandwidth_gb_per_s / dst.bandwidth_gb_per_s
    tokens = np.array([50, 128, 300, 2048, 5000, 8192, 20000])
    np.testing.assert_allclose(scaled.prefill_ms(1, tokens) / profile.prefill_ms(1, tokens), flop,
                               rtol=1e-12)
    b, c = np.meshgrid([1, 3, 8, 100, 256, 400], [100, 512, 1000, 2048, 8192, 12000])
    np.testing.assert_allclose(scaled.decode_step_ms(b, c) / profile.decode_step_ms(b, c), bw,
                               rtol=1e-12)
    assert f"FLOP ratio {src.dense_tflops:g}/{dst.dense_tflops:g} for prefill" in scaled.derivation
    assert (f"bandwidth ratio {src.bandwidth_gb_per_s:g}/{dst.bandwidth_gb_per_s:g} for decode"
            in scaled.derivation)
    assert scaled.gpu_key == target and scaled.model == profile.model


def test_a100_derivation_states_the_datasheet_numbers(shared_data: Path) -> None:
    profile = load_token_profile(_profile_csv(shared_data), "llama-3-8b")
    scaled = scale_profile(profile, gpu_key("NVIDIA A100", 80))
    assert scaled.derivation.startswith(
        "derived from the measured NVIDIA H100 80GB HBM3 profile by FLOP ratio 989/312 for "
        "prefill and bandwidth ratio 3350/2039 for decode")
    # an A100 is slower at both phases, more so at prefill (3.17x) than decode (1.64x)
    assert scaled.prefill_ms(1, 2048) / profile.prefill_ms(1, 2048) == pytest.approx(989 / 312)
    with pytest.raises(ValueError, match="known"):
        scale_profile(profile, "TPU-v5e")


def test_every_catalog_nvidia_gpu_maps_to_a_spec_of_its_memory() -> None:
    with CATALOG.open(newline="") as fh:
        pairs = {(r["gpu_model"], float(r["gpu_memory_gib"])) for r in csv.DictReader(fh)}
    nvidia = [(m, g) for m, g in pairs if m.startswith("NVIDIA")]
    assert len(nvidia) >= 8
    for model, mem in nvidia:
        key = gpu_key(model, mem)
        assert GPU_SPECS[key].memory_gib == pytest.approx(mem, rel=0.1), (model, mem, key)
    assert gpu_key("NVIDIA A100 40GB", 40) == "A100-SXM-40GB"
    assert gpu_key("NVIDIA L40S", 48) == "L40S-48GB" and gpu_key("NVIDIA L4", 24) == "L4-24GB"
    for model, mem in pairs - set(nvidia):
        with pytest.raises(ValueError, match="known: 'NVIDIA H100'"):
            gpu_key(model, mem)
    with pytest.raises(ValueError, match="pass gpu_memory_gib"):
        gpu_key("NVIDIA A100")
    with pytest.raises(ValueError, match="matches no known variant"):
        gpu_key("NVIDIA H100 NVL", 94)


# ----------------------------------------------------------------------------- batch table


@pytest.mark.parametrize(("prompt", "output"), [(700, 300), (1900, 500), (100, 1), (8000, 40)])
def test_one_request_is_prefill_plus_each_decode_step(measured, prompt: int, output: int) -> None:
    profile, _ = measured
    table = batch_service_table(profile, [prompt], [output], 1, n_samples=3)
    by_hand = profile.prefill_ms(1, prompt) + sum(
        profile.decode_step_ms(1, prompt + k) for k in range(1, output))
    for key in ("mean_ms", "p50_ms", "p99_ms"):
        assert table[key][0] == pytest.approx(by_hand, rel=1e-12)


def test_a_fixed_batch_is_padded_prefill_plus_decode_to_the_longest(measured) -> None:
    profile, _ = measured
    # one (prompt, output) pair repeated, so every drawn batch of 3 is known: prompts padded to
    # 1200, 399 decode steps at batch 3 and contexts 1201..1599
    table = batch_service_table(profile, [1200], [400], 3, n_samples=2)
    by_hand = profile.prefill_ms(3, 1200) + sum(
        profile.decode_step_ms(3, 1200 + k) for k in range(1, 400))
    assert table["mean_ms"][2] == pytest.approx(by_hand, rel=1e-12)
    assert table["output_tokens_per_batch_mean"][2] == 3 * 400


def test_service_time_grows_with_batch_and_output_and_batching_helps(measured) -> None:
    profile, _ = measured
    short = batch_service_table(profile, [512], [64], 256, n_samples=1)
    long = batch_service_table(profile, [512], [256], 256, n_samples=1)
    assert np.all(np.diff(short["mean_ms"]) > 0) and np.all(np.diff(long["mean_ms"]) > 0)
    assert np.all(long["mean_ms"] > short["mean_ms"])
    per_request_rate = short["batch_sizes"] / short["mean_ms"]
    assert np.all(np.diff(per_request_rate) > 0)  # over the measured batch range 1..256
    assert per_request_rate[-1] > 10 * per_request_rate[0]


@pytest.mark.parametrize("trace", ["code", "conv"])
def test_azure_trace_gives_a_sane_table(shared_data: Path, trace: str) -> None:
    csv_path = shared_data.joinpath(*AZURE, f"AzureLLMInferenceTrace_{trace}.csv")
    prompt, output = load_token_samples(csv_path)
    # the trace README's row counts and means (independent of this loader)
    rows, p_mean, o_mean = {"code": (8819, 2048, 28), "conv": (19366, 1155, 211)}[trace]
    assert prompt.size == output.size == rows
    profile = load_token_profile(_profile_csv(shared_data), "llama-3-8b")
    table = batch_service_table(profile, prompt, output, 32, n_samples=400, seed=7)
    assert table["tokens_per_request"]["prompt"] == pytest.approx(p_mean, abs=1)
    assert table["tokens_per_request"]["output"] == pytest.approx(o_mean, abs=1)
    for key in ("mean_ms", "p50_ms", "p99_ms", "prefill_mean_ms", "decode_mean_ms"):
        assert np.all(np.isfinite(table[key])) and np.all(table[key] > 0), key
    assert np.all(table["p99_ms"] >= table["p50_ms"])
    assert table["mean_ms"][-1] > 2 * table["mean_ms"][0]
    assert np.all((table["beyond_profile_fraction"] >= 0) & (table["beyond_profile_fraction"] <= 1))
    again = batch_service_table(profile, prompt, output, 32, n_samples=400, seed=7)
    np.testing.assert_array_equal(again["mean_ms"], table["mean_ms"])
    service = table_service(table["batch_sizes"], table["mean_ms"], 32, p50_ms=table["p50_ms"],
                            p99_ms=table["p99_ms"], jitter="lognormal",
                            description=table["description"])
    np.testing.assert_allclose(service.mean_s[1:], table["mean_ms"] / 1000.0)


def test_packed_prefill_never_exceeds_padded(shared_data: Path) -> None:
    csv_path = shared_data.joinpath(*AZURE, "AzureLLMInferenceTrace_code.csv")
    prompt, output = load_token_samples(csv_path)
    profile = load_token_profile(_profile_csv(shared_data), "llama-3.2-1b")
    padded = batch_service_table(profile, prompt, output, 16, n_samples=300, seed=1)
    packed = batch_service_table(profile, prompt, output, 16, n_samples=300, seed=1,
                                 prefill_rule="packed")
    assert np.all(packed["prefill_mean_ms"] <= padded["prefill_mean_ms"] + 1e-9)
    np.testing.assert_allclose(packed["decode_mean_ms"], padded["decode_mean_ms"])


# ----------------------------------------------------------------------------- bad input

PRE = {"prefill_tokens": [128, 256], "prefill_ms": [2.0, 3.0]}
DEC = {"decode_batch": [1, 2, 1, 2], "decode_context": [512, 512, 2048, 2048],
       "decode_ms": [1.0, 1.1, 1.2, 1.4]}


def _built(gpu: str = "NVIDIA H100 80GB HBM3", **change) -> TokenProfile:
    return token_profile("m", gpu, **{**PRE, **DEC, **change}, source="profile.csv")


def test_a_minimal_valid_profile_builds() -> None:
    profile = _built()
    assert profile.decode_step_ms(1.5, 1280) == pytest.approx((1.0 + 1.1 + 1.2 + 1.4) / 4)
    assert profile.prefill_ms(1, 192) == pytest.approx(2.5)
    assert profile.gpu_key == "H100-SXM-80GB" and profile.source == "profile.csv"
    # the order of the measurements does not matter
    again = _built(prefill_tokens=[256, 128], prefill_ms=[3.0, 2.0],
                   **{k: v[::-1] for k, v in DEC.items()})
    np.testing.assert_array_equal(again.decode_grid_ms, profile.decode_grid_ms)
    np.testing.assert_array_equal(again.prefill_grid_ms, profile.prefill_grid_ms)


@pytest.mark.parametrize(("change", "pattern"), [
    ({"decode_ms": [1.0, 1.1, 1.2, -1]}, r"profile.csv: decode_ms\[3\]=-1 is invalid; it must be "
                                         r"a finite number > 0"),
    ({"prefill_tokens": [128, float("nan")]}, r"prefill_tokens\[1\]=nan is invalid"),
    ({"decode_batch": [1, 2, 0, 2]}, r"decode_batch\[2\]=0 is invalid; it must be a finite "
                                     r"number >= 1"),
    ({"decode_ms": [1.0, 1.1, 1.2]}, r"decode_ms has 3 values but decode_batch has 4"),
    ({"prefill_tokens": ["a", "b"]}, r"prefill_tokens must be a 1-D array of numbers"),
    ({"decode_batch": [1, 1, 1, 2]}, r"duplicate \(decode_batch, decode_context\) at positions "
                                     r"\[0, 1\]"),
    ({"prefill_tokens": [128], "prefill_ms": [2.0]},
     r"1 prefill row\(s\); measure at least two prompt lengths"),
    ({"decode_context": [512] * 4, "decode_batch": [1, 2, 3, 4]},
     r"decode rows at 1 context length\(s\); measure at least two"),
    ({k: v[:3] for k, v in DEC.items()},
     r"context_tokens=2048 for 1 batch size\(s\); measure at least two"),
])
def test_bad_measurements_name_the_array_position_and_fix(change, pattern) -> None:
    with pytest.raises(ValueError, match=pattern):
        _built(**change)


def test_a_profile_of_an_unknown_gpu_is_usable_but_not_scalable() -> None:
    profile = _built(gpu="Acme X1")  # usable as measured, but not scalable
    assert profile.gpu_key == "" and profile.prefill_ms(1, 128) == 2.0
    with pytest.raises(ValueError, match="profile GPU 'Acme X1'.*no datasheet entry"):
        scale_profile(profile, "A100-SXM-80GB")


def test_bad_arguments(shared_data: Path) -> None:
    profile = load_token_profile(_profile_csv(shared_data), "llama-3-8b")
    with pytest.raises(ValueError, match=r"must pair up request by request \(got 2 and 1"):
        batch_service_table(profile, [10, 20], [5], 4)
    with pytest.raises(ValueError, match=r"max_batch must be a whole number >= 1 \(got 0\)"):
        batch_service_table(profile, [10], [5], 0)
    with pytest.raises(ValueError, match=r"output_tokens\[1\]=0 is not a whole number >= 1"):
        batch_service_table(profile, [10, 20], [5, 0], 4)
    with pytest.raises(ValueError, match="prefill_rule must be 'padded' or 'packed'"):
        batch_service_table(profile, [10], [5], 4, prefill_rule="sum")
