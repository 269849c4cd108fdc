"""Fleet dynamics end to end: scenario YAML -> kernel -> priced JSON with the fleet block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.run import run_scenario
from planner.schema import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

FLEET_KEYS = {"node_hours", "provisioning_hours", "preemptions", "requeued_requests",
              "dropped_requests", "mean_nodes", "max_nodes"}


def _scenario(fleet: dict, **extra) -> dict:
    design = {"name": "d", "workload": "w", "pattern": "realtime", "fleet": fleet,
              "batching": {"max_batch": 4, "max_wait_ms": 5},
              "service_time": {"kind": "linear", "base_ms": 20, "per_item_ms": 5}}
    design.update(extra)
    return {"name": "t", "horizon_s": 7200, "warmup_s": 600, "replications": 3, "seed": 2,
            "workloads": [{"name": "w", "kind": "inference",
                           "arrivals": {"kind": "poisson", "rate_rps": 150},
                           "slo": {"percentile": 99, "latency_ms": 400}}],
            "designs": [design]}


def test_bundled_fleet_scenario_json_has_the_fleet_block() -> None:
    out = runner.invoke(app, ["compare", str(ROOT / "scenarios" / "fleet-mix.yaml"), "-f",
                              "json", "-q", "-r", "2"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    by_name = {d["name"]: d for d in doc["designs"]}
    for d in by_name.values():
        assert FLEET_KEYS <= set(d["fleet"])
        # the cost is the node-hours of each purchase option at its price
        assert d["cost"]["total_usd"] == pytest.approx(sum(d["cost"]["usd_by_purchase"].values()))
        assert {"nodes_base", "nodes_spot", "nodes_provisioning", "nodes_ready"} <= set(
            d["timeline"])
    mixed = by_name["on-demand-base-plus-spot"]["fleet"]["node_hours"]
    assert mixed["on_demand"] > 0 and mixed["spot"] > 0
    # spot is cheaper than on-demand for the same simulated usage
    assert by_name["spot-autoscaled"]["cost"]["usd_per_month"] < \
        by_name["on-demand-autoscaled"]["cost"]["usd_per_month"]


def test_mixed_fleet_prices_each_purchase_option() -> None:
    """p4d.24xlarge: on-demand $21.957642/h, spot from the snapshot; a base of 1 + spot."""
    scenario = parse_scenario(_scenario({
        "instance": "aws:p4d.24xlarge", "nodes": 3, "purchase": "spot", "on_demand_base": 1,
        "spot": {"interruptions": {"kind": "rate", "per_node_hour": 0.0}}}))
    d = run_scenario(scenario).design("d")
    hours = d.fleet.node_hours
    assert hours["on_demand"] == pytest.approx(2.0)  # 1 node x 2 h
    assert hours["spot"] == pytest.approx(4.0)  # 2 nodes x 2 h
    assert d.cost.by_purchase["on_demand"] == pytest.approx(2.0 * 21.957642)
    spot_rate = d.cost.by_purchase["spot"] / 4.0
    assert 0 < spot_rate < 21.957642


def test_spot_trace_replay_through_the_scenario(shared_data: Path, tmp_path: Path) -> None:
    trace = (shared_data / "traces" / "skypilot_spot_traces" / "preemption" / "1-node"
             / "aws-04-22-2023" / "us-west-2b_v100_1.json")
    data = json.loads(trace.read_text())["data"]
    ticks = (7200 // 32) + 1
    drops = sum(1 for a, b in zip(data[:ticks], data[1:ticks]) if b < a)
    doc = _scenario({"instance": "aws:p4d.24xlarge", "nodes": 1, "purchase": "spot",
                     "spot": {"interruptions": {"kind": "trace", "path": str(trace)},
                              "notice_s": 0}})
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))
    d = run_scenario(load_scenario(path)).design("d")
    assert d.fleet.preemptions == drops
    assert d.fleet.spot_interruptions.kind == "trace"


def test_deadline_drops_are_reported_not_silent() -> None:
    scenario = parse_scenario(_scenario({"instance": "aws:g6.xlarge", "nodes": 1},
                                        queue={"deadline_ms": 200}))
    d = run_scenario(scenario).design("d")  # 150 req/s on one worker: overloaded
    assert d.fleet.dropped_requests > 0
    assert d.requests.dropped_per_replication == d.fleet.dropped_requests
