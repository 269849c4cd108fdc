"""The ``planner`` command: exit codes, JSON = API, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.run import run_scenario
from planner.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BERT = ROOT / "scenarios" / "bert-serving.yaml"
runner = CliRunner()

SMALL = """
name: small
horizon_s: 60
warmup_s: 5
replications: 3
seed: 4
workloads:
  - name: w
    kind: inference
    arrivals: {kind: poisson, rate_rps: 200}
    slo: {percentile: 99, latency_ms: 50}
designs:
  - name: g5
    workload: w
    pattern: realtime
    fleet: {instance: aws:g5.xlarge, nodes: 2}
    batching: {max_batch: 8, max_wait_ms: 2}
    service_time: {kind: linear, base_ms: 3, per_item_ms: 0.5}
  - name: mystery
    workload: w
    pattern: realtime
    fleet: {instance: aws:p5e.48xlarge, nodes: 1}  # listed, no on-demand price
    service_time: {kind: exponential, mean_ms: 2}
"""


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_compare_json_equals_the_library_result(small: Path) -> None:
    out = runner.invoke(app, ["compare", str(small), "--format", "json", "--quiet"])
    assert out.exit_code == 0, out.output
    cli = json.loads(out.stdout)
    api = json.loads(run_scenario(load_scenario(small)).to_json())
    cli.pop("timings")
    api.pop("timings")
    assert cli == api


def test_json_has_the_documented_fields_and_honest_prices(small: Path) -> None:
    out = runner.invoke(app, ["run", str(small), "-f", "json", "-q"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    g5, mystery = doc["designs"]
    for d in (g5, mystery):
        assert set(d["latency_ms"]) == {"mean", "p50", "p90", "p95", "p99"}
        # a request queue's wait has every percentile the markdown and HTML reports show
        assert set(d["wait_ms"]) == {"mean", "p50", "p90", "p95", "p99"}
        for key in ("name", "throughput_rps", "utilization", "slo_attainment"):
            assert key in d
        assert {"total_usd", "usd_per_1k_requests", "price_source", "price_as_of"} <= set(
            d["cost"])
    assert g5["cost"]["price_as_of"] == "2026-01-21"
    assert g5["cost"]["total_usd"] == pytest.approx(2 * 1.006 * 60 / 3600)
    # an instance without a price is n/a (null), never $0, and the note says where to get one
    assert mystery["cost"]["total_usd"] is None
    assert mystery["cost"]["usd_per_1k_requests"] is None
    assert "has no on_demand price" in mystery["cost"]["note"]
    assert "planner prices refresh" in mystery["cost"]["note"]
    assert doc["assumptions"]["hours_per_month"] == 730
    assert doc["recommendation"]["cheapest_meeting_slo"] == "g5"


def test_table_shows_na_the_recommendation_and_assumptions(small: Path) -> None:
    out = runner.invoke(app, ["compare", str(small), "-q"])
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "n/a" in text
    assert "cheapest design meeting every SLO: g5" in text
    assert "hours per month: 730" in text
    assert "as of 2026-01-21" in text


def test_output_file_is_written(small: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    out = runner.invoke(app, ["compare", str(small), "-f", "json", "-o", str(target), "-q"])
    assert out.exit_code == 0
    assert json.loads(target.read_text())["scenario"]["name"] == "small"


def test_overrides_change_replications_and_seed(small: Path) -> None:
    out = runner.invoke(app, ["compare", str(small), "-f", "json", "-q", "-r", "4", "--seed", "9"])
    doc = json.loads(out.stdout)
    assert doc["scenario"]["replications"] == 4 and doc["scenario"]["seed"] == 9


@pytest.mark.parametrize("args,code,needle", [
    (["compare", "does-not-exist.yaml"], 1, "does-not-exist.yaml"),
    (["compare"], 2, "Missing argument"),
    (["compare", "x.yaml", "--format", "xml"], 2, "xml"),
    (["frobnicate"], 2, "No such command"),
])
def test_exit_codes(args: list[str], code: int, needle: str) -> None:
    out = runner.invoke(app, args)
    assert out.exit_code == code
    assert needle in out.output
    assert "Traceback" not in out.output


def test_bad_scenario_gives_field_path_value_and_fix_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL.replace("max_batch: 8", "max_batch: 0"))
    out = runner.invoke(app, ["compare", str(path)])
    assert out.exit_code == 1
    assert "designs[0].batching.max_batch" in out.output
    assert "got 0" in out.output
    assert "Traceback" not in out.output


def test_too_many_workers_per_node_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL.replace("nodes: 2}", "nodes: 2, workers_per_node: 4}"))
    out = runner.invoke(app, ["compare", str(path)])
    assert out.exit_code == 1
    assert "designs[0].fleet.workers_per_node" in out.output and "1 GPU" in out.output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed")
    out = runner.invoke(app, ["compare", str(path), "--debug"])
    assert out.exit_code == 1
    assert out.exception is not None


def test_console_script_runs_the_bundled_demo() -> None:
    """The installed ``planner`` entry point runs the scenario that ``make demo`` runs."""
    proc = subprocess.run(
        [sys.executable, "-m", "planner.cli.main", "compare", str(BERT), "-f", "json", "-q",
         "-r", "2"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [d["name"] for d in doc["designs"]] == [
        "one-h100", "two-p5-4xlarge", "p5-48xlarge-8-workers"]
    assert all(d["slo"]["met"] for d in doc["designs"])


def test_error_messages_keep_square_brackets(tmp_path: Path) -> None:
    """A user's value in square brackets is printed as written, not eaten as console markup."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nhorizon_s: 10\nworkloads:\n  - {name: w, kind: inference, "
                    "arrivals: {kind: poisson, rate_rps: 1}}\ndesigns:\n  - {name: d, "
                    "workload: w, pattern: realtime, fleet: {instance: 'aws:[bold]g5', "
                    "nodes: 1}, service_time: {kind: constant, ms: 1}}\n")
    res = runner.invoke(app, ["run", str(path), "-q"])
    assert res.exit_code == 1
    assert "(got 'aws:[bold]g5')" in res.output
