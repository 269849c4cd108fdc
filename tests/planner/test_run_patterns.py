"""Streaming, batch and training designs through the whole stack (schema -> kernel -> priced
result), checked against closed forms and hand-computed cost tables.

Prices: the built-in snapshot (g5.xlarge on-demand $1.006/h; gcp a3-highgpu-8g on-demand
$88.49/h, 1-year committed $61.3837/h, spot $50.6095/h).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from costmodels.catalog import load_snapshot, quote_instance
from domain.errors import ScenarioError
from planner.run import run_scenario
from planner.schema import parse_scenario
from simulators.training.checkpoints import daly_expected_time_s

G5 = 1.006


def _inference(designs, *, horizon_s=7200, warmup_s=0, replications=6, rate=50.0, slo=None):
    workload = {"name": "w", "kind": "inference",
                "arrivals": {"kind": "poisson", "rate_rps": rate}}
    if slo is not None:
        workload["slo"] = slo
    return parse_scenario({"name": "t", "horizon_s": horizon_s, "warmup_s": warmup_s,
                           "replications": replications, "seed": 4, "workloads": [workload],
                           "designs": designs})


def test_streaming_latency_and_cost():
    # constant 20 ms per batch, windows of 2 s with ~100 records: one batch per window on one
    # of 2 workers; latency = wait to the window close (mean W/2) + 20 ms + 50 ms overhead
    design = {"name": "s", "workload": "w", "pattern": "streaming", "window_s": 2,
              "overhead_s": 0.05, "fleet": {"instance": "aws:g5.xlarge", "nodes": 2},
              "batching": {"max_batch": 512},
              "service_time": {"kind": "constant", "ms": 20}}
    result = run_scenario(_inference([design], slo={"percentile": 99, "latency_ms": 2100}))
    d = result.design("s")
    assert d.metric == "latency" and d.pattern == "streaming"
    assert d.latency_ms["mean"].contains(1000 + 20 + 50, rel_tol=0.01)
    assert d.latency_ms["p99"].mean == pytest.approx(0.99 * 2000 + 70, rel=0.01)
    assert d.slo.met and d.slo.attainment.mean == pytest.approx(1.0)
    assert d.cost.total_usd == pytest.approx(2 * 2 * G5)
    assert d.cost.usd_per_month == pytest.approx(2 * G5 * 730)
    assert d.cost.usd_per_1k_requests == pytest.approx(
        2 * 2 * G5 / d.requests.in_window_per_replication * 1000)
    assert d.fleet.node_hours == {"on_demand": pytest.approx(4.0)}
    assert d.timeline.series["nodes"] == pytest.approx([2.0] * len(d.timeline.series["nodes"]))


def test_batch_job_duration_freshness_and_cost():
    # hourly jobs, 60 s provisioning + 30 s startup, 100 rec/s for the hour = 360k records at
    # 4 workers x 256 / 0.1 s = 10,240 rec/s -> 35.2 s of work; duration = 125.2 s
    design = {"name": "b", "workload": "w", "pattern": "batch",
              "schedule": {"period_s": 3600},
              "fleet": {"instance": "aws:g5.xlarge", "nodes": 2, "workers_per_node": 1,
                        "provisioning": [{"name": "boot", "median_s": 60}]},
              "startup_s": 30, "deadline_s": 600,
              "batching": {"max_batch": 256},
              "service_time": {"kind": "constant", "ms": 50}}
    result = run_scenario(_inference([design], horizon_s=4 * 3600, rate=100.0))
    d = result.design("b")
    throughput = 2 * 256 / 0.05
    duration_s = 60 + 30 + 100 * 3600 / throughput
    pm = d.pattern_metrics
    assert pm["jobs_per_replication"] == 3  # at 1 h, 2 h, 3 h (a job at 0 has nothing to do)
    assert pm["mean_job_hours"] * 3600 == pytest.approx(duration_s, rel=0.01)
    assert pm["jobs_missing_deadline"] == 0
    node_h = 3 * 2 * pm["mean_job_hours"]
    assert d.node_hours == pytest.approx(node_h, rel=1e-6)
    assert d.cost.total_usd == pytest.approx(node_h * G5, rel=1e-6)
    tl = d.timeline  # nodes held over time, from the jobs' start and end
    assert sum(tl.series["nodes"]) * tl.bin_s / 3600 == pytest.approx(node_h, rel=1e-6)
    # freshness of a Poisson record: uniform wait to the cutoff (mean P/2) + the job's duration
    assert d.metric == "freshness"
    assert d.latency_ms["mean"].contains((1800 + duration_s) * 1000, rel_tol=0.01)


def _training(designs, *, replications=2000, deadline_h=None):
    workload = {"name": "job", "kind": "training", "gpu_hours": 256}
    if deadline_h is not None:
        workload["deadline_h"] = deadline_h
    return parse_scenario({"name": "t", "horizon_s": 3600, "replications": replications,
                           "seed": 9, "workloads": [workload], "designs": designs})


def _train_design(name, purchase="on_demand", **extra):
    fleet = {"instance": "gcp:a3-highgpu-8g", "nodes": 2, "purchase": purchase,
             "provisioning": [{"name": "boot", "median_s": 300}]}
    fleet.update(extra.pop("fleet", {}))
    return {"name": name, "workload": "job", "pattern": "training", "fleet": fleet,
            "checkpoint": {"interval_s": 1800, "cost_s": 60}, "restart_overhead_s": 120,
            **extra}


def test_training_on_demand_is_hand_computed():
    result = run_scenario(_training([_train_design("od")], deadline_h=20))
    d = result.design("od")
    compute_s = 256 * 3600 / 16  # 16 GPUs
    checkpoints = math.ceil(compute_s / 1800)  # every segment ends with one (the final save)
    wall_s = 300 + 120 + compute_s + checkpoints * 60
    assert d.metric == "completion_time"
    assert d.latency_ms["mean"].mean == pytest.approx(wall_s * 1000)
    assert d.cost.usd_per_run == pytest.approx(2 * wall_s / 3600 * 88.49)
    assert d.cost.usd_per_month == pytest.approx(d.cost.usd_per_run)  # 1 run per month
    assert d.slo.met and d.pattern_metrics["deadline_probability"] == 1.0


def test_training_spot_matches_daly_within_the_interval():
    rate = 0.1  # per node-hour -> gang MTBF 5 h
    design = _train_design("spot", "spot", fleet={"spot": {
        "interruptions": {"kind": "rate", "per_node_hour": rate}, "replacement_delay_s": 240}})
    result = run_scenario(_training([design]))
    d = result.design("spot")
    mtbf = 3600 / (2 * rate)
    compute_s = 256 * 3600 / 16
    expected = 300 + 120 + daly_expected_time_s(compute_s, 1800, 60, 240 + 120, mtbf)
    assert d.latency_ms["mean"].contains(expected * 1000, rel_tol=0.002)
    assert d.pattern_metrics["interruptions"] > 0
    pm = d.pattern_metrics  # the run cost varies with the interruptions; its mean is $/run
    assert pm["run_cost_p50_usd"] < pm["run_cost_p95_usd"] <= pm["run_cost_max_usd"]
    assert d.cost.usd_per_run == pytest.approx(
        float(np.mean([pm["run_cost_p50_usd"]])), rel=0.1)
    spot = quote_instance(load_snapshot(), "gcp:a3-highgpu-8g", purchase="spot").usd_per_hour
    assert spot == pytest.approx(50.61, abs=0.01)
    assert d.cost.by_purchase["spot"] == pytest.approx(d.fleet.node_hours["spot"] * spot,
                                                       rel=1e-9)


def test_training_reserved_window_is_paid_whole():
    design = _train_design("res", "reserved_1yr", reserved_hours=48)
    d = run_scenario(_training([design])).design("res")
    # a 1-year commitment is paid for every hour of its term: 2 nodes x $61.3837/h x 730 h a
    # month, which one run a month (48 h of it reserved) shares alone
    assert d.cost.usd_per_month == pytest.approx(2 * 61.3837 * 730)
    assert d.cost.usd_per_run == pytest.approx(2 * 61.3837 * 730)
    term = d.cost.commitment["term"]
    assert term["used_share"] == pytest.approx(48 / 730)
    assert {w.code for w in d.warnings} >= {"commitment_term", "commitment_underused"}
    assert d.utilization.mean < 0.5  # ~17 h of a 48 h window


def test_training_design_needs_a_training_workload():
    design = _train_design("bad")
    design["workload"] = "w"
    with pytest.raises(ScenarioError, match=r"designs\[0\]\.workload: a training design needs "
                                            r"a training workload"):
        _inference([design])


G5_8X, G5_8X_SPOT = 2.448, 0.93  # aws:g5.8xlarge on-demand and spot, $/h (snapshot)


def _streaming_spot(name, **fleet):
    # ~100 records a 2 s window, four batches of 0.2 s over three nodes: each share <= 0.4 s
    return {"name": name, "workload": "w", "pattern": "streaming", "window_s": 2,
            "fleet": {"instance": "aws:g5.8xlarge", "nodes": 3, "purchase": "spot",
                      "on_demand_base": 1, **fleet},
            "batching": {"max_batch": 32}, "service_time": {"kind": "constant", "ms": 200}}


def test_streaming_spot_prices_spot_node_hours_at_the_spot_rate():
    # no interruption (rate 0): 1 on-demand base node + 2 spot nodes for 2 h, by hand
    calm = _streaming_spot("calm", spot={"interruptions": {"kind": "rate", "per_node_hour": 0}})
    # 3 interruptions per spot node-hour, 30 s notice, replacement launched at the notice and
    # ready 60 s later: the dying node and its replacement overlap 30 s per interruption
    busy = _streaming_spot("busy", provisioning=[{"name": "boot", "median_s": 60}],
                           spot={"interruptions": {"kind": "rate", "per_node_hour": 3},
                                 "notice_s": 30})
    result = run_scenario(_inference([calm, busy], replications=8))
    d = result.design("calm")
    assert d.fleet.node_hours == {"on_demand": pytest.approx(2.0), "spot": pytest.approx(4.0)}
    assert d.cost.total_usd == pytest.approx(2 * G5_8X + 4 * G5_8X_SPOT)
    assert d.cost.usd_per_month == pytest.approx((G5_8X + 2 * G5_8X_SPOT) * 730)
    assert d.cost.by_purchase == {"on_demand": pytest.approx(2 * G5_8X),
                                  "spot": pytest.approx(4 * G5_8X_SPOT)}
    assert d.fleet.preemptions == 0 and d.pattern_metrics["interruptions"] == 0
    b = result.design("busy")
    spot_h = b.fleet.node_hours["spot"]
    interruptions = b.pattern_metrics["interruptions"]
    assert b.fleet.preemptions == interruptions
    # renewal: each spot slot is exposed 1/3 h, then waits 60 s for its replacement to be ready
    assert interruptions == pytest.approx(2 * 2 * 3600 / (1200 + 60), rel=0.15)
    assert spot_h == pytest.approx(4.0 + interruptions * 30 / 3600, rel=1e-3)
    assert b.fleet.node_hours["on_demand"] == pytest.approx(2.0)
    assert b.cost.total_usd == pytest.approx(2 * G5_8X + spot_h * G5_8X_SPOT)
    assert b.fleet.spot_interruptions.per_node_hour == 3


def test_streaming_spot_reprocesses_the_shares_of_dying_nodes():
    # notice 0: a node interrupted while busy with its share loses it; its records are
    # reprocessed (shown as requeued), and the window ends later than without interruptions
    spot = {"interruptions": {"kind": "rate", "per_node_hour": 30}, "notice_s": 0}
    result = run_scenario(_inference([_streaming_spot("s", spot=spot)], replications=4))
    d = result.design("s")
    assert d.pattern_metrics["interruptions"] > 100
    assert d.pattern_metrics["reprocessed_records"] > 0
    assert d.fleet.requeued_requests == d.pattern_metrics["reprocessed_records"]


def test_streaming_spot_fields_are_checked():
    design = _streaming_spot("s", spot={"interruptions": {"kind": "trace", "path": "t.json"}})
    with pytest.raises(ScenarioError, match=r"designs\[0\]\.fleet\.spot\.interruptions\.kind: "
                                            r"streaming fleets replay no spot capacity trace"):
        _inference([design])


def test_every_pattern_side_by_side_in_one_run():
    rt = {"name": "rt", "workload": "w", "pattern": "realtime",
          "fleet": {"instance": "aws:g5.xlarge", "nodes": 1},
          "batching": {"max_batch": 8, "max_wait_ms": 2},
          "service_time": {"kind": "constant", "ms": 5}}
    st = {"name": "st", "workload": "w", "pattern": "streaming", "window_s": 1,
          "fleet": {"instance": "aws:g5.xlarge", "nodes": 1},
          "service_time": {"kind": "constant", "ms": 5}, "batching": {"max_batch": 64}}
    result = run_scenario(_inference([rt, st], slo={"percentile": 99, "latency_ms": 100},
                                     horizon_s=1800, replications=3))
    assert [d.pattern for d in result.designs] == ["realtime", "streaming"]
    assert result.cheapest_meeting_slo().name == "rt"  # streaming misses a 100 ms SLO
    flat = result.design("st").flat_metrics()
    assert flat["p99_ms"] > 900 and flat["lag_at_horizon_s"] >= 0
    assert np.isfinite(flat["usd_per_month"])
