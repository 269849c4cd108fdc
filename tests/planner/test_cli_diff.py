"""``planner diff BASE HEAD``: every figure it shows is read from the two runs' results JSONs.

Pairs of runs are bundled scenarios (shortened) with one design changed, one renamed (removed
and added), an SLO tightened, an instance without a price (n/a) and an LLM engine; each pair is
simulated once by ``planner compare --format json`` and those files are the truth the diff's
table, JSON and Markdown are checked against, with the % changes recomputed here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli.main import app
from tests.planner.diff_expected import (
    Pair,
    design_names,
    design_status,
    expected_figures,
    expected_pct,
    expected_rows,
    expected_summary,
    md_details,
    md_unescape,
    plain_words,
    table_details,
    verdict_of,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
PROFILE = SCENARIOS / "data" / "h100_llm_token_latency.csv"
runner = CliRunner()

SMALL = """
name: small
horizon_s: 60
warmup_s: 5
replications: 2
seed: 4
workloads:
  - name: w
    kind: inference
    arrivals: {kind: poisson, rate_rps: 200}
    slo: {percentile: 99, latency_ms: 50}
designs:
  - name: g5
    workload: w
    pattern: realtime
    fleet: {instance: aws:g5.xlarge, nodes: 2}
    batching: {max_batch: 8, max_wait_ms: 2}
    service_time: {kind: linear, base_ms: 3, per_item_ms: 0.5}
  - name: mystery
    workload: w
    pattern: realtime
    fleet: {instance: aws:p5e.48xlarge, nodes: 1}  # listed, no on-demand price
    service_time: {kind: exponential, mean_ms: 2}
"""

LLM = f"""
name: llm-small
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


# ----------------------------------------------------------------------------- the runs

def _absolute_paths(node: Any) -> None:
    """Make the scenario's relative ``path`` fields absolute (it is written to a tmp folder)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and not Path(value).is_absolute():
                node[key] = str(SCENARIOS / value)
            else:
                _absolute_paths(value)
    elif isinstance(node, list):
        for item in node:
            _absolute_paths(item)


def _design(data: dict, name: str) -> dict:
    return next(d for d in data["designs"] if d["name"] == name)



def _invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _pair(folder: Path, base: dict, edit: Callable[[dict], None]) -> Pair:
    head = json.loads(json.dumps(base))
    edit(head)
    paths = {}
    for side, data in (("base", base), ("head", head)):
        scenario = folder / f"{side}.yaml"
        scenario.write_text(yaml.safe_dump(data, sort_keys=False))
        out = folder / f"{side}.json"
        res = _invoke("compare", scenario, "--format", "json", "--quiet", "--output", out)
        assert res.exit_code == 0, res.output
        paths[side] = (scenario, out)
    return Pair(paths["base"][0], paths["head"][0], paths["base"][1], paths["head"][1],
                json.loads(paths["base"][1].read_text()), json.loads(paths["head"][1].read_text()))


def _bundled(name: str, **overrides: Any) -> dict:
    data = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    _absolute_paths(data)
    data.update(overrides)
    return data


def _bert_head(data: dict) -> None:
    _design(data, "two-p5-4xlarge")["fleet"]["nodes"] = 1
    renamed = _design(data, "p5-48xlarge-8-workers")
    renamed["name"] = "p5-48xlarge-4-workers"
    renamed["fleet"]["workers_per_node"] = 4


def _recsys_head(data: dict) -> None:
    _design(data, "spot")["fleet"]["nodes"] = 3


def _small_head(data: dict) -> None:
    data["workloads"][0]["slo"]["latency_ms"] = 5  # every design now misses it
    _design(data, "g5")["fleet"]["instance"] = "aws:p5e.48xlarge"  # now without a price


def _llm_head(data: dict) -> None:
    _design(data, "vllm")["engine"]["max_num_seqs"] = 4
    data["workloads"][0]["arrivals"]["rate_rps"] = 6


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pair]:
    """Four pairs of runs, each simulated once."""
    made = {}
    specs = {
        "bert": (_bundled("bert-serving", horizon_s=120, warmup_s=10, replications=2),
                 _bert_head),
        "recsys": (_bundled("nightly-recsys", replications=3), _recsys_head),
        "small": (yaml.safe_load(SMALL), _small_head),
        "llm": (yaml.safe_load(LLM), _llm_head),
    }
    for name, (base, edit) in specs.items():
        made[name] = _pair(tmp_path_factory.mktemp(name), base, edit)
    return made


def _diff(*args: object, ok: bool = True):
    res = _invoke("diff", *args, "--quiet")
    if ok:
        assert res.exit_code == 0, res.output
    return res


# ----------------------------------------------------------------------------- tests

PAIRS = ("bert", "recsys", "small", "llm")


@pytest.mark.parametrize("name", PAIRS)
def test_markdown_shows_every_figure_of_both_results_jsons(pairs, name: str) -> None:
    pair = pairs[name]
    res = _diff(pair.base_json, pair.head_json, "--format", "markdown")
    md = res.stdout
    assert md.splitlines()[0] == expected_summary(pair)
    details = md_details(md)
    old, new, names = design_names(pair)
    assert list(details) == names
    for n in names:
        status, rows = details[n]
        assert status == design_status(old.get(n), new.get(n)), n
        expected = expected_rows(old.get(n), new.get(n))
        assert {k: rows[k] for k in expected} == expected, n
    # the compact table: one row per design, its status and headline cells
    table = [line for line in md.splitlines() if line.startswith("| ")][1:1 + len(names)]
    assert [row.split(" | ")[0][2:] for row in table] == names
    for row, n in zip(table, names):
        cells = [md_unescape(c) for c in re.split(r"(?<!\\) \| ", row[2:-2])]
        expected = expected_rows(old.get(n), new.get(n))
        assert cells[1] == design_status(old.get(n), new.get(n))
        assert cells[2] == expected["SLO"]
        assert cells[3].endswith(expected[next(k for k in expected if k.endswith(" p99"))])
        assert cells[4] == expected["utilisation"]
        assert cells[5] == expected["cost per month"]


@pytest.mark.parametrize("name", PAIRS)
def test_table_shows_every_figure_of_both_results_jsons(pairs, name: str) -> None:
    pair = pairs[name]
    text = _diff(pair.base_json, pair.head_json, "--wide").stdout  # one line per detail
    assert text.splitlines()[0] == expected_summary(pair)
    old, new, names = design_names(pair)
    statuses = {n: design_status(old.get(n), new.get(n)) for n in names}
    details = table_details(text, names, statuses)
    for n in names:
        expected = expected_rows(old.get(n), new.get(n))
        assert {k: details[n].get(k) for k in expected} == expected, n


@pytest.mark.parametrize("name", PAIRS)
def test_json_carries_both_values_and_the_change_of_every_figure(pairs, name: str) -> None:
    pair = pairs[name]
    doc = json.loads(_diff(pair.base_json, pair.head_json, "-f", "json").stdout)
    old, new, names = design_names(pair)
    assert [d["name"] for d in doc["designs"]] == names
    for d in doc["designs"]:
        a, b = old.get(d["name"]), new.get(d["name"])
        assert d["status"] == design_status(a, b)
        assert d["slo"]["old"] == (None if a is None else verdict_of(a))
        assert d["slo"]["new"] == (None if b is None else verdict_of(b))
        figures = expected_figures(a, b)
        assert list(d["metrics"]) == [f.key for f in figures]
        for f in figures:
            m = d["metrics"][f.key]
            assert (m["label"], m["unit"], m["old"], m["new"]) == (f.label, f.unit, f.old, f.new)
            assert m["text"] == f.expected(d["status"])
            if f.old is not None and f.new is not None and f.old != 0:
                assert m["pct"] == pytest.approx(100 * (f.new - f.old) / abs(f.old))
                assert m["delta"] == pytest.approx(f.new - f.old)
            else:
                assert m["pct"] is None
            change = ("added" if a is None else "removed" if b is None else
                      "unknown" if f.old is None and f.new is None else
                      "now_known" if f.old is None else "now_unknown" if f.new is None else
                      "unchanged" if f.old == f.new else
                      "increased" if f.new > f.old else "decreased")
            assert m["change"] == change, (d["name"], f.key)
    assert doc["summary"]["text"] == expected_summary(pair)


def test_json_layout(pairs) -> None:
    pair = pairs["bert"]
    doc = json.loads(_diff(pair.base_json, pair.head_json, "-f", "json").stdout)
    assert doc["schema_version"] == 1 and doc["kind"] == "diff"
    assert set(doc) == {"schema_version", "kind", "planner_version", "base", "head", "summary",
                        "designs"}
    assert doc["base"] == {"source": str(pair.base_json), "input": "results",
                           "scenario": "bert-serving", "replications": 2, "seed": 7,
                           "results_schema_version": pair.base["schema_version"]}
    s = doc["summary"]
    assert s["designs"] == 4
    assert (s["changed"], s["unchanged"], s["added"], s["removed"]) == (
        ["two-p5-4xlarge"], ["one-h100"], ["p5-48xlarge-4-workers"], ["p5-48xlarge-8-workers"])
    total_old = sum(d["cost"]["usd_per_month"] for d in pair.base["designs"])
    total_new = sum(d["cost"]["usd_per_month"] for d in pair.head["designs"])
    assert s["usd_per_month"]["old"] == pytest.approx(total_old)
    assert s["usd_per_month"]["new"] == pytest.approx(total_new)
    assert s["usd_per_month"]["pct"] == pytest.approx(100 * (total_new / total_old - 1))
    assert s["usd_per_month"]["left_out"] == []
    changed = next(d for d in doc["designs"] if d["name"] == "two-p5-4xlarge")
    assert set(changed) == {"name", "status", "pattern", "metric", "fleet", "batching", "slo",
                            "metrics"}
    assert changed["fleet"] == {"old": "2x aws:p5.4xlarge, on_demand, fixed",
                                "new": "1x aws:p5.4xlarge, on_demand, fixed", "changed": True}
    assert changed["pattern"] == {"old": "realtime", "new": "realtime"}
    cost = changed["metrics"]["usd_per_month"]
    assert {"old_ci95_half_width", "new_ci95_half_width", "within_noise", "old_incomplete",
            "new_incomplete"} <= set(cost)
    assert cost["change"] == "decreased" and cost["within_noise"] is False
    added = next(d for d in doc["designs"] if d["name"] == "p5-48xlarge-4-workers")
    assert added["slo"]["change"] == "added" and added["pattern"]["old"] is None
    assert all(m["old"] is None and m["change"] == "added" for m in added["metrics"].values())
    removed = next(d for d in doc["designs"] if d["name"] == "p5-48xlarge-8-workers")
    assert all(m["new"] is None and m["change"] == "removed"
               for m in removed["metrics"].values())


def test_scenarios_are_simulated_as_compare_does(pairs) -> None:
    """Scenario inputs (with --replications/--seed) give the diff of their results JSONs."""
    pair = pairs["small"]
    from_yaml = json.loads(_diff(pair.base_yaml, pair.head_yaml, "-f", "json",
                                 "--replications", "2", "--seed", "4").stdout)
    from_json = json.loads(_diff(pair.base_json, pair.head_json, "-f", "json").stdout)
    for side in ("base", "head"):
        assert from_yaml[side]["input"] == "scenario"
        assert from_yaml[side]["source"] == str(getattr(pair, f"{side}_yaml"))
        from_yaml[side].update(input="results", source=str(getattr(pair, f"{side}_json")))
    from_yaml.pop("planner_version")
    from_json.pop("planner_version")
    assert from_yaml == from_json
    # a mixed diff, and the override really reaches the scenario
    doc = json.loads(_diff(pair.base_json, pair.head_yaml, "-f", "json", "-r", "3").stdout)
    assert doc["head"]["input"] == "scenario" and doc["head"]["replications"] == 3


def test_na_stays_na_and_is_left_out_of_the_total(pairs) -> None:
    pair = pairs["small"]
    doc = json.loads(_diff(pair.base_json, pair.head_json, "-f", "json").stdout)
    g5, mystery = doc["designs"]
    assert g5["metrics"]["usd_per_month"]["change"] == "now_unknown"
    assert g5["metrics"]["usd_per_month"]["text"].endswith(" -> n/a")
    assert mystery["metrics"]["usd_per_month"] | {"text": None} == mystery["metrics"][
        "usd_per_month"] | {"old": None, "new": None, "change": "unknown", "text": None}
    assert mystery["metrics"]["usd_per_1k_requests"]["text"] == "n/a"
    assert doc["summary"]["usd_per_month"] == {"old": None, "new": None, "delta": None,
                                               "pct": None, "left_out": ["g5", "mystery"]}
    assert doc["summary"]["slo_now_missed"] == ["g5", "mystery"]
    md = _diff(pair.base_json, pair.head_json, "-f", "markdown").stdout
    assert not re.search(r"\$0(?:\.0+)?(?![\d.])", md)  # an unknown cost never reads $0
    assert md.splitlines()[0].endswith("monthly cost n/a (2 designs without a complete price "
                                       "left out: g5, mystery); 2 SLOs now MISSED")


def test_unchanged_run(pairs) -> None:
    pair = pairs["bert"]
    doc = json.loads(_diff(pair.base_json, pair.base_json, "-f", "json").stdout)
    assert doc["summary"]["unchanged"] == [d["name"] for d in pair.base["designs"]]
    assert all(m["change"] == "unchanged" and m["text"].endswith(" (unchanged)")
               for d in doc["designs"] for m in d["metrics"].values() if m["old"] is not None)
    total = sum(d["cost"]["usd_per_month"] for d in pair.base["designs"])
    assert doc["summary"]["text"] == (f"3 designs (3 unchanged): monthly cost unchanged "
                                      f"(${total:,.2f})")


def test_output_file_and_quiet(pairs, tmp_path: Path) -> None:
    pair = pairs["bert"]
    out = tmp_path / "diff.md"
    res = _diff(pair.base_json, pair.head_json, "-f", "markdown", "-o", out)
    assert res.stdout == "" and res.stderr == ""
    assert out.read_text().splitlines()[0] == expected_summary(pair)


# ----------------------------------------------------------------------------- guardrails

def test_guardrails_are_checked_on_head(pairs) -> None:
    pair = pairs["bert"]  # two-p5-4xlarge costs $10,044.80 in BASE, $5,022.40 in HEAD
    budget = ("--design", "two-p5-4xlarge", "--budget-usd-per-month", "8000")
    assert _diff(pair.base_json, pair.head_json, *budget, ok=False).exit_code == 0
    res = _diff(pair.head_json, pair.base_json, *budget, "-f", "markdown", ok=False)
    assert res.exit_code == 3
    assert res.stdout.splitlines()[0] == expected_summary(Pair(
        pair.head_yaml, pair.base_yaml, pair.head_json, pair.base_json, pair.head, pair.base))
    assert "breach: design two-p5-4xlarge: usd_per_month = 10,044.8 > 8,000" in res.stderr
    res = _diff(pair.base_json, pair.head_json, "--fail-if", "one-h100:p99_ms > 1", ok=False)
    assert res.exit_code == 3 and "per design" in res.stdout
    assert "design one-h100: p99_ms" in res.stderr and "1 guardrail breach(es)" in res.stderr


@pytest.mark.parametrize("args,needle", [
    (("--fail-if", "p99_ms >> 1"), "is not 'METRIC OP NUMBER'"),
    (("--fail-if", "p99 > 1"), "did you mean 'p99_ms'?"),
    (("--fail-if", "nope:p99_ms > 1"), "design 'nope' is not in the scenario"),
    (("--fail-if", "p5-48xlarge-8-workers:p99_ms > 1"), "'p5-48xlarge-8-workers' is not in"),
    (("--design", "nope"), "--design 'nope'"),
    (("--fail-if", "ttft_p99_ms > 1"), "ttft_p99_ms"),
])
def test_bad_guardrails_are_usage_errors_before_simulating(pairs, args, needle) -> None:
    pair = pairs["bert"]
    for head in (pair.head_json, pair.head_yaml):  # a removed design is not in HEAD
        res = _diff(pair.base_yaml, head, *args, ok=False)
        assert res.exit_code == 2, res.output
        assert needle in plain_words(res.stderr), res.stderr
        assert res.stdout == ""


# ----------------------------------------------------------------------------- bad inputs

def test_bad_inputs_exit_1_naming_the_file_and_the_fix(pairs, tmp_path: Path) -> None:
    good = pairs["bert"].base_json
    results = json.loads(good.read_text())
    older = {**results, "schema_version": results["schema_version"] - 1}
    mistyped = json.loads(good.read_text())
    mistyped["designs"][1]["cost"]["usd_per_month"] = "cheap"
    cases = {
        "missing.json": (None, "file not found"),
        "list.json": ("[1, 2]", "not a results JSON"),
        "other.json": ('{"a": 1}', "not a results JSON"),
        "broken.json": ('{"schema_version": 3, ', "not valid JSON"),
        "diff.json": ('{"schema_version": 1, "kind": "diff", "designs": []}', "a planner diff"),
        "notes.yaml": ("just: some\nyaml: 1\n", "neither a results JSON nor a valid scenario"),
        "older.json": (json.dumps(older), "from an older planner"),
        "mistyped.json": (json.dumps(mistyped), "designs[1].cost.usd_per_month"),
    }
    for name, (content, needle) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        for args in ((good, path), (path, good)):
            res = _diff(*args, ok=False)
            assert res.exit_code == 1, (name, res.output)
            message = " ".join(res.stderr.split())
            assert str(path) in message and needle in message, (name, message)
            assert "SCENARIO --format json -o FILE" in message, message
            assert "Traceback" not in res.output


def test_usage_errors_exit_2(pairs) -> None:
    pair = pairs["bert"]
    res = _diff(pair.base_json, pair.head_json, "-f", "html", ok=False)
    assert res.exit_code == 2 and "'html' is not one of" in plain_words(res.stderr)
    res = _diff(pair.base_json, pair.head_json, "--replications", "3", ok=False)
    assert res.exit_code == 2 and "apply to scenario inputs" in plain_words(res.stderr)
    assert _diff(pair.base_json, ok=False).exit_code == 2


# ----------------------------------------------------------------------------- details

@pytest.mark.parametrize("old,new", [
    (100.0, 112.345), (100.0, 96.0), (64.14, 64.12), (1000.0, 1000.4), (22_596.22, 22_596.19),
    (1.0, 1.0000000001 + 1e-6), (5.0, 0.0), (3.0, 300.0)])
def test_percent_changes_never_read_zero(old: float, new: float) -> None:
    from planner.reports.diff import pct_text

    shown = pct_text(100 * (new - old) / abs(old))
    assert shown == expected_pct(old, new)
    assert shown.strip("+-%0.") != ""  # a change that is not 0 never reads 0.0 %


def test_llm_designs_compare_ttft_tpot_and_the_engine(pairs) -> None:
    pair = pairs["llm"]
    doc = json.loads(_diff(pair.base_json, pair.head_json, "-f", "json").stdout)
    vllm, static = doc["designs"]
    for key in ("ttft_p50_ms", "ttft_p99_ms", "tpot_p90_ms", "usd_per_1m_output_tokens"):
        base = _design(pair.base, "vllm")
        which, _, pct = key.partition("_")
        old = (base["llm"][f"{which}_ms"][pct.removesuffix("_ms")] if which in ("ttft", "tpot")
               else base["cost"][key])
        assert vllm["metrics"][key]["old"] == old
    # a static design reports no TTFT/TPOT on either side: not compared (its SLO says n/a)
    assert not any(k.startswith(("ttft", "tpot")) for k in static["metrics"])
    assert static["slo"]["old_text"] == "met (TTFT, TPOT n/a)"
    engine = [_design(p, "vllm")["batching"] for p in (pair.base, pair.head)]
    assert vllm["batching"] == {
        "old": f"continuous, ≤{engine[0]['max_num_seqs']} seqs, "
               f"≤{engine[0]['max_num_batched_tokens']:,} tokens/step",
        "new": f"continuous, ≤{engine[1]['max_num_seqs']} seqs, "
               f"≤{engine[1]['max_num_batched_tokens']:,} tokens/step", "changed": True}


def test_a_diff_of_results_jsons_imports_no_simulator(pairs) -> None:
    pair = pairs["bert"]
    probe = ("import json, sys\nfrom typer.testing import CliRunner\n"
             "from planner.cli.main import app\n"
             "res = CliRunner().invoke(app, sys.argv[1:])\n"
             "print(json.dumps([res.exit_code, sorted(m for m in ('scipy', 'numba', "
             "'simulators', 'planner.run') if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", probe, "diff", str(pair.base_json),
                          str(pair.head_json), "-f", "json"], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, []]
