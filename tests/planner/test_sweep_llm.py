"""Sweeps of an llm design (``fleet.nodes`` x ``engine.max_num_seqs``): every point runs, its
row holds every SLO bound, feasibility needs all of them (``meets_slo``), and the table,
Markdown and Parquet reports show TTFT/TPOT p99 and the verdict, checked against the sweep's
JSON. Tiny: 60 s, 2 replications; one running sequence per replica cannot keep up with 4 req/s,
so those points miss their TTFT bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli.main import app
from planner.reports.formatting import common_unit, fmt_money, human_ms, ms_in
from planner.reports.markdown import escape

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency"}

DATA = {
    "name": "llm-sweep", "horizon_s": 60, "warmup_s": 10, "replications": 2, "seed": 5,
    "workloads": [{"name": "chat", "kind": "inference",
                   "arrivals": {"kind": "poisson", "rate_rps": 4},
                   "tokens": {"prompt_tokens": 575, "output_tokens": 210},
                   "slo": {"percentile": 99, "ttft_ms": 500, "tpot_ms": 50}}],
    "designs": [{
        "name": "vllm", "workload": "chat", "pattern": "llm", "model": "llama-3-8b",
        "engine": {"max_num_seqs": 64, "max_num_batched_tokens": 2048},
        "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
        "latency": {"kind": "profile",
                    "path": str(REPO / "scenarios" / "data" / "h100_llm_token_latency.csv")},
    }],
    "sweep": {"design": "vllm",
              "parameters": {"fleet.nodes": [1, 2], "engine.max_num_seqs": [1, 64]},
              "constraints": {"slo": True}},
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, Path, dict]:
    """The scenario, its output folder and the sweep's JSON (sensitivity included)."""
    folder = tmp_path_factory.mktemp("llm-sweep")
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(DATA, sort_keys=False))
    out = folder / "out"
    res = runner.invoke(app, ["sweep", str(path), "-w", "0", "--output-dir", str(out), "-f", "json",
                              "--quiet"])
    assert res.exit_code == 0, res.output
    return path, out, json.loads(res.stdout)


def test_every_point_runs_and_feasibility_needs_every_bound(swept) -> None:
    _, _, doc = swept
    points = doc["points"]
    assert doc["counts"]["ok"] == 4 and doc["counts"]["skipped"] == 0
    assert doc["slo"] == {"percentile": 99, "latency_ms": None, "ttft_ms": 500, "tpot_ms": 50}
    for p in points:
        assert [s["metric"] for s in p["slos"]] == ["ttft", "tpot"]
        assert p["meets_slo"] == all(s["met"] for s in p["slos"])
        assert p["slo_ms"] == p["slos"][0]["achieved_ms"] == p["metrics"]["ttft_p99_ms"]
        assert p["feasible"] == (p["meets_slo"] and p["metrics"]["usd_per_month"] is not None)
        assert p["metrics"]["tpot_p99_ms"] is not None and "goodput_rps" in p["metrics"]
    by_seqs = {(p["params"]["fleet.nodes"], p["params"]["engine.max_num_seqs"]): p
               for p in points}
    assert not by_seqs[(1, 1)]["meets_slo"]  # one sequence at a time: the queue grows
    assert by_seqs[(1, 64)]["meets_slo"]
    best = doc["cheapest_feasible"]
    assert best["params"] == {"fleet.nodes": 1, "engine.max_num_seqs": 64}
    assert {c["case"] for c in doc["sensitivity"]} == {"arrival rate x0.8",
                                                       "arrival rate x1.2"}


def _verdict(point: dict) -> str:
    if point["meets_slo"]:
        return "met"
    missed = [NAMES[s["metric"]] for s in point["slos"] if s["verdict"] == "MISSED"]
    if not missed:
        open_ = [NAMES[s["metric"]] for s in point["slos"] if s["verdict"] == "inconclusive"]
        return f"inconclusive ({', '.join(open_)})"
    return f"MISSED ({', '.join(missed)})"


def test_markdown_report_shows_ttft_tpot_and_verdicts(swept) -> None:
    path, out, doc = swept
    res = runner.invoke(app, ["sweep", str(path), "-w", "0",
                              "--output-dir", str(out), "-f", "markdown",
                              "--quiet"])
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert escape("constraints: TTFT p99 ≤ 500 ms, TPOT p99 ≤ 50 ms") in md
    table = md.split("## Every point that ran")[1]
    header = "| point | parameters | $/month | TTFT p99 | TPOT p99 | SLO attainment | SLO | feasible |"
    assert table.strip().splitlines()[0] == escape(header).replace("\\|", "|")
    ttft_unit = common_unit(p["slo_ms"] for p in doc["points"])
    tpot_unit = common_unit(p["metrics"]["tpot_p99_ms"] for p in doc["points"])
    for p in doc["points"]:
        m = p["metrics"]
        row = next(line for line in table.splitlines() if line.startswith(f"| {p['point_id']}"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == escape(fmt_money(m["usd_per_month"]))
        assert cells[3] == escape(ms_in(p["slo_ms"], ttft_unit))
        assert cells[4] == escape(ms_in(m["tpot_p99_ms"], tpot_unit))
        assert cells[6] == escape(_verdict(p))
        assert cells[7] == ("yes" if p["feasible"] else "no")
    best = doc["cheapest_feasible"]
    cheapest = md.split("## Cheapest point meeting the constraints")[1].split("##")[0]
    for s in best["slos"]:
        assert escape(f"{NAMES[s['metric']]} p99 ≤ {s['latency_ms']:g} ms: met "
                      f"({human_ms(s['achieved_ms'])})") in cheapest
    assert escape(f"TPOT p99 {human_ms(best['metrics']['tpot_p99_ms'])}") in cheapest
    sensitivity = md.split("## Sensitivity of the cheapest point")[1].split("##")[0]
    for case in doc["sensitivity"]:
        row = next(line for line in sensitivity.splitlines() if case["case"] in line)
        assert f"| {_verdict(case['row'])} |" in row


def test_table_and_parquet_reports(swept) -> None:
    path, out, doc = swept
    res = runner.invoke(app, ["sweep", str(path), "-w", "0", "--output-dir", str(out), "--quiet",
                              "--no-sensitivity"])
    assert res.exit_code == 0, res.output
    assert "Pareto front: cost against TTFT p99" in res.stdout
    assert "TPOT p99" in res.stdout and "MISSED (TTFT" in res.stdout
    res = runner.invoke(app, ["sweep", str(path), "-w", "0",
                              "--output-dir", str(out), "-f", "parquet",
                              "--quiet", "--no-sensitivity"])
    assert res.exit_code == 0, res.output
    import polars as pl

    frame = pl.read_parquet(out / "points.parquet")
    by_id = {p["point_id"]: p for p in doc["points"]}
    for row in frame.iter_rows(named=True):
        p = by_id[row["point_id"]]
        assert row["slo"] == _verdict(p) and row["meets_slo"] == p["meets_slo"]
        assert row["metric.ttft_p99_ms"] == pytest.approx(p["metrics"]["ttft_p99_ms"])
