"""The Markdown report: every number from the results object, n/a for unknowns, escaping."""

from __future__ import annotations

import re

import pytest

from planner.reports.markdown import escape, render_markdown
from planner.reports.sections import human_ms
from tests.planner.report_fixture import HOSTILE, run_result


@pytest.fixture(scope="module")
def result():
    return run_result()


@pytest.fixture(scope="module")
def text(result) -> str:
    return render_markdown(result)


def _cells(line: str) -> list[str]:
    """Split a GFM table row on unescaped pipes."""
    out, cell, i = [], "", 1
    body = line.strip()
    while i < len(body) - 1:
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cell += body[i:i + 2]
            i += 2
            continue
        if ch == "|":
            out.append(cell.strip())
            cell = ""
        else:
            cell += ch
        i += 1
    out.append(cell.strip())
    return out


def _row(text: str, name: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith("| ") and _cells(line)[0] == name:
            return _cells(line)[1:]
    raise AssertionError(f"no row {name!r}")


def test_comparison_numbers_come_from_the_result(result, text) -> None:
    header = _row(text, "metric")
    assert header[0] == "fast-rt ★"  # the recommendation is marked
    assert all("★" not in h for h in header[1:])
    p99 = _row(text, "p99")  # mixed latency / freshness: unlabelled percentiles
    month = _row(text, "cost per month")
    per_1k = _row(text, "$/1k requests (allocated)")
    for i, d in enumerate(result.designs):
        e = d.latency_ms["p99"]
        assert p99[i] == human_ms(e.mean) + " ± " + human_ms(e.half_width)
        if d.cost.usd_per_month is None:
            assert month[i] == "n/a" and per_1k[i] == "n/a"
        else:
            assert month[i] == f"${d.cost.usd_per_month:,.2f}"
            assert per_1k[i] == f"${d.cost.usd_per_1k_requests:.4f}"
    assert header[-1] == "mystery<&>"


def test_unknown_is_na_never_zero(text) -> None:
    mystery = [row[-1] for row in (_row(text, k) for k in (
        "cost, horizon", "cost per month", "$/1k requests (allocated)", "$/1k requests (busy)",
        "$/1M tokens (allocated)", "SLO attainment", "utilisation"))]
    assert mystery == ["n/a"] * len(mystery)
    assert re.search(r"\$0\.00(?!\d)", text) is None


def test_optional_unit_costs_only_when_present(text) -> None:
    assert _row(text, "$/1M tokens (allocated)")[0] == "$0.5000"
    assert _row(text, "$/1M tokens (busy)")[0] == "$0.1250"
    assert "training run" not in text


def test_recommendation_pareto_sources_discounts_flags_assumptions_warnings(result, text) -> None:
    assert "★ fast-rt: the cheapest design" in text
    assert "Pareto-optimal in cost per month and the SLO percentile: fast-rt, cheap-spot" in text
    assert "## Price sources" in text and "2026-01-21" in text
    assert "@0123456" in text and "0123456789abcdef0123" not in text  # hashes shortened
    assert "layer negotiated -10%: $0.45" in text
    assert "discount: negotiated 10% on compute" in text
    assert "commitment: kind savings_plan, coverage 0.5" in text
    assert "## Cost incomplete" in text
    assert "partial: cost incomplete" in text and "n/a (price unknown)" in text
    assert "hours per month: 730" in text and "planner version: 9.9.9-test" in text
    assert "cheap-spot: overloaded at peak" in text
    assert _row(text, "node-hours")[0] == "1.00 on_demand + 1.50 spot"


def test_no_recommendation_when_nothing_qualifies(result) -> None:
    from dataclasses import replace

    only = replace(result, designs=(result.design("cheap-spot"), result.design("mystery<&>")))
    text = render_markdown(only)
    assert "No recommendation" in text and "★" not in text.split("## Comparison")[1].split(
        "\n")[2]


def test_deterministic_and_no_wall_time(result, text) -> None:
    assert render_markdown(result) == text
    assert "12.34" not in text and "wall" not in text


def test_user_strings_are_escaped(text) -> None:
    assert HOSTILE not in text
    assert "\\<script>" in text and "\\| \\*bold\\*" in text
    widths = {len(_cells(line)) for line in text.split("## Comparison")[1].split("\n\n")[1]
              .splitlines()}
    assert widths == {6}  # a pipe in a user string cannot add a column


@pytest.mark.parametrize("raw,escaped", [
    ("on_demand", "on_demand"), ("_x_", "\\_x\\_"), ("a|b", "a\\|b"), ("1. x", "1\\. x"),
    ("9.00", "9.00"), ("# h", "\\# h"), ("line\nbreak", "line break"), ("[l](u)", "\\[l\\](u)"),
])
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_terminal_table_shows_token_columns_only_when_present(result) -> None:
    from dataclasses import replace

    from planner.reports.table import render_comparison

    table = render_comparison(result)
    assert "/1M tok" in table and "$0.5000" in table and "/run" not in table
    assert "/1M tok" not in render_comparison(
        replace(result, designs=result.designs[1:]))


def test_batching_is_shown_in_each_patterns_own_terms(result) -> None:
    """Streaming shows its window and a batch design its period (not a ``max_wait_ms``); a
    training design shows no batching at all."""
    from dataclasses import replace

    from planner.reports.table import render_comparison
    from planner.result_parts import ScheduleBatching, WindowBatching

    rt, stream, batch, train = result.designs[:4]
    designs = (rt, replace(stream, pattern="streaming", batching=WindowBatching(60.0, 1024)),
               replace(batch, pattern="batch", batching=ScheduleBatching(3600.0, 1024)),
               replace(train, pattern="training", batching=None))
    mixed = replace(result, designs=designs)
    md = render_markdown(mixed)
    assert "batching: batch ≤8, wait ≤2 ms" in md
    assert "batching: window 60 s, batch ≤1024" in md
    assert "batching: a job every 1 h, batch ≤1024" in md
    assert md.count("batching:") == 3 and "max_wait_ms" not in md and "3,600,000" not in md
    table = " ".join(re.sub(r"[│\s]+", " ", render_comparison(mixed)).split())  # cells wrap
    for line in ("batch ≤8, wait ≤2 ms", "window 60 s, batch", "a job every 1 h, batch"):
        assert line in table
    assert "max_wait_ms" not in table


def test_wait_row_only_for_designs_with_a_queue(result) -> None:
    """A real-time design shows its queue wait; a streaming design has no queue, so no wait row
    (not a row of blanks)."""
    from dataclasses import replace

    from planner.stats import Estimate

    rt, stream = result.designs[:2]
    na = Estimate(None, None, None, 0)
    stream = replace(stream, name="windows", pattern="streaming",
                     wait_ms={"mean": na, "p50": na, "p99": na})
    md = render_markdown(replace(result, designs=(rt, stream)))
    sections = md.split("### ")
    queue = next(s for s in sections if s.startswith(rt.name))
    windows = next(s for s in sections if s.startswith("windows"))
    assert "| wait |" in queue
    assert "| wait |" not in windows
