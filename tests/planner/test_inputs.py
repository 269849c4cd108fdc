"""Tests of reading the files a scenario points to: service-time tables and arrival traces."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import ScenarioError
from planner.inputs import load_scenario_inputs
from planner.inputs_tables import load_service_table
from planner.inputs_traces import load_trace
from planner.schema import TableServiceTime, TraceArrivals, load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[2]
BUNDLED_PROFILE = REPO / "scenarios" / "data" / "h100_forward_latency.csv"
BUNDLED_CODE_TRACE = REPO / "scenarios" / "data" / "AzureLLMInferenceTrace_code.csv"
FIELD = "designs[0].service_time"
TRACE_FIELD = "workloads[0].arrivals"


def table_spec(path: Path | str, **fields: object) -> TableServiceTime:
    return TableServiceTime(kind="table", path=str(path), **fields)


def trace_spec(path: Path | str, **fields: object) -> TraceArrivals:
    return TraceArrivals(kind="trace", path=str(path), **fields)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_rows(path: Path, model: str) -> list[dict[str, str]]:
    """The rows of one model, read with the standard library (an independent reader)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["model"] == model]


# ---------------------------------------------------------------------------------------------
# Service-time tables from the real H100 profile


@pytest.fixture(params=["bundled", "shared"])
def profile(request: pytest.FixtureRequest) -> Path:
    if request.param == "bundled":
        return BUNDLED_PROFILE
    return request.getfixturevalue("shared_data") / "gpu-profiles" / "h100_forward_latency.csv"


@pytest.mark.parametrize("model", ["bert-base-seq512", "bert-base-seq128", "resnet50"])
def test_h100_table_matches_the_csv(profile: Path, model: str) -> None:
    table = load_service_table(table_spec(profile, model=model), field_path=FIELD, max_batch=64)
    rows = sorted(csv_rows(profile, model), key=lambda row: int(row["batch"]))
    np.testing.assert_array_equal(table.batch_sizes, [int(r["batch"]) for r in rows])
    np.testing.assert_array_equal(table.mean_ms, [float(r["mean_ms"]) for r in rows])
    assert table.p50_ms is not None and table.p99_ms is not None
    np.testing.assert_array_equal(table.p50_ms, [float(r["p50_ms"]) for r in rows])
    np.testing.assert_array_equal(table.p99_ms, [float(r["p99_ms"]) for r in rows])
    assert table.batch_sizes.dtype == np.int64 and table.mean_ms.dtype == np.float64
    assert list(table.batch_sizes) == list(range(1, 33)) + [48, 64]
    assert table.model == model and table.source_path == str(profile)


def test_bert_seq512_shape_flat_then_linear() -> None:
    table = load_service_table(table_spec(BUNDLED_PROFILE, model="bert-base-seq512"),
                               field_path=FIELD, max_batch=32)
    flat = table.mean_ms[:9]  # batch 1..9: launch-bound, about 2.2 ms
    assert np.all(np.abs(flat - 2.2) < 0.15)
    assert table.mean_ms[31] == pytest.approx(7.2461)  # batch 32
    assert table.mean_ms[-1] == pytest.approx(14.0194)  # batch 64


def test_interpolation_between_and_below_measurements() -> None:
    table = load_service_table(table_spec(BUNDLED_PROFILE, model="bert-base-seq512"),
                               field_path=FIELD, max_batch=64)
    # At measured sizes: the measurement itself.
    np.testing.assert_array_equal(table.service_time_ms(table.batch_sizes), table.mean_ms)
    # Between 32 (7.2461 ms) and 48 (10.6935 ms): a straight line.
    assert table.service_time_ms(40) == pytest.approx(7.2461 + (10.6935 - 7.2461) * 8 / 16)
    with pytest.raises(ValueError):
        table.service_time_ms(65)


def test_chosen_column_and_smallest_batch_above_one(tmp_path: Path) -> None:
    path = write(tmp_path, "batch,mean_ms,p50_ms\n8,4.0,3.5\n4,3.0,2.5\n16,6.0,5.0\n")
    table = load_service_table(table_spec(path, column="p50_ms"), field_path=FIELD, max_batch=16)
    np.testing.assert_array_equal(table.batch_sizes, [4, 8, 16])  # sorted
    np.testing.assert_array_equal(table.mean_ms, [2.5, 3.5, 5.0])  # the chosen column
    assert table.p99_ms is None and table.model is None and table.column == "p50_ms"
    # Below the smallest measured size (4): clamped to its measurement, not extrapolated.
    np.testing.assert_array_equal(table.service_time_ms(np.array([1, 2, 4, 6])),
                                  [2.5, 2.5, 2.5, 3.0])


def test_custom_batch_and_model_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "bs,net,t\n1,a,1.0\n2,a,1.5\n1,b,9.0\n")
    table = load_service_table(
        table_spec(path, model="a", batch_column="bs", model_column="net", column="t"),
        field_path=FIELD, max_batch=2)
    np.testing.assert_array_equal(table.mean_ms, [1.0, 1.5])


def test_table_arrays_are_read_only() -> None:
    table = load_service_table(table_spec(BUNDLED_PROFILE, model="resnet50"), field_path=FIELD,
                               max_batch=1)
    with pytest.raises(ValueError):
        table.mean_ms[0] = 0.0


# ---------------------------------------------------------------------------------------------
# Service-time table errors

GOOD = "model,batch,mean_ms\nm,1,2.0\nm,2,3.0\nm,4,5.0\n"

TABLE_ERRORS = [
    # (id, csv text or None for a missing file, spec fields, max_batch, words in the message)
    ("missing-file", None, {}, 1, [f"{FIELD}.path: file not found", "check the path"]),
    ("missing-column", GOOD, {"column": "avg_ms"}, 1,
     [f"{FIELD}.column:", "no column 'avg_ms'", "columns: model, batch, mean_ms"]),
    ("missing-batch-column", GOOD, {"batch_column": "bs"}, 1,
     [f"{FIELD}.batch_column:", "no column 'bs'"]),
    ("non-numeric", "model,batch,mean_ms\nm,1,2.0\nm,2,fast\n", {}, 1,
     [f"{FIELD}.column: line 3", "'fast'", "write a positive number"]),
    ("empty-cell", "model,batch,mean_ms\nm,1,\nm,2,3\n", {}, 1,
     [f"{FIELD}.column: line 2", "not a finite number"]),
    ("non-positive", "model,batch,mean_ms\nm,1,2.0\nm,2,0\nm,3,-1\n", {}, 1,
     [f"{FIELD}.column: line 3", "must be > 0", "(got '0')"]),
    ("nan", "model,batch,mean_ms\nm,1,nan\n", {}, 1, ["line 2", "'nan'"]),
    ("bad-p99", "model,batch,mean_ms,p99_ms\nm,1,2.0,x\n", {}, 1,
     [f"{FIELD}: line 2", "column 'p99_ms'", "'x'"]),
    ("fractional-batch", "model,batch,mean_ms\nm,1.5,2.0\n", {}, 1,
     [f"{FIELD}.batch_column: line 2", "got 1.5", "whole numbers >= 1"]),
    ("zero-batch", "model,batch,mean_ms\nm,0,2.0\n", {}, 1, ["line 2", "got 0"]),
    ("duplicate-batch", "model,batch,mean_ms\nm,1,2.0\nm,2,3.0\nm,2,3.1\n", {}, 1,
     [f"{FIELD}.path: batch size 2 appears twice", "lines 3 and 4", "one row per batch size"]),
    ("unknown-model", GOOD, {"model": "bert"}, 1,
     [f"{FIELD}.model: no rows for model 'bert'", "models: m", "use one of those models"]),
    ("several-models", "model,batch,mean_ms\na,1,2\nb,1,2\n", {}, 1,
     [f"{FIELD}.model:", "several models", "a, b", "set model:"]),
    ("model-without-column", "batch,mean_ms\n1,2\n", {"model": "m"}, 1,
     [f"{FIELD}.model_column:", "no column 'model'", "set model_column or remove model"]),
    ("header-only", "model,batch,mean_ms\n", {}, 1, [f"{FIELD}.path:", "no data rows"]),
    ("empty-file", "", {}, 1, [f"{FIELD}.path:", "is empty"]),
    ("lognormal-needs-percentiles", GOOD, {"jitter": "lognormal"}, 1,
     [f"{FIELD}.jitter:", "p50_ms and p99_ms", "set jitter: none"]),
    ("max-batch-too-large", GOOD, {"model": "m"}, 8,
     [f"{FIELD}: max_batch 8 exceeds the largest measured batch size 4 in", "for model m",
      "lower batching.max_batch or add measurements"]),
]


@pytest.mark.parametrize(
    ("text", "fields", "max_batch", "words"),
    [case[1:] for case in TABLE_ERRORS],
    ids=[case[0] for case in TABLE_ERRORS],
)
def test_table_errors(tmp_path: Path, text: str | None, fields: dict[str, object],
                      max_batch: int, words: list[str]) -> None:
    path = tmp_path / "profile.csv"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_service_table(table_spec(path, **fields), field_path=FIELD, max_batch=max_batch)
    message = str(info.value)
    assert message.startswith(FIELD)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_max_batch_message_from_the_real_profile() -> None:
    with pytest.raises(ScenarioError) as info:
        load_service_table(table_spec(BUNDLED_PROFILE, model="bert-base-seq512"),
                           field_path=FIELD, max_batch=128)
    assert str(info.value) == (
        f"{FIELD}: max_batch 128 exceeds the largest measured batch size 64 in "
        f"{BUNDLED_PROFILE} for model bert-base-seq512; lower batching.max_batch or add "
        "measurements")


# ---------------------------------------------------------------------------------------------
# Traces


AZURE = [("code", 8_819, "18:17:03.9799600", "19:14:19"), ("conv", 19_366, "18:15:46", "19:14:08")]


@pytest.mark.parametrize(("service", "n_rows", "first", "last"), AZURE,
                         ids=[a[0] for a in AZURE])
def test_azure_traces_load(shared_data: Path, service: str, n_rows: int, first: str,
                           last: str) -> None:
    path = (shared_data / "traces" / "azure_llm_inference_2023"
            / f"AzureLLMInferenceTrace_{service}.csv")
    data = load_trace(trace_spec(path), field_path=TRACE_FIELD)
    assert data.n_rows == n_rows == data.times_s.size
    assert data.times_s[0] == 0.0
    assert np.all(np.diff(data.times_s) >= 0)
    # The span from the README's clock times (to the second), about 57-58 minutes.
    start = datetime.strptime(f"2023-11-16 {first[:8]}", "%Y-%m-%d %H:%M:%S")
    end = datetime.strptime(f"2023-11-16 {last}", "%Y-%m-%d %H:%M:%S")
    assert data.span_s == pytest.approx((end - start).total_seconds(), abs=2.0)
    assert 56 * 60 < data.span_s < 59 * 60
    assert data.notes == ()  # the upstream files are in time order


def test_azure_code_trace_first_gaps_and_bundled_copy(shared_data: Path) -> None:
    shared = (shared_data / "traces" / "azure_llm_inference_2023"
              / "AzureLLMInferenceTrace_code.csv")
    data = load_trace(trace_spec(shared), field_path=TRACE_FIELD)
    with shared.open(newline="", encoding="utf-8") as handle:
        stamps = [row["TIMESTAMP"] for _, row in zip(range(3), csv.DictReader(handle))]
    # 7 fractional digits: 100 ns resolution; strptime takes 6, so compare to a microsecond.
    parsed = [datetime.strptime(s[:26], "%Y-%m-%d %H:%M:%S.%f") for s in stamps]
    expected = [(p - parsed[0]).total_seconds() for p in parsed]
    np.testing.assert_allclose(data.times_s[:3], expected, atol=2e-6)
    bundled = load_trace(trace_spec(BUNDLED_CODE_TRACE), field_path=TRACE_FIELD)
    np.testing.assert_array_equal(bundled.times_s, data.times_s)


def test_numeric_trace_column(tmp_path: Path) -> None:
    path = write(tmp_path, "arrived_at,x\n10.5,1\n11.0,2\n 12.25 ,3\n", "t.csv")
    data = load_trace(trace_spec(path, column="arrived_at"), field_path=TRACE_FIELD)
    np.testing.assert_array_equal(data.times_s, [0.0, 0.5, 1.75])
    assert data.n_rows == 3 and data.column == "arrived_at"
    assert data.mean_rate_rps == pytest.approx(2 / 1.75)
    assert data.period_s == pytest.approx(1.75 * 3 / 2)


def test_datetime_trace_column_with_mixed_fraction_digits(tmp_path: Path) -> None:
    text = ("TIMESTAMP\n2023-11-16 18:17:03.9799600\n2023-11-16 18:17:04\n"
            "2023-11-16 18:17:04.5\n2023-11-16 18:18:04.0000001\n")
    data = load_trace(trace_spec(write(tmp_path, text)), field_path=TRACE_FIELD)
    np.testing.assert_allclose(data.times_s, [0.0, 0.02004, 0.52004, 60.0200401], atol=1e-9)


@pytest.mark.parametrize(
    "stamps",
    [["2024-01-01T00:00:00", "2024-01-01T00:00:01.5"],
     ["2024-01-01T00:00:00Z", "2024-01-01T00:00:01.5Z"],
     ["2024-01-01T01:00:00+01:00", "2024-01-01T00:00:01.5+00:00"]],
    ids=["iso-naive", "iso-z", "iso-offset"],
)
def test_iso_timestamps(tmp_path: Path, stamps: list[str]) -> None:
    path = write(tmp_path, "TIMESTAMP\n" + "\n".join(stamps) + "\n")
    data = load_trace(trace_spec(path), field_path=TRACE_FIELD)
    np.testing.assert_allclose(data.times_s, [0.0, 1.5])


def test_time_scale_halves_the_span() -> None:
    full = load_trace(trace_spec(BUNDLED_CODE_TRACE), field_path=TRACE_FIELD)
    half = load_trace(trace_spec(BUNDLED_CODE_TRACE, time_scale=0.5), field_path=TRACE_FIELD)
    assert half.span_s == pytest.approx(full.span_s / 2)
    np.testing.assert_allclose(half.times_s, full.times_s * 0.5)
    assert half.mean_rate_rps == pytest.approx(2 * full.mean_rate_rps)
    assert any("gaps scaled by 0.5" in note for note in half.notes)


def test_unsorted_trace_is_sorted_and_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "t\n5\n3\n4\n3\n9\n")
    data = load_trace(trace_spec(path, column="t"), field_path=TRACE_FIELD)
    np.testing.assert_array_equal(data.times_s, [0, 0, 1, 2, 6])
    assert len(data.notes) == 1
    assert "2 of 5 rows" in data.notes[0] and "sorted" in data.notes[0]


def test_short_trace_note_against_horizon(tmp_path: Path) -> None:
    path = write(tmp_path, "t\n0\n100\n")
    data = load_trace(trace_spec(path, column="t"), field_path=TRACE_FIELD, horizon_s=600)
    assert any("covers 100 s of the 600 s horizon" in n and "repeat: true" in n
               for n in data.notes)
    looped = load_trace(trace_spec(path, column="t", repeat=True), field_path=TRACE_FIELD,
                        horizon_s=600)
    assert looped.notes == ()


@given(times=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50),
       scale=st.floats(0.01, 100.0))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_numeric_trace_property(tmp_path: Path, times: list[float], scale: float) -> None:
    path = write(tmp_path, "t\n" + "\n".join(repr(t) for t in times) + "\n", "p.csv")
    data = load_trace(trace_spec(path, column="t", time_scale=scale), field_path=TRACE_FIELD)
    expected = (np.sort(np.array(times)) - min(times)) * scale
    np.testing.assert_allclose(data.times_s, expected, rtol=1e-12, atol=1e-9)
    assert data.times_s[0] == 0.0 and data.n_rows == len(times)
    reported = any("sorted them by time" in note for note in data.notes)
    assert reported == any(b < a for a, b in zip(times, times[1:]))


TRACE_ERRORS = [
    ("missing-file", None, {}, [f"{TRACE_FIELD}.path: file not found"]),
    ("missing-column", "time\n1\n", {}, [f"{TRACE_FIELD}.column:", "no column 'TIMESTAMP'",
                                         "columns: time"]),
    ("empty-file", "", {}, [f"{TRACE_FIELD}.path:", "is empty"]),
    ("header-only", "TIMESTAMP\n", {}, [f"{TRACE_FIELD}.path:", "no data rows"]),
    ("bad-datetime-row", "TIMESTAMP\n2023-11-16 18:17:03.97\n2023-11-16 25:00:00\n", {},
     [f"{TRACE_FIELD}.column: line 3", "'2023-11-16 25:00:00'", "fix or remove that row"]),
    ("bad-number-row", "TIMESTAMP\n1.0\n2.0\nsoon\n", {},
     [f"{TRACE_FIELD}.column: line 4", "'soon'", "fix or remove that row"]),
    ("empty-row", "TIMESTAMP,x\n1.0,1\n,2\n", {}, [f"{TRACE_FIELD}.column: line 3", "empty"]),
    ("not-times", "TIMESTAMP\nhello\n", {}, [f"{TRACE_FIELD}.column: line 2", "'hello'",
                                            "neither seconds nor a date-time"]),
    ("repeat-zero-span", "TIMESTAMP\n5\n5\n", {"repeat": True},
     [f"{TRACE_FIELD}.repeat:", "zero span", "set repeat: false"]),
]


@pytest.mark.parametrize(
    ("text", "fields", "words"),
    [case[1:] for case in TRACE_ERRORS],
    ids=[case[0] for case in TRACE_ERRORS],
)
def test_trace_errors(tmp_path: Path, text: str | None, fields: dict[str, object],
                      words: list[str]) -> None:
    path = tmp_path / "trace.csv"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_trace(trace_spec(path, **fields), field_path=TRACE_FIELD)
    message = str(info.value)
    assert message.startswith(TRACE_FIELD) and str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# ---------------------------------------------------------------------------------------------
# A whole scenario's inputs


def test_bundled_scenarios_inputs_load() -> None:
    bert = load_scenario_inputs(load_scenario(REPO / "scenarios" / "bert-serving.yaml"))
    assert len(bert.service_tables) >= 2 and not bert.traces
    for table in bert.service_tables.values():
        assert table.model == "bert-base-seq512" and table.batch_sizes[-1] == 64
    scenario = load_scenario(REPO / "scenarios" / "azure-code-trace.yaml")
    code = load_scenario_inputs(scenario)
    (trace,) = code.traces.values()
    # 8,819 rows replayed 4x faster over an 840 s horizon: the rows within it are kept
    whole = load_trace(trace_spec(BUNDLED_CODE_TRACE, time_scale=trace.time_scale),
                       field_path=TRACE_FIELD)
    assert whole.n_rows == 8_819
    assert whole.span_s == pytest.approx(3436.0 * trace.time_scale, rel=1e-3)
    horizon = scenario.horizon_s
    assert trace.n_rows == trace.times_s.size == int(np.count_nonzero(whole.times_s <= horizon))
    np.testing.assert_array_equal(trace.times_s, whole.times_s[whole.times_s <= horizon])


def test_scenario_inputs_report_every_problem(tmp_path: Path) -> None:
    write(tmp_path, "model,batch,mean_ms\nm,1,2\nm,2,3\n", "p.csv")
    data = {
        "name": "s", "horizon_s": 60,
        "workloads": [{"name": "w", "kind": "inference",
                       "arrivals": {"kind": "trace", "path": "missing.csv"}}],
        "designs": [
            {"name": "ok", "workload": "w", "pattern": "realtime",
             "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
             "batching": {"max_batch": 2},
             "service_time": {"kind": "table", "path": "p.csv", "model": "m"}},
            {"name": "too-big", "workload": "w", "pattern": "realtime",
             "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
             "batching": {"max_batch": 4},
             "service_time": {"kind": "table", "path": "p.csv", "model": "m"}},
        ],
    }
    scenario = parse_scenario(data, base_dir=tmp_path, source="s.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario_inputs(scenario)
    message = str(info.value)
    assert message.startswith("s.yaml: 2 problems")
    assert "  - workloads[0].arrivals.path: file not found" in message
    assert "  - designs[1].service_time: max_batch 4 exceeds the largest measured batch size 2" \
        in message


@given(times=st.lists(st.floats(0, 1e4), min_size=1, max_size=60),
       horizon=st.floats(1.0, 2e4), block=st.integers(1, 7))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_trace_read_a_block_at_a_time_keeps_exactly_the_horizons_part(
        tmp_path: Path, monkeypatch, times: list[float], horizon: float, block: int) -> None:
    """Issue 19: a long trace used for a short horizon was parsed whole (a 271 MB trace took
    1.38 GB for 600 s of it). Read a block at a time, the kept arrivals are exactly those of the
    whole (unsorted) trace within the horizon of its earliest arrival."""
    import planner.inputs_traces as traces

    monkeypatch.setattr(traces, "TRACE_BLOCK_ROWS", block)
    path = write(tmp_path, "t\n" + "\n".join(repr(t) for t in times) + "\n", "h.csv")
    data = load_trace(trace_spec(path, column="t"), field_path=TRACE_FIELD, horizon_s=horizon)
    whole = np.sort(np.asarray(times)) - min(times)
    np.testing.assert_allclose(data.times_s, whole[whole <= horizon])
    # the notes speak of the whole trace, as when it is read at once
    at_once = load_trace(trace_spec(path, column="t"), field_path=TRACE_FIELD)
    covers = [n for n in at_once.notes if "covers" not in n]
    assert [n for n in data.notes if "covers" not in n] == covers
    assert any("covers" in n for n in data.notes) == (float(whole[-1]) < horizon)


def test_a_bad_row_in_a_later_block_is_named_by_its_line(tmp_path: Path, monkeypatch) -> None:
    import planner.inputs_traces as traces

    monkeypatch.setattr(traces, "TRACE_BLOCK_ROWS", 2)
    path = write(tmp_path, "t\n0\n1\n2\nlate\n4\n", "bad.csv")
    with pytest.raises(ScenarioError, match=r"line 5 of .*bad.csv, column 't', is not a number"):
        load_trace(trace_spec(path, column="t"), field_path=TRACE_FIELD, horizon_s=600)
