"""``planner llm latency`` and ``planner llm fit`` through the CLI, against the model's Python
API and the measured profile."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.inputs_llm import bundled_fit
from simulators.core.gpus import GPU_SPECS
from simulators.core.latency_model import Hardware, Shape, step_time
from simulators.core.llm_models import model_spec

PROFILE = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "data",
                       "h100_llm_token_latency.csv")
runner = CliRunner()


def _json(*args):
    result = runner.invoke(app, ["llm", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("gpu", ["H200", "h200", "NVIDIA H200 141GB", "H200-SXM-141GB"])
def test_latency_json_is_the_models_step_time(gpu):
    out = _json("latency", "--model", "Llama-3.1-8B", "--gpu", gpu, "--phase", "decode",
                "--batch", "64", "--context", "2048")
    want = step_time(Shape.of(model_spec("llama-3.1-8b")),
                     Hardware.of(GPU_SPECS["H200-SXM-141GB"]), bundled_fit(), phase="decode",
                     batch=64, context=2048)
    assert out["ms"] == pytest.approx(want.ms)
    parts = out["breakdown_ms"]
    assert sum(parts.values()) == pytest.approx(out["ms"])
    assert out["gpu_key"] == "H200-SXM-141GB"


def test_tensor_parallel_70b_fits_four_h100_and_not_one():
    four = _json("latency", "-m", "llama-2-70b", "-g", "H100", "--tp", "4", "--phase",
                 "prefill", "--tokens", "1024")
    one = _json("latency", "-m", "llama-2-70b", "-g", "H100", "--phase", "prefill",
                "--tokens", "1024")
    assert four["fits_memory"] and not one["fits_memory"]
    assert four["breakdown_ms"]["allreduce"] > 0 == one["breakdown_ms"]["allreduce"]
    assert four["ms"] < one["ms"] / 2


def test_latency_table_and_usage_errors():
    table = runner.invoke(app, ["llm", "latency", "-m", "mixtral-8x7b", "-g", "RTX 4090",
                                "--phase", "decode", "--batch", "8", "--context", "100"])
    assert table.exit_code == 0 and "step time" in table.stdout and "DO NOT FIT" in table.stdout
    bad = runner.invoke(app, ["llm", "latency", "-m", "llama-3-8b", "-g", "H100", "--phase",
                              "decode", "--tokens", "5"])
    assert bad.exit_code == 2 and "prefill only" in bad.output
    unknown = runner.invoke(app, ["llm", "latency", "-m", "llama-3-8b", "-g", "H1000",
                                  "--phase", "decode"])
    assert unknown.exit_code == 1 and "H1000" in unknown.output
    assert "Traceback" not in unknown.output


def test_fit_refits_the_profile_and_writes_a_file_the_latency_command_reads(tmp_path):
    out = tmp_path / "fit.json"
    data = _json("fit", PROFILE, "--out", str(out))
    assert {e["model"] for e in data["errors"]} == {"llama-3-8b", "llama-3.2-1b"}
    assert all(e["max_abs_error_pct"] < 7.5 for e in data["errors"])
    assert json.loads(out.read_text())["fit"] == data["fit"]
    got = _json("latency", "-m", "llama-3-8b", "-g", "H100", "--phase", "prefill", "--tokens",
                "2048", "--latency-fit", str(out))
    assert got["ms"] == pytest.approx(55.24, rel=0.05)  # measured: 55.24 ms
