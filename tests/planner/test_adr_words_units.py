"""Issue 15 items 6, 7, 9, 10: an ADR in its pattern's words and unit, dated by the prices it
used; inconclusive verdicts, cost ties and warnings as such; one unit per value and its CI, and
per row or column of durations.

Each test fails on the code before the fix: training ADRs spoke of serving (``Serve finetune``,
``n/a per 1k requests``, ``dropped 0 requests``), the ADR's date was the catalog's own date
rather than that of the prices used, ``fmt_ms`` printed ``34.62 min ± 6,403.20 ms``, an
inconclusive verdict read MISSED, a cost difference inside the noise read as a saving, and the
ADR had no warnings section.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.reports.adr import render_adr
from planner.reports.formatting import estimates_unit, fmt_ms, fmt_ms_in, fmt_unit
from planner.results import SLO_INCONCLUSIVE, RunResult, SloResult
from planner.run import run_scenario
from planner.schema import load_scenario
from planner.schema_sweep import SweepConstraints
from planner.stats import Estimate
from planner.sweep.engine import SweepResult
from planner.sweep.report import build_sweep_report, verdict
from tests.planner.report_fixture import est, run_result

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SERVING_WORDS = re.compile(r"\bServe\b|\bserve\b|requests|per 1k requests")


def _prices_by_provider(doc: dict) -> dict[str, set[str]]:
    """The catalog dates of the prices each provider's designs used, from the result JSON."""
    out: dict[str, set[str]] = {}
    for d in doc["designs"]:
        provider = d["fleet"]["instance"].split(":", 1)[0].upper()
        dates = {s["as_of"] for s in d["cost"]["price_sources"] if s["as_of"]}
        out.setdefault(provider, set()).update(dates)
    return {k: v for k, v in out.items() if v}


@pytest.fixture(scope="module")
def training() -> RunResult:
    return run_scenario(load_scenario(SCENARIOS / "training-spot.yaml"))


@pytest.fixture(scope="module")
def recsys() -> RunResult:
    scenario = load_scenario(SCENARIOS / "nightly-recsys.yaml")
    return run_scenario(scenario.model_copy(update={"replications": 2}))


def test_training_adr_through_the_cli_speaks_of_runs_not_requests(tmp_path) -> None:
    out = tmp_path / "adr.md"
    res = CliRunner().invoke(app, ["adr", str(SCENARIOS / "training-spot.yaml"), "-o", str(out),
                                   "-q"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert SERVING_WORDS.search(text) is None, SERVING_WORDS.search(text)
    assert "\n# Train finetune with " in text
    assert "should train finetune" in text
    assert " per run allocated, " in text and "interruptions per run" in text


def test_training_adr_states_dollars_per_run(training) -> None:
    text = render_adr(training)
    chosen = training.cheapest_meeting_slo()
    assert chosen is not None and chosen.cost.usd_per_run is not None
    assert f"({fmt_unit(chosen.cost.usd_per_run)} per run)" in text.split("### Consequences")[0]
    for d in training.designs:
        assert f"{fmt_unit(d.cost.usd_per_run)} per run allocated, " in text


def test_batch_adr_scores_records(recsys) -> None:
    text = render_adr(recsys)
    assert "\n# Score records with " in text
    assert "per 1k records allocated" in text and "per 1k requests" not in text
    assert "dropped 0 records" in text or "no preemption exposure" in text


@pytest.mark.parametrize("which", ["training", "recsys"])
def test_adr_date_is_the_catalog_date_of_the_prices_used_per_provider(which, request) -> None:
    result: RunResult = request.getfixturevalue(which)
    doc = result.to_dict()
    used = _prices_by_provider(doc)
    assert used
    text = render_adr(result)
    date = re.search(r"^date: (\S+)$", text, re.MULTILINE).group(1)
    assert date == max(day for days in used.values() for day in days)
    prices = next(line for line in text.splitlines() if line.startswith("* prices: "))
    for provider, days in used.items():
        assert f"{provider} as of {' and '.join(sorted(days))}" in prices
    if doc["assumptions"]["price_catalog_as_of"] not in {d for v in used.values() for d in v}:
        assert doc["assumptions"]["price_catalog_as_of"] not in prices


def test_several_providers_each_give_their_date() -> None:
    result = run_result()
    fast = result.design("fast-rt")
    gcp = replace(fast, name="gcp-rt", fleet=replace(fast.fleet, instance="gcp:g2-standard-8"),
                  cost=replace(fast.cost, usd_per_month=4000.0,
                               sources=(("on_demand", "gcp pricing.yml", "2026-07-31"),)))
    text = render_adr(replace(result, designs=(*result.designs, gcp)))
    assert "\ndate: 2026-07-31\n" in text
    assert "* prices: built-in snapshot; AWS as of 2026-01-21, GCP as of 2026-07-31" in text
    assert "(AWS as of 2026-01-21, GCP as of 2026-07-31)" in text  # in the context too


def test_a_value_and_its_half_width_share_the_value_s_unit() -> None:
    minutes = 34.62 * 60_000
    text = fmt_ms(Estimate(minutes, minutes - 6_403.2, minutes + 6_403.2, 4), ci=True)
    assert text == "34.62 min ± 0.107 min"
    value, half = text.split(" ± ")
    assert value.split()[-1] == half.split()[-1] == "min"


def test_a_row_of_percentiles_uses_one_unit() -> None:
    row = [Estimate(v, v - 50.0, v + 50.0, 4) for v in (6_091.02, 7_500.0, 12_400.0, 15_000.0,
                                                        18_230.0)]
    unit = estimates_unit(row)
    cells = [fmt_ms_in(e, unit, ci=True) for e in row]
    assert unit == "s"
    assert cells[0] == "6.09 s ± 0.0500 s" and cells[-1] == "18.23 s ± 0.0500 s"
    assert {part.split()[-1] for cell in cells for part in cell.split(" ± ")} == {"s"}


def _inconclusive(result: RunResult) -> RunResult:
    """fast-rt's p99 interval (49.92 to 50.12 ms) straddles its 50 ms bound."""
    slo = SloResult(percentile=99.0, latency_ms=50.0, achieved_ms=est(50.02, 0.1),
                    attainment=est(0.99, 0.001))
    assert slo.verdict == SLO_INCONCLUSIVE
    designs = tuple(replace(d, slo=slo) if d.name == "fast-rt" else d for d in result.designs)
    return replace(result, designs=designs)


def test_an_inconclusive_verdict_reads_inconclusive_in_the_adr() -> None:
    result = _inconclusive(run_result())
    text = render_adr(result)
    option = next(line for line in text.splitlines() if line.startswith("* fast-rt: "))
    assert ": inconclusive (95% CI 49.92 ms to 50.12 ms straddles the bound" in option
    assert "replications would settle it" in option
    assert "MISSED" not in option and ": met" not in option
    assert "it misses the SLO" not in text.split("### fast-rt")[1].split("###")[0]
    assert 'Chosen option: "fast-rt"' not in text


def test_a_sweep_point_with_an_inconclusive_bound_reads_inconclusive() -> None:
    slo = SloResult(percentile=99.0, latency_ms=50.0, achieved_ms=est(50.02, 0.1),
                    attainment=est(0.99, 0.001))
    row = {"meets_slo": False, "slos": [slo.to_dict()]}
    assert verdict(row) == "inconclusive"
    missed = SloResult(percentile=99.0, latency_ms=500.0, achieved_ms=est(600.0, 1.0),
                       attainment=est(0.9), metric="ttft")
    row = {"meets_slo": False, "slos": [missed.to_dict(), {**slo.to_dict(), "metric": "tpot"}]}
    assert verdict(row) == "MISSED (TTFT)"


def _tied(result: RunResult) -> RunResult:
    """slow-expensive costs $0.51 a month more than fast-rt, inside both ±$5 intervals."""
    designs = []
    for d in result.designs:
        if d.name == "fast-rt":
            d = replace(d, cost=replace(d.cost, usd_per_month_ci95=(995.0, 1005.0)))
        elif d.name == "slow-expensive":
            d = replace(d, cost=replace(d.cost, usd_per_month=1000.51,
                                        usd_per_month_ci95=(995.51, 1005.51)))
        designs.append(d)
    return replace(result, designs=tuple(designs))


def test_a_cost_tie_reads_as_a_tie_never_a_saving() -> None:
    result = _tied(run_result())
    assert [d.name for d in result.ties_with_best()] == ["slow-expensive"]
    text = render_adr(result)
    assert "$0.51" not in text
    outcome = text.split("## Decision Outcome")[1].split("###")[0]
    assert "ties with slow-expensive ($1,000.51 ± $5.00 per month; the same cost within the " \
           "simulation's noise, ±$7.07)" in outcome
    assert "It saves" not in outcome
    pros = text.split("### slow-expensive")[1].split("###")[0]
    assert ("it costs the same as fast-rt within the simulation's noise (±$7.07 per month) "
            "($1,000.51 ± $5.00 vs $1,000.00 ± $5.00)") in pros
    assert "$1,000.00 ± $5.00 per month" in text  # the monthly cost with its interval


def test_the_warnings_section_lists_every_design_s_warnings() -> None:
    result = run_result()
    text = render_adr(result)
    section = text.split("## Warnings")[1].split("## Assumptions")[0]
    for d in result.designs:
        for w in d.warnings:
            assert f"* {d.name}: {w} ({w.code})" in section
    quiet = replace(result, designs=(result.design("fast-rt"),))
    assert "none: no design has a warning" in render_adr(quiet)


def test_a_sweep_column_of_latencies_uses_one_unit() -> None:
    def row(i: int, slo_ms: float) -> dict:
        return {"point_id": f"p{i}", "index": i, "params": {"fleet.nodes": i}, "seed": i,
                "status": "ok", "error": None, "slo_ms": slo_ms, "meets_slo": True,
                "cost_incomplete": False, "slos": [],
                "metrics": {"usd_per_month": 100.0 * i, "slo_attainment": 0.999}}

    result = SweepResult(
        scenario={"name": "s", "replications": 2}, base_design="d", mode="grid",
        constraints=SweepConstraints(slo=False), slo=None,
        rows=(row(1, 6_091.02), row(2, 18_230.0)), n_ran=2, n_resumed=0, executor="inline",
        workers=1, wall_s=0.0, output="out", fingerprint="f", catalog="c", catalog_as_of=None)
    every = next(s for s in build_sweep_report(result) if s.title == "Every point that ran")
    assert [r[3] for r in every.blocks[0].rows] == ["6.09 s", "18.23 s"]  # was 6,091.02 ms
