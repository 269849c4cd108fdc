"""CI guardrails: grammar without eval, usage errors that teach, breach semantics."""

from __future__ import annotations

import pytest

from planner.reports.guardrails import (
    BASE_METRICS,
    GuardrailError,
    check_guardrails,
    evaluate_guardrails,
    known_metrics,
    parse_guardrail,
    parse_guardrails,
)
from tests.planner.report_fixture import design, run_result

NAMES = [d.name for d in run_result().designs]


@pytest.mark.parametrize("text,design_name,metric,op,threshold", [
    ("p99_ms > 150", None, "p99_ms", ">", 150.0),
    ("p99_ms>150", None, "p99_ms", ">", 150.0),
    ("  slo_attainment < 0.999 ", None, "slo_attainment", "<", 0.999),
    ("usd_per_month >= 1e4", None, "usd_per_month", ">=", 1e4),
    ("usd_per_month <= 12_000", None, "usd_per_month", "<=", 12000.0),
    ("fast-rt:p99_ms == 30", "fast-rt", "p99_ms", "==", 30.0),
    ("fast-rt : utilization != .5", "fast-rt", "utilization", "!=", 0.5),
    ("dropped_requests > -1", None, "dropped_requests", ">", -1.0),
])
def test_grammar(text, design_name, metric, op, threshold) -> None:
    g = parse_guardrail(text)
    assert (g.design, g.metric, g.op, g.threshold) == (design_name, metric, op, threshold)


@pytest.mark.parametrize("text", [
    "p99_ms", "p99_ms > ", "> 150", "p99_ms >> 150", "p99_ms => 150", "p99_ms > 150 ms",
    "p99_ms > abc", "__import__('os').system('true') > 1", "p99_ms > 1 or 1", "p99_ms > nan",
    "", "p99_ms > inf",
])
def test_malformed_expressions_are_usage_errors(text: str) -> None:
    with pytest.raises(GuardrailError) as info:
        parse_guardrail(text)
    assert repr(text.strip()) in str(info.value) or repr(text) in str(info.value)


def test_unknown_metric_suggests_the_closest_and_lists_all() -> None:
    with pytest.raises(GuardrailError) as info:
        check_guardrails(parse_guardrails(["p99 > 1"]), design_names=NAMES)
    message = str(info.value)
    assert "'p99 > 1'" in message and "unknown metric 'p99'" in message
    assert "did you mean 'p99_ms'?" in message
    assert all(m in message for m in BASE_METRICS)


def test_unknown_design_prefix_and_selection() -> None:
    with pytest.raises(GuardrailError, match=r"design 'fast' is not in the scenario.*fast-rt"):
        check_guardrails(parse_guardrails(["fast:p99_ms > 1"]), design_names=NAMES)
    with pytest.raises(GuardrailError, match=r"--design 'nope'"):
        check_guardrails([], design_names=NAMES, selected=["nope"])


def test_base_metrics_are_what_a_realtime_design_has() -> None:
    d = design("d", p99=1.0, slo_ms=2.0, month=10.0)
    assert tuple(d.flat_metrics()) == BASE_METRICS
    assert known_metrics(["realtime"])[: len(BASE_METRICS)] == BASE_METRICS
    both = known_metrics(["realtime", "batch"])
    assert "jobs_missing_deadline" in both and "tokens_per_request" in both
    assert "deadline_probability" not in both  # a training metric


def test_pattern_metrics_list_what_the_runs_report() -> None:
    """Each pattern's registry entry names every numeric pattern metric its real runs produce."""
    from pathlib import Path

    from planner.patterns import PATTERNS
    from planner.run import run_scenario
    from planner.schema import load_scenario

    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    for name in ("nightly-recsys", "training-spot"):
        scenario = load_scenario(scenarios / f"{name}.yaml")
        result = run_scenario(scenario.model_copy(update={"replications": 2}))
        for d in result.designs:
            numeric = {k for k, v in d.pattern_metrics.items()
                       if isinstance(v, (int, float)) or v is None}
            assert numeric <= set(PATTERNS[d.pattern].metric_names), d.pattern


def test_breach_messages() -> None:
    result = run_result()
    breaches = evaluate_guardrails(result, parse_guardrails(["p99_ms > 50"]))
    assert [b.message for b in breaches] == [
        "design cheap-spot: p99_ms = 60 > 50 (fail-if 'p99_ms > 50')",
        "design mystery<&>: p99_ms = 100 > 50 (fail-if 'p99_ms > 50')",
    ]
    assert evaluate_guardrails(result, parse_guardrails(["p99_ms > 100"])) == []


def test_na_is_a_breach_stated_as_such() -> None:
    result = run_result()
    breaches = evaluate_guardrails(result, parse_guardrails(["utilization > 0.95"]))
    assert [b.design for b in breaches] == ["mystery<&>"]
    assert breaches[0].value is None
    assert breaches[0].message == ("design mystery<&>: cannot prove utilization > 0.95 is "
                                   "false: value n/a (fail-if 'utilization > 0.95')")
    # a cost metric: unknown for mystery, only a lower bound for partial
    costs = evaluate_guardrails(result, parse_guardrails(["usd_per_1k_requests > 1"]))
    assert [b.design for b in costs] == ["partial", "mystery<&>"]


def test_design_selection_and_prefix() -> None:
    result = run_result()
    rules = parse_guardrails(["p99_ms > 50"])
    assert [b.design for b in evaluate_guardrails(result, rules, designs=["fast-rt"])] == []
    assert [b.design for b in evaluate_guardrails(result, rules, designs=["cheap-spot"])] == [
        "cheap-spot"]
    prefixed = parse_guardrails(["slow-expensive:p99_ms > 40"])
    assert [b.design for b in evaluate_guardrails(result, prefixed, designs=["fast-rt"])] == [
        "slow-expensive"]


def test_budget() -> None:
    result = run_result()
    breaches = evaluate_guardrails(result, budget_usd_per_month=900)
    by = {b.design: b.message for b in breaches}
    assert set(by) == {"fast-rt", "slow-expensive", "partial", "mystery<&>"}
    assert by["fast-rt"] == ("design fast-rt: usd_per_month = 1,000 > 900 "
                             "(--budget-usd-per-month 900)")
    assert "value n/a" in by["mystery<&>"]
    # incomplete $300 is only a lower bound: within 900 cannot be proven
    assert "cannot prove" in by["partial"] and "lower bound" in by["partial"]
    proven = evaluate_guardrails(result, designs=["partial"], budget_usd_per_month=200)
    assert "usd_per_month >= 300" in proven[0].message


def test_incomplete_cost_lower_bound_can_prove_a_condition_false() -> None:
    result = run_result()
    # the true monthly cost of 'partial' is >= 300, so '< 250' is certainly false
    assert evaluate_guardrails(result, parse_guardrails(["partial:usd_per_month < 250"])) == []
    # but '< 400' cannot be excluded
    assert len(evaluate_guardrails(result, parse_guardrails(["partial:usd_per_month < 400"]))) == 1
    # non-cost metrics of an incomplete design are exact
    assert evaluate_guardrails(result, parse_guardrails(["partial:p99_ms > 25"])) == []
