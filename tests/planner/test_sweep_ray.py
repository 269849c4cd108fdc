"""The Ray executor: a local Ray instance on loopback gives exactly the local executor's rows,
and a scenario's relative data path travels with the tasks."""

from __future__ import annotations

import pytest
import yaml

from planner.schema import load_scenario, parse_scenario
from planner.sweep import LocalExecutor, RayExecutor, plan_sweep, run_sweep
from planner.sweep.runner import PointTask, build_job
from tests.planner.test_sweep import flat, tiny

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_executor():
    """Start one local Ray instance (2 CPUs, loopback, no dashboard) for the module."""
    try:
        ray.init(num_cpus=2, include_dashboard=False, address="local",
                 _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Ray cannot start here: {exc}")
    executor = RayExecutor()  # joins the running instance, does not own it
    try:
        yield executor
    finally:
        executor.close()
        ray.shutdown()


def test_ray_rows_equal_the_local_rows(ray_executor, tmp_path):
    scenario = parse_scenario(tiny(parameters={"fleet.nodes": [1, 2, 3],
                                               "batching.max_batch": [1, 4],
                                               "fleet.max_nodes": [2]}))
    on_ray = run_sweep(scenario, executor=ray_executor, output=tmp_path / "ray")
    local = run_sweep(scenario, executor=LocalExecutor(0), output=tmp_path / "local")
    assert on_ray.executor == "ray" and on_ray.workers == 2
    assert flat(on_ray.rows) == flat(local.rows)
    assert [r["status"] for r in on_ray.rows].count("skipped") == 2  # nodes 3 > max_nodes 2
    assert on_ray.cheapest() == local.cheapest()
    assert [(c.case, c.row["metrics"]) for c in on_ray.sensitivity] == \
        [(c.case, c.row["metrics"]) for c in local.sensitivity]


def test_relative_data_path_works_on_ray(ray_executor, tmp_path, monkeypatch):
    folder = tmp_path / "scen"
    (folder / "traces").mkdir(parents=True)
    times = "\n".join(f"{i * 0.01:.2f}" for i in range(12000))  # 100 requests/s for 120 s
    (folder / "traces" / "arrivals.csv").write_text("TIMESTAMP\n" + times + "\n")
    data = tiny(parameters={"fleet.nodes": [1, 2]})
    data["workloads"][0]["arrivals"] = {"kind": "trace", "path": "traces/arrivals.csv"}
    (folder / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.chdir(tmp_path)  # the driver runs elsewhere; the path is relative to s.yaml
    scenario = load_scenario("scen/s.yaml")
    plan = plan_sweep(scenario)
    job = build_job(plan, _catalog(), label="scen/s.yaml").with_contents()
    (folder / "traces" / "arrivals.csv").unlink()  # only the shipped bytes remain
    rows = list(ray_executor.map(job, [PointTask.of(p) for p in plan.points]))
    assert sorted(r["status"] for r in rows) == ["ok", "ok"], [r["error"] for r in rows]
    for r in rows:
        assert r["metrics"]["throughput_rps"] == pytest.approx(100, rel=0.02)
    with LocalExecutor(0) as here:
        local = list(here.map(job, [PointTask.of(p) for p in plan.points]))
    assert flat(rows) == flat(local)


def _catalog():
    from costmodels.price_cache import default_catalog

    return default_catalog()
