"""Design-space sweeps: point generation, analysis against brute force, executors, resume, CLI.

Every scenario here is tiny (two minutes of simulated time, two replications) so that a point
runs in milliseconds; the truths are independent computations (brute-force dominance, the
point function run by hand), never digits pinned from one seeded run.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from domain.errors import ScenarioError
from planner.cli.main import app
from planner.schema import parse_scenario
from planner.schema_sweep import SweepConstraints
from planner.sweep import (
    LocalExecutor,
    analysis,
    engine,
    plan_sweep,
    point_id,
    point_seed,
    run_sweep,
)
from planner.sweep.runner import PointTask, build_job, run_point

BASE: dict[str, Any] = {
    "name": "tiny-sweep", "horizon_s": 120, "warmup_s": 10, "replications": 5, "seed": 5,
    "workloads": [{"name": "w", "kind": "inference",
                   "arrivals": {"kind": "poisson", "rate_rps": 150},
                   "slo": {"percentile": 99, "latency_ms": 40}}],
    "designs": [{
        "name": "base", "workload": "w", "pattern": "realtime",
        "fleet": {"instance": "aws:g6.xlarge", "nodes": 2},
        "batching": {"max_batch": 4, "max_wait_ms": 2},
        "service_time": {"kind": "exponential", "mean_ms": 8},
    }],
    "sweep": {"design": "base",
              "parameters": {"fleet.nodes": {"range": {"start": 1, "stop": 3, "step": 1}},
                             "batching.max_batch": [1, 4]},
              "constraints": {"slo": True, "budget_usd_per_month": 2000}},
}


def tiny(**sweep_changes: Any) -> dict[str, Any]:
    """Return the tiny scenario data with ``sweep`` fields replaced."""
    data = copy.deepcopy(BASE)
    data["sweep"].update(sweep_changes)
    return data


def flat(rows) -> dict[str, Any]:
    """Return point id -> (status, metrics, slo_ms) of a sweep's rows (timings left out)."""
    return {r["point_id"]: (r["status"], r["metrics"], r["slo_ms"], r["meets_slo"])
            for r in rows}


# --------------------------------------------------------------------------- point generation

def test_grid_points_follow_the_declared_order_with_inclusive_stop():
    plan = plan_sweep(parse_scenario(tiny()))
    params = [p.params for p in plan.points]
    assert params == [{"fleet.nodes": n, "batching.max_batch": b}
                      for n, b in itertools.product([1, 2, 3], [1, 4])]
    assert all(p.status == "planned" for p in plan.points)
    assert [p.design["fleet"]["nodes"] for p in plan.points] == [1, 1, 2, 2, 3, 3]
    assert [p.index for p in plan.points] == list(range(6))


def test_point_ids_and_seeds_are_stable_and_independent_of_the_rest_of_the_sweep():
    a = plan_sweep(parse_scenario(tiny()))
    b = plan_sweep(parse_scenario(tiny(parameters={
        "batching.max_batch": [4, 1, 8], "fleet.nodes": [3, 2]})))
    ids_a = {json.dumps(p.params, sort_keys=True): (p.point_id, p.seed) for p in a.points}
    ids_b = {json.dumps(p.params, sort_keys=True): (p.point_id, p.seed) for p in b.points}
    shared = set(ids_a) & set(ids_b)
    assert len(shared) == 4 and all(ids_a[k] == ids_b[k] for k in shared)
    assert point_id({"x": 2.0, "y": "a"}) == point_id({"y": "a", "x": 2})
    assert point_seed(5, "abc") == point_seed(5, "abc") != point_seed(6, "abc")
    assert len({p.seed for p in a.points}) == len(a.points)
    assert all(0 <= p.seed < 2**63 for p in a.points)


def test_float_grid_and_values():
    data = tiny(parameters={"batching.max_wait_ms": {"range": {"start": 0.5, "stop": 1.5,
                                                                "step": 0.25}}})
    plan = plan_sweep(parse_scenario(data))
    assert [p.params["batching.max_wait_ms"] for p in plan.points] == [0.5, 0.75, 1.0, 1.25, 1.5]


def test_random_points_are_deterministic_in_range_and_deduplicated():
    params = {"batching.max_wait_ms": {"low": 0.1, "high": 100, "log": True},
              "fleet.nodes": {"low": 1, "high": 4}, "batching.max_batch": [1, 2, 4]}
    data = tiny(mode="random", samples=40, seed=3, parameters=params)
    one, two = plan_sweep(parse_scenario(data)), plan_sweep(parse_scenario(data))
    assert [p.params for p in one.points] == [p.params for p in two.points]
    other = plan_sweep(parse_scenario(tiny(mode="random", samples=40, seed=4,
                                           parameters=params)))
    assert [p.params for p in other.points] != [p.params for p in one.points]
    assert len(one.points) == 40  # continuous draws never repeat here
    for p in one.points:
        assert 0.1 <= p.params["batching.max_wait_ms"] <= 100
        assert p.params["fleet.nodes"] in (1, 2, 3, 4)
        assert isinstance(p.params["fleet.nodes"], int)
    # log-uniform: about as many draws below 3.16 ms (the log midpoint) as above
    below = sum(p.params["batching.max_wait_ms"] < math.sqrt(10) for p in one.points)
    assert 8 <= below <= 32
    small = plan_sweep(parse_scenario(tiny(mode="random", samples=50, parameters={
        "fleet.nodes": [1, 2]})))
    assert sorted(p.params["fleet.nodes"] for p in small.points) == [1, 2]  # duplicates dropped


def test_invalid_combinations_are_skipped_with_their_reason():
    data = tiny(parameters={"fleet.nodes": [1, 2],
                            "batching.max_batch": [4, 5000],
                            "fleet.max_nodes": [1, 2]})
    plan = plan_sweep(parse_scenario(data))
    assert len(plan.points) == 8
    skipped = {json.dumps(p.params, sort_keys=True): p.reason for p in plan.points
               if p.status == "skipped"}
    expected = [p for p in itertools.product([1, 2], [4, 5000], [1, 2])
                if p[1] == 5000 or p[2] < p[0]]
    assert len(skipped) == len(expected) == 5
    reason = skipped[json.dumps({"fleet.nodes": 1, "batching.max_batch": 5000,
                                 "fleet.max_nodes": 1}, sort_keys=True)]
    assert "max_batch" in reason and "5000" in reason and "4096" in reason
    reason = skipped[json.dumps({"fleet.nodes": 2, "batching.max_batch": 4,
                                 "fleet.max_nodes": 1}, sort_keys=True)]
    assert "max_nodes" in reason and "raise max_nodes" in reason


def test_variants_and_spot_share():
    spot = {"fleet.purchase": "spot",
            "fleet.spot": {"interruptions": {"kind": "rate", "per_node_hour": 0.1}}}
    data = tiny(parameters={"fleet.nodes": [2, 4],
                            "variant": [{"fleet.purchase": "on_demand"}, spot],
                            "fleet.spot_share": [0.5, 1.0]})
    plan = plan_sweep(parse_scenario(data))
    by = {(p.params["fleet.nodes"], p.params["variant"]["fleet.purchase"],
           p.params["fleet.spot_share"]): p for p in plan.points}
    assert by[(4, "spot", 0.5)].design["fleet"]["on_demand_base"] == 2
    assert by[(4, "spot", 1.0)].design["fleet"]["on_demand_base"] == 0
    assert by[(2, "spot", 0.5)].design["fleet"]["on_demand_base"] == 1
    assert by[(2, "on_demand", 0.5)].status == "skipped"
    assert "purchase: spot" in by[(2, "on_demand", 0.5)].reason


# ---------------------------------------------------------------------------- bad sweep specs

@pytest.mark.parametrize(("change", "needle"), [
    ({"design": "bsae"}, "sweep.design: 'bsae' is not a design of this scenario"),
    ({"parameters": {"fleet.nodez": [1, 2]}}, "did you mean 'nodes'?"),
    ({"parameters": {"fleet.autoscaling.target": [0.5]}},
     "fleet.autoscaling is not set in the base design"),
])
def test_sweep_specs_that_cannot_work_name_the_field_and_the_fix(change, needle):
    with pytest.raises(ScenarioError, match="sweep") as info:
        plan_sweep(parse_scenario(tiny(**change)))
    assert needle in str(info.value)


@pytest.mark.parametrize(("change", "needle"), [
    ({"mode": "random"}, "sweep.samples: is required with mode: random"),
    ({"samples": 5}, "sweep.samples: applies to mode: random"),
    ({"parameters": {"fleet.nodes": {"low": 1, "high": 3}}}, "needs mode: random"),
    ({"parameters": {"fleet.nodes": {"range": {"start": 3, "stop": 1, "step": 1}}}},
     "must be >= start (got stop 1 < start 3)"),
    ({"parameters": {"fleet.nodes": []}}, "needs at least one value"),
    ({"parameters": {"fleet.nodes": {"values": [1], "range": {"start": 1, "stop": 2,
                                                              "step": 1}}}},
     "give exactly one of values"),
    ({"parameters": {}}, "needs at least one parameter"),
    ({"parameters": {"fleet..nodes": [1]}}, "is not a dotted field path"),
    ({"mode": "random", "samples": 3,
      "parameters": {"batching.max_wait_ms": {"low": 0, "high": 5, "log": True}}},
     "must be > 0 with log: true"),
    ({"parameters": {"variant": [1, 2]}}, "a variant is a mapping of paths to values"),
    ({"constraints": {"budget_usd_per_month": -3}}, "budget_usd_per_month: must be > 0"),
    ({"moed": "grid"}, "did you mean 'mode'?"),
])
def test_bad_sweep_grammar_is_a_scenario_error(change, needle):
    with pytest.raises(ScenarioError) as info:
        plan_sweep(parse_scenario(tiny(**change)))
    assert needle in str(info.value)


def test_slo_constraint_needs_an_slo():
    data = tiny()
    del data["workloads"][0]["slo"]
    with pytest.raises(ScenarioError, match="sweep.constraints.slo: workload 'w' has no SLO"):
        plan_sweep(parse_scenario(data))
    data["sweep"]["constraints"] = {"slo": False}
    assert len(plan_sweep(parse_scenario(data)).points) == 6


# ------------------------------------------------------------------- analysis vs brute force

def _random_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        status = rng.choice(["ok"] * 8 + ["skipped", "error"])
        cost = rng.choice([None, *range(1, 12)])  # small ints: many ties
        rows.append({
            "point_id": f"p{i}", "index": i, "params": {}, "status": status,
            "slo_ms": rng.choice([None, *range(5, 15)]),
            "metrics": None if status != "ok" else {
                "usd_per_month": None if cost is None else float(cost),
                "p99_ms": float(rng.randint(5, 15)),
                "slo_attainment": rng.choice([None, 0.9, 0.95, 0.99, 1.0])},
            "meets_slo": rng.choice([True, False, None]),
            "cost_incomplete": rng.random() < 0.1,
        })
    return rows


def _brute_front(rows, key):
    pts = {}
    for r in rows:
        if r["status"] != "ok" or r["cost_incomplete"]:
            continue
        cost = r["metrics"]["usd_per_month"]
        other = key(r)
        if cost is not None and other is not None:
            pts[r["point_id"]] = (cost, other)
    return {p for p, (c, o) in pts.items()
            if not any(q != p and c2 <= c and o2 <= o and (c2 < c or o2 < o)
                       for q, (c2, o2) in pts.items())}


@pytest.mark.parametrize("seed", range(30))
def test_pareto_fronts_match_brute_force(seed):
    rows = _random_rows(random.Random(seed), 60)
    lat = lambda r: r["slo_ms"] if r["slo_ms"] is not None else r["metrics"]["p99_ms"]
    att = lambda r: None if r["metrics"]["slo_attainment"] is None else \
        -r["metrics"]["slo_attainment"]
    assert {r["point_id"] for r in analysis.pareto_front(rows)} == _brute_front(rows, lat)
    assert {r["point_id"] for r in analysis.pareto_front(rows, axis="attainment")} == \
        _brute_front(rows, att)
    front = analysis.pareto_front(rows)
    assert [r["metrics"]["usd_per_month"] for r in front] == \
        sorted(r["metrics"]["usd_per_month"] for r in front)


@pytest.mark.parametrize("seed", range(30))
def test_cheapest_feasible_matches_brute_force(seed):
    rng = random.Random(seed)
    rows = _random_rows(rng, 40)
    constraints = SweepConstraints(slo=rng.random() < 0.7,
                                   budget_usd_per_month=rng.choice([None, 4.0, 8.0]))
    ok = []
    for r in rows:
        m = r["metrics"] or {}
        cost = m.get("usd_per_month")
        if r["status"] != "ok" or cost is None or r["cost_incomplete"]:
            continue
        if constraints.slo and r["meets_slo"] is not True:
            continue
        if constraints.budget_usd_per_month is not None and cost > constraints.budget_usd_per_month:
            continue
        ok.append((cost, r["index"], r))
    best = analysis.cheapest_feasible(rows, constraints)
    assert (best is None) == (not ok)
    if ok:
        assert best is min(ok, key=lambda t: (t[0], t[1]))[2]


# ------------------------------------------------------------------- running and executors

@pytest.fixture(scope="module")
def inline_result(tmp_path_factory):
    scenario = parse_scenario(tiny())
    return run_sweep(scenario, executor=LocalExecutor(0),
                     output=tmp_path_factory.mktemp("inline"), sensitivity=True)


def test_each_row_is_the_point_function_of_its_one_design_scenario(inline_result):
    scenario = parse_scenario(tiny())
    plan = plan_sweep(scenario)
    job = build_job(plan, _catalog(), label="t")
    point = plan.points[3]
    row = run_point(job, PointTask.of(point))
    stored = next(r for r in inline_result.rows if r["point_id"] == point.point_id)
    assert flat([row]) == flat([stored])
    # the same design run by hand through run_scenario with the point's seed
    from planner.run import run_scenario

    data = {**copy.deepcopy(BASE), "designs": [point.design], "seed": point.seed}
    del data["sweep"]
    direct = run_scenario(parse_scenario(data), catalog=_catalog()).designs[0]
    assert direct.flat_metrics() == stored["metrics"]


def _catalog():
    from costmodels.price_cache import default_catalog

    return default_catalog()


def test_sweep_result_is_consistent(inline_result):
    r = inline_result
    assert r.counts()["points"] == 6 and r.counts()["ok"] == 6
    best = r.cheapest()
    assert best is not None and r.is_feasible(best)
    # more nodes cost more: g6.xlarge on demand, fixed fleet
    costs = {row["params"]["fleet.nodes"]: row["metrics"]["usd_per_month"] for row in r.rows}
    assert costs[1] < costs[2] < costs[3]
    assert [c.case for c in r.sensitivity] == ["arrival rate x0.8", "arrival rate x1.2"]
    hi = r.sensitivity[1].row
    assert hi["metrics"]["throughput_rps"] > best["metrics"]["throughput_rps"] * 1.1
    doc = json.loads(r.to_json())
    assert doc["cheapest_feasible"]["point_id"] == best["point_id"]
    assert len(doc["points"]) == 6


def test_workers_one_and_two_give_identical_rows(tmp_path):
    scenario = parse_scenario(tiny())
    with LocalExecutor(1) as one:
        a = run_sweep(scenario, executor=one, output=tmp_path / "a", sensitivity=False)
    with LocalExecutor(2) as two:
        b = run_sweep(scenario, executor=two, output=tmp_path / "b", sensitivity=False)
    c = run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path / "c",
                  sensitivity=False)
    assert flat(a.rows) == flat(b.rows) == flat(c.rows)
    assert all(r["status"] == "ok" for r in a.rows)


def test_spot_sensitivity(tmp_path):
    data = tiny(parameters={"fleet.nodes": [2, 3]}, constraints={"slo": True})
    data["designs"][0]["fleet"] = {
        "instance": "aws:g5.8xlarge", "nodes": 2, "purchase": "spot",
        "spot": {"interruptions": {"kind": "advisor", "band": "5-10%"}}}
    result = run_sweep(parse_scenario(data), executor=LocalExecutor(0), output=tmp_path)
    cases = {c.case: c for c in result.sensitivity}
    assert set(cases) == {"arrival rate x0.8", "arrival rate x1.2", "spot interruptions x0.5",
                          "spot interruptions x2"}
    assert all(c.row is not None and c.row["status"] == "ok" for c in cases.values())


# ------------------------------------------------------------------------------------ resume

class _Stop(Exception):
    pass


def test_resume_runs_only_the_missing_points(tmp_path, monkeypatch):
    scenario = parse_scenario(tiny())
    calls: list[str] = []
    real = engine.LocalExecutor.map

    def counting(self, job, tasks):
        for row in real(self, job, tasks):
            calls.append(row["point_id"])
            yield row

    monkeypatch.setattr(engine.LocalExecutor, "map", counting)

    def interrupt(done, total):
        if done == 2:
            raise _Stop

    with pytest.raises(_Stop):
        run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path, progress=interrupt)
    first = list(calls)
    lines = (tmp_path / "points.jsonl").read_text().splitlines()
    assert len(first) == 2 and len(lines) == 2
    # a torn last line (a killed writer) is dropped, not fatal
    with (tmp_path / "points.jsonl").open("a") as f:
        f.write('{"point_id": "torn", "ind')
    calls.clear()
    result = run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path, sensitivity=False)
    all_ids = [p.point_id for p in plan_sweep(scenario).points]
    assert sorted(calls) == sorted(set(all_ids) - set(first))
    assert result.n_resumed == 2 and result.n_ran == 4
    rows = [json.loads(x) for x in (tmp_path / "points.jsonl").read_text().splitlines()]
    assert sorted(r["point_id"] for r in rows) == sorted(all_ids)
    fresh = run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path / "fresh",
                      sensitivity=False)
    assert flat(result.rows) == flat(fresh.rows)
    calls.clear()
    run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path, sensitivity=False)
    assert calls == []  # everything done: nothing runs
    run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path, resume=False,
              sensitivity=False)
    assert len(calls) == 6


def test_resume_refuses_a_folder_of_another_sweep(tmp_path):
    run_sweep(parse_scenario(tiny()), executor=LocalExecutor(0), output=tmp_path,
              sensitivity=False)
    changed = tiny()
    changed["horizon_s"] = 100
    from domain.errors import PlannerError

    with pytest.raises(PlannerError, match="holds results of another sweep.*--no-resume"):
        run_sweep(parse_scenario(changed), executor=LocalExecutor(0), output=tmp_path)
    # constraints are not part of the fingerprint: a new budget re-reports without re-running
    cheaper = tiny(constraints={"slo": True, "budget_usd_per_month": 1})
    result = run_sweep(parse_scenario(cheaper), executor=LocalExecutor(0), output=tmp_path)
    assert result.n_ran == 0 and result.cheapest() is None


def test_relative_data_path_travels_with_the_job(tmp_path):
    folder = tmp_path / "scen"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "profile.csv").write_text(
        "model,batch,mean_ms\nm,1,4.0\nm,2,5.0\nm,4,7.0\nm,8,11.0\n")
    data = tiny(parameters={"batching.max_batch": [1, 4, 8]})
    data["designs"][0]["service_time"] = {"kind": "table", "path": "data/profile.csv",
                                          "model": "m"}
    (folder / "s.yaml").write_text(yaml.safe_dump(data))
    from planner.schema import load_scenario

    scenario = load_scenario(folder / "s.yaml")
    plan = plan_sweep(scenario)
    job = build_job(plan, _catalog(), label="t")
    assert list(job.files) == [str(folder / "data" / "profile.csv")]
    shipped = job.with_contents()  # what goes to workers on other machines
    (folder / "data" / "profile.csv").unlink()  # the workers use the shipped bytes
    with LocalExecutor(1) as pool:
        rows = list(pool.map(shipped, [PointTask.of(p) for p in plan.points]))
    assert [r["status"] for r in rows] == ["ok"] * 3, [r["error"] for r in rows]
    # batches of 8 take 11 ms in the table: the max_batch 8 point is served more slowly per
    # batch but its mean batch grows, so its utilization is below the max_batch 1 point's
    by = {r["params"]["batching.max_batch"]: r["metrics"] for r in rows}
    assert by[8]["utilization"] < by[1]["utilization"]


# ---------------------------------------------------------------------------------------- CLI

runner = CliRunner()


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_cli_table_and_json(tmp_path):
    path = _write(tmp_path, tiny())
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(path), "--workers", "0", "--output-dir", str(out),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    assert "Cheapest point meeting the constraints" in res.stdout
    assert "Pareto front: cost against p99" in res.stdout
    assert "Sensitivity of the cheapest point" in res.stdout
    res = runner.invoke(app, ["sweep", str(path), "--workers", "0", "--output-dir", str(out),
                              "--format", "json", "--quiet", "--no-sensitivity"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["counts"]["resumed"] == 6 and doc["counts"]["ran_now"] == 0
    assert doc["cheapest_feasible"]["point_id"] in doc["pareto_latency"] or \
        doc["cheapest_feasible"] is not None
    assert doc["notes"] == []
    # a damaged line in the middle: skipped, its point run again, and the JSON says so
    points = out / "points.jsonl"
    lines = points.read_text().splitlines()
    points.write_text("\n".join([lines[0], lines[1][:20], *lines[2:]]) + "\n")
    res = runner.invoke(app, ["sweep", str(path), "--workers", "0", "--output-dir", str(out),
                              "--format", "json", "--quiet", "--no-sensitivity"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["counts"]["resumed"] == 5 and doc["counts"]["ran_now"] == 1
    assert len(doc["notes"]) == 1 and "line 2: skipped" in doc["notes"][0]


def test_cli_markdown_html_and_parquet(tmp_path):
    path = _write(tmp_path, tiny())
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(path), "-w", "0",
                              "--output-dir", str(out), "-f", "markdown",
                              "--quiet", "--no-sensitivity"])
    assert res.exit_code == 0 and res.stdout.startswith("# Sweep of base")
    html = tmp_path / "r.html"
    res = runner.invoke(app, ["sweep", str(path), "-w", "0", "--output-dir", str(out), "-f", "html",
                              "-o", str(html), "--quiet", "--no-sensitivity"])
    assert res.exit_code == 0 and 'id="sweep-pareto"' in html.read_text()
    res = runner.invoke(app, ["sweep", str(path), "-w", "0",
                              "--output-dir", str(out), "-f", "parquet",
                              "--quiet", "--no-sensitivity"])
    assert res.exit_code == 0, res.output
    import polars as pl

    frame = pl.read_parquet(out / "points.parquet")
    assert frame.height == 6 and "metric.usd_per_month" in frame.columns
    assert frame["param.fleet.nodes"].to_list() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_cli_errors_and_usage(tmp_path):
    bad = _write(tmp_path, tiny(design="nope"))
    res = runner.invoke(app, ["sweep", str(bad), "-w", "0", "--output-dir", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "sweep.design: 'nope' is not a design" in res.stderr
    plain = copy.deepcopy(BASE)
    del plain["sweep"]
    res = runner.invoke(app, ["sweep", str(_write(tmp_path, plain))])
    assert res.exit_code == 1 and "has no sweep: section" in res.stderr
    good = _write(tmp_path, tiny())
    res = runner.invoke(app, ["sweep", str(good), "--address", "ray://x:1"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["sweep", str(good), "--executor", "dask"])
    assert res.exit_code == 2


def test_cli_estimates_the_whole_sweep_before_it_starts(tmp_path):
    """Issue 19: a sweep whose points together would run for hours is refused before any
    point runs, with the estimate, the point count and the fix; --force runs it (here: a
    one-point sweep of the same size per point is not refused)."""
    data = tiny(parameters={"fleet.nodes": {"range": {"start": 1, "stop": 400, "step": 1}},
                            "batching.max_batch": [1, 2, 4, 8, 16]})
    data["horizon_s"] = 86_400
    data["workloads"][0]["arrivals"]["rate_rps"] = 2_000
    path = _write(tmp_path, data)
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(path), "--workers", "0", "--output-dir", str(out),
                              "--quiet"])
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "passes the limit" in text and "sweep points" in text and "--force" in text
    assert not (out / "points.jsonl").exists()  # nothing ran
    one = tiny(parameters={"fleet.nodes": [400]})
    one["horizon_s"] = 600
    res = runner.invoke(app, ["sweep", str(_write(tmp_path, one)), "--workers", "0",
                              "--output-dir", str(tmp_path / "one"), "--quiet",
                              "--no-sensitivity"])
    assert res.exit_code == 0, res.output
