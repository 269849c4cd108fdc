"""A results JSON reads back to the same results: ``RunResult.from_json(r.to_json())`` writes the
same bytes and renders the same reports, for every bundled scenario and the awkward hand-built
run; the JSON is the same byte for byte for the same inputs and seed once ``timings`` is
removed; a file that is not a results JSON of this version is a one-line error naming the file,
the field and the fix."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from domain.errors import PlannerError
from planner.reports.adr import render_adr
from planner.reports.html import render_html
from planner.reports.markdown import render_markdown
from planner.reports.table import render_comparison, render_details
from planner.results import SCHEMA_VERSION, RunResult, SloResult
from planner.run import run_scenario
from planner.schema import load_scenario
from planner.stats import Estimate
from tests.planner.report_fixture import run_result

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
NAMES = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
RENDERERS = {
    "table": lambda r: render_comparison(r) + "\n" + render_details(r),
    "markdown": render_markdown,
    "html": render_html,
    "adr": lambda r: render_adr(r, title=None, status="proposed", date=None,
                                budget_usd_per_month=None),
}


def bundled(name: str, seed: int | None = None) -> RunResult:
    """Run bundled scenario ``name`` with two replications (and ``seed`` when given)."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    update: dict = {"replications": 2}
    if seed is not None:
        update["seed"] = seed
    return run_scenario(scenario.model_copy(update=update))


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResult]:
    return {name: bundled(name) for name in NAMES}


def test_every_bundled_scenario_is_covered():
    assert {"bert-serving", "fraud-scoring", "llm-chat", "nightly-recsys", "training-spot",
            "fleet-mix", "azure-code-trace", "sweep-example"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_bundled_result_reads_back_byte_for_byte_and_renders_the_same(runs, name):
    result = runs[name]
    text = result.to_json()
    back = RunResult.from_json(text)
    assert back.to_json() == text
    for fmt, render in RENDERERS.items():
        assert render(back) == render(result), f"{name}: {fmt} differs after the round trip"
    for d, b in zip(result.designs, back.designs, strict=True):
        assert b.latency_ms["p99"].mean == d.latency_ms["p99"].mean
        assert (b.latency_ms["p99"].low, b.latency_ms["p99"].high) == (
            d.latency_ms["p99"].low, d.latency_ms["p99"].high)
        assert b.wait_ms.keys() == d.wait_ms.keys()
        assert [s.achieved_ms for s in b.slos] == [s.achieved_ms for s in d.slos]
        assert b.fleet.serving == d.fleet.serving and b.batching == d.batching
        assert b.fleet.spot_interruptions == d.fleet.spot_interruptions and b.cost == d.cost
        assert b.requests == d.requests and b.distribution_ms == d.distribution_ms
        assert b.warnings == d.warnings and [w.code for w in b.warnings] == [
            w.code for w in d.warnings]
        assert (b.llm is None) == (d.llm is None)
        if d.llm is not None:
            assert b.llm.engine == d.llm.engine
            assert b.llm.ttft_ms["p99"].mean == d.llm.ttft_ms["p99"].mean
    best, again = result.cheapest_meeting_slo(), back.cheapest_meeting_slo()
    assert (best and best.name) == (again and again.name)


def test_timings_are_the_only_difference_between_two_runs():
    first, second = bundled("bert-serving"), bundled("bert-serving")
    a, b = first.to_dict(), second.to_dict()
    assert set(a["timings"]) == {"wall_s"} and a["timings"]["wall_s"] > 0
    assert "wall_s" not in a  # only under timings
    assert list(a)[-1] == "timings"
    del a["timings"], b["timings"]
    assert json.dumps(a, indent=2) == json.dumps(b, indent=2)
    # and the comparison can tell runs apart: another seed changes the numbers
    other = bundled("bert-serving", seed=first.scenario["seed"] + 1).to_dict()
    del other["timings"]
    assert json.dumps(other) != json.dumps(a)


def _keys(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}"
            yield from _keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v, f"{path}[]")


def test_no_timing_field_outside_timings(runs):
    for name, result in runs.items():
        keys = [k for k in _keys(result.to_dict())
                if k.rsplit(".", 1)[-1] in ("wall_s", "kernel_s", "elapsed_s")]
        assert keys == [".timings.wall_s"], name
        assert result.to_dict()["schema_version"] == SCHEMA_VERSION == 4


def test_the_awkward_fixture_reads_back():
    result = run_result()
    text = result.to_json()
    back = RunResult.from_json(text)
    assert back.to_json() == text
    assert back.wall_s == result.wall_s and back.scenario == result.scenario
    for render in RENDERERS.values():
        assert render(back) == render(result)


def test_an_inconclusive_slo_keeps_its_count_and_the_replications_to_settle_it():
    result = run_result()
    d = result.designs[0]
    slo = SloResult(percentile=99.0, latency_ms=50.0, achieved_ms=Estimate(49.0, 45.0, 53.0, 7),
                    attainment=Estimate(0.99, 0.98, 1.0, 7))
    d = dataclasses.replace(d, slo=slo)
    result = dataclasses.replace(result, designs=(d, *result.designs[1:]))
    assert slo.verdict == "inconclusive" and slo.replications_to_settle() == 113
    back = RunResult.from_json(result.to_json())
    assert back.designs[0].slo.achieved_ms == Estimate(49.0, 45.0, 53.0, 7)
    assert back.designs[0].slo.replications_to_settle() == 113
    assert back.to_json() == result.to_json()
    adr = RENDERERS["adr"](back)
    assert "now 7" in adr and adr == RENDERERS["adr"](result)


# --- files that are not a results JSON of this version ------------------------------------


@pytest.fixture()
def doc() -> dict:
    return json.loads(run_result().to_json())


def _error(data, source="runs/fraud.json") -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(PlannerError) as info:
        RunResult.from_json(text, source=source)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{source}: ")
    return message


def test_not_json():
    message = _error("designs: [1, 2]\n")
    assert "not JSON" in message and "planner run SCENARIO --format json" in message


@pytest.mark.parametrize("data, found", [
    ([1, 2], "it is a list"),
    ({}, "it is an empty object"),
    ({"billing_period": "2026-09", "rows": []}, "the keys billing_period, rows"),
])
def test_json_of_another_kind(data, found):
    message = _error(data)
    assert "not a results JSON" in message and found in message
    assert "schema_version, designs, recommendation, scenario" in message


def test_a_newer_schema_version(doc):
    doc["schema_version"] = SCHEMA_VERSION + 1
    message = _error(doc)
    assert f"field `schema_version` is {SCHEMA_VERSION + 1}, newer than this planner reads " \
           f"({SCHEMA_VERSION})" in message
    assert "upgrade the planner" in message


def test_an_older_schema_version(doc):
    doc["schema_version"] = 3
    message = _error(doc)
    assert "is 3, from an older planner; this one reads 4" in message
    assert "planner run SCENARIO --format json -o FILE" in message


@pytest.mark.parametrize("path, problem", [
    (("designs", 0, "cost", "usd_per_month"), "field `designs[0].cost.usd_per_month` is missing"),
    (("timings",), "field `timings` is missing"),
    (("schema_version",), "field `schema_version` is missing"),
    (("designs", 2, "slo", "achieved_ms_n"), "field `designs[2].slo.achieved_ms_n` is missing"),
    (("scenario", "replications"), "field `scenario.replications` is missing"),
    (("assumptions", "cost_basis"), "field `assumptions.cost_basis` is missing"),
])
def test_a_missing_field_is_named_by_its_path(doc, path, problem):
    broken = copy.deepcopy(doc)
    holder = broken
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    message = _error(broken)
    assert problem in message and "planner run" in message


@pytest.mark.parametrize("path, value, problem", [
    (("designs", 1, "fleet", "nodes"), "two",
     "field `designs[1].fleet.nodes` should be an integer, not a string ('two')"),
    (("designs", 0, "latency_ms", "p99"), [30],
     "field `designs[0].latency_ms.p99` should be a number or null, not a list"),
    (("designs", 0, "cost", "incomplete"), "no",
     "field `designs[0].cost.incomplete` should be true or false, not a string ('no')"),
    (("designs", 1, "warnings", 0, "code"), "gremlins",
     "field `designs[1].warnings[0].code` is 'gremlins', not one of"),
    (("designs", 0, "batching"), {"max_batch": 8},
     "field `designs[0].batching` has the keys max_batch, not those of any batching"),
    (("designs", 0, "latency_ms_ci95", "p50"), [1.0],
     ("field `designs[0].latency_ms_ci95.p50` should be a list of two numbers (low, high), "
      "not of 1")),
    (("designs",), {"fast-rt": {}}, "field `designs` should be a list, not an object"),
    (("timings", "wall_s"), None, "field `timings.wall_s` should be a number, not null"),
])
def test_a_mistyped_field_is_named_by_its_path(doc, path, value, problem):
    broken = copy.deepcopy(doc)
    holder = broken
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    assert problem in _error(broken)


def test_load_names_a_missing_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(PlannerError, match=r"nope\.json: file not found; pass a results JSON"):
        RunResult.load(missing)
    saved = tmp_path / "run.json"
    saved.write_text(run_result().to_json())
    assert RunResult.load(saved).to_json() == run_result().to_json()
