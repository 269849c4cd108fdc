"""The Scenarios page's logic, called directly."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlparse

import pytest
import yaml

from dashboards import charts
from dashboards import scenario_logic as logic
from dashboards import scenario_view as page
from domain.errors import ScenarioError


def data_url(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return "data:application/x-yaml;base64," + base64.b64encode(raw).decode()


def test_bundled_lists_yaml_stems(settings):
    assert logic.bundled_scenarios(settings) == ["bert-serving", "tiny"]


def test_edits_change_exactly_the_edited_fields(settings):
    base, _ = logic.load_base(settings, "tiny")
    edits = {"rate_rps": 150.0, "slo_ms": 40.0, "replications": 3, "small.nodes": 2,
             "small.max_batch": 4, "big.max_wait_ms": 1.5, "big.instance": "aws:g5.4xlarge",
             "ghost.nodes": 9}
    data = logic.apply_edits(base, edits)
    assert data["workloads"][0]["arrivals"]["rate_rps"] == 150.0
    assert data["workloads"][0]["slo"]["latency_ms"] == 40.0
    assert data["replications"] == 3
    small, big = data["designs"]
    assert small["fleet"]["nodes"] == 2 and small["batching"]["max_batch"] == 4
    assert big["batching"]["max_wait_ms"] == 1.5 and big["fleet"]["instance"] == "aws:g5.4xlarge"
    assert big["fleet"]["nodes"] == 2  # untouched
    assert base["designs"][0]["fleet"]["nodes"] == 1  # the base is not mutated
    scenario = logic.build_scenario(settings, "tiny", edits)
    assert scenario.design("small").fleet.nodes == 2
    assert scenario.design("big").batching.max_wait_ms == 1.5


def test_yaml_anchors_are_edited_per_design(tmp_path, settings):
    text = (settings.scenarios_dir / "tiny.yaml").read_text()
    text = text.replace("batching: {max_batch: 8, max_wait_ms: 2}",
                        "batching: &b {max_batch: 8, max_wait_ms: 2}")
    text = text.replace("batching: {max_batch: 16, max_wait_ms: 5}", "batching: *b")
    (settings.scenarios_dir / "anchored.yaml").write_text(text.replace("name: tiny", "name: a"))
    base, _ = logic.load_base(settings, "anchored")
    data = logic.apply_edits(base, {"small.max_batch": 2})
    assert [d["batching"]["max_batch"] for d in data["designs"]] == [2, 8]


def test_update_edits_keeps_only_changes(settings):
    base, _ = logic.load_base(settings, "tiny")
    values = logic.current_values(base, {}, "small")
    assert values["nodes"] == 1 and values["rate_rps"] == 200 and values["min_nodes"] is None
    values.update(nodes=3, rate_rps=200, max_wait_ms="")
    assert logic.update_edits(base, {"small.max_wait_ms": 9.0}, "small", values) == \
        {"small.nodes": 3}
    assert page.on_design({"choice": "tiny", "data": base}, "small",
                          {"scenario": "tiny", "values": {"small.nodes": 3}})[
        page.FIELDS.index("nodes")] == 3


def test_url_state_round_trips():
    edits = {"rate_rps": 123.5, "replications": 4, "small.nodes": 3,
             "big.instance": "aws:g5.4xlarge", "big.max_wait_ms": 0.25}
    query = logic.state_to_query("tiny", edits)
    parsed = dict(parse_qsl(urlparse(query).query))
    choice, back, problems = logic.query_to_state(parsed)
    assert (choice, back, problems) == ("tiny", edits, [])


def test_bad_url_parameters_become_messages():
    _, edits, problems = logic.query_to_state(
        {"scenario": "tiny", "small.nodes": "many", "colour": "red", "rate_rps": "10"})
    assert edits == {"rate_rps": 10.0}
    assert len(problems) == 2 and any("'colour'" in p for p in problems)


def test_validation_error_is_a_message(settings):
    query, msg, *_ = page.on_edits(settings, "tiny", {"scenario": "tiny",
                                                       "values": {"small.nodes": 0}})
    assert "small.nodes=0" in query.replace("%2E", ".")
    assert "error" in msg.className and "designs[0].fleet.nodes" in msg.children


def test_bad_yaml_upload_gives_a_message(settings):
    options, value, msg = page.on_upload(settings, data_url("name: [unclosed"), "bad.yaml")
    assert options is page.no_update and value is page.no_update
    assert "YAML syntax error" in msg.children and "line" in msg.children
    _, _, msg = page.on_upload(settings, data_url("- a list"), "list.yaml")
    assert "top level must be a mapping" in msg.children


def test_upload_size_limit(settings):
    big = "name: x\n" + "#" * (logic.SCENARIO_UPLOAD_LIMIT_BYTES + 10)
    with pytest.raises(ScenarioError, match="larger than 256 KB"):
        logic.store_upload(settings, data_url(big), "big.yaml")


def test_uploaded_scenario_is_stored_not_written(settings):
    text = (settings.scenarios_dir / "tiny.yaml").read_text()
    options, choice, msg = page.on_upload(settings, data_url(text), "../../etc/my scenario.yaml")
    assert choice.startswith(logic.UPLOAD_PREFIX) and "my_scenario.yaml" in msg.children
    assert {"label": f"uploaded ({choice[7:]})", "value": choice} in options
    assert logic.build_scenario(settings, choice, {}).name == "tiny"
    assert sorted(p.name for p in settings.scenarios_dir.iterdir()) == \
        ["bert-serving.yaml", "data", "tiny.yaml"]


@pytest.mark.parametrize("path", ["/etc/passwd", "../../outside.csv", "data/../../x.csv"])
def test_uploaded_paths_cannot_escape_the_scenarios_folder(settings, path):
    data = yaml.safe_load((settings.scenarios_dir / "tiny.yaml").read_text())
    data["designs"][0]["service_time"] = {"kind": "table", "path": path}
    choice = logic.store_upload(settings, data_url(yaml.safe_dump(data)), "escape.yaml")
    with pytest.raises(ScenarioError, match="outside the scenarios folder"):
        logic.build_scenario(settings, choice, {})


@pytest.mark.parametrize(("field", "value"), [
    ("model", {"config": "/etc/passwd"}),
    ("latency", {"kind": "auto", "fit": "../../fit.json"})])
def test_uploaded_llm_file_fields_cannot_escape_the_scenarios_folder(settings, field, value):
    data = yaml.safe_load((settings.scenarios_dir / "tiny.yaml").read_text())
    design = {"name": "llm", "workload": data["designs"][0]["workload"], "pattern": "llm",
              "model": "llama-3-8b", "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1}}
    design[field] = value
    data["designs"].append(design)
    data["workloads"][0]["tokens"] = {"prompt_tokens": 500, "output_tokens": 100}
    choice = logic.store_upload(settings, data_url(yaml.safe_dump(data)), "escape.yaml")
    with pytest.raises(ScenarioError, match="outside the scenarios folder"):
        logic.build_scenario(settings, choice, {})


def test_unknown_choice_is_refused(settings):
    with pytest.raises(ScenarioError, match="not bundled"):
        logic.load_base(settings, "../scenarios/tiny")
    with pytest.raises(ScenarioError, match="no longer stored"):
        logic.load_base(settings, "upload:0123456789abcdef")


def test_run_and_downloads(settings):
    seen = []
    view = logic.run_view(settings, "tiny", {"small.nodes": 2},
                          progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4)
    assert view.result.design("small").fleet.nodes == 2
    name, text = logic.results_json(settings, view.run_id)
    assert name == "tiny-results.json"
    doc = json.loads(text)
    assert [d["name"] for d in doc["designs"]] == ["small", "big"]
    assert doc["designs"][0]["cost"]["usd_per_month"] == view.result.designs[0].cost.usd_per_month
    name, html_text = logic.results_html(settings, view.run_id)
    assert name == "tiny-report.html" and html_text.startswith("<!DOCTYPE html>")
    assert 'id="pareto"' in html_text
    name, text = logic.scenario_yaml(settings, "tiny", {"small.nodes": 2})
    assert name == "tiny.yaml" and yaml.safe_load(text)["designs"][0]["fleet"]["nodes"] == 2
    data, msg = page.on_download(settings, "scn-dl-json", "tiny", {}, view.run_id)
    assert msg is None and json.loads(data["content"])["scenario"]["name"] == "tiny"
    data, msg = page.on_download(settings, "scn-dl-html", "tiny", {}, None)
    assert data is page.no_update and "run the scenario first" in msg.children


def test_result_components_show_the_run(settings):
    view = logic.run_view(settings, "tiny", {})
    parts = charts.result_components(view.result, view.run_id)
    ids = {getattr(p, "id", None) for p in parts}
    assert {"scn-comparison", "scn-purchase-table"} <= ids
    figs = charts.figures(view.result)
    assert [t.name for t in figs["distribution"].data if "SLO" not in t.name] == ["small", "big"]
    assert len(figs["queue"].data) == 2
    assert any(s.line.dash == "dash" for s in figs["pareto"].layout.shapes)
    table = charts.purchase_table(view.result)
    assert table.rows[0][0] == "small" and table.rows[0][1].startswith("$")


def test_unknown_price_is_na(settings):
    from dashboards.charts import purchase_table

    view = logic.run_view(settings, "tiny", {})
    small = view.result.designs[0]
    unknown = type(small.cost)(**{**small.cost.__dict__, "by_purchase": {"on_demand": None},
                                  "total_usd": None})
    result = type(view.result)(**{**view.result.__dict__,
                                  "designs": (type(small)(**{**small.__dict__,
                                                             "cost": unknown}),)})
    assert purchase_table(result).rows[0][1:] == ("n/a", "n/a")
