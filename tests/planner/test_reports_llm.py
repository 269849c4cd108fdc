"""Every output of ``planner compare|run|adr`` knows the llm pattern, checked against the CLI's
JSON of the same scenario and seed: TTFT/TPOT p99 with CIs beside E2E latency, every SLO bound
with its verdict, $ per 1M input/output tokens, goodput, the engine block, the HTML charts of
TTFT/TPOT and KV utilisation, the ADR, and guardrails on LLM metrics.

The scenario is tiny (60 s, 2 replications): an llm design and a static-batching (realtime)
design serving the same chat workload, whose TTFT is n/a everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.reports.formatting import fmt_number, fmt_unit, human_ms, ms_in, shared_unit
from planner.reports.guardrails import fmt_value
from planner.reports.markdown import escape

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "scenarios" / "data" / "h100_llm_token_latency.csv"
runner = CliRunner()

SCENARIO = f"""
name: llm-outputs
horizon_s: 60
warmup_s: 10
replications: 2
seed: 7
workloads:
  - name: chat
    kind: inference
    arrivals: {{kind: poisson, rate_rps: 4}}
    tokens: {{prompt_tokens: 575, output_tokens: 210}}
    slo: {{ttft_ms: 500, tpot_ms: 50, latency_ms: 20000, percentile: 99}}
designs:
  - name: vllm
    workload: chat
    pattern: llm
    model: llama-3-8b
    engine: {{max_num_seqs: 64, max_num_batched_tokens: 2048}}
    fleet: {{instance: "aws:p5.4xlarge", nodes: 1}}
    latency: {{kind: profile, path: {PROFILE}, gpu: auto}}
  - name: static
    workload: chat
    pattern: realtime
    fleet: {{instance: "aws:p5.4xlarge", nodes: 1}}
    batching: {{max_batch: 8, max_wait_ms: 200}}
    service_time: {{kind: tokens, path: {PROFILE}, model: llama-3-8b}}
"""
NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency", "latency": "latency"}


def invoke(*args: str) -> str:
    out = runner.invoke(app, list(args))
    assert out.exit_code == 0, out.output
    return out.stdout


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("llm") / "llm-outputs.yaml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def doc(scenario) -> dict:
    """The CLI's JSON of the run: the truth every other output is checked against."""
    return json.loads(invoke("compare", str(scenario), "-f", "json", "-q"))


@pytest.fixture(scope="module")
def designs(doc) -> dict[str, dict]:
    return {d["name"]: d for d in doc["designs"]}


def ci_text(value: float, ci: list[float]) -> str:
    """The reports' form of an estimate with its 95% CI half-width."""
    return f"{human_ms(value)} ± {human_ms((ci[1] - ci[0]) / 2)}"


def verdicts(design: dict) -> str:
    """Every bound of the design's SLO with its verdict, from the JSON."""
    slos = design.get("slos") or [design["slo"]]
    out = []
    for s in slos:
        bound = s["latency_ms"]
        limit = human_ms(bound) if bound >= 10_000 else f"{bound:g} ms"
        out.append(f"{NAMES[s['metric']]} p{s['percentile']:g} ≤ {limit}: "
                   f"{'met' if s['met'] else 'MISSED'} ({human_ms(s['achieved_ms'])})")
    return "; ".join(out)


def md_row(text: str, name: str) -> list[str]:
    """The cells of the Markdown table row named ``name`` (unescaped pipes split cells)."""
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] == escape(name):
            return cells[1:]
    raise AssertionError(f"no row {name!r}")


def test_json_has_the_llm_block_and_every_bound(designs) -> None:
    vllm, static = designs["vllm"], designs["static"]
    assert [s["metric"] for s in vllm["slos"]] == ["ttft", "tpot", "e2e"]
    assert vllm["llm"]["ttft_ms"]["p99"] == vllm["slos"][0]["achieved_ms"]
    assert "llm" not in static and static["slo"]["metric"] == "latency"


def test_markdown_comparison_shows_ttft_tpot_bounds_and_token_costs(scenario, designs) -> None:
    md = invoke("compare", str(scenario), "-f", "markdown", "-q")
    vllm, static = designs["vllm"], designs["static"]
    order = [d for d in md_row(md, "metric")]
    assert [o.removesuffix(" ★") for o in order] == ["vllm", "static"]
    m = vllm["llm"]
    for which, label in (("ttft", "TTFT"), ("tpot", "TPOT")):
        assert md_row(md, f"p99 {label}") == [
            escape(ci_text(m[f"{which}_ms"]["p99"], m[f"{which}_ms_ci95"]["p99"])), "n/a"]
        assert md_row(md, f"p50 {label}") == [escape(human_ms(m[f"{which}_ms"]["p50"])), "n/a"]
    assert md_row(md, "p99 latency")[0] == escape(
        ci_text(vllm["latency_ms"]["p99"], vllm["latency_ms_ci95"]["p99"]))
    assert md_row(md, "SLO") == [escape(verdicts(vllm)), escape(verdicts(static))]
    assert "TTFT p99 ≤ 500 ms: " in md_row(md, "SLO")[0]
    assert md_row(md, "goodput (req/s meeting every bound)") == [
        fmt_number(m["goodput_rps"]), "n/a"]
    for key, row in (("usd_per_1m_output_tokens", "$/1M output tokens (allocated)"),
                     ("usd_per_1m_input_tokens", "$/1M input tokens (allocated)"),
                     ("usd_per_1m_tokens", "$/1M tokens (allocated)")):
        assert md_row(md, row)[0] == escape(fmt_unit(vllm["cost"][key])), row
    assert md_row(md, "$/1M output tokens (allocated)")[1] == "n/a"  # static: no split
    # the workload's SLO names every bound; the engine block says where KV and steps come from
    assert escape("SLO TTFT p99 ≤ 500 ms; TPOT p99 ≤ 50 ms; E2E latency p99 ≤ 20.00 s") in md
    e = m["engine"]
    assert escape(f"KV cache: {e['kv_cache_tokens']:,} tokens per replica; source: "
                  f"{e['kv_cache_source']}") in md
    assert escape(f"step time source: {e['step_time_source']}") in md


def test_terminal_tables_show_ttft_tpot_and_verdicts(scenario, designs) -> None:
    text = invoke("run", str(scenario), "-q", "--wide")  # one table: columns by header
    vllm = designs["vllm"]
    header = next(line for line in text.splitlines() if "┃ design" in line)
    assert "TTFT p99" in header and "TPOT p99" in header and "goodput/s" in header
    rows = {name: next(line for line in text.splitlines() if line.startswith(f"│ {name}"))
            for name in ("vllm", "static")}
    cells = {k: [c.strip() for c in v.split("│")[1:-1]] for k, v in rows.items()}
    col = [c.strip() for c in header.split("┃")[1:-1]].index("TTFT p99")
    assert cells["vllm"][col] == human_ms(vllm["llm"]["ttft_ms"]["p99"])
    assert cells["static"][col] == "n/a" and cells["static"][col + 1] == "n/a"
    assert f"  SLO: {verdicts(vllm)}" in text  # the detail lines: every bound, unwrapped
    assert f"  SLO: {verdicts(designs['static'])}" in text
    assert f"{fmt_unit(vllm['cost']['usd_per_1m_output_tokens'])}/1M out tok" in text
    assert header.rstrip().endswith("busy basis ┃")  # the widest table is not cropped


def _plot_data(page: str, div_id: str) -> list[dict]:
    start = page.index(f'"{div_id}",') + len(f'"{div_id}",')
    data, _ = json.JSONDecoder().raw_decode(page[start:].lstrip())
    return data


def test_html_charts_of_llm_designs(scenario, designs, tmp_path) -> None:
    target = tmp_path / "r.html"
    invoke("compare", str(scenario), "-f", "html", "-o", str(target), "-q")
    page = target.read_text()
    vllm = designs["vllm"]
    for which in ("ttft", "tpot"):
        traces = _plot_data(page, f"llm-{which}-distribution")
        curve = next(t for t in traces if t["name"] == "vllm")
        dist = vllm["llm"]["distributions_ms"][which]
        assert curve["x"] == pytest.approx(dist["values"])
        assert curve["y"] == pytest.approx(dist["quantiles"])
        bound = next(s for s in vllm["slos"] if s["metric"] == which)
        assert any(t["x"] == [bound["latency_ms"]] for t in traces if "SLO" in t["name"])
        assert not any(t["name"] == "static" for t in traces)  # no TTFT for static batching
    kv = next(t for t in _plot_data(page, "llm-kv-timeline") if t["name"] == "vllm")
    assert kv["y"] == pytest.approx(vllm["timeline"]["kv_utilization"], nan_ok=True)
    queue = {t["name"]: t for t in _plot_data(page, "llm-queue-timeline")}
    assert queue["vllm running"]["y"] == pytest.approx(vllm["timeline"]["mean_running"])
    assert queue["vllm waiting"]["y"] == pytest.approx(vllm["timeline"]["mean_waiting"])
    # the E2E distribution marks the E2E bound, never the TTFT bound
    e2e = [t for t in _plot_data(page, "distribution-0") if "SLO" in t["name"]]
    assert [t["x"] for t in e2e if t["name"].startswith("vllm")] == [[20000.0]]
    assert "KV cache: " in page and "step time source: " in page


def test_adr_states_the_llm_metrics_and_bounds(scenario, designs, tmp_path) -> None:
    target = tmp_path / "adr.md"
    invoke("adr", str(scenario), "-o", str(target), "-q")
    text = target.read_text()
    vllm = designs["vllm"]
    drivers = text.split("## Decision Drivers")[1].split("##")[0]
    assert escape("SLO of chat: TTFT p99 ≤ 500 ms; TPOT p99 ≤ 50 ms; E2E latency p99 ≤ "
                  "20.00 s") in drivers
    options = text.split("## Considered Options")[1].split("## Decision Outcome")[0]
    for s in vllm["slos"]:
        name = NAMES[s["metric"]]
        u = shared_unit((s["achieved_ms"], s["latency_ms"]))

        def fmt(v, u=u):
            return human_ms(v) if u is None else ms_in(v, u)
        assert escape(f"p99 {name} {fmt(s['achieved_ms'])} against an SLO of "
                      f"{fmt(s['latency_ms'])}: {s['verdict']}") in options
    m = vllm["llm"]
    assert escape(f"TTFT p99 {human_ms(m['ttft_ms']['p99'])}, TPOT p99 "
                  f"{human_ms(m['tpot_ms']['p99'])}") in options
    assert escape(f"{fmt_unit(vllm['cost']['usd_per_1m_output_tokens'])} per 1M output "
                  "tokens") in options
    pros = text.split("### vllm")[1].split("###")[0]
    ttft = vllm["slos"][0]
    verdict = "meets" if ttft["met"] else "misses"
    assert escape(f"it {verdict} the SLO: TTFT p99 {human_ms(ttft['achieved_ms'])}") in pros
    assert escape(f"goodput {m['goodput_rps']:,.2f} req/s of "
                  f"{vllm['arrival_rate_rps']:,.2f} req/s arriving") in pros


def test_guardrails_on_llm_metrics(scenario, designs) -> None:
    vllm = designs["vllm"]
    ttft = vllm["llm"]["ttft_ms"]["p99"]
    out = runner.invoke(app, ["compare", str(scenario), "-f", "json", "-q",
                              "--fail-if", "ttft_p99_ms > 0.001", "--fail-if", "goodput_rps < 0"])
    assert out.exit_code == 3, out.output
    assert (f"design vllm: ttft_p99_ms = {fmt_value(ttft)} > 0.001 "
            "(fail-if 'ttft_p99_ms > 0.001')") in out.stderr
    assert "design static" not in out.stderr  # static batching has no TTFT to breach
    assert "1 guardrail breach(es)" in out.stderr
    # $ per 1M output tokens is every design's metric: n/a (not $0) for static batching
    out = runner.invoke(app, ["compare", str(scenario), "-f", "json", "-q",
                              "--fail-if", "usd_per_1m_output_tokens > 1e9"])
    assert out.exit_code == 3, out.output
    assert ("design static: cannot prove usd_per_1m_output_tokens > 1,000,000,000 is false: "
            "value n/a") in out.stderr and "design vllm" not in out.stderr
    out = runner.invoke(app, ["compare", str(scenario), "-f", "json", "-q", "--fail-if",
                              f"vllm:tpot_p99_ms > {vllm['llm']['tpot_ms']['p99'] * 2}",
                              "--fail-if", "vllm:usd_per_1m_output_tokens_busy > 1e9"])
    assert out.exit_code == 0, out.output


@pytest.mark.parametrize("expr,needle", [
    ("ttft_p99 > 1", "did you mean 'ttft_p99_ms'?"),
    ("static:ttft_p99_ms > 1", "'ttft_p99_ms' is a metric of llm designs only"),
])
def test_bad_llm_guardrails_exit_2(scenario, expr, needle) -> None:
    out = runner.invoke(app, ["compare", str(scenario), "-q", "--fail-if", expr])
    assert out.exit_code == 2, out.output
    flat = " ".join(out.output.replace("│", " ").split())
    assert needle in flat and "ttft_p99_ms" in flat


def test_llm_metric_on_a_scenario_without_llm_designs(tmp_path) -> None:
    from planner.reports.guardrails import GuardrailError, check_guardrails, parse_guardrails

    with pytest.raises(GuardrailError) as info:
        check_guardrails(parse_guardrails(["tpot_p99_ms > 50"]), design_names=["rt"],
                         design_patterns={"rt": "realtime"})
    assert "tpot_p99_ms" in str(info.value) and "a metric of llm designs" in str(info.value)
