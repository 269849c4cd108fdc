"""An Architecture Decision Record (MADR 4 layout, https://adr.github.io/madr/) from a run.

The decision is the results object's: the cheapest design with a known, complete price that
meets every SLO (:meth:`RunResult.cheapest_meeting_slo`), and, when a budget is given, within it.
When no design qualifies the record says so and decides nothing. Each design speaks its
pattern's words and unit (:data:`PATTERN_TERMS`); an SLO verdict may be inconclusive, and a cost
difference inside the simulation's noise (:func:`planner.results.cost_tie`) is a tie.
Deterministic: the date is the newest catalog date of the prices used unless given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePath

from planner.reports import llm as llm_report
from planner.reports.formatting import ms_in, shared_unit
from planner.reports.markdown import escape
from planner.reports.sections import (
    NA,
    calibration_lines,
    fleet_text,
    fmt_money,
    fmt_pct,
    fmt_plain,
    fmt_unit,
    human_ms,
    money_ci,
    node_hours_by_purchase,
    short_source,
    slo_percentile_ms,
    slo_text,
    warning_lines,
)
from planner.results import (
    SLO_INCONCLUSIVE,
    SLO_MET,
    CostResult,
    DesignResult,
    RunResult,
    SloResult,
    cost_tie,
)

STATUSES = ("proposed", "accepted", "rejected", "deprecated", "superseded")
"""MADR statuses (``superseded by ADR-0005`` and other text is accepted too)."""


@dataclass(frozen=True)
class Terms:
    """How the ADR speaks of a pattern's designs: what they do to the workload (``verb``),
    what they process (``items``), the unit their cost is stated in (``unit``) and what their
    GPUs are busy with (``work``)."""

    verb: str
    items: str
    unit: str
    work: str


PATTERN_TERMS: dict[str, Terms] = {
    "training": Terms("train", "runs", "run", "training"),
    "batch": Terms("score", "records", "1k records", "scoring records"),
    "streaming": Terms("score", "records", "1k records", "scoring records"),
    "realtime": Terms("serve", "requests", "1k requests", "serving batches"),
    "llm": Terms("serve", "requests", "1M tokens", "serving batches"),
}
"""Words and unit cost of each pattern; an unknown pattern reads like real time."""

UNIT_BASES: dict[str, str] = {
    "run": "$ per run = cost of one simulated run's node-hours (allocated: every node-hour of "
           "the gang; busy: only its GPU-time spent training); $ per month = $ per run x runs "
           "per month",
    "1k records": "$ per 1,000 records = cost of the nodes during the window after warm-up / "
                  "records completed in it",
    "1k requests": "$ per 1,000 requests = cost of the nodes during the window after warm-up / "
                   "requests completed in it",
    "1M tokens": "$ per 1M tokens = cost of the nodes during the window after warm-up / input "
                 "and output tokens of the requests completed in it",
}
"""What each unit cost divides, for the assumptions."""

PROVIDER_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}


def terms(d: DesignResult) -> Terms:
    """Return the words and unit of ``d``'s pattern (:data:`PATTERN_TERMS`)."""
    return PATTERN_TERMS.get(d.pattern, PATTERN_TERMS["realtime"])


def unit_costs(d: DesignResult) -> tuple[float | None, float | None]:
    """Return the design's cost per :attr:`Terms.unit`, allocated and busy (None = n/a)."""
    c, unit = d.cost, terms(d).unit
    if unit == "run":
        return c.usd_per_run, c.usd_per_run_busy
    if unit == "1M tokens":
        return c.usd_per_1m_tokens, c.usd_per_1m_tokens_busy
    return c.usd_per_1k_requests, c.usd_per_1k_requests_busy


def unit_cost_text(d: DesignResult, *, busy: bool = True) -> str:
    """Return ``$16,208.44 per run allocated, $14,862.10 busy`` in the design's own unit (only
    the allocated figure without ``busy``), with an LLM design's input/output split."""
    alloc, busy_usd = unit_costs(d)
    unit = terms(d).unit
    text = f"{fmt_unit(alloc)} per {unit}" + (f" allocated, {fmt_unit(busy_usd)} busy"
                                              if busy else "")
    c = d.cost
    if unit == "1M tokens" and c.usd_per_1m_output_tokens is not None:
        split = (f"{fmt_unit(c.usd_per_1m_input_tokens)} per 1M input, "
                 f"{fmt_unit(c.usd_per_1m_output_tokens)} per 1M output tokens")
        text += f" ({split})" if busy else f"; {split}"
    return text


def provider(instance: str) -> str:
    """Return the provider of an instance key for people: ``aws:g5.xlarge`` -> ``AWS``."""
    prefix = instance.split(":", 1)[0] if ":" in instance else ""
    return PROVIDER_NAMES.get(prefix, prefix.upper() or "unknown provider")


def price_dates(result: RunResult) -> dict[str, tuple[str, ...]]:
    """Return the catalog dates of the prices the designs used, by provider (sorted)."""
    out: dict[str, set[str]] = {}
    for d in result.designs:
        dates = {str(as_of) for _, _, as_of in d.cost.sources if as_of}
        if not dates and d.cost.price_as_of:
            dates = {str(d.cost.price_as_of)}
        if dates:
            out.setdefault(provider(d.fleet.instance), set()).update(dates)
    return {name: tuple(sorted(out[name])) for name in sorted(out)}


def price_dates_text(result: RunResult) -> str | None:
    """Return ``AWS as of 2026-01-21, GCP as of 2026-07-30`` (None when no price is dated)."""
    dates = price_dates(result)
    if not dates:
        return None
    return ", ".join(f"{name} as of {' and '.join(days)}" for name, days in dates.items())


def default_date(result: RunResult) -> str:
    """Return the newest catalog date of the prices the designs used, else the catalog's
    as-of date, else ``unknown`` (never today)."""
    used = [day for days in price_dates(result).values() for day in days]
    if used:
        return max(used)
    as_of = result.assumptions.get("price_catalog_as_of")
    return str(as_of) if as_of else "unknown"


def _workloads(result: RunResult) -> dict[str, DesignResult]:
    """Each workload's design judged on the most SLO bounds (it states the workload's SLO)."""
    out: dict[str, DesignResult] = {}
    for d in result.designs:
        if d.workload not in out or len(d.slos) > len(out[d.workload].slos):
            out[d.workload] = d
    return out


def _tasks(result: RunResult) -> str:
    """Return what the designs do to the workloads: ``train finetune``, ``serve or score
    transactions`` (the verbs of the designs of each workload, in design order)."""
    verbs: dict[str, dict[str, None]] = {}
    for d in result.designs:
        verbs.setdefault(d.workload, {})[terms(d).verb] = None
    return " and ".join(f"{' or '.join(v)} {name}" for name, v in verbs.items())


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
    """Return ``Train finetune with spot-checkpointed`` (the chosen design's verb: train,
    score or serve), or a question when nothing is chosen."""
    chosen = _chosen(result, budget_usd_per_month)
    if chosen is None:
        return f"Choose a design to {_tasks(result)} ({result.scenario.get('name', NA)})"
    workloads = ", ".join(_workloads(result))
    return f"{terms(chosen).verb.capitalize()} {workloads} with {chosen.name}"


def noise_usd(a: CostResult, b: CostResult) -> float:
    """Return the noise :func:`cost_tie` allows between two monthly costs (USD)."""
    return math.hypot(a.usd_per_month_half_width or 0.0, b.usd_per_month_half_width or 0.0)


def _in(value_ms: float | None, unit: str | None) -> str:
    """Return a duration in ``unit`` (a sentence's :func:`shared_unit`), else in its own."""
    return human_ms(value_ms) if unit is None else ms_in(value_ms, unit)


def _verdict_clause(s: SloResult) -> str:
    """Return ``met``, ``MISSED`` or ``inconclusive (95% CI 18.80 s to 21.25 s straddles the
    bound; about 40 replications would settle it, now 8)``."""
    if s.verdict != SLO_INCONCLUSIVE:
        return s.verdict
    a = s.achieved_ms
    unit = shared_unit((a.low, a.high, s.latency_ms))
    settle = s.replications_to_settle()
    more = ("" if settle is None
            else f"; about {settle:,} replications would settle it, now {a.n:,}")
    return (f"inconclusive (95% CI {_in(a.low, unit)} to {_in(a.high, unit)} straddles "
            f"the bound{more})")


def _value_vs_slo(d: DesignResult) -> str:
    """Every bound of the SLO: ``p99 TTFT 40.28 ms against an SLO of 500.00 ms: met; ...``,
    then the first bound's attainment (value and bound in one unit)."""
    if d.slo is None:
        return f"p99 {d.metric_label} {human_ms(slo_percentile_ms(d))} (no SLO)"
    parts = []
    for s in d.slos:
        unit = shared_unit((s.achieved_ms.mean, s.latency_ms))
        parts.append(f"p{s.percentile:g} {llm_report.metric_name(d, s)} "
                     f"{_in(s.achieved_ms.mean, unit)} against an SLO of "
                     f"{_in(s.latency_ms, unit)}: {_verdict_clause(s)}")
    first = "" if len(d.slos) == 1 else f"{llm_report.metric_name(d, d.slo)} "
    return "; ".join(parts) + f" ({first}attainment {fmt_pct(d.slo.attainment.mean, 2)})"


def _month_text(c: CostResult) -> str:
    """Return ``$16,208.44 ± $95.05 per month`` (the 95 % interval when known)."""
    return f"{money_ci(c)} per month"


def _cost_line(d: DesignResult) -> str:
    if d.cost.usd_per_month is None:
        return "cost n/a (price unknown)"
    lower = " (incomplete: a lower bound)" if d.cost.incomplete else ""
    return f"{_month_text(d.cost)}{lower}, {unit_cost_text(d)}"


def _option_summary(d: DesignResult) -> str:
    llm = llm_report.summary_text(d)
    return (f"{d.name}: {d.pattern}, {fleet_text(d)}; {_value_vs_slo(d)}; "
            + ("" if llm is None else f"{llm}; ")
            + f"{_cost_line(d)}; utilisation {fmt_pct(d.utilization.mean)}")


def _slo_pros_cons(d: DesignResult, good: list[str], neutral: list[str],
                   bad: list[str]) -> None:
    """One statement per bound of the SLO (met, missed or inconclusive, with the margin or
    the interval), and for LLM designs how much of the throughput is goodput."""
    if d.slo is None:
        neutral.append(f"its workload has no SLO (p99 {d.metric_label} "
                       f"{human_ms(slo_percentile_ms(d))})")
    for s in d.slos:
        value = s.achieved_ms.mean
        what = f"{llm_report.metric_name(d, s)} p{s.percentile:g}"
        unit = shared_unit((value, s.latency_ms))
        shown, bound = _in(value, unit), _in(s.latency_ms, unit)
        if s.verdict == SLO_MET:
            margin = None if value is None else s.latency_ms - value
            good.append(f"it meets the SLO: {what} {shown} ≤ {bound} (margin "
                        f"{_in(margin, unit)})")
        elif s.verdict == SLO_INCONCLUSIVE:
            bad.append(f"the SLO is neither met nor missed yet: {what} {shown} against {bound}: "
                       f"{_verdict_clause(s)}")
        else:
            att = f" (attainment {fmt_pct(s.attainment.mean, 2)})" if s is d.slo else ""
            bad.append(f"it misses the SLO: {what} {shown} > {bound}{att}")
    m, rate = d.llm, d.arrival_rate_rps.mean
    if m is None or m.goodput_rps.mean is None or not rate:
        return
    share = m.goodput_rps.mean / rate
    text = (f"goodput {m.goodput_rps.mean:,.2f} req/s of {rate:,.2f} req/s arriving "
            f"({fmt_pct(share)}) meet every bound of the SLO")
    (good if share is not None and share >= 0.99 else bad).append(text)


def _spot_hours(d: DesignResult) -> float:
    return sum(v for k, v in node_hours_by_purchase(d).items() if "spot" in k)


def _exposure(d: DesignResult) -> str:
    """Return the preemption exposure in the pattern's terms (per run for training)."""
    spot, f = _spot_hours(d), d.fleet
    if d.pattern == "training":
        m = d.pattern_metrics
        lost = [f"{label} {m[key]:,.2f} h" for label, key in
                (("lost compute", "lost_compute_hours"), ("checkpoints", "checkpoint_hours"))
                if isinstance(m.get(key), (int, float))]
        return (f"preemption exposure: {spot:,.2f} spot node-hours and "
                f"{fmt_plain(f.preemptions)} interruptions per run"
                + (f" ({', '.join(lost)} per run)" if lost else ""))
    items = terms(d).items
    return (f"preemption exposure: {spot:,.2f} spot node-hours and {fmt_plain(f.preemptions)} "
            f"preemptions over the horizon (requeued {fmt_plain(f.requeued_requests)}, dropped "
            f"{fmt_plain(f.dropped_requests)} {items})")


def _against_chosen(d: DesignResult, chosen: DesignResult, good: list[str],
                    neutral: list[str], bad: list[str]) -> None:
    """How ``d``'s monthly cost compares with the chosen design's: a tie inside the noise
    (equal costs included), else more or less by how much."""
    c, o = d.cost, chosen.cost
    month, other = c.usd_per_month, o.usd_per_month
    if month is None or other is None:
        return
    vs = f"({money_ci(c)} vs {money_ci(o)})"
    if cost_tie(c, o):
        neutral.append(f"it costs the same as {chosen.name} within the simulation's noise "
                       f"(±{fmt_money(noise_usd(c, o))} per month) {vs}")
    elif month > other:
        bad.append(f"it costs {fmt_money(month - other)} per month more than {chosen.name} "
                   f"{vs}")
    else:
        good.append(f"it costs {fmt_money(other - month)} per month less than {chosen.name} "
                    f"{vs}")


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
    elif chosen is not None and d.name != chosen.name:
        _against_chosen(d, chosen, good, neutral, bad)
    if budget is not None and month is not None and not d.cost.incomplete:
        if month > budget:
            bad.append(f"it exceeds the budget: {fmt_money(month)} > {fmt_money(budget)} per "
                       "month")
        else:
            good.append(f"it fits the budget: {fmt_money(month)} ≤ {fmt_money(budget)} per month")
    util = d.utilization.mean
    alloc, busy = unit_costs(d)
    unit = terms(d).unit
    if util is not None and util < 0.5:
        bad.append(f"idle cost: GPUs are busy {fmt_pct(util)} of the time, so most allocated "
                   f"GPU-time is paid idle ({fmt_unit(alloc)} per {unit} allocated vs "
                   f"{fmt_unit(busy)} busy)")
    elif util is not None:
        good.append(f"GPUs are busy {fmt_pct(util)} of the time ({fmt_unit(alloc)} per {unit} "
                    f"allocated vs {fmt_unit(busy)} busy)")
    if _spot_hours(d) > 0 or d.fleet.preemptions > 0:
        bad.append(_exposure(d))
    else:
        neutral.append("no spot capacity, so no preemption exposure")
    bad.extend(d.warnings)
    return good, neutral, bad


def _bullets(d: DesignResult, chosen: DesignResult | None, budget: float | None) -> list[str]:
    """Return the Good, Neutral and Bad bullets of ``d`` (:func:`_pros_cons`)."""
    return [f"* {prefix}, because {escape(i)}" for prefix, items in
            zip(("Good", "Neutral", "Bad"), _pros_cons(d, chosen, budget)) for i in items]


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else fmt_plain(value)


def _simulated_text(result: RunResult) -> str:
    """Return how the designs were simulated: ``86,400 s (600 s warm-up), 4 replications``, or
    for training designs ``2,000 runs per design (one per replication; the horizon does not
    apply)``."""
    sc = result.scenario
    parts = []
    if any(d.pattern != "training" for d in result.designs):
        parts.append(f"{fmt_plain(sc.get('horizon_s'))} s ({fmt_plain(sc.get('warmup_s'))} s "
                     f"warm-up), {_count(sc.get('replications'))} replications")
    runs = {d.pattern_metrics.get("replications", sc.get("replications"))
            for d in result.designs if d.pattern == "training"}
    if runs:
        count = " or ".join(_count(r) for r in sorted(runs, key=str))
        parts.append(f"{count} runs per {'training ' if parts else ''}design (one per "
                     "replication; the horizon does not apply)")
    return "; ".join(parts)


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
    title : the decision's title (default ``<Train|Score|Serve> <workload> with <design>``).
    status : MADR status (proposed, accepted, ...).
    date : ``YYYY-MM-DD`` (default: the newest catalog date of the prices the designs used,
        never today; :func:`default_date`).
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
    dates = price_dates_text(result)
    lines += [escape(
        f"Scenario {sc.get('name', NA)}.{desc} Which of the {len(result.designs)} candidate "
        f"designs ({names}) should {_tasks(result)}, meeting every SLO at the lowest known "
        f"cost? Simulated: {_simulated_text(result)}. Priced from {a.get('price_catalog', NA)}"
        + ("" if dates is None else f" ({dates})") + "."), ""]

    lines += ["## Decision Drivers", ""]
    for name, d in workloads.items():
        lines.append(f"* {escape(f'workload {name}: {d.arrivals}')}")
        lines.append(f"* {escape(f'SLO of {name}: {slo_text(d)}')}")
    lines.append("* " + escape(f"cost: the lowest known, complete monthly cost "
                               f"({fmt_plain(a.get('hours_per_month'))} hours per month); an "
                               "unknown or incomplete price is never the cheapest, and a "
                               "difference inside the simulation's noise is a tie"))
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
        lines += ["### Consequences", "", *_bullets(chosen, chosen, budget_usd_per_month), ""]

    lines += ["## Pros and Cons of the Options", ""]
    for d in result.designs:
        mark = " (chosen)" if chosen is not None and d.name == chosen.name else ""
        lines += [f"### {escape(d.name + mark)}", "", escape(_option_summary(d)), "",
                  *_bullets(d, chosen, budget_usd_per_month), ""]

    warnings = warning_lines(result) or ["none: no design has a warning"]
    lines += ["## Warnings", "", *(f"* {escape(item)}" for item in warnings), ""]
    lines += ["## Assumptions", ""]
    lines += [f"* {escape(item)}" for item in _assumptions(result)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _slo_reason(d: DesignResult) -> str:
    """Return why ``d`` does not meet every SLO, with its numbers (``misses the SLO (...)``)."""
    verdicts = {s.verdict for s in d.slos}
    if SLO_INCONCLUSIVE in verdicts and verdicts <= {SLO_MET, SLO_INCONCLUSIVE}:
        return f"is inconclusive against the SLO ({_value_vs_slo(d)})"
    if verdicts <= {SLO_MET} and d.unjudged_slo:
        return ("cannot be judged on every bound of the SLO "
                f"({', '.join(u.upper() for u in d.unjudged_slo)} n/a)")
    return f"misses the SLO ({_value_vs_slo(d)})"


def _no_decision(result: RunResult, budget: float | None) -> list[str]:
    """Return the Decision Outcome when no design is chosen: why, design by design."""
    best = result.cheapest_meeting_slo()
    if best is not None and budget is not None:
        why = (f"the cheapest design meeting every SLO, {best.name}, costs "
               f"{_month_text(best.cost)}, above the budget of {fmt_money(budget)}")
    else:
        why = "no design with a known, complete price meets every SLO"
    reasons = []
    for d in result.designs:
        if d.fully_meets_slo is False:
            reasons.append(f"{d.name} {_slo_reason(d)}")
        elif d.cost.usd_per_month is None:
            reasons.append(f"{d.name} has no known price")
        elif d.cost.incomplete:
            reasons.append(f"{d.name} has an incomplete price (lower bound "
                           f"{fmt_money(d.cost.usd_per_month)} per month)")
    out = [escape(f"No option is chosen: {why}. This record decides nothing; add or change "
                  "designs, prices or the SLO and simulate again.")]
    return out + ([""] + [f"* {escape(r)}" for r in reasons] if reasons else [])


def _outcome(result: RunResult, chosen: DesignResult | None, budget: float | None) -> list[str]:
    """Return the Decision Outcome paragraph(s): the choice and why, in numbers, or none."""
    if chosen is None:
        return _no_decision(result, budget)
    c = chosen.cost
    c_month = c.usd_per_month
    ties = list(result.ties_with_best())
    tied = {d.name for d in ties}
    others = sorted((d for d in result.designs
                     if d.name != chosen.name and d.name not in tied and _ok(d)),
                    key=lambda d: (d.cost.usd_per_month, d.name))
    text = (f"Chosen option: \"{chosen.name}\", because it is the cheapest design with a known, "
            f"complete price that meets every SLO: {_month_text(c)} "
            f"({unit_cost_text(chosen, busy=False)}), {_value_vs_slo(chosen)}"
            + ("" if chosen.llm is None else f"; {llm_report.summary_text(chosen)}") + ".")
    if ties:
        text += (" On cost it ties with " + ", ".join(
            f"{d.name} ({money_ci(d.cost)} per month; the same cost within the simulation's "
            f"noise, ±{fmt_money(noise_usd(d.cost, c))})" for d in ties)
            + ": cost alone does not separate them, so weigh the other drivers.")
    if others:
        nxt = others[0]
        diff = nxt.cost.usd_per_month - c_month
        share = (f" ({diff / nxt.cost.usd_per_month * 100:.1f}%)" if nxt.cost.usd_per_month
                 else "")
        outside = " outside the tie" if ties else ""
        text += (f" It saves {fmt_money(diff)} per month{share} against the next-best option "
                 f"meeting every SLO{outside}, {nxt.name}, at {_month_text(nxt.cost)}.")
    elif not ties:
        text += " It is the only option with a known, complete price that meets every SLO."
    out = [escape(text)]
    cheaper = [d for d in result.designs if d.name != chosen.name and d.meets_slo is False
               and d.cost.usd_per_month is not None and not d.cost.incomplete
               and (d.cost.usd_per_month < c_month or cost_tie(d.cost, c))]
    if cheaper:
        out.append("")
    for d in cheaper:
        price = (f"costs the same within the simulation's noise ({money_ci(d.cost)} per month, "
                 f"±{fmt_money(noise_usd(d.cost, c))})" if cost_tie(d.cost, c)
                 else f"is cheaper ({_month_text(d.cost)})")
        out.append(f"* {escape(f'{d.name} {price} but {_value_vs_slo(d)}')}")
    return out


def _basis(result: RunResult) -> list[str]:
    """Return what the figures rest on, in the designs' own terms: the cost and unit-cost
    bases of each unit used, then the run's other bases and each pattern's assumption."""
    a = result.assumptions
    units = dict.fromkeys(terms(d).unit for d in result.designs)
    doing = " or ".join(dict.fromkeys(terms(d).work for d in result.designs))
    items = [("cost basis: allocated: every node-hour of the fleet is paid for; busy: only the "
              f"GPU-seconds spent {doing}, at the node price / GPUs per node")]
    items += [f"unit cost basis: {UNIT_BASES[u]}" for u in units]
    queued = any(d.pattern != "training" for d in result.designs)
    for key in ("monthly_projection", "utilization_basis", "fleet", "percentiles"):
        if key in a and (queued or key not in ("fleet", "monthly_projection")):
            items.append(f"{key.replace('_', ' ')}: {fmt_plain(a[key])}")
    items.append("statistics: mean of the replications with a Student-t 95% confidence interval"
                 + ("; work arriving in the warm-up excluded" if queued else ""))
    items += [fmt_plain(v) for key, v in a.items() if key.startswith("pattern_") and v]
    return items


def _pairs(mapping: dict[str, object]) -> str:
    """Return ``kind savings_plan, coverage 0.5, term usd $2,150,884.85`` (nested mappings
    flattened, amounts in dollars)."""
    return ", ".join(_pairs(v) if isinstance(v, dict) else f"{k.replace('_', ' ')} " + (
        fmt_money(v) if isinstance(v, float) and "usd" in k else fmt_plain(v))
        for k, v in mapping.items())


def _assumptions(result: RunResult) -> list[str]:
    sc = result.scenario
    a = result.assumptions
    dates = price_dates_text(result)
    items = [f"prices: {a.get('price_catalog', NA)}; "
             + (dates or f"no dated price used (catalog as of "
                         f"{a.get('price_catalog_as_of', NA)})")]
    seen = set()
    for d in result.designs:
        for purchase, source, as_of in d.cost.sources:
            if source is None:
                continue
            item = (f"price source ({provider(d.fleet.instance)} {purchase}, as of "
                    f"{as_of or NA}): {short_source(source, purchase)}")
            if item not in seen:
                seen.add(item)
                items.append(item)
        if d.cost.usd_per_hour is None:
            items.append(f"price of {d.name}: n/a" + (f" ({d.cost.note})" if d.cost.note else ""))
        for text in d.cost.discounts:
            items.append(f"discount on {d.name}: {text}")
        if d.cost.commitment:
            items.append(f"commitment of {d.name}: {_pairs(d.cost.commitment)}")
    items.append(f"hours per month: {fmt_plain(a.get('hours_per_month'))}")
    items.append(f"discounts: {fmt_plain(a.get('discounts'))}")
    items.append(f"simulation: {_simulated_text(result)}")
    items.append(f"replications: {fmt_plain(sc.get('replications'))}; seed: "
                 f"{fmt_plain(sc.get('seed'))}")
    items += [*_basis(result), *calibration_lines(result)]
    if sc.get("path"):
        items.append(f"scenario file: {PurePath(str(sc['path'])).name}")
    items.append(f"planner version: {result.planner_version}")
    return items
