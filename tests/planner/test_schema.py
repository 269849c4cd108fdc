"""Tests of the scenario schema: valid shapes, every kind of bad input, path resolution."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import ScenarioError
from planner.schema import (
    DiurnalArrivals,
    InferenceWorkload,
    LinearServiceTime,
    PoissonArrivals,
    RealtimeDesign,
    Scenario,
    TableServiceTime,
    TraceArrivals,
    load_scenario,
    parse_scenario,
)

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))

EXAMPLE_YAML = """\
name: bert-serving
horizon_s: 600
warmup_s: 30
replications: 8
seed: 7
workloads:
  - name: bert
    kind: inference
    arrivals: {kind: poisson, rate_rps: 1300}     # also: diurnal, trace (CSV of timestamps)
    slo: {percentile: 99, latency_ms: 20}
designs:
  - name: one-h100
    workload: bert
    pattern: realtime
    fleet: {instance: aws:p5.48xlarge, nodes: 1, workers_per_node: 1, purchase: on_demand}
    batching: {max_batch: 32, max_wait_ms: 5}
    service_time:
      kind: table          # also: exponential {mean_ms}, constant {ms}, linear {base_ms, ...}
      path: ../shared/data/gpu-profiles/h100_forward_latency.csv
      model: bert-base-seq512
      column: mean_ms
"""


def example() -> dict[str, Any]:
    """The example scenario as a fresh mapping (what yaml.safe_load gives)."""
    return {
        "name": "bert-serving", "horizon_s": 600, "warmup_s": 30, "replications": 8, "seed": 7,
        "workloads": [{
            "name": "bert", "kind": "inference",
            "arrivals": {"kind": "poisson", "rate_rps": 1300},
            "slo": {"percentile": 99, "latency_ms": 20},
        }],
        "designs": [{
            "name": "one-h100", "workload": "bert", "pattern": "realtime",
            "fleet": {"instance": "aws:p5.48xlarge", "nodes": 1, "workers_per_node": 1,
                      "purchase": "on_demand"},
            "batching": {"max_batch": 32, "max_wait_ms": 5},
            "service_time": {"kind": "table", "path": "data/h100.csv",
                             "model": "bert-base-seq512", "column": "mean_ms"},
        }],
    }


def write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Valid input


def test_example_shape_validates(tmp_path: Path) -> None:
    path = write(tmp_path / "scenarios", EXAMPLE_YAML)
    scenario = load_scenario(path)
    assert scenario.name == "bert-serving"
    assert (scenario.horizon_s, scenario.warmup_s, scenario.replications, scenario.seed) == (
        600, 30, 8, 7)
    workload = scenario.workloads[0]
    assert isinstance(workload, InferenceWorkload)
    assert isinstance(workload.arrivals, PoissonArrivals)
    assert workload.arrivals.rate_rps == 1300
    assert workload.slo is not None and workload.slo.latency_ms == 20
    design = scenario.designs[0]
    assert isinstance(design, RealtimeDesign)
    assert design.fleet.provider == "aws" and design.fleet.instance_type == "p5.48xlarge"
    assert design.fleet.n_workers == 1
    assert design.batching.max_batch == 32 and design.batching.max_wait_ms == 5
    assert isinstance(design.service_time, TableServiceTime)
    assert design.service_time.path == os.path.normpath(
        tmp_path / "shared/data/gpu-profiles/h100_forward_latency.csv")
    assert scenario.source_path == str(path.absolute())
    assert scenario.pricing.hours_per_month == 730.0
    assert scenario.design("one-h100") is design and scenario.workload("bert") is workload


def test_defaults_fill_optional_fields() -> None:
    data = example()
    for key in ("warmup_s", "replications", "seed"):
        del data[key]
    del data["designs"][0]["batching"]
    del data["designs"][0]["fleet"]["workers_per_node"]
    del data["designs"][0]["fleet"]["purchase"]
    scenario = parse_scenario(data)
    assert (scenario.warmup_s, scenario.replications, scenario.seed) == (0.0, 8, 0)
    design = scenario.designs[0]
    assert design.batching.max_batch == 1 and design.batching.max_wait_ms == 0
    assert design.fleet.workers_per_node == 1 and design.fleet.purchase == "on_demand"
    assert design.service_time.jitter == "none"
    assert scenario.source_path is None


@pytest.mark.parametrize(
    "arrivals",
    [
        {"kind": "diurnal", "mean_rate_rps": 50},
        {"kind": "diurnal", "mean_rate_rps": 50, "peak_to_trough": 1, "peak_hour": 23.5,
         "start_hour": 9, "shape": "piecewise"},
        {"kind": "diurnal", "mean_rate_rps": 50, "shape": "piecewise",
         "hourly_weights": [0] * 12 + [1] * 12},
        {"kind": "trace", "path": "t.csv"},
        {"kind": "trace", "path": "/abs/t.csv", "column": "arrived_at", "time_scale": 0.5,
         "repeat": True},
    ],
)
def test_other_arrival_kinds_validate(arrivals: dict[str, Any]) -> None:
    data = example()
    data["workloads"][0]["arrivals"] = arrivals
    assert parse_scenario(data).workloads[0].arrivals.kind == arrivals["kind"]


@pytest.mark.parametrize(
    "service_time",
    [
        {"kind": "exponential", "mean_ms": 4.5},
        {"kind": "constant", "ms": 2},
        {"kind": "linear", "base_ms": 0, "per_item_ms": 0.2},
        {"kind": "linear", "base_ms": 2.0, "per_item_ms": 0},
        {"kind": "table", "path": "p.csv", "jitter": "lognormal", "batch_column": "bs"},
    ],
)
def test_other_service_time_kinds_validate(service_time: dict[str, Any]) -> None:
    data = example()
    data["designs"][0]["service_time"] = service_time
    assert parse_scenario(data).designs[0].service_time.kind == service_time["kind"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.designs and scenario.workloads
    for design in scenario.designs:
        st_ = getattr(design, "service_time", None)
        if isinstance(st_, TableServiceTime) or getattr(st_, "kind", None) == "tokens":
            assert Path(st_.path).is_file(), st_.path
    for workload in scenario.workloads:
        if isinstance(getattr(workload, "arrivals", None), TraceArrivals):
            assert Path(workload.arrivals.path).is_file(), workload.arrivals.path


def test_bundled_scenarios_exist() -> None:
    names = {p.name for p in SCENARIOS}
    assert {"bert-serving.yaml", "azure-code-trace.yaml"} <= names


# ---------------------------------------------------------------------------------------------
# Bad input: every message names the field path, the bad value and a fix


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return mutate


def _delete(*keys: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return mutate


def _duplicate_design(data: dict[str, Any]) -> None:
    data["designs"].append(copy.deepcopy(data["designs"][0]))


def _duplicate_workload(data: dict[str, Any]) -> None:
    data["workloads"].append(copy.deepcopy(data["workloads"][0]))


W0, D0 = ("workloads", 0), ("designs", 0)

BAD_CASES = [
    # (id, mutation, field path, bad value as shown, words of the fix)
    ("negative-rate", _set(*W0, "arrivals", "rate_rps", value=-5),
     "workloads[0].arrivals.rate_rps", "-5", "above 0"),
    ("zero-horizon", _set("horizon_s", value=0), "horizon_s", "got 0", "above 0"),
    ("unknown-arrival-kind", _set(*W0, "arrivals", "kind", value="poison"),
     "workloads[0].arrivals.kind", "'poison'", "use one of 'poisson', 'diurnal', 'trace'"),
    ("missing-arrival-kind", _delete(*W0, "arrivals", "kind"),
     "workloads[0].arrivals.kind", "missing", "add kind"),
    ("unknown-workload-kind", _set(*W0, "kind", value="scoring"),
     "workloads[0].kind", "'scoring'", "use one of 'inference', 'training'"),
    ("unknown-pattern", _set(*D0, "pattern", value="stream"),
     "designs[0].pattern", "'stream'", "use one of 'realtime', 'streaming', 'batch', 'training'"),
    ("unknown-service-kind", _set(*D0, "service_time", "kind", value="gamma"),
     "designs[0].service_time.kind", "'gamma'", "use one of 'table'"),
    ("unknown-field", _set(*D0, "fleet", "nodez", value=3),
     "designs[0].fleet.nodez", "nodez: 3", "remove it; allowed fields: instance"),
    ("unknown-top-field", _set("horizon", value=600), "horizon", "600", "remove it"),
    ("missing-field", _delete(*D0, "fleet", "nodes"), "designs[0].fleet.nodes", "missing",
     "add it"),
    ("missing-name", _delete("name"), "name", "missing", "add it"),
    ("warmup-ge-horizon", _set("warmup_s", value=600), "warmup_s", "600 >= 600",
     "lower warmup_s or raise horizon_s"),
    ("duplicate-design", _duplicate_design, "designs[1].name", "'one-h100'", "unique name"),
    ("duplicate-workload", _duplicate_workload, "workloads[1].name", "'bert'", "unique name"),
    ("design-names-missing-workload", _set(*D0, "workload", value="bertt"),
     "designs[0].workload", "'bertt'", "use one of those names"),
    ("bad-instance-provider", _set(*D0, "fleet", "instance", value="azure:nd96"),
     "designs[0].fleet.instance", "'azure:nd96'", "aws:p5.48xlarge"),
    ("bad-instance-no-colon", _set(*D0, "fleet", "instance", value="p5.48xlarge"),
     "designs[0].fleet.instance", "'p5.48xlarge'", "<provider>:<instance_type>"),
    ("bad-purchase", _set(*D0, "fleet", "purchase", value="preemptible"),
     "designs[0].fleet.purchase", "'preemptible'", "use one of"),
    ("max-batch-too-large", _set(*D0, "batching", "max_batch", value=5000),
     "designs[0].batching.max_batch", "5000", "4096 or less"),
    ("max-batch-zero", _set(*D0, "batching", "max_batch", value=0),
     "designs[0].batching.max_batch", "got 0", "1 or more"),
    ("fractional-nodes", _set(*D0, "fleet", "nodes", value=1.5),
     "designs[0].fleet.nodes", "1.5", "fractional"),
    ("bool-as-number", _set(*D0, "fleet", "nodes", value=True),
     "designs[0].fleet.nodes", "got True", "write a number"),
    ("negative-wait", _set(*D0, "batching", "max_wait_ms", value=-1),
     "designs[0].batching.max_wait_ms", "-1", "0 or more"),
    ("one-replication", _set("replications", value=1), "replications", "got 1", "2 or more"),
    ("negative-seed", _set("seed", value=-3), "seed", "-3", "0 or more"),
    ("percentile-100", _set(*W0, "slo", "percentile", value=100),
     "workloads[0].slo.percentile", "100", "below 100"),
    ("nan-latency", _set(*W0, "slo", "latency_ms", value=float("nan")),
     "workloads[0].slo.latency_ms", "nan", "finite"),
    ("string-horizon", _set("horizon_s", value="ten minutes"), "horizon_s", "'ten minutes'",
     "write a number"),
    ("workloads-not-list", _set("workloads", value=5), "workloads", "got 5", "YAML list"),
    ("no-designs", _set("designs", value=[]), "designs", "got []", "add one"),
    ("fleet-not-mapping", _set(*D0, "fleet", value="aws:p5.48xlarge"), "designs[0].fleet",
     "'aws:p5.48xlarge'", "field: value"),
    ("hourly-weights-wrong-length",
     _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5, "shape": "piecewise",
                                  "hourly_weights": [1.0] * 23}),
     "workloads[0].arrivals.hourly_weights", "got 23 values", "add or remove"),
    ("hourly-weights-negative",
     _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5, "shape": "piecewise",
                                  "hourly_weights": [1.0] * 23 + [-1.0]}),
     "workloads[0].arrivals.hourly_weights[23]", "-1", "non-negative"),
    ("hourly-weights-zero-sum",
     _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5, "shape": "piecewise",
                                  "hourly_weights": [0.0] * 24}),
     "workloads[0].arrivals.hourly_weights", "all zeros", "positive weight"),
    ("hourly-weights-with-smooth",
     _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5,
                                  "hourly_weights": [1.0] * 24}),
     "workloads[0].arrivals.hourly_weights", "shape: smooth", "set shape: piecewise"),
    ("peak-hour-ignored",
     _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5, "shape": "piecewise",
                                  "peak_hour": 3, "hourly_weights": [1.0] * 24}),
     "workloads[0].arrivals.peak_hour", "3", "remove it"),
    ("peak-hour-24", _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5,
                                                  "peak_hour": 24}),
     "workloads[0].arrivals.peak_hour", "24", "below 24"),
    ("peak-to-trough-below-1",
     _set(*W0, "arrivals", value={"kind": "diurnal", "mean_rate_rps": 5,
                                  "peak_to_trough": 0.5}),
     "workloads[0].arrivals.peak_to_trough", "0.5", "1 or more"),
    ("trace-time-scale-zero",
     _set(*W0, "arrivals", value={"kind": "trace", "path": "t.csv", "time_scale": 0}),
     "workloads[0].arrivals.time_scale", "got 0", "above 0"),
    ("trace-empty-path", _set(*W0, "arrivals", value={"kind": "trace", "path": ""}),
     "workloads[0].arrivals.path", "''", "write a value"),
    ("linear-all-zero",
     _set(*D0, "service_time", value={"kind": "linear", "base_ms": 0, "per_item_ms": 0}),
     "designs[0].service_time.per_item_ms", "0 + 0", "positive value"),
    ("linear-negative",
     _set(*D0, "service_time", value={"kind": "linear", "base_ms": -1, "per_item_ms": 1}),
     "designs[0].service_time.base_ms", "-1", "0 or more"),
    ("bad-jitter", _set(*D0, "service_time", "jitter", value="gauss"),
     "designs[0].service_time.jitter", "'gauss'", "'none' or 'lognormal'"),
    ("constant-zero", _set(*D0, "service_time", value={"kind": "constant", "ms": 0}),
     "designs[0].service_time.ms", "got 0", "above 0"),
    ("hours-per-month", _set("pricing", value={"hours_per_month": -730}),
     "pricing.hours_per_month", "-730", "above 0"),
]


@pytest.mark.parametrize(
    ("mutate", "field_path", "bad_value", "fix"),
    [case[1:] for case in BAD_CASES],
    ids=[case[0] for case in BAD_CASES],
)
def test_bad_input_names_path_value_and_fix(
    mutate: Callable[[dict[str, Any]], None], field_path: str, bad_value: str, fix: str
) -> None:
    data = example()
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: "), message
    lines = [line for line in message.splitlines() if line.startswith(f"  - {field_path}: ")]
    assert lines, f"no problem line for {field_path!r} in:\n{message}"
    assert any(bad_value in line and fix in line for line in lines), message
    assert "pydantic" not in message and "errors.pydantic.dev" not in message


def test_several_problems_are_all_listed() -> None:
    data = example()
    data["horizon_s"] = -1
    data["designs"][0]["batching"]["max_batch"] = 0
    data["workloads"][0]["arrivals"]["rate_rps"] = 0
    with pytest.raises(ScenarioError, match="3 problems") as info:
        parse_scenario(data)
    message = str(info.value)
    for path in ("horizon_s", "designs[0].batching.max_batch", "workloads[0].arrivals.rate_rps"):
        assert f"  - {path}: " in message


def test_discriminator_tags_are_dropped_from_paths() -> None:
    data = example()
    data["designs"][0]["service_time"] = {"kind": "exponential", "mean_ms": -2}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    message = str(info.value)
    assert "designs[0].service_time.mean_ms: must be > 0 (got -2)" in message
    assert "realtime" not in message and "exponential." not in message


def test_missing_workload_message_matches_house_style() -> None:
    data = example()
    data["designs"].append({**copy.deepcopy(data["designs"][0]), "name": "b", "workload": "x"})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert ("designs[1].workload: 'x' is not a workload of this scenario (workloads: bert); "
            "use one of those names") in str(info.value)


# ---------------------------------------------------------------------------------------------
# File-level problems


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "file not found" in message
    assert "check the path" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = EXAMPLE_YAML.replace("horizon_s: 600", "horizon_s: [600")
    path = write(tmp_path, text, "broken.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "YAML syntax error at line" in message and "fix the YAML" in message


def test_yaml_bad_indentation_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nhorizon_s: 600\n  warmup_s: 3\n", "indent.yaml")
    with pytest.raises(ScenarioError, match=r"line 3, column"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", "top level must be a mapping of fields (got a list)"),
     ("just text\n", "top level must be a mapping of fields (got a str)"),
     ("", "the scenario is empty"),
     ("# only a comment\n", "the scenario is empty")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text, "top.yaml")
    with pytest.raises(ScenarioError, match=re.escape(expected)) as info:
        load_scenario(path)
    assert str(info.value).startswith(str(path))


def test_source_path_is_not_for_users(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE_YAML + "source_path: elsewhere.yaml\n")
    with pytest.raises(ScenarioError, match="source_path: is set by the loader.*remove it"):
        load_scenario(path)


def test_yaml_errors_reach_the_schema_with_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE_YAML.replace("rate_rps: 1300", "rate_rps: -1"), "neg.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: invalid scenario, 1 problem:")
    assert "workloads[0].arrivals.rate_rps: must be > 0 (got -1)" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Immutability and path resolution


def test_models_are_frozen() -> None:
    scenario = parse_scenario(example())
    with pytest.raises(ValidationError):
        scenario.horizon_s = 10  # type: ignore[misc]
    with pytest.raises(ValidationError):
        scenario.designs[0].fleet.nodes = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        scenario.workloads[0].arrivals.rate_rps = 1  # type: ignore[union-attr]
    assert isinstance(scenario.workloads, tuple) and isinstance(scenario.designs, tuple)
    with pytest.raises(AttributeError):
        scenario.designs.append(scenario.designs[0])  # type: ignore[attr-defined]


def test_relative_paths_resolve_against_scenario_folder(tmp_path: Path) -> None:
    text = EXAMPLE_YAML.replace("../shared/data/gpu-profiles/h100_forward_latency.csv",
                                "data/h100.csv")
    text = text.replace("arrivals: {kind: poisson, rate_rps: 1300}",
                        "arrivals: {kind: trace, path: ../traces/t.csv}")
    path = write(tmp_path / "a" / "b", text)
    scenario = load_scenario(path)
    assert scenario.designs[0].service_time.path == str(tmp_path / "a" / "b" / "data" / "h100.csv")
    assert scenario.workloads[0].arrivals.path == str(tmp_path / "a" / "traces" / "t.csv")
    # Neither file exists: validation does no filesystem access.
    assert not Path(scenario.designs[0].service_time.path).exists()


def test_relative_paths_from_a_relative_scenario_path(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "scen", EXAMPLE_YAML.replace(
        "../shared/data/gpu-profiles/h100_forward_latency.csv", "data/h100.csv"))
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario("scen/scenario.yaml")
    assert scenario.designs[0].service_time.path == str(tmp_path / "scen" / "data" / "h100.csv")


def test_absolute_paths_and_no_base_dir_are_kept() -> None:
    data = example()
    data["designs"][0]["service_time"]["path"] = "/data/profile.csv"
    scenario = parse_scenario(data, base_dir="/somewhere/else")
    assert scenario.designs[0].service_time.path == "/data/profile.csv"
    assert parse_scenario(example()).designs[0].service_time.path == "data/h100.csv"
    assert parse_scenario(example(), base_dir="/x/y").designs[0].service_time.path == (
        os.path.join("/x/y", "data", "h100.csv"))


@pytest.mark.parametrize(
    "arrivals",
    [{"kind": "poisson", "rate_rps": 3},
     {"kind": "diurnal", "mean_rate_rps": 5, "shape": "piecewise", "hourly_weights": [1] * 24}],
    ids=["poisson", "diurnal-weights"],
)
def test_resolved_scenario_round_trips(arrivals: dict[str, Any]) -> None:
    data = example()
    data["workloads"][0]["arrivals"] = arrivals
    scenario = parse_scenario(data, base_dir="/x/y", source="/x/y/s.yaml")
    again = Scenario.model_validate(scenario.model_dump(), context={"base_dir": "/other"})
    assert again == scenario


# ---------------------------------------------------------------------------------------------
# Diurnal rate curve semantics


@given(mean=st.floats(0.1, 1e4), ratio=st.floats(1.0, 50.0), peak=st.floats(0.0, 23.99))
def test_diurnal_piecewise_keeps_mean_and_peak_to_trough(mean: float, ratio: float,
                                                         peak: float) -> None:
    arrivals = DiurnalArrivals(kind="diurnal", mean_rate_rps=mean, peak_to_trough=ratio,
                               peak_hour=peak, shape="piecewise")
    hourly = arrivals.hourly_rates_rps()
    assert hourly.shape == (24,)
    assert np.mean(hourly) == pytest.approx(mean, rel=1e-9)
    assert np.all(hourly > 0)
    # The smooth curve peaks at peak_hour with value mean*(1+a) and bottoms at mean*(1-a).
    smooth = DiurnalArrivals(kind="diurnal", mean_rate_rps=mean, peak_to_trough=ratio,
                             peak_hour=peak)
    peak_t_s = ((peak - smooth.start_hour) % 24) * 3600
    trough_t_s = ((peak + 12 - smooth.start_hour) % 24) * 3600
    top, bottom = smooth.rate_rps_at(np.array([peak_t_s, trough_t_s]))
    assert top / bottom == pytest.approx(ratio, rel=1e-9)


def test_diurnal_hourly_weights_set_the_shape() -> None:
    weights = [0.0] * 12 + [2.0] * 12
    arrivals = DiurnalArrivals(kind="diurnal", mean_rate_rps=10, shape="piecewise",
                               hourly_weights=weights, start_hour=11.5)
    hourly = arrivals.hourly_rates_rps()
    np.testing.assert_allclose(hourly, [0.0] * 12 + [20.0] * 12)
    # t = 0 is 11:30 (rate 0); 1 h later is 12:30 (rate 20).
    np.testing.assert_allclose(arrivals.rate_rps_at(np.array([0.0, 3600.0])), [0.0, 20.0])


def test_linear_service_time_allows_one_zero_term() -> None:
    assert LinearServiceTime(kind="linear", base_ms=0, per_item_ms=1).per_item_ms == 1
