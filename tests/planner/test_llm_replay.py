"""Replaying a recorded engine run: the bundled vLLM run (Llama-3.1-8B on an RTX PRO 6000, 300
ShareGPT requests, MIT, ``scenarios/data/ATTRIBUTION.md``) through ``planner llm replay``.

Nothing is fitted to the run: the step times are the roofline latency model fitted to H100
profiles, for a GPU the fit never saw. The tolerances are the errors the README states; the
measured figures are recomputed here from ``requests.jsonl`` by the run's authors' definitions.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from planner.cli.main import app

RUN = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "data", "llm-runs",
                   "vllm-rtxpro6000-llama-3.1-8b")
runner = CliRunner()


def _cli(*args):
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture(scope="module")
def replay():
    result = _cli("llm", "replay", RUN, "--gpu", "RTX PRO 6000", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_measured_side_is_the_runs_own_numbers(replay):
    rows = [json.loads(line) for line in open(os.path.join(RUN, "requests.jsonl"))]
    ttft = np.array([r["first_token_ts"] - r["queued_ts"] for r in rows]) * 1000
    e2e = np.array([r["last_token_ts"] - r["queued_ts"] for r in rows]) * 1000
    tpot = np.array([(r["last_token_ts"] - r["first_token_ts"]) / (r["output_toks"] - 1)
                     for r in rows if r["output_toks"] > 1]) * 1000
    assert replay["requests"] == 300
    m = replay["measured"]
    assert m["ttft_ms"]["mean"] == pytest.approx(ttft.mean())
    assert m["e2e_ms"]["p99"] == pytest.approx(np.percentile(e2e, 99))
    assert m["tpot_ms"]["p50"] == pytest.approx(np.percentile(tpot, 50))
    assert set(replay["predicted"]) == set(replay["error_pct"]) == {"ttft_ms", "tpot_ms",
                                                                    "e2e_ms"}


@pytest.mark.parametrize(("metric", "tolerance"), [("tpot_ms", 0.10), ("e2e_ms", 0.12),
                                                   ("ttft_ms", 0.18)])
def test_the_prediction_is_near_the_measured_means_and_p99(replay, metric, tolerance):
    for stat in ("mean", "p99"):
        assert replay["predicted"][metric][stat] == pytest.approx(
            replay["measured"][metric][stat], rel=tolerance), (metric, stat)
        want = 100 * (replay["predicted"][metric][stat] / replay["measured"][metric][stat] - 1)
        assert replay["error_pct"][metric][stat] == pytest.approx(want)


def test_the_prediction_says_what_it_rests_on(replay):
    text = replay["derivation"]
    assert "roofline latency model" in text and "H100" in text and "RTX PRO 6000" in text
    assert replay["host_overhead_ms"] == 1.0
    assert replay["kv_cache_tokens"] > 4765  # the longest request fits


def test_queueing_dominates_ttft_as_measured(replay):
    p, m = replay["predicted"], replay["measured"]
    assert p["ttft_ms"]["mean"] > 100 * p["tpot_ms"]["mean"]
    assert m["ttft_ms"]["mean"] > 100 * m["tpot_ms"]["mean"]


def test_fit_calibrates_the_terms_to_the_run_and_writes_a_usable_file(tmp_path):
    out = tmp_path / "fit.json"
    result = _cli("llm", "replay", RUN, "--gpu", "rtx pro 6000", "--fit", str(out), "-q",
                  "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for metric in ("ttft_ms", "tpot_ms", "e2e_ms"):
        assert abs(data["error_pct"][metric]["mean"]) < 5.0
        assert abs(data["error_pct"][metric]["mean"]) <= abs(
            data["before_fit"]["error_pct"][metric]["mean"]) + 0.5
    saved = json.loads(out.read_text())
    assert saved["host_overhead_ms"] >= 0 and "fitted to the engine run" in saved["fit"]["source"]
    again = _cli("llm", "replay", RUN, "--gpu", "RTX PRO 6000", "--latency-fit", str(out),
                 "-f", "json")
    assert again.exit_code == 0, again.output
    predicted = json.loads(again.stdout)["predicted"]
    for metric, stats in data["predicted"].items():
        assert predicted[metric] == pytest.approx(stats, rel=1e-6)


def test_bad_run_folders_get_clear_errors(tmp_path):
    result = _cli("llm", "replay", str(tmp_path), "--gpu", "H100")
    assert result.exit_code == 1 and "requests.jsonl" in result.output
    (tmp_path / "requests.jsonl").write_text('{"input_toks": 5}\nnot json\n')
    result = _cli("llm", "replay", str(tmp_path), "--gpu", "H100", "--model", "llama-3-8b")
    assert result.exit_code == 1 and "line 1" in result.output and "queued_ts" in result.output
    (tmp_path / "requests.jsonl").write_text(
        '{"input_toks": 5, "output_toks": 2, "queued_ts": 1, "first_token_ts": 2, '
        '"last_token_ts": 3}\n' * 2)
    result = _cli("llm", "replay", str(tmp_path), "--gpu", "H100")
    assert result.exit_code == 1 and "names no model" in result.output
    result = _cli("llm", "replay", str(tmp_path), "--model", "llama-3-8b")
    assert result.exit_code == 1 and "names no GPU" in result.output
    assert "Traceback" not in result.output
