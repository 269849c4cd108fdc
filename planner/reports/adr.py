"""An Architecture Decision Record (MADR 4 layout, https://adr.github.io/madr/) from a run.

The decision is the results object's: the cheapest design with a known, complete price that
meets every SLO (:meth:`RunResult.cheapest_meeting_slo`), and, when a budget is given, within it.
When no design qualifies the record says so and decides nothing. Deterministic: the date is the
price catalog's as-of date unless given; nothing depends on the wall clock.
"""

from __future__ import annotations

from pathlib import PurePath

from planner.reports import llm as llm_report
from planner.reports.markdown import escape
from planner.reports.sections import (
    NA,
    fleet_text,
    fmt_money,
    fmt_pct,
    fmt_plain,
    fmt_unit,
    human_ms,
    node_hours_by_purchase,
    short_source,
    slo_percentile_ms,
    slo_text,
)
from planner.results import DesignResult, RunResult

STATUSES = ("proposed", "accepted", "rejected", "deprecated", "superseded")
"""MADR statuses (``superseded by ADR-0005`` and other text is accepted too)."""


def default_date(result: RunResult) -> str:
    """Return the price catalog's as-of date, else the newest price date, else ``unknown``."""
    as_of = result.assumptions.get("price_catalog_as_of")
    if as_of:
        return str(as_of)
    dates = sorted(str(d.cost.price_as_of) for d in result.designs if d.cost.price_as_of)
    return dates[-1] if dates else "unknown"


def _workloads(result: RunResult) -> dict[str, DesignResult]:
    """Each workload's design judged on the most SLO bounds (it states the workload's SLO)."""
    out: dict[str, DesignResult] = {}
    for d in result.designs:
        if d.workload not in out or len(d.slos) > len(out[d.workload].slos):
            out[d.workload] = d
    return out


def _ok(d: DesignResult) -> bool:
    """Return whether ``d`` is eligible: meets its SLO and has a known, complete price."""
    return (d.fully_meets_slo is not False and d.cost.usd_per_month is not None
            and not d.cost.incomplete)


def _chosen(result: RunResult, budget: float | None) -> DesignResult | None:
    best = result.cheapest_meeting_slo()
    if best is None or (budget is not None and best.cost.usd_per_month > budget):
        return None
    return best


def default_title(result: RunResult, budget_usd_per_month: float | None = None) -> str:
    """Return ``Serve <workload> with <design>``, or a question when nothing is chosen."""
    chosen = _chosen(result, budget_usd_per_month)
    workloads = ", ".join(_workloads(result))
    if chosen is None:
        return f"Choose a design to serve {workloads} ({result.scenario.get('name', NA)})"
    return f"Serve {workloads} with {chosen.name}"


def _value_vs_slo(d: DesignResult) -> str:
    """Every bound of the SLO: ``p99 TTFT 40.28 ms against an SLO of 500.00 ms: met; ...``,
    then the first bound's attainment."""
    if d.slo is None:
        return f"p99 {d.metric_label} {human_ms(slo_percentile_ms(d))} (no SLO)"
    parts = [f"p{s.percentile:g} {llm_report.metric_name(d, s)} {human_ms(s.achieved_ms.mean)} "
             f"against an SLO of {human_ms(s.latency_ms)}: {'met' if s.met else 'MISSED'}"
             for s in d.slos]
    first = "" if len(d.slos) == 1 else f"{llm_report.metric_name(d, d.slo)} "
    return "; ".join(parts) + f" ({first}attainment {fmt_pct(d.slo.attainment.mean, 2)})"


def _cost_line(d: DesignResult) -> str:
    if d.cost.usd_per_month is None:
        return "cost n/a (price unknown)"
    lower = " (incomplete: a lower bound)" if d.cost.incomplete else ""
    tokens = llm_report.token_cost_text(d) if d.llm is not None else None
    return (f"{fmt_money(d.cost.usd_per_month)} per month{lower}, "
            f"{fmt_unit(d.cost.usd_per_1k_requests)} per 1k requests allocated, "
            f"{fmt_unit(d.cost.usd_per_1k_requests_busy)} busy"
            + ("" if tokens is None else f", {tokens}"))


def _option_summary(d: DesignResult) -> str:
    llm = llm_report.summary_text(d)
    return (f"{d.name}: {d.pattern}, {fleet_text(d)}; {_value_vs_slo(d)}; "
            + ("" if llm is None else f"{llm}; ")
            + f"{_cost_line(d)}; utilisation {fmt_pct(d.utilization.mean)}")


def _slo_pros_cons(d: DesignResult, good: list[str], neutral: list[str],
                   bad: list[str]) -> None:
    """One statement per bound of the SLO (met or missed, with the margin), and for LLM
    designs how much of the throughput is goodput."""
    if d.slo is None:
        neutral.append(f"its workload has no SLO (p99 {d.metric_label} "
                       f"{human_ms(slo_percentile_ms(d))})")
    for s in d.slos:
        value = s.achieved_ms.mean
        what = f"{llm_report.metric_name(d, s)} p{s.percentile:g}"
        if s.met:
            margin = None if value is None else s.latency_ms - value
            good.append(f"it meets the SLO: {what} {human_ms(value)} ≤ "
                        f"{human_ms(s.latency_ms)} (margin {human_ms(margin)})")
        else:
            att = f" (attainment {fmt_pct(s.attainment.mean, 2)})" if s is d.slo else ""
            bad.append(f"it misses the SLO: {what} {human_ms(value)} > "
                       f"{human_ms(s.latency_ms)}{att}")
    m, rate = d.llm, d.arrival_rate_rps.mean
    if m is None or m.goodput_rps.mean is None or not rate:
        return
    share = m.goodput_rps.mean / rate
    text = (f"goodput {m.goodput_rps.mean:,.2f} req/s of {rate:,.2f} req/s arriving "
            f"({fmt_pct(share)}) meet every bound of the SLO")
    (good if share is not None and share >= 0.99 else bad).append(text)


def _spot_hours(d: DesignResult) -> float:
    return sum(v for k, v in node_hours_by_purchase(d).items() if "spot" in k)


def _pros_cons(d: DesignResult, chosen: DesignResult | None,
               budget: float | None) -> tuple[list[str], list[str], list[str]]:
    """Return (good, neutral, bad) statements about ``d``, with numbers."""
    good: list[str] = []
    neutral: list[str] = []
    bad: list[str] = []
    _slo_pros_cons(d, good, neutral, bad)
    month = d.cost.usd_per_month
    if month is None:
        bad.append("its cost is n/a: no price for "
                   f"{d.fleet.instance} in the catalog"
                   + (f" ({d.cost.note})" if d.cost.note else ""))
    elif d.cost.incomplete:
        bad.append(f"its cost is incomplete: {fmt_money(month)} per month is only a lower bound")
    elif chosen is not None and d.name != chosen.name and chosen.cost.usd_per_month is not None:
        diff = month - chosen.cost.usd_per_month
        if diff > 0:
            bad.append(f"it costs {fmt_money(diff)} per month more than {chosen.name} "
                       f"({fmt_money(month)} vs {fmt_money(chosen.cost.usd_per_month)})")
        elif diff < 0:
            good.append(f"it costs {fmt_money(-diff)} per month less than {chosen.name} "
                        f"({fmt_money(month)} vs {fmt_money(chosen.cost.usd_per_month)})")
        else:
            neutral.append(f"it costs the same as {chosen.name} ({fmt_money(month)} per month)")
    if budget is not None and month is not None and not d.cost.incomplete:
        if month > budget:
            bad.append(f"it exceeds the budget: {fmt_money(month)} > {fmt_money(budget)} per "
                       "month")
        else:
            good.append(f"it fits the budget: {fmt_money(month)} ≤ {fmt_money(budget)} per month")
    util = d.utilization.mean
    alloc, busy = d.cost.usd_per_1k_requests, d.cost.usd_per_1k_requests_busy
    if util is not None and util < 0.5:
        bad.append(f"idle cost: GPUs are busy {fmt_pct(util)} of the time, so most allocated "
                   f"GPU-time is paid idle ({fmt_unit(alloc)} per 1k requests allocated vs "
                   f"{fmt_unit(busy)} busy)")
    elif util is not None:
        good.append(f"GPUs are busy {fmt_pct(util)} of the time ({fmt_unit(alloc)} per 1k "
                    f"requests allocated vs {fmt_unit(busy)} busy)")
    spot = _spot_hours(d)
    preemptions = d.fleet.preemptions
    if spot > 0 or preemptions > 0:
        bad.append(f"preemption exposure: {spot:,.2f} spot node-hours and "
                   f"{fmt_plain(preemptions)} preemptions over the horizon (requeued "
                   f"{fmt_plain(d.fleet.requeued_requests)}, dropped "
                   f"{fmt_plain(d.fleet.dropped_requests)} requests)")
    else:
        neutral.append("no spot capacity, so no preemption exposure")
    bad.extend(d.warnings)
    return good, neutral, bad


def _bullets(prefix: str, items: list[str]) -> list[str]:
    return [f"* {prefix}, because {escape(i)}" for i in items]


def render_adr(
    result: RunResult,
    *,
    title: str | None = None,
    status: str = "proposed",
    date: str | None = None,
    budget_usd_per_month: float | None = None,
) -> str:
    """Return an ADR (MADR layout) for the decision ``result`` supports.

    Parameters
    ----------
    result : the simulated and priced scenario.
    title : the decision's title (default ``Serve <workload> with <design>``).
    status : MADR status (proposed, accepted, ...).
    date : ``YYYY-MM-DD`` (default: the price catalog's as-of date, never today).
    budget_usd_per_month : an optional budget, listed as a decision driver; a design above it
        is not chosen.
    """
    sc = result.scenario
    a = result.assumptions
    chosen = _chosen(result, budget_usd_per_month)
    workloads = _workloads(result)
    lines = ["---", f"status: {status}", f"date: {date or default_date(result)}", "---", "",
             f"# {escape(title or default_title(result, budget_usd_per_month))}", ""]

    lines += ["## Context and Problem Statement", ""]
    desc = f" {sc['description'].rstrip('.')}." if sc.get("description") else ""
    names = ", ".join(d.name for d in result.designs)
    lines += [escape(
        f"Scenario {sc.get('name', NA)}.{desc} Which of the {len(result.designs)} candidate "
        f"designs ({names}) should serve {', '.join(workloads)}, meeting every SLO at the lowest "
        f"known cost? Each design was simulated for {fmt_plain(sc.get('horizon_s'))} s "
        f"({fmt_plain(sc.get('warmup_s'))} s warm-up), {fmt_plain(sc.get('replications'))} "
        f"replications, and priced from {a.get('price_catalog', NA)}."), ""]

    lines += ["## Decision Drivers", ""]
    for name, d in workloads.items():
        lines.append(f"* {escape(f'workload {name}: {d.arrivals}')}")
        lines.append(f"* {escape(f'SLO of {name}: {slo_text(d)}')}")
    lines.append("* " + escape(f"cost: the lowest known, complete monthly cost "
                               f"({fmt_plain(a.get('hours_per_month'))} hours per month); an "
                               "unknown or incomplete price is never the cheapest"))
    if budget_usd_per_month is not None:
        lines.append("* " + escape(f"budget: at most {fmt_money(budget_usd_per_month)} per month"))
    lines.append("")

    lines += ["## Considered Options", ""]
    lines += [f"* {escape(_option_summary(d))}" for d in result.designs]
    lines.append("")

    lines += ["## Decision Outcome", ""]
    lines += _outcome(result, chosen, budget_usd_per_month)
    lines.append("")
    if chosen is not None:
        good, neutral, bad = _pros_cons(chosen, chosen, budget_usd_per_month)
        lines += ["### Consequences", ""]
        lines += _bullets("Good", good) + _bullets("Neutral", neutral) + _bullets("Bad", bad)
        lines.append("")

    lines += ["## Pros and Cons of the Options", ""]
    for d in result.designs:
        good, neutral, bad = _pros_cons(d, chosen, budget_usd_per_month)
        mark = " (chosen)" if chosen is not None and d.name == chosen.name else ""
        lines += [f"### {escape(d.name + mark)}", "", escape(_option_summary(d)), ""]
        lines += _bullets("Good", good) + _bullets("Neutral", neutral) + _bullets("Bad", bad)
        lines.append("")

    lines += ["## Assumptions", ""]
    lines += [f"* {escape(item)}" for item in _assumptions(result)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _outcome(result: RunResult, chosen: DesignResult | None, budget: float | None) -> list[str]:
    """Return the Decision Outcome paragraph(s): the choice and why, in numbers, or none."""
    if chosen is None:
        best = result.cheapest_meeting_slo()
        if best is not None and budget is not None:
            why = (f"the cheapest design meeting every SLO, {best.name}, costs "
                   f"{fmt_money(best.cost.usd_per_month)} per month, above the budget of "
                   f"{fmt_money(budget)}")
        else:
            why = "no design with a known, complete price meets every SLO"
        reasons = []
        for d in result.designs:
            if d.meets_slo is False:
                reasons.append(f"{d.name} misses the SLO ({_value_vs_slo(d)})")
            elif d.cost.usd_per_month is None:
                reasons.append(f"{d.name} has no known price")
            elif d.cost.incomplete:
                reasons.append(f"{d.name} has an incomplete price (lower bound "
                               f"{fmt_money(d.cost.usd_per_month)} per month)")
        out = [escape(f"No option is chosen: {why}. This record decides nothing; add or change "
                      "designs, prices or the SLO and simulate again.")]
        return out + ([""] + [f"* {escape(r)}" for r in reasons] if reasons else [])
    c_month = chosen.cost.usd_per_month
    others = sorted((d for d in result.designs if d.name != chosen.name and _ok(d)),
                    key=lambda d: (d.cost.usd_per_month, d.name))
    text = (f"Chosen option: \"{chosen.name}\", because it is the cheapest design with a known, "
            f"complete price that meets every SLO: {fmt_money(c_month)} per month "
            f"({fmt_unit(chosen.cost.usd_per_1k_requests)} per 1k requests"
            + ("" if chosen.llm is None else f"; {llm_report.token_cost_text(chosen)}")
            + f"), {_value_vs_slo(chosen)}"
            + ("" if chosen.llm is None else f"; {llm_report.summary_text(chosen)}") + ".")
    if others:
        nxt = others[0]
        diff = nxt.cost.usd_per_month - c_month
        share = (f" ({diff / nxt.cost.usd_per_month * 100:.1f}%)" if nxt.cost.usd_per_month
                 else "")
        text += (f" It saves {fmt_money(diff)} per month{share} against the next-best option "
                 f"meeting every SLO, {nxt.name}, at {fmt_money(nxt.cost.usd_per_month)} per "
                 "month.")
    else:
        text += " It is the only option with a known, complete price that meets every SLO."
    cheaper = [d for d in result.designs if d.name != chosen.name and d.meets_slo is False
               and d.cost.usd_per_month is not None and d.cost.usd_per_month < c_month]
    out = [escape(text)]
    if cheaper:
        out += [""] + [f"* {escape(f'{d.name} is cheaper ({fmt_money(d.cost.usd_per_month)} per month) but ' + _value_vs_slo(d))}"
                       for d in cheaper]
    return out


def _assumptions(result: RunResult) -> list[str]:
    sc = result.scenario
    a = result.assumptions
    items = [f"prices: {a.get('price_catalog', NA)}, as of {a.get('price_catalog_as_of', NA)}"]
    seen = set()
    for d in result.designs:
        for purchase, source, as_of in d.cost.sources:
            if source is None:
                continue
            item = (f"price source ({purchase}, as of {as_of or NA}): "
                    f"{short_source(source, purchase)}")
            if item not in seen:
                seen.add(item)
                items.append(item)
        if d.cost.usd_per_hour is None:
            items.append(f"price of {d.name}: n/a" + (f" ({d.cost.note})" if d.cost.note else ""))
        for text in d.cost.discounts:
            items.append(f"discount on {d.name}: {text}")
        if d.cost.commitment:
            items.append(f"commitment of {d.name}: " + ", ".join(
                f"{k} {fmt_plain(v)}" for k, v in d.cost.commitment.items()))
    items.append(f"hours per month: {fmt_plain(a.get('hours_per_month'))}")
    items.append(f"discounts: {fmt_plain(a.get('discounts'))}")
    items.append(f"simulation horizon: {fmt_plain(sc.get('horizon_s'))} s, of which "
                 f"{fmt_plain(sc.get('warmup_s'))} s warm-up")
    items.append(f"replications: {fmt_plain(sc.get('replications'))}; seed: "
                 f"{fmt_plain(sc.get('seed'))}")
    for key in ("cost_basis", "unit_cost_basis", "monthly_projection", "utilization_basis",
                "fleet", "statistics", "percentiles"):
        if key in a:
            items.append(f"{key.replace('_', ' ')}: {fmt_plain(a[key])}")
    if sc.get("path"):
        items.append(f"scenario file: {PurePath(str(sc['path'])).name}")
    items.append(f"planner version: {result.planner_version}")
    return items
