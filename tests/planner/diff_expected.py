"""What ``planner diff`` must show, recomputed from the two results JSONs (the oracle of
``test_cli_diff.py``), and readers of its Markdown and terminal output."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Pair:
    """Two runs: the scenario YAMLs and the results JSONs planner compare wrote for them."""

    base_yaml: Path
    head_yaml: Path
    base_json: Path
    head_json: Path
    base: dict
    head: dict



# ----------------------------------------------------------------------------- the truth

UNITS = (("ms", 1.0, 10_000), ("s", 1_000.0, 120_000), ("min", 60_000.0, 7_200_000),
         ("h", 3_600_000.0, math.inf))


def ms_text(value: float, others: tuple[float | None, ...]) -> str:
    """A duration as the reports show it: old and new in the unit of the larger (ms below
    10 s, s below 2 min, min below 2 h, else h), unless one would read below 1 in it: then
    each in its own."""
    def unit_of(v: float) -> tuple[str, float]:
        return next((u, s) for u, s, below in UNITS if abs(v) < below)

    unit, scale = unit_of(max(abs(v) for v in others if v is not None))
    if any(v is not None and v != 0 and abs(v) < scale for v in others):
        unit, scale = unit_of(value)
    return f"{value / scale:,.2f} {unit}"


def unit_cost_text(value: float) -> str:
    if value != 0 and abs(value) < 0.001:
        return f"${value:.{2 - math.floor(math.log10(abs(value)))}f}"
    return f"${value:.4f}" if abs(value) < 10 else f"${value:,.2f}"


def expected_pct(old: float, new: float) -> str:
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
            return ms_text(value, (self.old, self.new))
        if self.unit == "fraction":
            return f"{value * 100:.1f}%"
        text = f"${value:,.2f}" if self.key == "usd_per_month" else unit_cost_text(value)
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
        pct = "from 0" if self.old == 0 else expected_pct(self.old, self.new)
        noise = ""
        if self.key == "usd_per_month" and abs(self.new - self.old) <= math.hypot(
                self.old_half or 0.0, self.new_half or 0.0) and not (
                self.old_incomplete or self.new_incomplete):
            noise = ", within noise"
        return f"{old} -> {new} ({pct}{noise})"


METRIC_LABELS = {"latency": "latency", "freshness": "freshness",
                 "completion_time": "completion time"}
BOUND_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency"}


def ci_half(d: dict) -> float | None:
    ci = d["cost"]["usd_per_month_ci95"]
    return None if ci is None else 0.5 * (ci[1] - ci[0])


def expected_figures(old: dict | None, new: dict | None) -> list[Figure]:
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
    cost.old_half = None if old is None else ci_half(old)
    cost.new_half = None if new is None else ci_half(new)
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


def verdict_of(d: dict) -> str | None:
    bounds = d.get("slos") or ([d["slo"]] if d["slo"] else [])
    verdicts = [b["verdict"] for b in bounds]
    if not verdicts:
        return None
    return "MISSED" if "MISSED" in verdicts else (
        "inconclusive" if "inconclusive" in verdicts else "met")


def verdict_sentence(d: dict) -> str:
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


def slo_expected(old: dict | None, new: dict | None) -> str:
    if old is None:
        return f"{verdict_sentence(new)} (added)"
    if new is None:
        return f"{verdict_sentence(old)} (removed)"
    a, b = verdict_sentence(old), verdict_sentence(new)
    return f"{b} (unchanged)" if a == b else f"{a} -> {b}"


def fleet_text(d: dict) -> str:
    f = d["fleet"]
    auto = f["autoscaling"]
    scaling = f"autoscaled {auto['min_nodes']}-{auto['max_nodes']}" if auto else "fixed"
    return f"{f['nodes']}x {f['instance']}, {f['purchase']}, {scaling}"


def design_names(pair: Pair) -> tuple[dict, dict, list[str]]:
    old = {d["name"]: d for d in pair.base["designs"]}
    new = {d["name"]: d for d in pair.head["designs"]}
    return old, new, list(new) + [n for n in old if n not in new]


def design_status(old: dict | None, new: dict | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    same = all(f.old == f.new for f in expected_figures(old, new))
    return "unchanged" if same and verdict_sentence(old) == verdict_sentence(new) and fleet_text(
        old) == fleet_text(new) else "changed"


def expected_rows(old: dict | None, new: dict | None) -> dict[str, str]:
    """Every ``label -> text`` row the diff shows for one design."""
    status = design_status(old, new)
    rows = {}
    if status in ("changed", "unchanged"):
        a, b = fleet_text(old), fleet_text(new)
        rows["fleet"] = a if a == b else f"{a} -> {b}"
    else:
        rows["fleet"] = fleet_text(new or old)
    rows["SLO"] = slo_expected(old, new)
    rows.update({f.label: f.expected(status) for f in expected_figures(old, new)})
    return rows


def expected_summary(pair: Pair) -> str:
    """The one-line summary, recomputed from the two results JSONs."""
    old, new, names = design_names(pair)
    statuses = {n: design_status(old.get(n), new.get(n)) for n in names}
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
                f"{expected_pct(total_old, total_new)}){left}")
    parts = [cost]
    for verdict in ("MISSED", "met", "inconclusive"):
        k = sum(1 for n in names if n in old and n in new and verdict_of(new[n]) == verdict
                and verdict_of(old[n]) != verdict)
        if k:
            parts.append(f"{k} SLO{'' if k == 1 else 's'} now {verdict}")
    n = len(names)
    return f"{n} design{'' if n == 1 else 's'} ({counts}): " + "; ".join(parts)


# ----------------------------------------------------------------------------- reading output

def md_unescape(cell: str) -> str:
    return cell.replace("&lt;", "<").replace("\\|", "|").replace("\\\\", "\\")


def md_details(markdown: str) -> dict[str, tuple[str, dict[str, str]]]:
    """``name -> (status, {label: text})`` from the ``<details>`` blocks."""
    out = {}
    for summary, table in re.findall(
            r"<details>\n<summary>(.*?)</summary>\n\n(.*?)\n\n</details>", markdown, re.DOTALL):
        name, status = re.match(r"<b>(.*?)</b> \((\w+)\)", summary).groups()
        rows = {}
        for line in table.splitlines()[2:]:
            label, text = re.split(r"(?<!\\) \| ", line[2:-2])
            rows[md_unescape(label)] = md_unescape(text)
        out[md_unescape(name)] = (status, rows)
    return out


def table_details(text: str, names: list[str], statuses: dict[str, str]
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


def plain_words(text: str) -> str:
    """Text without the boxes Typer draws around usage errors, whitespace collapsed."""
    return " ".join(text.replace("│", " ").split())
