"""``planner calibrate`` on an llm design: the latency model's host time per step and the
compute efficiencies, recovered from a load test the simulator generated at known values.

The load test is a Locust ``stats_history.csv`` (percentiles only, so Poisson arrivals are
replayed): one report window per replication of the llm simulator, run with other seeds than
the calibration's, at a host time of 2 ms per step and GEMM and attention efficiencies / 1.3.
"""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from planner.calibrate import fleet_quote
from planner.calibrate_llm import llm_replays
from planner.calibrate_result import Terms
from planner.cli.main import app
from planner.inputs import load_scenario_inputs
from planner.inputs_loadtest import LoadTest
from planner.json_schemas import generate
from planner.schema import load_scenario

runner = CliRunner()
TRUE = Terms(overhead_ms=2.0, scale=1.3)
RATE_RPS, DURATION_S = 8.0, 60.0
SCENARIO = f"""\
name: llm-calibration
horizon_s: 60
replications: 2
seed: 5
workloads:
  - name: chat
    kind: inference
    arrivals: {{kind: poisson, rate_rps: {RATE_RPS}}}
    tokens: {{prompt_tokens: 3000, output_tokens: 30}}
designs:
  - name: vllm
    workload: chat
    pattern: llm
    model: llama-3.2-1b
    engine: {{max_num_seqs: 64, max_num_batched_tokens: 2048}}
    fleet: {{instance: "aws:p5.4xlarge", nodes: 1}}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm-calibrate")
    (root / "llm.yaml").write_text(SCENARIO)
    scenario = load_scenario(root / "llm.yaml")
    poisson = LoadTest(path="generator", kind="locust", rate_rps=RATE_RPS,
                       duration_s=DURATION_S, n_requests=int(RATE_RPS * DURATION_S),
                       arrival_s=None, latency_ms=None, batch_size=None, columns="")
    design = scenario.designs[0]
    replay, = llm_replays(scenario, design, load_scenario_inputs(scenario), [poisson],
                          fleet_quote(scenario, design.name), quantiles=(0.5, 0.9, 0.99),
                          warmup_s=0.0, replications=8, seed=100)
    windows = replay.simulate(TRUE)  # [8 replications, 3 percentiles] ms
    rows = [("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,90%,99%,"
            "Total Request Count")]
    rows += [f"{1700000000 + 10 * i},20,,Aggregated,{RATE_RPS},0,{p50:.3f},{p90:.3f},{p99:.3f},"
             f"{int(RATE_RPS * 10 * (i + 1))}" for i, (p50, p90, p99) in enumerate(windows)]
    (root / "stats_history.csv").write_text("\n".join(rows) + "\n")
    return root


def test_recovers_host_time_and_efficiency_scale_and_writes_a_runnable_scenario(files):
    out = files / "calibrated.yaml"
    result = runner.invoke(app, ["calibrate", str(files / "llm.yaml"),
                                 str(files / "stats_history.csv"), "-d", "vllm", "-q",
                                 "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    Draft202012Validator(generate("calibration")).validate(doc)
    fit = doc["fit"]
    for name, truth in (("overhead_ms", TRUE.overhead_ms), ("scale", TRUE.scale)):
        low, high = fit[name]["ci95"]
        assert low <= truth <= high, (name, fit[name])
    test = doc["tests"][0]
    assert test["format"] == "locust" and test["arrivals"].startswith("Poisson")
    assert max(abs(e["mean"]) for e in test["before"]["error_pct"].values()) > 10
    assert max(abs(e["mean"]) for e in test["after"]["error_pct"].values()) < 3
    written = json.loads((files / "calibrated.latency-fit.json").read_text())
    Draft202012Validator(generate("latency-fit")).validate(written)
    assert "calibrated from stats_history.csv" in written["fit"]["source"]
    design = load_scenario(out).designs[0]
    assert design.engine.host_overhead_ms == pytest.approx(fit["overhead_ms"]["value"], abs=1e-4)
    assert design.latency.fit == str(files / "calibrated.latency-fit.json")
    bundled = load_scenario(files / "llm.yaml")
    assert written["fit"]["gemm_efficiency"] == pytest.approx(
        0.6 / fit["scale"]["value"], rel=0.1)  # the bundled fit's GEMMs reach ~60 % of peak
    run = runner.invoke(app, ["run", str(out), "-q", "-f", "json"])
    assert run.exit_code == 0, run.output
    service = json.loads(run.stdout)["designs"][0]["service_time"]
    assert "calibrated from stats_history.csv" in service
    assert bundled.designs[0].engine.host_overhead_ms is None
