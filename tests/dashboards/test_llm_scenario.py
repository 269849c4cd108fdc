"""The Scenarios page with an llm design: its controls (engine fields, TTFT/TPOT bounds, what
does not apply), a run, TTFT/TPOT/KV figures and SLO bounds, checked against the run's JSON;
then end to end in headless Chromium."""

from __future__ import annotations

import json
import shutil

import pytest
from selenium.webdriver.common.keys import Keys

from dashboards import charts
from dashboards import scenario_logic as logic
from dashboards import scenario_view as page
from planner.reports.formatting import human_ms
from tests.dashboards.conftest import REPO, chart_text
from tests.dashboards.test_browser import full_screenshot

LLM_SCENARIO = """\
name: llm-tiny
description: continuous against static batching of a chat model (a test scenario)
horizon_s: 60
warmup_s: 10
replications: 2
seed: 3
workloads:
  - name: chat
    kind: inference
    arrivals: {kind: poisson, rate_rps: 4}
    tokens: {prompt_tokens: 575, output_tokens: 210}
    slo: {percentile: 99, ttft_ms: 500, tpot_ms: 50, latency_ms: 20000}
designs:
  - name: vllm
    workload: chat
    pattern: llm
    model: llama-3-8b
    engine: {max_num_seqs: 64}
    fleet: {instance: "aws:p5.4xlarge", nodes: 1}
    latency: {kind: profile, path: data/h100_llm_token_latency.csv}
  - name: static
    workload: chat
    pattern: realtime
    fleet: {instance: "aws:p5.4xlarge", nodes: 1}
    batching: {max_batch: 8, max_wait_ms: 200}
    service_time: {kind: tokens, path: data/h100_llm_token_latency.csv, model: llama-3-8b}
"""
NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency", "latency": "latency"}


@pytest.fixture
def llm_settings(settings):
    """The test settings with the llm scenario and its token profile bundled."""
    (settings.scenarios_dir / "llm-tiny.yaml").write_text(LLM_SCENARIO, encoding="utf-8")
    shutil.copy(REPO / "scenarios" / "data" / "h100_llm_token_latency.csv",
                settings.scenarios_dir / "data")
    return settings


def verdicts(design: dict) -> str:
    """Every bound with its verdict, from the JSON."""
    out = []
    for s in design.get("slos") or ([design["slo"]] if design["slo"] else []):
        bound = s["latency_ms"]
        limit = human_ms(bound) if bound >= 10_000 else f"{bound:g} ms"
        out.append(f"{NAMES[s['metric']]} p{s['percentile']:g} ≤ {limit}: "
                   f"{'met' if s['met'] else 'MISSED'} ({human_ms(s['achieved_ms'])})")
    return "; ".join(out) or "no SLO"


def test_llm_controls_apply_to_the_engine(llm_settings):
    base, _ = logic.load_base(llm_settings, "llm-tiny")
    values = logic.current_values(base, {}, "vllm")
    assert values["max_num_seqs"] == 64 and values["max_num_batched_tokens"] == 2048
    assert values["ttft_ms"] == 500 and values["tpot_ms"] == 50 and values["slo_ms"] == 20000
    assert values["max_batch"] is None and values["max_wait_ms"] is None  # disabled
    static = logic.current_values(base, {}, "static")
    assert logic.not_applicable(base, "static")[0].startswith("max_num_seqs and")
    assert static["max_num_seqs"] is None and static["max_batch"] == 8
    edits = {"vllm.max_num_seqs": 32, "vllm.max_batch": 4, "static.max_num_seqs": 9,
             "ttft_ms": 300.0, "tpot_ms": 40.0, "slo_ms": 999.0}
    data = logic.apply_edits(base, edits)
    vllm, stat = data["designs"]
    assert vllm["engine"] == {"max_num_seqs": 32} and "batching" not in vllm
    assert "engine" not in stat and stat["batching"]["max_batch"] == 8
    assert data["workloads"][0]["slo"] == {"percentile": 99, "ttft_ms": 300.0, "tpot_ms": 40.0,
                                           "latency_ms": 999.0}
    scenario = logic.build_scenario(llm_settings, "llm-tiny", edits)
    assert scenario.design("vllm").engine.max_num_seqs == 32
    # the URL carries the engine fields
    choice, parsed, problems = logic.query_to_state(
        {"scenario": "llm-tiny", "vllm.max_num_seqs": "32", "ttft_ms": "300.0"})
    assert choice == "llm-tiny" and problems == []
    assert parsed == {"vllm.max_num_seqs": 32, "ttft_ms": 300.0}
    notes = logic.not_applicable(base, "vllm")
    assert any("max batch and max wait do not apply" in n for n in notes)
    assert any("apply to llm designs only (static is realtime)" in n
               for n in logic.not_applicable(base, "static"))
    assert "max batch and max wait" in str(page.on_design_notes({"data": base}, "vllm"))


def test_llm_run_figures_and_bounds_match_the_json(llm_settings):
    view = logic.run_view(llm_settings, "llm-tiny", {})
    doc = json.loads(logic.results_json(llm_settings, view.run_id)[1])
    vllm, static = doc["designs"]
    figs = charts.figures(view.result)
    for which in ("ttft", "tpot"):
        curve = next(t for t in figs[which].data if t.name == "vllm")
        assert list(curve.x) == pytest.approx(vllm["llm"]["distributions_ms"][which]["values"])
        assert not any(t.name == "static" for t in figs[which].data)
    kv = next(t for t in figs["kv"].data if t.name == "vllm")
    assert list(kv.y) == pytest.approx(vllm["timeline"]["kv_utilization"], nan_ok=True)
    assert {t.name for t in figs["running"].data} == {"vllm running", "vllm waiting"}
    queue = {t.name: t for t in figs["queue"].data}  # the engine's waiting requests
    assert list(queue["vllm"].y) == pytest.approx(vllm["timeline"]["mean_waiting"])
    items = charts.slo_list(view.result).children
    assert items[0].children == f"vllm: {verdicts(vllm)}"
    assert items[1].children == f"static: {verdicts(static)}; TTFT and TPOT n/a (static batching)"
    # static batching has no TTFT, so designs are compared on end-to-end latency: the E2E bound
    # is drawn on that axis, never the TTFT bound
    assert static["slo"]["metric"] == "latency"
    texts = [a.text or "" for a in figs["pareto"].layout.annotations]
    assert any("p99 ≤ 20.00 s" in t for t in texts) and not any("TTFT" in t for t in texts)
    ids = {getattr(p, "id", None) for p in charts.result_components(view.result, view.run_id)}
    assert {"scn-comparison", "scn-slo"} <= ids


@pytest.fixture
def app(need_browser, llm_settings):
    from dashboards.app import create_app

    return create_app(scenarios_dir=llm_settings.scenarios_dir,
                      work_dir=llm_settings.work_dir)


def test_llm_scenario_in_the_browser(dash_duo, app, llm_settings):
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/?scenario=llm-tiny")
    dash_duo.wait_for_contains_text("#scn-validation", "valid: 2 design(s)", timeout=30)
    dash_duo.wait_for_contains_text("#scn-design-notes", "max batch and max wait do not apply",
                                    timeout=10)
    assert not dash_duo.find_element("#scn-in-max_batch").is_enabled()
    assert dash_duo.find_element("#scn-in-slo_ms").get_attribute("value") == "20000"
    seqs = dash_duo.find_element("#scn-in-max_num_seqs")
    assert seqs.is_enabled() and seqs.get_attribute("value") == "64"
    assert dash_duo.find_element("#scn-in-ttft_ms").get_attribute("value") == "500"
    seqs.send_keys(Keys.CONTROL, "a")
    seqs.send_keys("32", Keys.ENTER)
    dash_duo.wait_for_contains_text("#scn-validation", "vllm.max_num_seqs=32", timeout=10)

    dash_duo.find_element("#scn-run").click()
    # the first llm run of a checkout compiles the kernel (minutes); later runs take seconds
    dash_duo.wait_for_element("#scn-comparison", timeout=600)
    for fig in ("distribution", "pareto", "queue", "ttft", "tpot", "kv", "running"):
        dash_duo.wait_for_element(f"#scn-fig-{fig} .main-svg", timeout=30)
    run_id = dash_duo.find_element("#scn-run-status").get_attribute("data-run")
    doc = json.loads(logic.results_json(llm_settings, run_id)[1])
    vllm = doc["designs"][0]
    assert vllm["llm"]["engine"]["max_num_seqs"] == 32  # the edit reached the run
    slo = dash_duo.find_element("#scn-slo").text
    assert f"vllm: {verdicts(vllm)}" in slo
    comparison = dash_duo.find_element("#scn-comparison").text
    assert "p99 TTFT" in comparison and human_ms(vllm["llm"]["ttft_ms"]["p99"]) in comparison
    assert chart_text(dash_duo, "#scn-fig-kv .xtitle") == "simulated time (s)"
    assert dash_duo.find_element("#scn-fig-ttft-title").text.startswith("TTFT distribution")
    full_screenshot(dash_duo, "scenarios-llm")
