"""The content of a report, independent of its format: headings, paragraphs, lists and tables.

:func:`build_report` turns a :class:`RunResult` into plain-text :class:`Section` blocks; the
Markdown and HTML renderers only lay them out (and escape them), so both formats show the same
numbers, all read from the results object. Unknown values are ``n/a``, never ``$0``.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.reports import llm as llm_report
from planner.reports.formatting import (
    NA,
    estimates_unit,
    fmt_money,
    fmt_ms,
    fmt_number,
    fmt_pct,
    fmt_percentile_ms,
    fmt_plain,
    fmt_unit,
    human_ms,
    short_source,
)
from planner.results import LATENCY_KEYS, CostResult, DesignResult, RunResult, cost_tie
from planner.schema_serving import CALIBRATED_FROM

__all__ = [
    "NA",
    "RECOMMENDED_MARK",
    "Block",
    "Bullets",
    "Paragraph",
    "Section",
    "Table",
    "build_report",
    "estimates_unit",
    "fmt_money",
    "fmt_ms",
    "fmt_number",
    "fmt_pct",
    "fmt_percentile_ms",
    "fmt_plain",
    "fmt_unit",
    "human_ms",
    "short_source",
]
"""The formatting helpers are re-exported: reports import them from here."""

RECOMMENDED_MARK = "★"
"""Marks the recommended design (cheapest meeting every SLO) in headers and lists."""


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of plain-text items."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells; ``align`` is ``"left"`` or ``"right"`` per column."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]


Block = Paragraph | Bullets | Table


@dataclass(frozen=True)
class Section:
    """A heading (level 2 or 3) and its blocks."""

    title: str
    blocks: tuple[Block, ...]
    level: int = 2


# ----------------------------------------------------------------------------- facts

def slo_text(d: DesignResult) -> str:
    """Return every bound of the SLO naming its metric (``latency p99 ≤ 20 ms``, ``TTFT p99 ≤
    500 ms; TPOT p99 ≤ 50 ms``) or ``none``."""
    return llm_report.bounds_text(d)


def slo_status(d: DesignResult) -> str:
    """Return ``met`` (every bound), ``MISSED`` (``MISSED (TPOT)`` with several bounds),
    ``inconclusive`` or ``no SLO``."""
    return llm_report.status_text(d)


def slo_percentile_ms(d: DesignResult) -> float | None:
    """Return the achieved value at the SLO's percentile (else p99), in ms."""
    if d.slo is not None:
        return d.slo.achieved_ms.mean
    return d.latency_ms["p99"].mean


def _axis_metric(d: DesignResult) -> str:
    return "latency" if d.slo is None or d.slo.metric in ("latency", "e2e") else d.slo.metric


def pareto_metric(result: RunResult) -> str:
    """Return what designs are compared on: the metric of every design's first SLO bound when
    they all share it (``ttft`` for LLM designs), else ``latency`` (each design's own
    distribution: end to end for LLM designs), so that TTFT is never ranked against another
    design's end-to-end latency."""
    metrics = {_axis_metric(d) for d in result.designs}
    return metrics.pop() if len(metrics) == 1 else "latency"


def comparable_ms(d: DesignResult, metric: str) -> float | None:
    """Return the design's value on the :func:`pareto_metric` axis (ms): the achieved value of
    its bound on ``metric`` (``latency`` also takes an E2E bound), else its p99; None when the
    design does not report ``metric``."""
    wanted = ("latency", "e2e") if metric == "latency" else (metric,)
    for s in d.slos:
        if s.metric in wanted:
            return s.achieved_ms.mean
    if metric == "latency":
        return d.latency_ms["p99"].mean
    est = llm_report.llm_estimate(d, metric, "p99")
    return None if est is None else est.mean


def pareto_label(result: RunResult) -> str:
    """Return the axis of :func:`pareto_names` for people."""
    metric = pareto_metric(result)
    if metric == "latency":
        return "the SLO percentile"
    return f"{llm_report.SLO_METRIC_NAMES.get(metric, metric)} at the SLO percentile"


def fleet_text(d: DesignResult) -> str:
    """Return ``2x aws:g5.xlarge, on_demand, fixed`` (or ``autoscaled 1-4``)."""
    f = d.fleet
    parts = [f"{f.nodes}x {f.instance}", f.purchase]
    auto = f.autoscaling
    if auto:
        parts.append(f"autoscaled {auto.get('min_nodes', NA)}-{auto.get('max_nodes', NA)}")
    else:
        parts.append("fixed")
    return ", ".join(parts)


def batching_text(d: DesignResult) -> str | None:
    """Return how the design groups its work in its pattern's own terms (``batch ≤16, wait ≤5
    ms``, ``window 60 s, batch ≤1024``, ``a job every 1 h, batch ≤1024``), None without."""
    return None if d.batching is None else d.batching.describe()


def node_hours_by_purchase(d: DesignResult) -> dict[str, float]:
    """Return node-hours by purchase option (the total under its purchase when not split)."""
    by = d.fleet.node_hours
    if by:
        return {str(k): float(v) for k, v in by.items() if v is not None}
    return {d.cost.purchase: d.node_hours}


def node_hours_text(d: DesignResult) -> str:
    """Return ``0.17 on_demand`` or ``1.00 on_demand + 2.50 spot``."""
    return " + ".join(f"{v:,.2f} {k}" for k, v in node_hours_by_purchase(d).items())


def has_tokens(result: RunResult) -> bool:
    """Return whether any design has a $/1M tokens figure."""
    return any(d.cost.usd_per_1m_tokens is not None or d.cost.usd_per_1m_tokens_busy is not None
               for d in result.designs)


def has_runs(result: RunResult) -> bool:
    """Return whether any design has a $/training run figure."""
    return any(d.cost.usd_per_run is not None or d.cost.usd_per_run_busy is not None
               for d in result.designs)


def recommended_name(result: RunResult) -> str | None:
    """Return the name of the cheapest design meeting every SLO, or None."""
    best = result.cheapest_meeting_slo()
    return None if best is None else best.name


def design_heading(result: RunResult, d: DesignResult) -> str:
    """Return the design's name, marked when it is the recommendation."""
    return f"{d.name} {RECOMMENDED_MARK}" if d.name == recommended_name(result) else d.name


def pareto_names(result: RunResult) -> list[str]:
    """Return the designs not dominated in (:func:`comparable_ms`, $/month), in result order.

    Only designs with a known, complete monthly cost and a known value take part; a design is
    dominated when another is no worse on both axes and better on one. Costs inside each
    other's noise (:func:`planner.results.cost_tie`) are equal: being cheaper by less than the
    noise does not make a design Pareto-optimal.
    """
    metric = pareto_metric(result)
    points = {d.name: (comparable_ms(d, metric), d.cost) for d in result.designs
              if d.cost.usd_per_month is not None and not d.cost.incomplete
              and comparable_ms(d, metric) is not None}

    def cheaper(a: CostResult, b: CostResult) -> bool:
        return not cost_tie(a, b) and a.usd_per_month < b.usd_per_month  # type: ignore[operator]

    out = []
    for name, (lat, c) in points.items():
        dominated = any(
            other != name and o_lat <= lat and not cheaper(c, o_c)
            and (o_lat < lat or cheaper(o_c, c))
            for other, (o_lat, o_c) in points.items())
        if not dominated:
            out.append(name)
    return out


FLAG_MARKS = {"overload": "OVERLOADED", "work_pending": "WORK PENDING",
              "partial_day": "PARTIAL DAY", "commitment_underused": "COMMITMENT UNDERUSED",
              "slo_inconclusive": "SLO INCONCLUSIVE", "backlog": "BACKLOG"}
"""Warnings whose figures a reader must not take at face value, and the mark that says so
next to the design's name in comparison tables."""


def flag_marks(d: DesignResult) -> list[str]:
    """Return the marks of the design's figure-changing warnings (:data:`FLAG_MARKS`)."""
    codes = dict.fromkeys(getattr(w, "code", "") for w in d.warnings)
    return [FLAG_MARKS[c] for c in codes if c in FLAG_MARKS]


def work_unit(d: DesignResult) -> str:
    """What a design's $ per 1,000 counts: ``records`` (streaming, batch) or ``requests``."""
    return "records" if d.pattern in ("streaming", "batch") else "requests"


def money_ci(c: CostResult) -> str:
    """Return the monthly cost with its 95 % interval: ``$1,234.56 ± $12.30``."""
    half = c.usd_per_month_half_width
    text = fmt_money(c.usd_per_month)
    return text if not half or c.usd_per_month is None else f"{text} ± {fmt_money(half)}"


# ----------------------------------------------------------------------------- sections

def comparison_table(result: RunResult) -> Table:
    """Return the side-by-side table: one column per design, one row per metric."""
    designs = result.designs
    labels = {d.metric_label for d in designs}
    label = labels.pop() if len(labels) == 1 else None
    rows: list[tuple[str, ...]] = []

    def row(name: str, cells: list[str]) -> None:
        rows.append((name, *cells))

    row("pattern", [d.pattern for d in designs])
    row("fleet", [fleet_text(d) for d in designs])
    if label is None:
        row("metric", [d.metric_label for d in designs])
    what = f"{label} " if label else ""
    units = [estimates_unit(d.latency_ms[k] for k in LATENCY_KEYS) for d in designs]
    for key in LATENCY_KEYS:  # one unit per design over its percentiles
        row(f"{key} {what}".rstrip(), [fmt_percentile_ms(d, "latency_ms", key, ci=key == "p99",
                                                         unit=u)
                                       for d, u in zip(designs, units)])
    for name, cells in llm_report.comparison_rows(result):
        row(name, cells)
    row("SLO", [llm_report.verdicts_text(d) for d in designs])
    row("SLO status", [slo_status(d) for d in designs])
    row("SLO attainment" + (" (first bound)" if any(len(d.slos) > 1 for d in designs) else ""),
        [NA if d.slo is None else fmt_pct(d.slo.attainment.mean, 2) for d in designs])
    row("arrival rate (/s)", [fmt_number(d.arrival_rate_rps.mean, 1) for d in designs])
    row("throughput (/s)", [fmt_number(d.throughput_rps.mean, 1) for d in designs])
    row("utilisation", [fmt_pct(d.utilization.mean) for d in designs])
    row("node-hours", [node_hours_text(d) for d in designs])
    row("cost, horizon", [fmt_money(d.cost.total_usd) for d in designs])
    row("cost per month", [money_ci(d.cost) for d in designs])
    units = {work_unit(d) for d in designs if d.pattern != "training"}
    unit = units.pop() if len(units) == 1 else "requests or records"
    row(f"$/1k {unit} (allocated)", [fmt_unit(d.cost.usd_per_1k_requests) for d in designs])
    row(f"$/1k {unit} (busy)", [fmt_unit(d.cost.usd_per_1k_requests_busy) for d in designs])
    if has_tokens(result):
        row("$/1M tokens (allocated)", [fmt_unit(d.cost.usd_per_1m_tokens) for d in designs])
        row("$/1M tokens (busy)", [fmt_unit(d.cost.usd_per_1m_tokens_busy) for d in designs])
    for name, cells in llm_report.token_cost_rows(result):
        row(name, cells)
    if has_runs(result):
        row("$/training run (allocated)", [fmt_unit(d.cost.usd_per_run) for d in designs])
        row("$/training run (busy)", [fmt_unit(d.cost.usd_per_run_busy) for d in designs])
    row("flags", [", ".join(flag_marks(d)) or "none" for d in designs])
    row("cost complete", ["n/a (price unknown)" if d.cost.usd_per_hour is None
                          else ("no (incomplete)" if d.cost.incomplete else "yes")
                          for d in designs])
    headers = ("metric", *(design_heading(result, d) for d in designs))
    align = ("left", *("right" for _ in designs))
    return Table(headers, tuple(rows), align)


def summary_section(result: RunResult) -> Section:
    """Return the scenario summary: horizon, replications, seed, workloads, catalog."""
    sc = result.scenario
    a = result.assumptions
    blocks: list[Block] = []
    if sc.get("description"):
        blocks.append(Paragraph(str(sc["description"])))
    workloads: dict[str, DesignResult] = {}
    for d in result.designs:  # the design judged on the most bounds states the workload's SLO
        if d.workload not in workloads or len(d.slos) > len(workloads[d.workload].slos):
            workloads[d.workload] = d
    items = [
        (f"horizon: {fmt_plain(sc.get('horizon_s'))} s, of which {fmt_plain(sc.get('warmup_s'))} s "
        "warm-up"),
        f"replications: {fmt_plain(sc.get('replications'))}; seed: {fmt_plain(sc.get('seed'))}",
        f"designs: {len(result.designs)}",
        f"prices: {a.get('price_catalog', NA)} (as of {a.get('price_catalog_as_of', NA)})",
    ]
    for name, d in workloads.items():
        items.append(f"workload {name}: {d.arrivals}; SLO {slo_text(d)}")
    blocks.append(Bullets(tuple(items)))
    return Section("Scenario", tuple(blocks))


def recommendation_section(result: RunResult) -> Section:
    """Return the recommendation: the cheapest design meeting every SLO, or why there is none."""
    best = result.cheapest_meeting_slo()
    if best is not None:
        text = (f"{RECOMMENDED_MARK} {best.name}: the cheapest design with a known, complete price "
                f"that meets every SLO: {money_ci(best.cost)} per month, "
                f"{fmt_unit(best.cost.usd_per_1k_requests)} per 1k {work_unit(best)}"
                + "".join(f", {t}" for t in (llm_report.token_cost_text(best),) if t)
                + f"; SLO: {llm_report.verdicts_text(best)}.")
    else:
        text = ("No recommendation: no design with a known, complete price meets every SLO.")
    items = []
    ties = result.ties_with_best()
    if ties:
        items.append("the same cost within the simulation's noise (a tie, not a win): "
                     + ", ".join(f"{d.name} ({money_ci(d.cost)})" for d in ties))
    pareto = pareto_names(result)
    if pareto:
        items.append(f"Pareto-optimal in cost per month and {pareto_label(result)}: "
                     + ", ".join(pareto))
    unpriced = [d.name for d in result.designs
                if d.cost.usd_per_month is None or d.cost.incomplete]
    if unpriced:
        items.append("not ranked (cost n/a or incomplete): " + ", ".join(unpriced))
    blocks: list[Block] = [Paragraph(text)]
    if items:
        blocks.append(Bullets(tuple(items)))
    return Section("Recommendation", tuple(blocks))


def design_sections(result: RunResult) -> list[Section]:
    """Return one level-3 section per design: distributions, fleet, requests, cost detail."""
    out = []
    for d in result.designs:
        f = d.fleet
        label = "E2E latency" if d.llm is not None else d.metric_label
        unit = estimates_unit(d.latency_ms[k] for k in LATENCY_KEYS)
        rows = [(label, *(fmt_percentile_ms(d, "latency_ms", k, ci=True, unit=unit)
                          for k in LATENCY_KEYS)),
                *llm_report.latency_rows(d, LATENCY_KEYS)]
        if d.wait_ms["mean"].mean is not None:  # only patterns with a request queue wait
            wait = estimates_unit(d.wait_ms[k] for k in LATENCY_KEYS if k in d.wait_ms)
            rows.append(("wait", *(fmt_percentile_ms(d, "wait_ms", k, ci=True, unit=wait)
                                   if k in d.wait_ms else "" for k in LATENCY_KEYS)))
        dist = Table(("metric", *LATENCY_KEYS), tuple(rows),
                     ("left", *("right" for _ in LATENCY_KEYS)))
        items = [
            f"workload {d.workload}: {d.arrivals}",
            f"pattern {d.pattern}; service time {d.service_time}",
            (f"fleet: {fleet_text(d)}; GPU {f.gpu_model or NA}, "
            f"{fmt_plain(f.workers_per_node)} worker(s) per node"),
        ]
        batching = batching_text(d)
        if batching is not None:
            items.append(f"batching: {batching}")
        if d.slos:
            items.append(f"SLO: {llm_report.verdicts_text(d)}")
        items.extend(llm_report.engine_items(d))
        tokens = llm_report.token_cost_text(d)
        if tokens is not None:
            items.append(f"token cost (allocated): {tokens}")
        items.append(f"mean nodes {fmt_plain(f.mean_nodes)} (max "
                     f"{fmt_plain(f.max_nodes)}); node-hours {node_hours_text(d)}")
        items.append(f"preemptions {fmt_plain(f.preemptions)}; dropped requests "
                     f"{fmt_plain(f.dropped_requests)}; requeued "
                     f"{fmt_plain(f.requeued_requests)}")
        if d.llm is None:  # an LLM design's batch and queue are in its engine block
            items.append(f"mean batch {fmt_number(d.mean_batch_size.mean)}; mean queue "
                         f"{fmt_number(d.mean_queue_length.mean, 3)}")
        gpu_h = NA if d.gpu_hours is None else f"{d.gpu_hours:,.2f}"
        items.append(f"busy GPU-hours {fmt_number(d.busy_gpu_hours.mean, 3)} of {gpu_h} "
                     f"allocated; busy cost {fmt_money(d.cost.busy_usd)}; mean fleet cost "
                     f"{fmt_money(d.cost.usd_per_hour)}/h")
        if d.cost.by_purchase:
            items.append("cost by purchase option: " + ", ".join(
                f"{k} {fmt_money(v)}" for k, v in d.cost.by_purchase.items()))
        if d.cost.note:
            items.append(f"cost note: {d.cost.note}")
        for key, value in d.pattern_metrics.items():
            items.append(f"{key}: {fmt_plain(value)}")
        out.append(Section(design_heading(result, d), (dist, Bullets(tuple(items))), level=3))
    return out


def prices_section(result: RunResult) -> Section:
    """Return the price sources and dates per design and purchase option."""
    rows = []
    for d in result.designs:
        if not d.cost.sources:
            rows.append((d.name, d.cost.purchase, NA, d.cost.note or "no price in the catalog"))
        for purchase, source, as_of in d.cost.sources:
            rows.append((d.name, purchase, as_of or NA,
                         NA if source is None else short_source(source, purchase)))
    a = result.assumptions
    return Section("Price sources", (
        Paragraph(f"Catalog: {a.get('price_catalog', NA)} (as of "
                  f"{a.get('price_catalog_as_of', NA)}); "
                  f"{fmt_plain(a.get('hours_per_month'))} hours per month."),
        Table(("design", "purchase", "as of", "source"), tuple(rows),
              ("left", "left", "left", "left")),
    ))


def discounts_section(result: RunResult) -> Section | None:
    """Return the discount layers, discounts and commitments of each design, if any."""
    blocks: list[Block] = []
    for d in result.designs:
        c = d.cost
        items = []
        for text in c.discounts:
            items.append(f"discount: {text}")
        for name, usd in c.layers:
            items.append(f"layer {name}: {fmt_money(usd)}")
        if c.commitment:
            items.append("commitment: " + ", ".join(f"{k} {fmt_plain(v)}"
                                                    for k, v in c.commitment.items()))
        if items:
            blocks.append(Paragraph(f"{d.name}:"))
            blocks.append(Bullets(tuple(items)))
    if not blocks:
        return None
    return Section("Discounts", tuple(blocks))


def incomplete_section(result: RunResult) -> Section | None:
    """Return the designs whose cost is unknown or incomplete (a lower bound), if any."""
    items = []
    for d in result.designs:
        if d.cost.usd_per_hour is None:
            items.append(f"{d.name}: cost n/a (price unknown)"
                         + (f": {d.cost.note}" if d.cost.note else ""))
        elif d.cost.incomplete:
            items.append(f"{d.name}: cost incomplete (some usage has no price; figures are a "
                         "lower bound)" + (f": {d.cost.note}" if d.cost.note else ""))
    if not items:
        return None
    return Section("Cost incomplete", (Bullets(tuple(items)),))


def calibration_lines(result: RunResult) -> list[str]:
    """Return ``service time of D: ... calibrated from TEST: ...`` for every design whose
    service-time terms were fitted to load tests (``planner calibrate``), for every format."""
    return [f"service time of {d.name}: {d.service_time}" for d in result.designs
            if CALIBRATED_FROM in d.service_time]


def assumptions_section(result: RunResult) -> Section:
    """Return every assumption of the run (calibrated service times included), then the
    planner version."""
    items = [f"{k.replace('_', ' ')}: {fmt_plain(v)}" for k, v in result.assumptions.items()]
    items += calibration_lines(result)
    items.append(f"planner version: {result.planner_version}")
    return Section("Assumptions", (Bullets(tuple(items)),))


def warning_lines(result: RunResult) -> list[str]:
    """Return every design's warnings as ``design: message (code)``, for every format."""
    return [f"{d.name}: {w} ({w.code})" for d in result.designs for w in d.warnings]


def warnings_section(result: RunResult) -> Section | None:
    """Return every design's warnings, if any."""
    items = warning_lines(result)
    if not items:
        return None
    return Section("Warnings", (Bullets(tuple(items)),))


def title(result: RunResult) -> str:
    """Return the report's title."""
    return f"Capacity plan: {result.scenario.get('name', NA)}"


def build_report(result: RunResult) -> list[Section]:
    """Return every section of the report, in order (optional ones only when they apply)."""
    sections: list[Section | None] = [
        summary_section(result),
        Section("Comparison", (
            comparison_table(result),
            Paragraph(f"{RECOMMENDED_MARK} = recommended (cheapest design with a known, complete "
                      "price meeting every SLO); p99 and cost per month show ± the 95% "
                      "confidence half-width across replications (a cost with none is fixed); "
                      "n/a = unknown."),
        )),
        recommendation_section(result),
        Section("Designs", ()),
        *design_sections(result),
        prices_section(result),
        discounts_section(result),
        incomplete_section(result),
        assumptions_section(result),
        warnings_section(result),
    ]
    return [s for s in sections if s is not None]
