"""Issue 15: every number a user sees is right, or visibly flagged.

Each test drives the run the user runs (``run_scenario`` or the CLI) and checks the figure
against something computed independently here: a closed form of the diurnal curve, a batch
job's cost by hand, the offered load from the service time, a commitment's term by hand.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from costmodels.catalog import quote_instance
from costmodels.price_cache import default_catalog
from planner.cli.main import app
from planner.reports.html import render_html
from planner.reports.markdown import render_markdown
from planner.reports.table import render_comparison
from planner.result_parts import WARNING_CODES, DesignWarning
from planner.results import SLO_INCONCLUSIVE, SLO_MET, SLO_MISSED, SloResult
from planner.run import run_scenario
from planner.schema import parse_scenario
from planner.stats import Estimate

runner = CliRunner()


def _price(instance: str, purchase: str = "on_demand") -> float:
    quote = quote_instance(default_catalog(), instance, purchase=purchase)
    assert quote.usd_per_hour is not None
    return quote.usd_per_hour


def _scenario(designs, workload, *, horizon_s, replications=4, warmup_s=0.0, seed=3):
    return parse_scenario({"name": "t", "horizon_s": horizon_s, "warmup_s": warmup_s,
                           "replications": replications, "seed": seed,
                           "workloads": [workload], "designs": designs})


def _codes(d) -> set[str]:
    return {w.code for w in d.warnings}


# ---------------------------------------------------------------- 1. partial days of traffic

def _diurnal(start_hour: float = 0.0) -> dict:
    return {"name": "w", "kind": "inference",
            "arrivals": {"kind": "diurnal", "mean_rate_rps": 40, "peak_to_trough": 3,
                         "peak_hour": 14, "start_hour": start_hour},
            "slo": {"percentile": 99, "latency_ms": 200}}


def _autoscaled(name="auto") -> dict:
    return {"name": name, "workload": "w", "pattern": "realtime",
            "fleet": {"instance": "aws:g5.xlarge", "nodes": 1,
                      "autoscaling": {"metric": "utilization", "target": 0.6,
                                      "min_nodes": 1, "max_nodes": 8}},
            "batching": {"max_batch": 4, "max_wait_ms": 5},
            "service_time": {"kind": "constant", "ms": 40}}


def _smooth_share(start_h: float, hours: float, r: float = 3.0, peak: float = 14.0) -> float:
    """Mean of ``1 + a cos(2 pi (h - peak) / 24)`` over ``[start, start + hours]`` (closed form)."""
    a = (r - 1) / (r + 1)
    w = 2 * math.pi / 24
    return 1 + a * (math.sin(w * (start_h + hours - peak)) - math.sin(w * (start_h - peak))) \
        / (w * hours)


@pytest.mark.parametrize("start_hour", [0.0, 14.0])
def test_a_partial_day_of_diurnal_traffic_is_flagged_with_its_share_of_the_day(start_hour):
    result = run_scenario(_scenario([_autoscaled()], _diurnal(start_hour), horizon_s=3600))
    d = result.designs[0]
    flag = next(w for w in d.warnings if w.code == "partial_day")
    share = _smooth_share(start_hour, 1.0)
    assert f"{share:.2f}x the day's mean traffic" in flag
    assert f"start_hour {start_hour:g}" in flag
    # flagged beside the design in the comparison table and in the JSON
    assert "PARTIAL DAY" in render_comparison(result)
    assert {"code": "partial_day", "message": str(flag)} in result.to_dict()["designs"][0][
        "warnings"]


def test_whole_days_of_diurnal_traffic_are_not_flagged():
    result = run_scenario(_scenario([_autoscaled()], _diurnal(), horizon_s=86400,
                                    replications=2))
    assert "partial_day" not in _codes(result.designs[0])


# ---------------------------------------------------------------- 2. batch in steady state

RATE = 1000.0  # records/s: 86.4 M a day


def _batch(name, *, nodes=2, max_batch=1024, schedule=None, purchase="on_demand") -> dict:
    return {"name": name, "workload": "w", "pattern": "batch",
            "schedule": schedule or {"at": ["02:00"]},
            "fleet": {"instance": "aws:g5.xlarge", "nodes": nodes, "purchase": purchase},
            "startup_s": 300, "batching": {"max_batch": max_batch},
            "service_time": {"kind": "linear", "base_ms": 5, "per_item_ms": 0.02}}


def _records() -> dict:
    return {"name": "w", "kind": "inference", "arrivals": {"kind": "poisson", "rate_rps": RATE}}


def _job_node_hours(nodes: int, max_batch: int, records: float) -> float:
    """Node-hours of one job by hand: startup, then the records at the gang's throughput."""
    throughput = nodes * max_batch / ((5 + 0.02 * max_batch) / 1000.0)
    return nodes * (300 + records / throughput) / 3600.0


def test_a_nightly_batch_is_priced_per_whole_day_of_records():
    # 72 h horizon, one job a day at 02:00: every record is processed once, and a month pays
    # for 730 / 24 jobs of one day's records each (before: the first job took 2 h of records
    # and the monthly cost was ~25% low)
    d = run_scenario(_scenario([_batch("nightly")], _records(), horizon_s=3 * 86400)).designs[0]
    per_job = _job_node_hours(2, 1024, RATE * 86400) * _price("aws:g5.xlarge")
    assert d.cost.usd_per_month == pytest.approx(per_job * 730 / 24, rel=0.005)
    m = d.pattern_metrics
    assert m["records_unfinished_at_horizon"] == 0
    assert m["records_awaiting_next_job"] == pytest.approx(RATE * 86400, rel=0.01)
    assert "work_pending" not in _codes(d)


def test_an_hourly_batch_with_an_offset_is_priced_per_whole_hour():
    design = _batch("hourly", schedule={"period_s": 3600, "offset_s": 1800})
    d = run_scenario(_scenario([design], _records(), horizon_s=86400)).designs[0]
    per_job = _job_node_hours(2, 1024, RATE * 3600) * _price("aws:g5.xlarge")
    assert d.cost.usd_per_month == pytest.approx(per_job * 730, rel=0.005)


def test_work_left_unfinished_at_the_horizon_is_flagged():
    # one slow node: each job takes ~8 h, and the horizon ends 4 h into the second job
    slow = _batch("slow", nodes=1, max_batch=16)
    d = run_scenario(_scenario([slow], _records(), horizon_s=52 * 3600)).designs[0]
    assert "work_pending" in _codes(d)
    assert "WORK PENDING" in render_comparison(run_scenario(
        _scenario([slow], _records(), horizon_s=52 * 3600)))
    # the job cut by the horizon counts in part: the monthly cost is still one job per day
    per_job = _job_node_hours(1, 16, RATE * 86400) * _price("aws:g5.xlarge")
    assert d.cost.usd_per_month == pytest.approx(per_job * 730 / 24, rel=0.01)


def test_a_horizon_without_a_job_is_an_input_error_and_a_cut_job_is_flagged():
    from domain.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"horizon_s: 72,000 s holds no job of designs\[0\]"
                                            r" \(short\).*at least two periods \(172,800 s\)"):
        run_scenario(_scenario([_batch("short")], _records(), horizon_s=20 * 3600))
    # one slow job cut by the horizon: less than one whole job was paid for
    d = run_scenario(_scenario([_batch("cut", nodes=1, max_batch=16)], _records(),
                               horizon_s=26 * 3600)).designs[0]
    assert d.pattern_metrics["jobs_paid_in_horizon"] < 1
    assert "work_pending" in _codes(d)


# ---------------------------------------------------------------- 3. overload

def _queue(rate: float) -> tuple:
    workload = {"name": "w", "kind": "inference", "arrivals": {"kind": "poisson",
                                                                 "rate_rps": rate},
                "slo": {"percentile": 99, "latency_ms": 100}}
    design = {"name": "one", "workload": "w", "pattern": "realtime",
              "fleet": {"instance": "aws:g5.xlarge", "nodes": 1},
              "batching": {"max_batch": 1, "max_wait_ms": 0},
              "service_time": {"kind": "constant", "ms": 10}}  # capacity 100 req/s
    return _scenario([design], workload, horizon_s=120, replications=3)


@pytest.mark.parametrize("rate, overloaded", [(90.0, False), (102.0, True), (1000.0, True)])
def test_offered_load_at_or_above_one_is_flagged(rate, overloaded):
    result = run_scenario(_queue(rate))
    d = result.designs[0]
    assert d.pattern_metrics["offered_load"] == pytest.approx(d.arrival_rate_rps.mean / 100.0)
    assert ("overload" in _codes(d)) is overloaded
    assert ("OVERLOADED" in render_comparison(result)) is overloaded
    out = result.to_dict()["designs"][0]
    assert out["arrival_rate_rps"] == pytest.approx(rate, rel=0.05)
    if rate == 1000.0:  # served and arrived apart: the fleet serves its capacity only
        assert out["throughput_rps"] == pytest.approx(100.0, rel=0.02)


# ---------------------------------------------------------------- 4. commitments for the term

def test_a_nightly_job_on_a_one_year_commitment_pays_for_the_year():
    d = run_scenario(_scenario([_batch("committed", purchase="reserved_1yr")], _records(),
                               horizon_s=3 * 86400)).designs[0]
    rate = _price("aws:g5.xlarge", "reserved_1yr")
    assert d.cost.usd_per_month == pytest.approx(2 * rate * 730, rel=1e-9)
    term = d.cost.commitment["term"]
    assert term["term_usd"] == pytest.approx(2 * rate * 730 * 12, rel=1e-9)
    assert {"commitment_term", "commitment_underused"} <= _codes(d)


def test_an_always_on_fleet_on_a_commitment_is_unchanged():
    design = {"name": "steady", "workload": "w", "pattern": "realtime",
              "fleet": {"instance": "aws:g5.xlarge", "nodes": 2, "purchase": "reserved_1yr"},
              "batching": {"max_batch": 4, "max_wait_ms": 5},
              "service_time": {"kind": "constant", "ms": 10}}
    workload = {"name": "w", "kind": "inference", "arrivals": {"kind": "poisson",
                                                                 "rate_rps": 50}}
    d = run_scenario(_scenario([design], workload, horizon_s=600)).designs[0]
    assert d.cost.usd_per_month == pytest.approx(2 * _price("aws:g5.xlarge", "reserved_1yr")
                                                 * 730, rel=1e-6)
    assert "commitment_term" not in _codes(d)


def test_training_on_a_commitment_states_the_term_in_the_adr(tmp_path):
    out = tmp_path / "adr.md"
    res = runner.invoke(app, ["adr", "scenarios/training-spot.yaml", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "1-year commitment is paid for every hour of its term" in out.read_text()


# ---------------------------------------------------------------- 6. inconclusive SLOs

def _slo(mean, low, high, n=8, bound=20_000.0) -> SloResult:
    return SloResult(percentile=95, latency_ms=bound, achieved_ms=Estimate(mean, low, high, n),
                     attainment=Estimate(None, None, None, 0))


def test_an_interval_that_straddles_the_bound_is_inconclusive():
    s = _slo(20_022, 18_795, 21_250)
    assert s.verdict == SLO_INCONCLUSIVE and not s.met
    # the half-width (1,227.5 ms) must shrink below the gap (22 ms): n x (1227.5 / 22)^2
    assert s.replications_to_settle() == math.ceil(8 * (1227.5 / 22) ** 2) + 1
    assert _slo(19_000, 18_500, 19_500).verdict == SLO_MET
    assert _slo(21_000, 20_500, 21_500).verdict == SLO_MISSED
    assert _slo(19_000, None, None, n=1).verdict == SLO_MET  # one replication: the mean


def test_a_run_whose_slo_sits_inside_its_interval_reads_inconclusive_everywhere():
    base = _queue(60.0)
    p99 = run_scenario(base).designs[0].slo.achieved_ms
    assert p99.low < p99.high
    data = yaml.safe_load(yaml.safe_dump(base.model_dump(mode="json", exclude_none=True)))
    data["workloads"][0]["slo"]["latency_ms"] = p99.mean
    result = run_scenario(parse_scenario(data))
    d = result.designs[0]
    assert d.slo.verdict == SLO_INCONCLUSIVE
    assert "slo_inconclusive" in _codes(d)
    assert result.cheapest_meeting_slo() is None  # not recommended as meeting it
    assert "inconclusive" in render_comparison(result)
    assert "inconclusive" in render_markdown(result)
    assert "inconclusive" in render_html(result)
    assert result.to_dict()["designs"][0]["slo"]["verdict"] == "inconclusive"


# ---------------------------------------------------------------- 7. cost ties

def test_costs_inside_each_others_noise_are_ties_not_wins():
    from planner.reports.sections import pareto_names, recommendation_section
    from planner.results import RunResult, cost_tie
    from tests.planner.report_fixture import design

    a = design("a", p99=10.0, slo_ms=50.0, month=1000.0, usd_per_month_ci95=(990.0, 1010.0))
    b = design("b", p99=5.0, slo_ms=50.0, month=1000.51, usd_per_month_ci95=(990.5, 1010.5))
    c = design("c", p99=20.0, slo_ms=50.0, month=1200.0, usd_per_month_ci95=(1199.0, 1201.0))
    assert cost_tie(a.cost, b.cost) and not cost_tie(a.cost, c.cost)
    result = RunResult(scenario={"name": "x", "horizon_s": 3600, "warmup_s": 0,
                                 "replications": 3, "seed": 1},
                       designs=(a, b, c), assumptions={}, planner_version="t", wall_s=0.0)
    assert [d.name for d in result.ties_with_best()] == ["b"]
    assert result.to_dict()["recommendation"]["cost_ties"] == ["b"]
    # a is $0.51 cheaper but inside the noise, and b is faster: only b is Pareto-optimal
    assert pareto_names(result) == ["b"]
    text = " ".join(str(block) for block in recommendation_section(result).blocks)
    assert "tie" in text and "b (" in text


def test_a_deterministic_cost_has_no_interval_and_ties_only_when_equal():
    from planner.results import cost_tie
    from tests.planner.report_fixture import cost

    assert not cost_tie(cost(1000.0), cost(1000.01))
    assert cost_tie(cost(1000.0), cost(1000.0))


# ---------------------------------------------------------------- warnings in every format

def test_every_design_warning_has_a_known_code_and_reaches_every_format(tmp_path):
    path = tmp_path / "over.yaml"
    base = _queue(1000.0).model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(base))
    out = json.loads(runner.invoke(app, ["compare", str(path), "-q", "--format", "json"]).stdout)
    warnings = out["designs"][0]["warnings"]
    assert warnings and all(set(w) == {"code", "message"} for w in warnings)
    assert all(w["code"] in WARNING_CODES for w in warnings)
    message = next(w["message"] for w in warnings if w["code"] == "overload")
    head = message[:40]
    for fmt in ("table", "markdown", "html"):
        res = runner.invoke(app, ["compare", str(path), "-q", "--format", fmt])
        assert head in res.stdout.replace("\n", " "), fmt
    res = runner.invoke(app, ["adr", str(path), "-q", "-o", str(tmp_path / "adr.md")])
    assert res.exit_code == 0, res.output
    assert head in (tmp_path / "adr.md").read_text().replace("\n", " ")
    from dashboards.charts import result_components

    assert head in str(result_components(run_scenario(_queue(1000.0)), "r1"))


def test_a_warning_code_must_be_known():
    with pytest.raises(ValueError, match="unknown design warning code"):
        DesignWarning("nope", "x")


def test_a_sweep_front_drops_a_point_cheaper_only_inside_the_noise():
    from planner.sweep.analysis import pareto_front

    def row(i, usd, p99, half):
        return {"status": "ok", "index": i, "point_id": f"p{i}", "slo_ms": p99,
                "metrics": {"usd_per_month": usd}, "usd_per_month_half_width": half}

    rows = [row(0, 1000.0, 30.0, 10.0), row(1, 1000.51, 20.0, 10.0), row(2, 2000.0, 10.0, 1.0)]
    assert [r["point_id"] for r in pareto_front(rows)] == ["p1", "p2"]
    # without intervals (one replication) the $0.51 is all there is: both stay
    for r in rows:
        r["usd_per_month_half_width"] = None
    assert [r["point_id"] for r in pareto_front(rows)] == ["p0", "p1", "p2"]


def test_a_batch_report_counts_records_not_requests():
    from planner.reports.sections import recommendation_section

    result = run_scenario(_scenario([_batch("nightly")], _records(), horizon_s=3 * 86400))
    md = render_markdown(result)
    assert "$/1k records (allocated)" in md and "1k requests" not in md
    assert "per 1k records" in " ".join(str(b) for b in recommendation_section(result).blocks)
