"""Tests of the fleet-dynamics inputs: spot capacity traces and Spot Advisor look-ups.

The real SkyPilot traces are read from the shared data folder (they may not be copied into the
repository: no licence); their expected tick counts, gaps and drop counts come from
``../shared/data/traces/README.md`` (section 2). Error cases use synthetic JSON in tmp_path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from domain.errors import ScenarioError
from planner.inputs import ScenarioInputs, load_scenario_inputs
from planner.inputs_spot import load_spot_trace
from planner.schema import TraceInterruptions, load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]
FIELD = "designs[0].fleet.spot.interruptions"
SKYPILOT = ("traces", "skypilot_spot_traces")


def spec(path: Path | str, **fields: Any) -> TraceInterruptions:
    return TraceInterruptions(kind="trace", path=str(path), **fields)


def write_json(tmp_path: Path, document: Any, name: str = "trace.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def independent_drops(values: list[int]) -> int:
    """Ticks at which the value decreased, counted with a plain loop."""
    return sum(1 for before, after in zip(values, values[1:]) if after < before)


# ---------------------------------------------------------------------------------------------
# Real SkyPilot traces (README section 2 table)

# (folder, files, ticks per file (min, max), gap_seconds, drops per file (min, max) or None,
#  mean availability per file (min, max) or None)
README_TABLE = [
    ("preemption/1-node/aws-04-22-2023", 4, (19_961, 19_961), 32, (41, 60), (0.31, 0.79)),
    ("preemption/1-node/aws-04-19-2023", 3, (16_090, 16_090), 34, (27, 128), (0.64, 0.94)),
    ("preemption/1-node/gcp-04-30-2023", 4, (5_476, 5_476), 30, (0, 3), (0.99, 1.0)),
    ("preemption/4-node/aws-08-03-2023", 3, (3_664, 5_131), 300, None, (1.4, 3.3)),
    ("availability/1-node/aws-10-26-2022", 8, (3_895, 3_895), 600, None, (0.117, 0.893)),
    ("availability/1-node/aws-02-15-2023", 9, (20_158, 20_158), 195, None, (0.167, 0.905)),
    ("availability/16-node/aws-08-27-2023", 3, (3_247, 4_736), 300, None, (6.8, 8.8)),
]


@pytest.mark.parametrize(("folder", "n_files", "ticks", "gap", "drops", "mean"), README_TABLE,
                         ids=[row[0] for row in README_TABLE])
def test_real_traces_match_the_readme(shared_data: Path, folder: str, n_files: int,
                                      ticks: tuple[int, int], gap: int,
                                      drops: tuple[int, int] | None,
                                      mean: tuple[float, float]) -> None:
    files = sorted(shared_data.joinpath(*SKYPILOT, folder).glob("*.json"))
    assert len(files) == n_files
    all_drops = []
    for file in files:
        trace = load_spot_trace(spec(file), field_path=FIELD)
        raw = json.loads(file.read_text(encoding="utf-8"))["data"]
        assert ticks[0] <= trace.n_ticks <= ticks[1]
        assert trace.gap_s == gap
        np.testing.assert_array_equal(trace.times_s, np.arange(len(raw)) * float(gap))
        np.testing.assert_array_equal(trace.capacity, raw)
        assert trace.n_drops == independent_drops(raw)
        assert mean[0] - 0.05 <= trace.capacity.mean() <= mean[1] + 0.05
        assert trace.source_path == str(file)
        all_drops.append(trace.n_drops)
    if drops is not None:  # the README's range is over the folder's files: both ends occur
        assert (min(all_drops), max(all_drops)) == drops


def test_preemption_1_node_aws_04_22(shared_data: Path) -> None:
    folder = shared_data.joinpath(*SKYPILOT, "preemption", "1-node", "aws-04-22-2023")
    trace = load_spot_trace(spec(folder / "us-east-1c_v100_1.json"), field_path=FIELD)
    assert (trace.n_ticks, trace.gap_s) == (19_961, 32.0)
    assert 41 <= trace.n_drops <= 60
    assert trace.span_s == 19_960 * 32.0
    assert trace.capacity.dtype == np.int64 and trace.times_s.dtype == np.float64
    assert set(np.unique(trace.capacity)) <= {0, 1}
    assert not trace.capacity.flags.writeable and not trace.times_s.flags.writeable


def test_capacity_scale_multiplies_the_counts(shared_data: Path) -> None:
    file = shared_data.joinpath(*SKYPILOT, "preemption", "4-node", "aws-08-03-2023",
                                "us-east-2a_v100_1.json")
    one = load_spot_trace(spec(file), field_path=FIELD)
    four = load_spot_trace(spec(file, capacity_scale=4), field_path=FIELD)
    np.testing.assert_array_equal(four.capacity, one.capacity * 4)
    assert four.capacity.max() == 16 and four.n_drops == one.n_drops
    assert four.capacity_scale == 4


# ---------------------------------------------------------------------------------------------
# Synthetic traces


def test_synthetic_trace_and_notes(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"metadata": {"gap_seconds": 2.5}, "data": [3, 3, 1, 2, 0, 0.0],
                                 "prices": [0.5] * 6})
    trace = load_spot_trace(spec(path, capacity_scale=2), field_path=FIELD, horizon_s=100,
                            max_spot_nodes=8)
    np.testing.assert_array_equal(trace.times_s, [0, 2.5, 5, 7.5, 10, 12.5])
    np.testing.assert_array_equal(trace.capacity, [6, 6, 2, 4, 0, 0])
    assert trace.n_drops == 2 and trace.gap_s == 2.5
    covers, pool = trace.notes
    assert covers.startswith(FIELD) and "12 s of the 100 s horizon" in covers
    assert "stays at 0" in covers
    assert "never allows more than 6 spot node(s)" in pool and "can hold 8" in pool
    assert "raise capacity_scale" in pool


def test_no_notes_when_the_trace_covers_the_fleet(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"metadata": {"gap_seconds": 60}, "data": [4, 4, 4]})
    trace = load_spot_trace(spec(path), field_path=FIELD, horizon_s=120, max_spot_nodes=4)
    assert trace.notes == ()


OK = {"gap_seconds": 30}
TRACE_ERRORS = [
    # (id, file text or None for no file, words in the message)
    ("missing-file", None, [f"{FIELD}.path: file not found", "check the path"]),
    ("not-json", '{"metadata": {"gap_seconds": 30},\n "data": [1, 0,]}',
     [f"{FIELD}.path:", "not valid JSON (line 2, column", "fix the file near that line"]),
    ("empty-file", "", ["not valid JSON (line 1, column 1"]),
    ("top-level-list", json.dumps([1, 0, 1]), ["got a JSON list", "gap_seconds"]),
    ("no-metadata", json.dumps({"data": [1]}), ["got keys: data", "expected {\"metadata\""]),
    ("no-gap", json.dumps({"metadata": {"gap": 30}, "data": [1]}),
     ["metadata keys: gap", "gap_seconds"]),
    ("no-data", json.dumps({"metadata": OK, "ticks": [1]}), ["got keys: metadata, ticks"]),
    ("gap-zero", json.dumps({"metadata": {"gap_seconds": 0}, "data": [1]}),
     ["metadata.gap_seconds", "> 0 (got 0)", "fix the file's gap_seconds"]),
    ("gap-negative", json.dumps({"metadata": {"gap_seconds": -30}, "data": [1]}),
     ["(got -30)"]),
    ("gap-string", json.dumps({"metadata": {"gap_seconds": "30"}, "data": [1]}),
     ["(got '30')"]),
    ("gap-bool", json.dumps({"metadata": {"gap_seconds": True}, "data": [1]}),
     ["(got True)"]),
    ("gap-nan", '{"metadata": {"gap_seconds": NaN}, "data": [1]}', ["(got nan)"]),
    ("data-empty", json.dumps({"metadata": OK, "data": []}),
     ["non-empty list", "(got [])", "point to a trace with ticks"]),
    ("data-not-list", json.dumps({"metadata": OK, "data": {"0": 1}}), ["got a JSON dict"]),
    ("negative-value", json.dumps({"metadata": OK, "data": [1, 1, -1, 0]}),
     [f"{FIELD}.path: data[2]", "whole number of spot nodes >= 0 (got -1)",
      "fix or remove that tick"]),
    ("fractional-value", json.dumps({"metadata": OK, "data": [1, 0.5]}),
     ["data[1]", "(got 0.5)"]),
    ("string-value", json.dumps({"metadata": OK, "data": [1, "1"]}), ["data[1]", "(got '1')"]),
    ("bool-value", json.dumps({"metadata": OK, "data": [True]}), ["data[0]", "(got True)"]),
    ("null-value", json.dumps({"metadata": OK, "data": [0, None]}), ["data[1]", "(got None)"]),
    ("nan-value", '{"metadata": {"gap_seconds": 30}, "data": [0, NaN]}',
     ["data[1]", "(got nan)"]),
]


@pytest.mark.parametrize(("text", "words"), [case[1:] for case in TRACE_ERRORS],
                         ids=[case[0] for case in TRACE_ERRORS])
def test_trace_errors(tmp_path: Path, text: str | None, words: list[str]) -> None:
    path = tmp_path / "trace.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_spot_trace(spec(path), field_path=FIELD)
    message = str(info.value)
    assert message.startswith(FIELD) and str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file is a folder"):
        load_spot_trace(spec(tmp_path), field_path=FIELD)


# ---------------------------------------------------------------------------------------------
# A whole scenario's fleet inputs


def scenario_with(tmp_path: Path, *spots: dict[str, Any]) -> dict[str, Any]:
    designs = [
        {"name": f"d{i}", "workload": "w", "pattern": "realtime",
         "fleet": {"instance": "aws:g5.8xlarge", "nodes": 2, "max_nodes": 6, "purchase": "spot",
                   "spot": spot, **({"region": "us-west-2"} if i == 1 else {})},
         "service_time": {"kind": "constant", "ms": 5}}
        for i, spot in enumerate(spots)
    ]
    designs.append({"name": "fixed", "workload": "w", "pattern": "realtime",
                    "fleet": {"instance": "aws:g5.8xlarge", "nodes": 2},
                    "service_time": {"kind": "constant", "ms": 5}})
    return {"name": "s", "horizon_s": 600,
            "workloads": [{"name": "w", "kind": "inference",
                           "arrivals": {"kind": "poisson", "rate_rps": 10}}],
            "designs": designs}


def test_scenario_inputs_hold_spot_traces_and_advice(tmp_path: Path) -> None:
    write_json(tmp_path, {"metadata": {"gap_seconds": 60}, "data": [2, 1, 2]}, "spot.json")
    data = scenario_with(
        tmp_path,
        {"interruptions": {"kind": "trace", "path": "spot.json", "capacity_scale": 2}},
        {"interruptions": {"kind": "advisor"}},              # region us-west-2
        {"interruptions": {"kind": "advisor"}},              # no region: us-east-1
        {"interruptions": {"kind": "advisor", "band": "<5%"}},  # nothing to look up
        {"interruptions": {"kind": "rate", "per_node_hour": 0.01}},
    )
    inputs = load_scenario_inputs(parse_scenario(data, base_dir=tmp_path))
    assert set(inputs.spot_traces) == {"d0"}
    trace = inputs.spot_traces["d0"]
    np.testing.assert_array_equal(trace.capacity, [4, 2, 4])
    assert trace.n_drops == 1 and trace.source_path == str(tmp_path / "spot.json")
    assert any("horizon" in note for note in trace.notes)  # 120 s of a 600 s horizon
    assert any("can hold 6" in note for note in trace.notes)  # 6 slots, capacity up to 4
    assert set(inputs.spot_advice) == {"d1", "d2"}
    assert inputs.spot_advice["d1"].region == "us-west-2"
    assert inputs.spot_advice["d2"].region == "us-east-1"
    assert inputs.spot_advice["d2"].band == ">20%"  # README: g5 family in us-east-1
    assert inputs.spot_advice["d2"].instance_type == "g5.8xlarge"


def test_scenario_inputs_report_every_spot_problem(tmp_path: Path) -> None:
    data = scenario_with(tmp_path, {"interruptions": {"kind": "trace", "path": "none.json"}},
                         {"interruptions": {"kind": "advisor"}})
    data["designs"][1]["fleet"]["instance"] = "aws:p5.4xlarge"  # in the catalog, not the advisor
    with pytest.raises(ScenarioError) as info:
        load_scenario_inputs(parse_scenario(data, base_dir=tmp_path, source="s.yaml"))
    message = str(info.value)
    assert message.startswith("s.yaml: 2 problems")
    assert "  - designs[0].fleet.spot.interruptions.path: file not found" in message
    assert "  - designs[1].fleet.spot.interruptions: p5.4xlarge in us-west-2" in message
    assert "set spot.interruptions.band explicitly" in message


def test_inputs_without_fleet_dynamics_have_empty_spot_maps() -> None:
    inputs = load_scenario_inputs(load_scenario(REPO / "scenarios" / "bert-serving.yaml"))
    assert dict(inputs.spot_traces) == {} and dict(inputs.spot_advice) == {}
    bare = ScenarioInputs(service_tables={}, traces={})  # older callers still build it
    assert dict(bare.spot_traces) == {} and dict(bare.spot_advice) == {}


def test_fleet_mix_inputs_load() -> None:
    inputs = load_scenario_inputs(load_scenario(REPO / "scenarios" / "fleet-mix.yaml"))
    assert set(inputs.spot_advice) == {"spot-autoscaled", "on-demand-base-plus-spot"}
    for advice in inputs.spot_advice.values():
        assert (advice.instance_type, advice.region) == ("g5.8xlarge", "us-east-1")
        assert advice.band == ">20%" and advice.as_of == "2025-06-28"
    assert not inputs.spot_traces
