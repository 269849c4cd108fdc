"""``planner diff BASE HEAD``: every figure it shows is read from the two runs' results JSONs.

Pairs of runs are bundled scenarios (shortened) with one design changed, one renamed (removed
and added), an SLO tightened, an instance without a price (n/a) and an LLM engine; each pair is
simulated once by ``planner compare --format json`` and those files are the truth the diff's
table, JSON and Markdown are checked against, with the % changes recomputed here.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli.main import app

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


@dataclass
class Pair:
    """Two runs: the scenario YAMLs and the results JSONs planner compare wrote for them."""

    base_yaml: Path
    head_yaml: Path
    base_json: Path
    head_json: Path
    base: dict
    head: dict


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


# ----------------------------------------------------------------------------- the truth

UNITS = (("ms", 1.0, 10_000), ("s", 1_000.0, 120_000), ("min", 60_000.0, 7_200_000),
         ("h", 3_600_000.0, math.inf))


def _ms(value: float, others: tuple[float | None, ...]) -> str:
    """A duration as the reports show it: old and new in the unit of the larger (ms below
    10 s, s below 2 min, min below 2 h, else h), unless one would read below 1 in it: then
    each in its own."""
    def unit_of(v: float) -> tuple[str, float]:
        return next((u, s) for u, s, below in UNITS if abs(v) < below)

    unit, scale = unit_of(max(abs(v) for v in others if v is not None))
    if any(v is not None and v != 0 and abs(v) < scale for v in others):
        unit, scale = unit_of(value)
    return f"{value / scale:,.2f} {unit}"


def _unit_cost(value: float) -> str:
    if value != 0 and abs(value) < 0.001:
        return f"${value:.{2 - math.floor(math.log10(abs(value)))}f}"
    return f"${value:.4f}" if abs(value) < 10 else f"${value:,.2f}"


def _pct(old: float, new: float) -> str:
    """The % change: one decimal, or two significant digits below 0.05 %."""
    pct = 100 * (new - old) / abs(old)
    if 0 < abs(pct) < 0.05:  # the zeros after the point, then two digits
        zeros = next(i for i, c in enumerate(f"{abs(pct):.15f}".split(".")[1]) if c != "0")
        return f"{pct:+.{min(6, zeros + 2)}f}%"
    return f"{pct:+.1f}%"


@dataclass
class Figure:
    """One row the diff must show for a design: its label and each side's value."""

    key: str
    label: str
    unit: str
    old: float | None
    new: float | None
    old_half: float | None = None
    new_half: float | None = None
    old_incomplete: bool = False
    new_incomplete: bool = False

    def shown(self, value: float | None, half: float | None, incomplete: bool) -> str:
        if value is None:
            return "n/a"
        if self.unit == "ms":
            return _ms(value, (self.old, self.new))
        if self.unit == "fraction":
            return f"{value * 100:.1f}%"
        text = f"${value:,.2f}" if self.key == "usd_per_month" else _unit_cost(value)
        if half:
            text += f" ± ${half:,.2f}"
        return ("≥" + text) if incomplete else text

    def expected(self, status: str) -> str:
        old = self.shown(self.old, self.old_half, self.old_incomplete)
        new = self.shown(self.new, self.new_half, self.new_incomplete)
        if status == "added":
            return f"{new} (added)"
        if status == "removed":
            return f"{old} (removed)"
        if self.old is None and self.new is None:
            return "n/a"
        if self.old is None or self.new is None:
            return f"{old} -> {new}"
        if self.old == self.new:
            return f"{new} (unchanged)"
        pct = "from 0" if self.old == 0 else _pct(self.old, self.new)
        noise = ""
        if self.key == "usd_per_month" and abs(self.new - self.old) <= math.hypot(
                self.old_half or 0.0, self.new_half or 0.0) and not (
                self.old_incomplete or self.new_incomplete):
            noise = ", within noise"
        return f"{old} -> {new} ({pct}{noise})"


METRIC_LABELS = {"latency": "latency", "freshness": "freshness",
                 "completion_time": "completion time"}
BOUND_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency"}


def _half(d: dict) -> float | None:
    ci = d["cost"]["usd_per_month_ci95"]
    return None if ci is None else 0.5 * (ci[1] - ci[0])


def _figures(old: dict | None, new: dict | None) -> list[Figure]:
    """Every figure the diff shows for a design, read from the results JSONs."""
    sides = [d for d in (old, new) if d is not None]
    label = METRIC_LABELS[sides[-1]["metric"]]

    def fig(key: str, name: str, unit: str, get: Callable[[dict], float | None]) -> Figure:
        return Figure(key, name, unit, None if old is None else get(old),
                      None if new is None else get(new))

    figures = [fig(f"{k}_ms", f"{label} {k}", "ms", lambda d, k=k: d["latency_ms"][k])
               for k in ("p50", "p90", "p99")]
    if any("llm" in d for d in sides):
        for which, name in (("ttft", "TTFT"), ("tpot", "TPOT")):
            figures += [fig(f"{which}_{k}_ms", f"{name} {k}", "ms",
                            lambda d, w=which, k=k: d["llm"][f"{w}_ms"][k] if "llm" in d
                            else None) for k in ("p50", "p90", "p99")]
    figures.append(fig("utilization", "utilisation", "fraction", lambda d: d["utilization"]))
    cost = fig("usd_per_month", "cost per month", "usd", lambda d: d["cost"]["usd_per_month"])
    cost.old_half = None if old is None else _half(old)
    cost.new_half = None if new is None else _half(new)
    figures.append(cost)
    patterns = {d["pattern"] for d in sides}
    per = sorted({"records" if d["pattern"] in ("batch", "streaming") else "requests"
                  for d in sides if d["pattern"] != "training"})
    units = []
    if patterns - {"training"}:
        units.append(("usd_per_1k_requests", f"$/1k {' or '.join(per)}"))
    for key, name in (("usd_per_1m_tokens", "$/1M tokens"),
                      ("usd_per_1m_input_tokens", "$/1M input tokens"),
                      ("usd_per_1m_output_tokens", "$/1M output tokens")):
        if "llm" in patterns or any(d["cost"][key] is not None for d in sides):
            units.append((key, name))
    if "training" in patterns or any(d["cost"]["usd_per_run"] is not None for d in sides):
        units.append(("usd_per_run", "$/run"))
    figures += [fig(key, name, "usd", lambda d, key=key: d["cost"][key]) for key, name in units]
    for f in figures:
        if f.unit == "usd":
            f.old_incomplete = old is not None and old["cost"]["incomplete"]
            f.new_incomplete = new is not None and new["cost"]["incomplete"]
    return figures


def _verdict(d: dict) -> str | None:
    bounds = d.get("slos") or ([d["slo"]] if d["slo"] else [])
    verdicts = [b["verdict"] for b in bounds]
    if not verdicts:
        return None
    return "MISSED" if "MISSED" in verdicts else (
        "inconclusive" if "inconclusive" in verdicts else "met")


def _verdict_text(d: dict) -> str:
    bounds = d.get("slos") or ([d["slo"]] if d["slo"] else [])
    if not bounds:
        return "no SLO"
    name = [BOUND_NAMES.get(b["metric"], METRIC_LABELS[d["metric"]]) for b in bounds]
    missed = [n for n, b in zip(name, bounds) if b["verdict"] == "MISSED"]
    open_ = [n for n, b in zip(name, bounds) if b["verdict"] == "inconclusive"]
    if missed:
        return "MISSED" if len(bounds) == 1 else f"MISSED ({', '.join(missed)})"
    if open_:
        return "inconclusive" if len(bounds) == 1 else f"inconclusive ({', '.join(open_)})"
    if d.get("unjudged_slo"):
        return f"met ({', '.join(u.upper() for u in d['unjudged_slo'])} n/a)"
    return "met"


def _slo_expected(old: dict | None, new: dict | None) -> str:
    if old is None:
        return f"{_verdict_text(new)} (added)"
    if new is None:
        return f"{_verdict_text(old)} (removed)"
    a, b = _verdict_text(old), _verdict_text(new)
    return f"{b} (unchanged)" if a == b else f"{a} -> {b}"


def _fleet(d: dict) -> str:
    f = d["fleet"]
    auto = f["autoscaling"]
    scaling = f"autoscaled {auto['min_nodes']}-{auto['max_nodes']}" if auto else "fixed"
    return f"{f['nodes']}x {f['instance']}, {f['purchase']}, {scaling}"


def _names(pair: Pair) -> tuple[dict, dict, list[str]]:
    old = {d["name"]: d for d in pair.base["designs"]}
    new = {d["name"]: d for d in pair.head["designs"]}
    return old, new, list(new) + [n for n in old if n not in new]


def _status(old: dict | None, new: dict | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    same = all(f.old == f.new for f in _figures(old, new))
    return "unchanged" if same and _verdict_text(old) == _verdict_text(new) and _fleet(
        old) == _fleet(new) else "changed"


def _expected_rows(old: dict | None, new: dict | None) -> dict[str, str]:
    """Every ``label -> text`` row the diff shows for one design."""
    status = _status(old, new)
    rows = {}
    if status in ("changed", "unchanged"):
        a, b = _fleet(old), _fleet(new)
        rows["fleet"] = a if a == b else f"{a} -> {b}"
    else:
        rows["fleet"] = _fleet(new or old)
    rows["SLO"] = _slo_expected(old, new)
    rows.update({f.label: f.expected(status) for f in _figures(old, new)})
    return rows


def _summary(pair: Pair) -> str:
    """The one-line summary, recomputed from the two results JSONs."""
    old, new, names = _names(pair)
    statuses = {n: _status(old.get(n), new.get(n)) for n in names}
    counts = ", ".join(f"{k} {s}" for s in ("changed", "unchanged", "added", "removed")
                       if (k := sum(v == s for v in statuses.values())))
    total_old = total_new = 0.0
    left_out = []
    counted = 0
    for n in names:
        sides = [d for d in (old.get(n), new.get(n)) if d is not None]
        if any(d["cost"]["usd_per_month"] is None or d["cost"]["incomplete"] for d in sides):
            left_out.append(n)
            continue
        counted += 1
        total_old += old[n]["cost"]["usd_per_month"] if n in old else 0.0
        total_new += new[n]["cost"]["usd_per_month"] if n in new else 0.0
    left = (f" ({len(left_out)} design{'' if len(left_out) == 1 else 's'} without a complete "
            f"price left out: {', '.join(left_out)})" if left_out else "")
    if not counted:
        cost = f"monthly cost n/a{left}"
    elif total_old == total_new:
        cost = f"monthly cost unchanged (${total_new:,.2f}){left}"
    else:
        delta = total_new - total_old
        sign = "-" if delta < 0 else "+"
        cost = (f"monthly cost ${total_old:,.2f} -> ${total_new:,.2f} ({sign}${abs(delta):,.2f}, "
                f"{_pct(total_old, total_new)}){left}")
    parts = [cost]
    for verdict in ("MISSED", "met", "inconclusive"):
        k = sum(1 for n in names if n in old and n in new and _verdict(new[n]) == verdict
                and _verdict(old[n]) != verdict)
        if k:
            parts.append(f"{k} SLO{'' if k == 1 else 's'} now {verdict}")
    n = len(names)
    return f"{n} design{'' if n == 1 else 's'} ({counts}): " + "; ".join(parts)


# ----------------------------------------------------------------------------- reading output

def _unescape(cell: str) -> str:
    return cell.replace("&lt;", "<").replace("\\|", "|").replace("\\\\", "\\")


def _md_details(markdown: str) -> dict[str, tuple[str, dict[str, str]]]:
    """``name -> (status, {label: text})`` from the ``<details>`` blocks."""
    out = {}
    for summary, table in re.findall(
            r"<details>\n<summary>(.*?)</summary>\n\n(.*?)\n\n</details>", markdown, re.DOTALL):
        name, status = re.match(r"<b>(.*?)</b> \((\w+)\)", summary).groups()
        rows = {}
        for line in table.splitlines()[2:]:
            label, text = re.split(r"(?<!\\) \| ", line[2:-2])
            rows[_unescape(label)] = _unescape(text)
        out[_unescape(name)] = (status, rows)
    return out


def _table_details(text: str, names: list[str], statuses: dict[str, str]
                   ) -> dict[str, dict[str, str]]:
    """``name -> {label: text}`` from the terminal table's details section."""
    lines = text[text.index("details"):].splitlines()
    starts = [next(i for i, line in enumerate(lines) if line.strip().startswith(
        f"{n} ({statuses[n]})")) for n in names]
    out = {}
    for n, start, end in zip(names, starts, [*starts[1:], len(lines)]):
        rows = {}
        for line in lines[start:end]:
            cells = re.split(r"\s{2,}", line.strip())
            if line.strip().startswith(f"{n} ({statuses[n]})"):
                cells = cells[1:]
            if len(cells) == 2:
                rows[cells[0]] = cells[1]
        out[n] = rows
    return out


def _words(text: str) -> str:
    """Text without the boxes Typer draws around usage errors, whitespace collapsed."""
    return " ".join(text.replace("│", " ").split())


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
    assert md.splitlines()[0] == _summary(pair)
    details = _md_details(md)
    old, new, names = _names(pair)
    assert list(details) == names
    for n in names:
        status, rows = details[n]
        assert status == _status(old.get(n), new.get(n)), n
        expected = _expected_rows(old.get(n), new.get(n))
        assert {k: rows[k] for k in expected} == expected, n
    # the compact table: one row per design, its status and headline cells
    table = [line for line in md.splitlines() if line.startswith("| ")][1:1 + len(names)]
    assert [row.split(" | ")[0][2:] for row in table] == names
    for row, n in zip(table, names):
        cells = [_unescape(c) for c in re.split(r"(?<!\\) \| ", row[2:-2])]
        expected = _expected_rows(old.get(n), new.get(n))
        assert cells[1] == _status(old.get(n), new.get(n))
        assert cells[2] == expected["SLO"]
        assert cells[3].endswith(expected[next(k for k in expected if k.endswith(" p99"))])
        assert cells[4] == expected["utilisation"]
        assert cells[5] == expected["cost per month"]


@pytest.mark.parametrize("name", PAIRS)
def test_table_shows_every_figure_of_both_results_jsons(pairs, name: str) -> None:
    pair = pairs[name]
    text = _diff(pair.base_json, pair.head_json, "--wide").stdout  # one line per detail
    assert text.splitlines()[0] == _summary(pair)
    old, new, names = _names(pair)
    statuses = {n: _status(old.get(n), new.get(n)) for n in names}
    details = _table_details(text, names, statuses)
    for n in names:
        expected = _expected_rows(old.get(n), new.get(n))
        assert {k: details[n].get(k) for k in expected} == expected, n


@pytest.mark.parametrize("name", PAIRS)
def test_json_carries_both_values_and_the_change_of_every_figure(pairs, name: str) -> None:
    pair = pairs[name]
    doc = json.loads(_diff(pair.base_json, pair.head_json, "-f", "json").stdout)
    old, new, names = _names(pair)
    assert [d["name"] for d in doc["designs"]] == names
    for d in doc["designs"]:
        a, b = old.get(d["name"]), new.get(d["name"])
        assert d["status"] == _status(a, b)
        assert d["slo"]["old"] == (None if a is None else _verdict(a))
        assert d["slo"]["new"] == (None if b is None else _verdict(b))
        figures = _figures(a, b)
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
    assert doc["summary"]["text"] == _summary(pair)


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
    assert out.read_text().splitlines()[0] == _summary(pair)


# ----------------------------------------------------------------------------- guardrails

def test_guardrails_are_checked_on_head(pairs) -> None:
    pair = pairs["bert"]  # two-p5-4xlarge costs $10,044.80 in BASE, $5,022.40 in HEAD
    budget = ("--design", "two-p5-4xlarge", "--budget-usd-per-month", "8000")
    assert _diff(pair.base_json, pair.head_json, *budget, ok=False).exit_code == 0
    res = _diff(pair.head_json, pair.base_json, *budget, "-f", "markdown", ok=False)
    assert res.exit_code == 3
    assert res.stdout.splitlines()[0] == _summary(Pair(
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
        assert needle in _words(res.stderr), res.stderr
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
    assert res.exit_code == 2 and "'html' is not one of" in _words(res.stderr)
    res = _diff(pair.base_json, pair.head_json, "--replications", "3", ok=False)
    assert res.exit_code == 2 and "apply to scenario inputs" in _words(res.stderr)
    assert _diff(pair.base_json, ok=False).exit_code == 2


# ----------------------------------------------------------------------------- details

@pytest.mark.parametrize("old,new", [
    (100.0, 112.345), (100.0, 96.0), (64.14, 64.12), (1000.0, 1000.4), (22_596.22, 22_596.19),
    (1.0, 1.0000000001 + 1e-6), (5.0, 0.0), (3.0, 300.0)])
def test_percent_changes_never_read_zero(old: float, new: float) -> None:
    from planner.reports.diff import pct_text

    shown = pct_text(100 * (new - old) / abs(old))
    assert shown == _pct(old, new)
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
