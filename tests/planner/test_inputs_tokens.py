"""Tests of reading token-latency profiles and token traces (planner.inputs_tokens)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from domain.errors import ScenarioError
from planner.inputs_tokens import read_token_profile, read_token_samples
from simulators.core.tokens import scale_profile

FIELD = "designs[0].service_time"
HEADER = "gpu,model,phase,batch,new_tokens_per_sequence,context_tokens,mean_ms\n"
GOOD = [
    "NVIDIA H100 80GB HBM3,m,prefill,1,128,0,2.0",
    "NVIDIA H100 80GB HBM3,m,prefill,1,256,0,3.0",
    "NVIDIA H100 80GB HBM3,m,decode,1,1,512,1.0",
    "NVIDIA H100 80GB HBM3,m,decode,2,1,512,1.1",
    "NVIDIA H100 80GB HBM3,m,decode,1,1,2048,1.2",
    "NVIDIA H100 80GB HBM3,m,decode,2,1,2048,1.4",
]


def _write(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "profile.csv"
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def _read(path: Path, model: str = "m"):
    return read_token_profile(str(path), model, field_path=FIELD)


@pytest.mark.parametrize("model", ["llama-3-8b", "llama-3.2-1b"])
def test_the_measured_h100_profile_reads_every_row(shared_data: Path, model: str) -> None:
    path = shared_data / "gpu-profiles" / "h100_llm_token_latency.csv"
    profile = _read(path, model)
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["model"] == model]
    assert profile.gpu == "NVIDIA H100 80GB HBM3" and profile.gpu_key == "H100-SXM-80GB"
    assert profile.source == str(path) and profile.derivation == "measured"
    pre = sorted((float(r["new_tokens_per_sequence"]), float(r["mean_ms"]))
                 for r in rows if r["phase"] == "prefill")
    np.testing.assert_array_equal(profile.prefill_tokens, [n for n, _ in pre])
    np.testing.assert_array_equal(profile.prefill_grid_ms, [t for _, t in pre])
    dec = [r for r in rows if r["phase"] == "decode"]
    assert int(profile.decode_measured.sum()) == len(dec)
    for r in dec:
        i = list(profile.decode_batches).index(float(r["batch"]))
        j = list(profile.decode_contexts).index(float(r["context_tokens"]))
        assert profile.decode_grid_ms[i, j] == float(r["mean_ms"])


def test_a_minimal_valid_profile_loads(tmp_path: Path) -> None:
    profile = _read(_write(tmp_path, GOOD))
    assert profile.decode_step_ms(1.5, 1280) == pytest.approx((1.0 + 1.1 + 1.2 + 1.4) / 4)
    assert profile.prefill_ms(1, 192) == pytest.approx(2.5)


@pytest.mark.parametrize(("edit", "pattern"), [
    (lambda g: g[:5] + ["NVIDIA H100 80GB HBM3,m,decode,2,1,2048,fast"],
     r"profile.csv line 7: column mean_ms must be a number \(got 'fast'\); fix or remove"),
    (lambda g: g[:5] + ["NVIDIA H100 80GB HBM3,m,decode,2,1,2048,-1"],
     r"line 7: mean_ms=-1 is invalid; times must be > 0 ms"),
    (lambda g: g + ["NVIDIA H100 80GB HBM3,m,warmup,1,1,512,1"],
     r"line 8: phase='warmup' is invalid; use 'prefill' or 'decode'"),
    (lambda g: g + ["NVIDIA H100 80GB HBM3,m,decode,4,2,512,1"],
     r"line 8: new_tokens_per_sequence=2 is invalid; decode rows time one new token"),
    (lambda g: g + ["NVIDIA H100 80GB HBM3,m,prefill,4,512,0,9"],
     r"line 8: batch=4 is invalid; prefill rows must be single-sequence"),
    (lambda g: g + [g[3]], r"duplicate \(batch, context_tokens\) of decode rows at lines \[5, 8\]"),
    (lambda g: g + [g[0]], r"duplicate new_tokens_per_sequence of prefill rows at lines \[2, 8\]"),
    (lambda g: g + [",m,decode,4,1,512,1"], r"profile.csv line 8: column gpu is empty"),
    (lambda g: g + ["NVIDIA A100,m,decode,4,1,512,1"],
     r"model 'm' has rows for several GPUs \['NVIDIA H100 80GB HBM3', 'NVIDIA A100'\]; split"),
    (lambda g: g[1:], r"1 prefill row\(s\); measure at least two prompt lengths"),
    (lambda g: g[:2] + g[4:], r"decode rows at 1 context length\(s\); measure at least two"),
    (lambda g: g[:5], r"context_tokens=2048 for 1 batch size\(s\); measure at least two"),
])
def test_bad_profile_rows_name_field_file_line_value_and_fix(tmp_path: Path, edit,
                                                             pattern) -> None:
    with pytest.raises(ScenarioError, match=pattern) as caught:
        _read(_write(tmp_path, edit(list(GOOD))))
    assert str(caught.value).startswith(f"{FIELD}: {tmp_path / 'profile.csv'}")


def test_bad_profile_files_and_models(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^designs\[0\]\.service_time: token profile .* "
                                            "does not exist; pass the path"):
        _read(tmp_path / "nope.csv")
    no_mean = _write(tmp_path, [line.rsplit(",", 1)[0] for line in GOOD],
                     header=HEADER.replace(",mean_ms", ""))
    with pytest.raises(ScenarioError, match=r"missing column\(s\) \['mean_ms'\]"):
        _read(no_mean)
    with pytest.raises(ScenarioError, match=r"no rows for model='llama'; models in the file: "
                                            r"\['m'\]"):
        _read(_write(tmp_path, GOOD), "llama")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ScenarioError, match="is empty"):
        _read(empty)
    unknown_gpu = _write(tmp_path, [line.replace("NVIDIA H100 80GB HBM3", "Acme X1")
                                    for line in GOOD])
    profile = _read(unknown_gpu)  # usable as measured, but not scalable
    with pytest.raises(ValueError, match="profile GPU 'Acme X1'.*no datasheet entry"):
        scale_profile(profile, "A100-SXM-80GB")


def test_token_samples_and_their_bad_rows(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\nt,10,5\nt,12,7\n")
    prompt, output = read_token_samples(str(trace), field_path=FIELD)
    np.testing.assert_array_equal(prompt, [10, 12])
    np.testing.assert_array_equal(output, [5, 7])
    assert prompt.dtype == np.int64
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\nt,10,5\nt,12,0\n")
    with pytest.raises(ScenarioError, match=r"^designs\[0\]\.service_time: .*trace.csv line 3: "
                                            r"GeneratedTokens='0' is not a whole number >= 1; fix "
                                            r"or drop that row"):
        read_token_samples(str(trace), field_path=FIELD)
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\nt,10,5\nt,inf,3\n")
    with pytest.raises(ScenarioError, match=r"line 3: ContextTokens='inf' is not a whole number"):
        read_token_samples(str(trace), field_path=FIELD)
    with pytest.raises(ScenarioError, match=r"no column 'Prompt'.*pass prompt_column="):
        read_token_samples(str(trace), prompt_column="Prompt", field_path=FIELD)
    with pytest.raises(ScenarioError, match="does not exist"):
        read_token_samples(str(tmp_path / "missing.csv"), field_path=FIELD)
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    with pytest.raises(ScenarioError, match="has no rows; a token trace needs at least one"):
        read_token_samples(str(trace), field_path=FIELD)


def test_azure_trace_counts(shared_data: Path) -> None:
    path = shared_data / "traces" / "azure_llm_inference_2023" / "AzureLLMInferenceTrace_code.csv"
    prompt, output = read_token_samples(str(path), field_path=FIELD)
    assert prompt.size == output.size == 8819  # the trace README's row count
    assert prompt.min() >= 1 and output.min() >= 1
