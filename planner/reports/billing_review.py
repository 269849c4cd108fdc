"""Render a monthly cost :class:`~costmodels.billing.review.Review`: terminal table, JSON,
Markdown and a self-contained HTML page with plotly charts.

Every format shows the same numbers, built once as plain-text :class:`Section` blocks.  Unknown
values read ``n/a``, never ``$0``.  Deterministic: no timestamps, fixed chart ids.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from costmodels.billing.review import Review, days_in_month
from planner.reports.fit import plain_console, print_fitted
from planner.reports.sections import (
    NA,
    Block,
    Bullets,
    Paragraph,
    Section,
    Table,
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_unit,
)

SCHEMA_VERSION = 2
"""Version of the review's JSON (``planner billing review --format json``, ``kind:
billing-review``); its JSON Schema is ``planner schema billing-review``. 2: ``month_to_date``
(the month's complete days against the same days of the month before)."""
RATES_SCHEMA_VERSION = 1
"""Version of the rates' JSON (``planner billing rates --format json``, ``kind:
billing-rates``, :func:`render_rates_json`); its JSON Schema is ``planner schema
billing-rates``."""

PURCHASE_LABEL = {"on_demand": "on-demand", "spot": "spot", "reserved": "reserved",
                  "savings_plan": "savings plan", "committed_use": "committed use",
                  "other": "other"}


def _name(value: str | None) -> str:
    return NA if value is None else value


def money(value: float | None) -> str:
    """Return ``$1,234.56``, ``-$1,234.56`` for a negative amount, or ``n/a``."""
    if value is None:
        return NA
    return ("-" if value < 0 else "") + fmt_money(abs(value))


def signed_money(value: float | None) -> str:
    """Return a change of money with its sign: ``+$6,235.90``, ``-$19,606.92``, or ``n/a``."""
    if value is None:
        return NA
    return ("+" if value > 0 else "") + money(value)


def signed_pct(value: float | None) -> str:
    """Return a change as a signed percentage (``+12.3%``, ``-31.5%``) or ``n/a``."""
    if value is None:
        return NA
    return ("+" if value > 0 else "") + fmt_pct(value)


def title(review: Review) -> str:
    """Return the report title."""
    return f"Monthly cost review {review.month} (by {review.group_by})"


def _group_label(review: Review) -> str:
    return {"service": "service", "account": "account"}.get(
        review.group_by, review.group_by.replace("tag:", "tag "))


def headline(review: Review) -> str:
    """Return one sentence: the month's effective cost and its change."""
    cur = review.current
    text = (f"{review.month}: effective {money(cur.effective_usd)}, billed "
            f"{money(cur.billed_usd)} ({review.currency or 'currency n/a'})")
    if review.change is not None:
        text += (f"; {signed_money(review.change.effective_usd)} "
                 f"({signed_pct(review.change.effective_pct)}) effective vs "
                 f"{review.previous_month}")
    else:
        text += f"; {review.previous_month}: no data, change n/a"
    if review.forecast is not None:
        f = review.forecast
        band = (f" ({fmt_pct(f.level, 0)} interval {money(f.low_usd)} to "
                f"{money(f.high_usd)})" if f.low_usd is not None else "")
        text += f"; month in progress, forecast {money(f.point_usd)}{band}"
    return text + "."


def month_to_date_line(review: Review) -> str:
    """Return the month to date against the same days of the month before."""
    m = review.month_to_date
    if m is None:
        return f"Month to date: n/a (no complete day in {review.month} yet)."
    first = f"{review.month}-01"
    text = (f"Month to date ({first} to {m.through.isoformat()}, {m.n_days} days): "
            f"{money(m.current_usd)} effective vs ")
    if m.previous_usd is None:
        return text + f"n/a for the same days of {review.previous_month} (no data)."
    return (text + f"{money(m.previous_usd)} for {review.previous_month}-01 to "
            f"{m.previous_through.isoformat()}: {signed_money(m.change_usd)} "
            f"({signed_pct(m.change_pct)}).")


def freshness_line(review: Review) -> str:
    """Return the data-freshness line."""
    fr = review.freshness
    latest = fr.latest_charge_period_end
    text = "Data as of: latest charge period end " + (
        latest.strftime("%Y-%m-%d %H:%M UTC") if latest else NA)
    if fr.lag_days is not None and fr.today is not None:
        text += f" ({fr.lag_days:.1f} days before {fr.today.isoformat()})"
    text += f"; {review.month} is " + ("complete" if fr.month_complete else "in progress")
    return text


def totals_section(review: Review) -> Section:
    """Billed, effective and list cost of the month and the month before."""
    cur, prev, ch = review.current, review.previous, review.change
    rows = [
        ("effective (amortised)", money(cur.effective_usd),
         money(prev.effective_usd if prev else None),
         signed_money(ch.effective_usd if ch else None),
         signed_pct(ch.effective_pct if ch else None)),
        ("billed (invoice)", money(cur.billed_usd), money(prev.billed_usd if prev else None),
         signed_money(ch.billed_usd if ch else None),
         signed_pct(ch.billed_pct if ch else None)),
        ("list", money(cur.list_usd), money(prev.list_usd if prev else None),
         signed_money(cur.list_usd - prev.list_usd) if prev else NA, NA if prev is None else
         signed_pct((cur.list_usd - prev.list_usd) / abs(prev.list_usd)
                     if prev.list_usd else None)),
        ("rows", f"{cur.n_rows:,}", f"{prev.n_rows:,}" if prev else NA, "", ""),
    ]
    table = Table(("cost", review.month, review.previous_month, "change", "change %"),
                  tuple(rows), ("left", "right", "right", "right", "right"))
    return Section("Totals", (Paragraph(headline(review)), table,
                              Paragraph(month_to_date_line(review))))


def movers_section(review: Review) -> Section:
    """Top movers of effective cost by group, with their share of the change."""
    if review.movers is None:
        return Section("Top movers", (Paragraph(
            f"n/a: the data has no rows for {review.previous_month}."),))
    rows = tuple((
        _name(m.group) + (f" ({m.n_groups} groups)" if m.n_groups > 1 else ""),
        money(m.current_usd), money(m.previous_usd), signed_money(m.change_usd),
        signed_pct(m.change_pct), fmt_pct(m.share_of_change),
    ) for m in review.movers)
    return Section(f"Top movers by {_group_label(review)} (effective cost)", (Table(
        (_group_label(review), review.month, review.previous_month, "change", "change %",
         "share of change"), rows, ("left",) + ("right",) * 5),))


def _discount(effective: float | None, list_: float | None) -> float | None:
    return None if effective is None or not list_ else 1 - effective / list_


def gpu_section(review: Review) -> Section:
    """GPU-hours, used and unused-commitment cost and $/GPU-hour by instance type and purchase
    option; on every row effective = used + unused and effective / GPU-h = eff $/GPU-h."""
    g = review.gpu
    if g is None:
        return Section("GPU spend", (Paragraph("No GPU rows (x_GpuCount > 0 or x_GpuModel) in "
                                               f"{review.month}."),))
    items = [
        (f"GPU spend (effective): {money(g.effective_usd)} = used "
         f"{money(g.used_usd)} + unused commitment {money(g.unused_commitment_usd)} "
         f"(list of the used rows {money(g.list_usd)})"),
        (f"GPU-hours: {fmt_number(g.gpu_hours, 1)}; effective "
         f"{fmt_unit(g.effective_usd_per_gpu_hour)}/GPU-hour with unused commitment (used only "
         f"{fmt_unit(g.used_usd_per_gpu_hour)}) vs list {fmt_unit(g.list_usd_per_gpu_hour)}"
         "/GPU-hour"),
    ]
    if g.unrated_usd:
        items.append(f"{money(g.unrated_usd)} of GPU spend is in rows with unknown "
                     "GPU-hours (no GPU count or no used hours): in the spend, not in a "
                     "$/GPU-hour")
    items.append(f"share of GPU spend on spot: {fmt_pct(g.spot_share)}; on commitments: "
                 f"{fmt_pct(g.commitment_share)}")
    items.append("per row: effective = used + unused commitment (Unused rows, commitment fees); "
                 "eff, used and list $/GPU-h = effective, used and list cost / GPU-h; discount "
                 "= 1 - eff / list")
    rows = tuple((
        _name(r.instance_type), PURCHASE_LABEL.get(r.purchase_option or "", NA),
        _name(r.gpu_model), fmt_number(r.usage_hours, 1), fmt_number(r.gpu_hours, 1),
        money(r.used_usd), money(r.unused_commitment_usd), money(r.effective_usd),
        fmt_unit(r.used_usd_per_gpu_hour), fmt_unit(r.effective_usd_per_gpu_hour),
        fmt_unit(r.list_usd_per_gpu_hour),
        fmt_pct(_discount(r.effective_usd_per_gpu_hour, r.list_usd_per_gpu_hour)),
    ) for r in g.rates)
    table = Table(("instance", "purchase", "GPU", "inst-h", "GPU-h", "used", "unused",
                   "effective", "used $/GPU-h", "eff $/GPU-h", "list $/GPU-h", "discount"), rows,
                  ("left", "left", "left") + ("right",) * 9)
    return Section("GPU spend", (Bullets(tuple(items)), table))


def commitments_section(review: Review) -> Section:
    """Coverage and utilisation per commitment type."""
    c = review.commitments
    if c is None:
        return Section("Commitments", (Paragraph(f"No compute usage or commitment rows in "
                                                 f"{review.month}."),))
    rows = tuple((
        "all" if line.commitment_type is None and line is c.total else _name(line.commitment_type),
        fmt_pct(line.coverage_hours), fmt_pct(line.coverage_cost), money(line.used_usd),
        money(line.unused_usd), fmt_pct(line.utilisation), money(line.savings_usd),
    ) for line in (*c.by_type, c.total))
    return Section("Commitments", (Table(
        ("commitment type", "coverage (hours)", "coverage (cost)", "used", "unused",
         "utilisation", "savings vs contracted"), rows, ("left",) + ("right",) * 6),))


def anomalies_section(review: Review) -> Section:
    """Anomalous days and the groups that drove them."""
    if not review.anomalies:
        return Section("Anomalies", (Paragraph(
            f"No anomalous day in {review.month} ({review.assumptions['anomaly_rule']})."),))
    rows = tuple((
        a.day.isoformat(), money(a.cost_usd), money(a.baseline_usd),
        signed_money(a.delta_usd), f"{a.robust_z:+.1f}",
        driver_text(a),
    ) for a in review.anomalies)
    return Section("Anomalies", (Table(
        ("day", "effective", "baseline (median)", "departure", "robust z", "drivers"), rows,
        ("left", "right", "right", "right", "right", "left")),))


def forecast_section(review: Review) -> Section:
    """Month-end forecast of a month in progress."""
    f = review.forecast
    if f is None:
        text = (f"n/a: {review.month} is complete." if review.freshness.month_complete
                else "n/a: no complete day in the month yet.")
        return Section("Month-end forecast", (Paragraph(text),))
    return Section("Month-end forecast", (Bullets((
        (f"forecast: {money(f.point_usd)}; {fmt_pct(f.level, 0)} interval "
        f"{money(f.low_usd)} to {money(f.high_usd)}"),
        (f"known so far: {money(f.known_usd)} over {f.days_observed} complete days; "
        f"{f.days_remaining:.1f} days left at {money(f.mean_daily_usd)}/day (mean of the "
        f"last {f.window_days} days)"),
    )),))


def assumptions_section(review: Review, notes: Sequence[str] = ()) -> Section:
    """Freshness, data notes and the rules the figures rest on."""
    a = review.assumptions
    items = [freshness_line(review), *notes,
             (f"currency: {review.currency or NA}; months in the data: "
             f"{', '.join(review.months_available)}"),
             *(f"{k.replace('_', ' ')}: {v}" for k, v in a.items())]
    return Section("Data and assumptions", (Bullets(tuple(items)),))


def build_sections(review: Review, notes: Sequence[str] = ()) -> list[Section]:
    """Return every section of the review, in reading order."""
    return [totals_section(review), movers_section(review), gpu_section(review),
            commitments_section(review), anomalies_section(review), forecast_section(review),
            assumptions_section(review, notes)]


# ----------------------------------------------------------------------------- formats

def render_json(review: Review, notes: Sequence[str] = ()) -> str:
    """Return the review as indented JSON: ``schema_version``, ``kind`` (``billing-review``),
    ``Review.to_dict`` and ``notes``."""
    doc = {"schema_version": SCHEMA_VERSION, "kind": "billing-review", **review.to_dict(),
           "notes": list(notes)}
    return json.dumps(doc, indent=2, allow_nan=False)


def render_rates_json(frame: Any) -> str:
    """Return an :func:`costmodels.billing.rates.effective_rates` frame as indented JSON:
    ``schema_version``, ``kind`` (``billing-rates``), ``billing_period`` and one object per
    row (unknown values null)."""
    return json.dumps({"schema_version": RATES_SCHEMA_VERSION, "kind": "billing-rates",
                       "billing_period": frame["billing_period"][0], "rows": frame.to_dicts()},
                      indent=2, allow_nan=False)


def render_markdown(review: Review, notes: Sequence[str] = ()) -> str:
    """Return the review as GitHub-flavoured Markdown."""
    from planner.reports.markdown import escape, render_sections

    return "# " + escape(title(review)) + "\n\n" + render_sections(
        build_sections(review, notes)) + "\n"


def _print_block(console: Console, block: Block, wide: bool = False) -> None:
    if isinstance(block, Table):
        table = RichTable(title_justify="left")
        for header, align in zip(block.headers, block.align):
            table.add_column(header, justify=align, overflow="fold",
                             no_wrap=align == "right")
        for row in block.rows:
            table.add_row(*row)
        print_fitted(console, table, wide=wide)
    elif isinstance(block, Bullets):
        for item in block.items:
            console.print(f"  - {item}", soft_wrap=True)  # prose: the terminal wraps it
    else:
        console.print(block.text, soft_wrap=True)


def render_table(review: Review, notes: Sequence[str] = (), *, width: int | None = None,
                 wide: bool = False) -> str:
    """Return the review as plain-text terminal tables (rich, no colour) that fit ``width``
    (default the terminal's; :func:`planner.reports.fit.print_fitted`), or one table each with
    ``wide``."""
    buffer = io.StringIO()
    console = plain_console(buffer, width)
    console.print(title(review))
    for section in build_sections(review, notes):
        console.print("")
        console.print(section.title)
        for block in section.blocks:
            _print_block(console, block, wide)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- HTML charts

def driver_text(anomaly: Any) -> str:
    """Return an anomalous day's drivers: ``group +$x; group +$y`` (``n/a`` without any)."""
    return "; ".join(f"{_name(d.group)} {signed_money(d.delta_usd)}"
                     for d in anomaly.drivers) or NA


def anomaly_text(anomaly: Any) -> str:
    """Return one anomalous day and its drivers as one line of text."""
    drivers = driver_text(anomaly)
    return (f"{anomaly.day.isoformat()}: {money(anomaly.cost_usd)} vs baseline "
            f"{money(anomaly.baseline_usd)} ({signed_money(anomaly.delta_usd)}, robust z "
            f"{anomaly.robust_z:+.1f}); drivers: {drivers}")


def daily_figure(review: Review, *, height: int = 460) -> Any | None:
    """Return the daily effective cost stacked by group, with the total, the anomalous days
    (marked, their drivers in the hover and a note) and, for a month in progress, the forecast:
    the mean daily cost over the days left with its interval as a band (the month-end interval
    spread evenly over those days). None without daily data."""
    import datetime as dt

    import plotly.graph_objects as go

    if not review.daily:
        return None
    fig = go.Figure()
    groups: dict[str, tuple[list[str], list[float]]] = {}
    for p in review.daily_by_group:
        xs, ys = groups.setdefault(_name(p.group), ([], []))
        xs.append(p.day.isoformat())
        ys.append(p.effective_usd)
    for name, (xs, ys) in groups.items():
        fig.add_trace(go.Bar(x=xs, y=ys, name=name,
                             hovertemplate=f"{name}<br>%{{x}}: %{{y:$,.2f}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[p.day.isoformat() for p in review.daily],
                             y=[p.effective_usd for p in review.daily], mode="lines",
                             name="total", line={"color": "#1f2328", "width": 1},
                             hovertemplate="total %{x}: %{y:$,.2f}<extra></extra>"))
    for a in review.anomalies:
        top = a.drivers[0] if a.drivers else None
        fig.add_annotation(x=a.day.isoformat(), y=a.cost_usd, yshift=8, showarrow=True,
                           arrowhead=2, ax=0, ay=-34, font={"size": 11, "color": "#cf222e"},
                           text=f"anomaly {signed_money(a.delta_usd)}" + (
                               f"<br>{_name(top.group)}" if top is not None else ""))
    if review.anomalies:
        fig.add_trace(go.Scatter(
            x=[a.day.isoformat() for a in review.anomalies],
            y=[a.cost_usd for a in review.anomalies], mode="markers", name="anomaly",
            marker={"symbol": "x", "size": 12, "color": "#cf222e"},
            hovertext=[anomaly_text(a) for a in review.anomalies], hoverinfo="text"))
    f = review.forecast
    if f is not None and review.daily and f.days_remaining > 0:
        first = review.freshness.month_latest_charge_period_end
        start = first.date() if first is not None else review.daily[-1].day
        last = dt.date.fromisoformat(f"{review.month}-{days_in_month(review.month):02d}")
        days = [(start + dt.timedelta(days=i)).isoformat()
                for i in range((last - start).days + 1)]
        r = max(f.days_remaining, 1e-9)
        if f.low_usd is not None and f.high_usd is not None:
            lo, hi = f.mean_daily_usd - (f.point_usd - f.low_usd) / r, \
                f.mean_daily_usd + (f.high_usd - f.point_usd) / r
            fig.add_trace(go.Scatter(x=days + days[::-1], y=[hi] * len(days) + [lo] * len(days),
                                     fill="toself", mode="lines", line={"width": 0},
                                     fillcolor="rgba(130,80,223,0.15)", hoverinfo="skip",
                                     name=f"forecast {f.level:.0%} band (per day)"))
        fig.add_trace(go.Scatter(
            x=days, y=[f.mean_daily_usd] * len(days), mode="lines", name="forecast (per day)",
            line={"color": "#8250df", "dash": "dash"},
            hovertemplate=(f"forecast %{{x}}: %{{y:$,.2f}}/day; month end "
                           f"{money(f.point_usd)}<extra></extra>")))
    fig.update_layout(barmode="stack", title=f"Effective cost per day by "
                      f"{_group_label(review)}, {review.month}", xaxis_title="day (UTC)",
                      yaxis_title=f"effective cost ({review.currency or NA} per day)",
                      template="plotly_white", height=height, legend={"orientation": "h",
                                                                      "y": -0.2})
    return fig


def forecast_figure(review: Review) -> Any | None:
    """Return the month to date, cumulative by day, and the month-end forecast with its
    interval (None for a complete month or without daily data)."""
    import plotly.graph_objects as go

    f = review.forecast
    if f is None or not review.daily:
        return None
    through = review.month_to_date.through if review.month_to_date is not None else None
    xs, cum, total = [], [], 0.0
    for p in review.daily:  # the complete days (the rest of a spread monthly fee is in known)
        if through is not None and p.day > through:
            break
        total += p.effective_usd
        xs.append(p.day.isoformat())
        cum.append(total)
    if not xs:
        return None
    fig = go.Figure(go.Scatter(x=xs, y=cum, mode="lines+markers", name="cumulative (by day)"))
    end = f"{review.month}-{days_in_month(review.month):02d}"
    fig.add_trace(go.Scatter(x=[xs[-1], end], y=[f.known_usd, f.point_usd], mode="lines",
                             line={"dash": "dash"}, name="forecast"))
    if f.low_usd is not None:
        fig.add_trace(go.Scatter(x=[xs[-1], end, end, xs[-1]],
                                 y=[f.known_usd, f.high_usd, f.low_usd, f.known_usd],
                                 fill="toself", mode="lines", line={"width": 0},
                                 opacity=0.25, name=f"{f.level:.0%} interval"))
    fig.update_layout(title="Month to date and month-end forecast", template="plotly_white",
                      yaxis_title=f"effective cost ({review.currency or NA})", height=380)
    return fig


def movers_figure(review: Review) -> Any | None:
    """Return the top movers' change as horizontal bars labelled with their share of the
    change (None without a previous month)."""
    import plotly.graph_objects as go

    if not review.movers:
        return None
    movers = list(reversed(review.movers))
    fig = go.Figure(go.Bar(
        x=[m.change_usd for m in movers], y=[_name(m.group) for m in movers], orientation="h",
        marker={"color": ["#cf222e" if m.change_usd > 0 else "#1a7f37" for m in movers]},
        text=[fmt_pct(m.share_of_change) for m in movers]))
    fig.update_layout(title=f"Top movers vs {review.previous_month} (effective)",
                      xaxis_title=f"change ({review.currency or NA})", template="plotly_white",
                      height=120 + 28 * len(movers))
    return fig


def gpu_rate_figure(review: Review) -> Any | None:
    """Return effective $/GPU-hour by instance type and purchase option (None without a rated
    GPU row)."""
    import plotly.graph_objects as go

    if review.gpu is None:
        return None
    rates = [r for r in review.gpu.rates if r.effective_usd_per_gpu_hour is not None]
    if not rates:
        return None
    fig = go.Figure()
    options = sorted({r.purchase_option or NA for r in rates})
    for opt in options:
        sel = [r for r in rates if (r.purchase_option or NA) == opt]
        fig.add_trace(go.Bar(
            x=[_name(r.instance_type) for r in sel], y=[r.effective_usd_per_gpu_hour for r in sel],
            name=PURCHASE_LABEL.get(opt, opt),
            customdata=[[fmt_unit(r.used_usd_per_gpu_hour), money(r.effective_usd),
                         money(r.unused_commitment_usd), fmt_number(r.gpu_hours, 1)]
                        for r in sel],
            hovertemplate=("%{x}: %{y:$.4f}/GPU-h = %{customdata[1]} / %{customdata[3]} "
                           "GPU-h (used only %{customdata[0]}/GPU-h; unused commitment "
                           "%{customdata[2]})<extra></extra>")))
    fig.update_layout(barmode="group", title="Effective $/GPU-hour (unused commitment included)",
                      xaxis_title="instance type", legend_title_text="purchase option",
                      yaxis_title="$ per GPU-hour", template="plotly_white", height=420)
    return fig


def render_html(review: Review, notes: Sequence[str] = ()) -> str:
    """Return the review as one self-contained HTML page (plotly.js inlined, no network).

    Charts: effective cost per day stacked by group with the total, anomaly markers and the
    forecast band of the mean daily cost; month to date with the month-end forecast interval;
    top movers; effective $/GPU-hour by instance type × purchase option.  A chart without data
    is left out and says so.
    """
    from planner.reports.html import _e, chart_div, html_page, render_section

    figures = [("daily-cost", daily_figure(review)), ("forecast", forecast_figure(review)),
               ("movers", movers_figure(review)), ("gpu-rates", gpu_rate_figure(review))]
    sections = build_sections(review, notes)
    body = [f"<h1>{_e(title(review))}</h1>", render_section(sections[0]), "<h2>Charts</h2>"]
    for div_id, fig in figures:
        if fig is not None:
            body.append(chart_div(fig, div_id))
    missing = [d for d, f in figures if f is None]
    if missing:
        body.append("<p>Charts without data (n/a): " + _e(", ".join(missing)) + "</p>")
    body.extend(render_section(s) for s in sections[1:])
    return html_page(title(review), body)


def render(review: Review, fmt: str, notes: Sequence[str] = (), *, wide: bool = False) -> str:
    """Return the review in ``fmt``: ``table``, ``json``, ``markdown`` or ``html``."""
    if fmt == "table":
        return render_table(review, notes, wide=wide)
    renderers = {"json": render_json, "markdown": render_markdown, "html": render_html}
    return renderers[fmt](review, notes)
