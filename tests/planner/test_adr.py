"""The ADR writer: MADR layout, a decision in numbers (or none), deterministic."""

from __future__ import annotations

from dataclasses import replace

from planner.reports.adr import default_date, render_adr
from planner.reports.markdown import escape
from tests.planner.report_fixture import run_result

MADR_HEADINGS = ["## Context and Problem Statement", "## Decision Drivers",
                 "## Considered Options", "## Decision Outcome", "### Consequences",
                 "## Pros and Cons of the Options", "## Assumptions"]


def test_madr_layout_in_order() -> None:
    text = render_adr(run_result())
    # the date is the catalog date of the prices used (AWS, 2026-01-21), not the catalog's own
    assert text.startswith("---\nstatus: proposed\ndate: 2026-01-21\n---\n\n# Serve w with fast-rt\n")
    positions = [text.index(h) for h in MADR_HEADINGS]
    assert positions == sorted(positions)
    for d in run_result().designs:
        assert f"### {escape(d.name)}" in text


def test_decision_outcome_in_numbers() -> None:
    result = run_result()
    text = render_adr(result)
    outcome = text.split("## Decision Outcome")[1].split("###")[0]
    chosen, nxt = result.design("fast-rt"), result.design("slow-expensive")
    assert 'Chosen option: "fast-rt"' in outcome
    assert f"${chosen.cost.usd_per_month:,.2f} per month" in outcome
    saving = nxt.cost.usd_per_month - chosen.cost.usd_per_month
    assert (f"saves ${saving:,.2f} per month ({saving / nxt.cost.usd_per_month * 100:.1f}%) "
            "against the next-best option meeting every SLO, slow-expensive") in outcome
    assert f"p99 latency {chosen.slo.achieved_ms.mean:,.2f} ms against an SLO of 50.00 ms" in outcome
    # a cheaper option that misses the SLO is named with its numbers
    assert "cheap-spot is cheaper ($500.00 per month) but p99 latency 60.00 ms" in outcome


def test_consequences_name_preemption_and_idle_cost() -> None:
    text = render_adr(run_result())
    consequences = text.split("### Consequences")[1].split("## Pros and Cons")[0]
    assert "Bad, because preemption exposure: 1.50 spot node-hours and 1 preemptions" in consequences
    assert ("Good, because it meets the SLO: latency p99 30.00 ms ≤ 50.00 ms (margin 20.00 ms)"
            in consequences)


def test_unknown_and_incomplete_prices_are_bad_not_cheap() -> None:
    text = render_adr(run_result())
    assert "Bad, because its cost is n/a" in text
    assert "Bad, because its cost is incomplete: $300.00 per month is only a lower bound" in text


def test_no_design_qualifies_no_decision_is_invented() -> None:
    result = run_result()
    only = replace(result, designs=(result.design("cheap-spot"), result.design("partial")))
    text = render_adr(only)
    assert "No option is chosen" in text and "Chosen option" not in text
    assert "### Consequences" not in text
    assert "cheap-spot misses the SLO" in text and "partial has an incomplete price" in text
    assert "# Choose a design to serve w (fixture)" in text


def test_budget_is_a_driver_and_a_constraint() -> None:
    text = render_adr(run_result(), budget_usd_per_month=800)
    assert "budget: at most $800.00 per month" in text
    assert "No option is chosen: the cheapest design meeting every SLO, fast-rt, costs " \
           "$1,000.00 per month, above the budget of $800.00" in text


def test_assumptions_and_determinism() -> None:
    result = run_result()
    text = render_adr(result)
    assumptions = text.split("## Assumptions")[1]
    for needle in ("prices: built-in snapshot; AWS as of 2026-01-21",
                   "price source (AWS on_demand, as of 2026-01-21): vantage @0123456",
                   "hours per month: 730", "simulation: 3,600 s (60 s warm-up), 3 replications",
                   "replications: 3; seed: 11", "planner version: 9.9.9-test",
                   "discount on partial: negotiated 10% on compute",
                   "scenario file: fixture.yaml"):
        assert needle in assumptions
    assert render_adr(run_result()) == text
    assert "12.34" not in text  # no wall time


def test_title_status_date_overrides_and_default_date() -> None:
    result = run_result()
    text = render_adr(result, title="Use fast-rt", status="accepted", date="2027-01-02")
    assert text.startswith("---\nstatus: accepted\ndate: 2027-01-02\n---\n\n# Use fast-rt\n")
    bare = replace(result, assumptions={"hours_per_month": 730.0})
    assert default_date(bare) == "2026-01-21"
    unpriced = replace(result, designs=(result.design("mystery<&>"),))
    assert default_date(unpriced) == "2026-07-30"  # no price used: the catalog's date
