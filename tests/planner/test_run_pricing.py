"""Discount layers, effective rates, tokens and incomplete prices through the whole stack.

A fixed fleet of 3 x g5.xlarge for 2 hours holds exactly 3 nodes every hour, so each layer's
cost is hand-computed from the built-in snapshot (2026-01-21): on-demand $1.006/h, 1-year
reserved (No Upfront) $0.63378/h, no savings-plan rate.
"""

from __future__ import annotations

import json

import pytest

from planner.reports.table import render_comparison
from planner.run import run_scenario
from planner.schema import parse_scenario

OD, RI_1YR = 1.006, 0.63378
NODES, HOURS = 3, 2


def _scenario(pricing=None, tokens=None, instance="aws:g5.xlarge", extra_designs=()):
    workload = {"name": "w", "kind": "inference",
                "arrivals": {"kind": "poisson", "rate_rps": 100},
                "slo": {"percentile": 99, "latency_ms": 100}}
    if tokens is not None:
        workload["tokens"] = tokens
    design = {"name": "d", "workload": "w", "pattern": "realtime",
              "fleet": {"instance": instance, "nodes": NODES},
              "batching": {"max_batch": 1, "max_wait_ms": 0},
              "service_time": {"kind": "constant", "ms": 5}}
    data = {"name": "t", "horizon_s": HOURS * 3600, "warmup_s": 60, "replications": 2,
            "seed": 3, "workloads": [workload], "designs": [design, *extra_designs]}
    if pricing is not None:
        data["pricing"] = pricing
    return parse_scenario(data)


def _cost(pricing=None, **kwargs):
    return run_scenario(_scenario(pricing, **kwargs)).design("d").cost


def test_list_price_is_the_only_layer_without_discounts():
    cost = _cost()
    assert cost.layers == (("list price", pytest.approx(NODES * HOURS * OD)),)
    assert cost.total_usd == pytest.approx(NODES * HOURS * OD)
    assert not cost.incomplete


def test_negotiated_then_reserved_nodes():
    cost = _cost({"negotiated_discounts": {"aws": 10},
                  "commitments": [{"instance": "aws:g5.xlarge", "kind": "reserved",
                                   "term": "1yr", "nodes": 2}]})
    list_usd = NODES * HOURS * OD
    negotiated = list_usd * 0.9
    committed = 2 * HOURS * RI_1YR * 0.9 + 1 * HOURS * OD * 0.9
    assert [v for _, v in cost.layers] == pytest.approx([list_usd, negotiated, committed])
    assert cost.total_usd == pytest.approx(committed)
    assert cost.usd_per_month == pytest.approx(committed / HOURS * 730)
    assert cost.commitment["covered_node_hours"] == pytest.approx(2 * HOURS)
    assert cost.commitment["unused_commitment_usd"] == pytest.approx(0.0)
    assert "reserved 1yr on aws:g5.xlarge" in cost.discounts[1]


def test_full_coverage_and_amortised_upfront():
    cost = _cost({"commitments": [{"instance": "aws:g5.xlarge", "kind": "reserved",
                                   "coverage": 1.0, "hourly_usd": 0.3, "upfront_usd": 2000}]})
    rate = 0.3 + 2000 / 8760
    assert cost.total_usd == pytest.approx(NODES * HOURS * rate)
    assert cost.commitment["rate_usd_per_hour"] == pytest.approx(rate)


def test_oversized_commitment_pays_for_unused_hours():
    cost = _cost({"commitments": [{"instance": "aws:g5.xlarge", "kind": "savings_plan",
                                   "nodes": 5, "usd_per_hour": 0.7}]})
    assert cost.total_usd == pytest.approx(5 * HOURS * 0.7)
    assert cost.commitment["unused_commitment_usd"] == pytest.approx(2 * HOURS * 0.7)


def test_missing_commitment_rate_makes_the_cost_incomplete_not_zero():
    scenario = _scenario({"commitments": [{"instance": "aws:g5.xlarge",
                                           "kind": "savings_plan", "coverage": 0.5}]})
    result = run_scenario(scenario)
    cost = result.design("d").cost
    assert cost.incomplete and cost.total_usd is None and cost.usd_per_1k_requests is None
    assert "savings_plan_1yr" in cost.note
    doc = json.loads(result.to_json())
    assert doc["designs"][0]["cost"]["incomplete"] is True
    assert doc["designs"][0]["cost"]["total_usd"] is None
    assert doc["recommendation"]["cheapest_meeting_slo"] is None
    assert "$0.00" not in render_comparison(result)


def test_effective_rates_replace_the_catalog_and_are_not_discounted():
    cost = _cost({"negotiated_discounts": {"aws": 10},
                  "effective_rates": [{"instance": "aws:g5.xlarge", "purchase": "on_demand",
                                       "usd_per_hour": 0.9, "source": "CUR 2026-10",
                                       "as_of": "2026-10-31"}]})
    assert cost.total_usd == pytest.approx(NODES * HOURS * 0.9)
    assert cost.price_as_of == "2026-10-31"
    assert "CUR 2026-10" in cost.price_source


def test_tokens_give_usd_per_million_tokens():
    cost = _cost(tokens={"prompt_tokens": 100, "output_tokens": 50})
    assert cost.usd_per_1m_tokens == pytest.approx(cost.usd_per_1k_requests / 1000 / 150 * 1e6)
    assert cost.usd_per_1m_tokens_busy == pytest.approx(
        cost.usd_per_1k_requests_busy / 1000 / 150 * 1e6)


def test_token_means_from_trace_columns(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     + "".join(f"{i * 0.01},{100 + i % 3},{10 * (i % 2)}\n" for i in range(2000)))
    data = _scenario().model_dump(mode="json")
    data["workloads"][0]["arrivals"] = {"kind": "trace", "path": str(trace), "repeat": True}
    data["workloads"][0]["tokens"] = {"prompt_column": "ContextTokens",
                                      "output_column": "GeneratedTokens"}
    data.pop("source_path")
    result = run_scenario(parse_scenario(data))
    d = result.design("d")
    prompt = sum(100 + i % 3 for i in range(2000)) / 2000
    output = sum(10 * (i % 2) for i in range(2000)) / 2000
    assert d.pattern_metrics["tokens_per_request"] == pytest.approx(prompt + output)
    assert d.cost.usd_per_1m_tokens == pytest.approx(
        d.cost.usd_per_1k_requests / 1000 / (prompt + output) * 1e6)


def test_unpriced_instance_is_incomplete_and_never_recommended():
    # the catalog lists p5e.48xlarge without an on-demand price (an unknown instance is an
    # input error: tests/test_unknown_instance.py)
    other = {"name": "unknown", "workload": "w", "pattern": "realtime",
             "fleet": {"instance": "aws:p5e.48xlarge", "nodes": 1},
             "batching": {"max_batch": 1, "max_wait_ms": 0},
             "service_time": {"kind": "constant", "ms": 5}}
    result = run_scenario(_scenario(extra_designs=[other]))
    u = result.design("unknown")
    assert u.cost.incomplete and u.cost.total_usd is None
    assert result.cheapest_meeting_slo().name == "d"


def test_assumptions_list_the_layers():
    result = run_scenario(_scenario({"negotiated_discounts": {"aws": 7.5}}))
    assert "negotiated discount aws 7.5%" in result.assumptions["discounts"]
    assert "list price, negotiated discount, commitment, spot" in result.assumptions["discounts"]


def test_layers_are_shown_in_the_table_and_markdown():
    from planner.reports.markdown import render_markdown

    result = run_scenario(_scenario({"negotiated_discounts": {"aws": 10},
                                     "commitments": [{"instance": "aws:g5.xlarge",
                                                      "kind": "reserved", "nodes": 2}]}))
    list_usd = NODES * HOURS * OD
    committed = 2 * HOURS * RI_1YR * 0.9 + 1 * HOURS * OD * 0.9
    table = render_comparison(result)
    line = next(li for li in table.splitlines() if li.startswith("Discount layers [d]"))
    assert f"list price ${list_usd:,.2f}" in line
    assert f"negotiated discount (aws 10%) ${list_usd * 0.9:,.2f}" in line
    assert f"commitment ${committed:,.2f}" in line
    assert "100.0% used" in line
    md = render_markdown(result)
    assert f"layer commitment: ${committed:,.2f}" in md
    assert "negotiated aws 10%" in md


def _focus_bill(path, rows):
    header = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,BilledCost,"
              "EffectiveCost,ListCost,ContractedCost,BillingCurrency,ChargeCategory,ServiceName,"
              "ServiceCategory,ProviderName,PublisherName,InvoiceIssuerName,BillingAccountId,"
              "RegionId,PricingQuantity,PricingUnit,x_Provider,x_InstanceType,x_UsageHours,"
              "x_PurchaseOption\n")
    lines = []
    for day, instance, purchase, hours, cost in rows:
        lines.append(f"2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-{day:02d}T00:00:00Z,"
                     f"2026-10-{day + 1:02d}T00:00:00Z,{cost},{cost},{hours * OD},{cost},USD,"
                     f"Usage,Amazon Elastic Compute Cloud,Compute,AWS,AWS,AWS,012345678901,"
                     f"us-east-1,{hours},Hours,aws,{instance},{hours},{purchase}\n")
    path.write_text(header + "".join(lines))


def test_effective_rates_from_billing_exports(tmp_path):
    # the bills show g5.xlarge on-demand at 48 h for $43.20 and 24 h for $21.60: $0.90/h
    bill = tmp_path / "focus-2026-10.csv"
    _focus_bill(bill, [(1, "g5.xlarge", "on_demand", 48, 43.20),
                       (2, "g5.xlarge", "on_demand", 24, 21.60),
                       (3, "p5.48xlarge", "spot", 10, 210.0)])
    result = run_scenario(_scenario({"source": "billing", "paths": [str(bill)],
                                     "negotiated_discounts": {"aws": 10}}))
    cost = result.design("d").cost
    assert cost.total_usd == pytest.approx(NODES * HOURS * 0.90)  # not discounted again
    assert cost.price_as_of == "2026-10-31"
    assert "effective rate from billing" in cost.price_source
    assert "billing exports" in result.assumptions["discounts"]


def test_billing_without_the_instance_falls_back_to_the_catalog(tmp_path):
    bill = tmp_path / "focus.csv"
    _focus_bill(bill, [(1, "p5.48xlarge", "on_demand", 10, 500.0)])
    cost = _cost({"source": "billing", "paths": [str(bill)]})
    assert cost.total_usd == pytest.approx(NODES * HOURS * OD)
    assert "billing exports show no on_demand usage of aws:g5.xlarge" in cost.price_source


def test_billing_source_needs_paths_and_readable_files(tmp_path):
    from domain.errors import ScenarioError

    with pytest.raises(ScenarioError, match="source: billing needs the billing exports"):
        _scenario({"source": "billing"})
    with pytest.raises(ScenarioError, match=r"pricing\.paths"):
        run_scenario(_scenario({"source": "billing", "paths": [str(tmp_path / "none.csv")]}))
