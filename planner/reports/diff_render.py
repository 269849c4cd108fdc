"""Rendering a :class:`planner.reports.diff.RunDiff`: JSON, a terminal table that fits, and a
pull-request comment in Markdown (a summary line, a compact table, ``<details>`` per design)."""

from __future__ import annotations

import io
from collections.abc import Iterable

from rich import box
from rich.table import Table

from planner.reports.diff import DesignChange, RunDiff
from planner.reports.fit import plain_console, print_fitted
from planner.reports.formatting import NA
from planner.results import json_ready

__all__ = ["render_json", "render_markdown", "render_table"]


def render_json(diff: RunDiff) -> str:
    """Return the diff as JSON (NaN and inf become null)."""
    import json

    return json.dumps(json_ready(diff.to_dict()), indent=2)


def _sides_line(diff: RunDiff) -> str:
    return f"base {diff.base.describe()} -> head {diff.head.describe()}"


COMPACT_HEADERS = ("design", "status", "SLO", "p99", "utilisation", "cost per month",
                   "unit cost")


def _compact_cells(d: DesignChange) -> list[str]:
    def cell(key: str) -> str:
        m = d.metric(key)
        return NA if m is None else m.text

    unit = d.metric(d.unit_cost_key())
    return [d.name, d.status, d.slo.text,
            ("" if d.measures == "latency" else f"{d.measures}: ") + cell("p99_ms"),
            cell("utilization"), cell("usd_per_month"),
            NA if unit is None else f"{unit.label}: {unit.text}"]


def _detail_lines(d: DesignChange) -> list[tuple[str, str]]:
    """``(label, text)`` of every compared field of the design, in report order."""
    rows = []
    if d.pattern[0] != d.pattern[1] and None not in d.pattern:
        rows.append(("pattern", f"{d.pattern[0]} -> {d.pattern[1]}"))
    rows.append(("fleet", d.fleet.text))
    if d.batching.old is not None or d.batching.new is not None:
        rows.append(("batching", d.batching.text))
    rows.append(("SLO", d.slo.text))
    rows += [(m.label, m.text) for m in d.metrics]
    return rows


def render_table(diff: RunDiff, *, width: int | None = None, wide: bool = False) -> str:
    """Return the diff for a terminal: the summary line, the compact table and the details,
    fitting ``width`` (default the terminal's; :func:`planner.reports.fit.print_fitted`)."""
    buffer = io.StringIO()
    console = plain_console(buffer, width)
    console.print(diff.summary_text(), soft_wrap=True)  # prose: the terminal wraps it
    console.print(_sides_line(diff), soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD, title="per design", title_justify="left")
    for header in COMPACT_HEADERS:
        table.add_column(header, overflow="fold")
    for d in diff.designs:
        table.add_row(*_compact_cells(d))
    print_fitted(console, table, wide=wide)
    details = Table(box=box.SIMPLE_HEAD, title="details", title_justify="left")
    for header in ("design", "field", "base -> head"):
        details.add_column(header, overflow="fold")
    for i, d in enumerate(diff.designs):
        for j, (label, text) in enumerate(_detail_lines(d)):
            details.add_row(f"{d.name} ({d.status})" if j == 0 else "", label, text,
                            end_section=j == len(_detail_lines(d)) - 1
                            and i < len(diff.designs) - 1)
    print_fitted(console, details, wide=wide)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _md(text: str) -> str:
    """Escape what would break a Markdown table cell or inline HTML."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace("\n", " "))


def _md_table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    headers = list(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _summary_tag(d: DesignChange) -> str:
    parts = [f"<b>{_md(d.name)}</b> ({d.status})", f"cost per month {_md(d.cost.text)}"]
    if d.slo.old_text != d.slo.new_text:
        parts.append(f"SLO {_md(d.slo.text)}")
    return parts[0] + ": " + "; ".join(parts[1:])


def render_markdown(diff: RunDiff) -> str:
    """Return the diff as a pull-request comment: the one-line summary, a compact table, then
    each design's figures inside a ``<details>`` block."""
    lines = [diff.summary_text(), "", f"<sub>{_md(_sides_line(diff))}</sub>", ""]
    lines += _md_table(COMPACT_HEADERS, (_compact_cells(d) for d in diff.designs))
    for d in diff.designs:
        lines += ["", "<details>", f"<summary>{_summary_tag(d)}</summary>", ""]
        lines += _md_table(("field", "base -> head"), _detail_lines(d))
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
