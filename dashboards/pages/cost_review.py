"""Cost review page: the monthly review of billing exports (the --data folder or an upload)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update

from dashboards import billing_logic as logic
from dashboards.settings import Settings, current_settings
from domain.errors import PlannerError

dash.register_page(__name__, path="/cost-review", name="Cost review",
                   title="Cost review - GPU planner", order=1)


def message(text: str, kind: str = "error") -> html.Div:
    """Return a message box (``error``, ``info`` or ``ok``)."""
    return html.Div(text, className=f"msg {kind}")


def _table(headers: list[str], rows: list[list[str]], table_id: str) -> Any:
    if not rows:
        return html.P("n/a (nothing in this month's data)", className="muted", id=table_id)
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in headers])),
                       html.Tbody([html.Tr([html.Td(c, className="num" if i else None)
                                            for i, c in enumerate(r)]) for r in rows])],
                      className="data-table", id=table_id)


def layout(**_query: Any) -> html.Div:
    """Return the page: source, filters, and the review (filled by a callback)."""
    settings = current_settings()
    reason = logic.unavailable_reason()
    head = [html.H2("Cost review"),
            html.P("What the month cost, what moved, what a GPU-hour really costs, how well "
                   "commitments are covered, anomalies and the month-end forecast.",
                   className="lead")]
    if reason is not None:
        return html.Div(head + [message(f"billing support is not available: {reason}")],
                        id="cr-page")
    source = (f"billing exports in {settings.data_dir}" if settings.data_dir
              else "no --data folder given; upload an export")
    return html.Div(head + [
        html.Div([
            html.Span(source, className="muted grow", id="cr-source-text"),
            dcc.Upload(id="cr-upload", className="upload grow",
                       children=html.Div("Upload a billing export (CUR, GCP export or FOCUS; "
                                         "at most 50 MB)")),
        ], className="row panel"),
        html.Div(id="cr-upload-msg"),
        html.Div([
            html.Div([html.Label("month"), dcc.Dropdown(id="cr-month")], className="field"),
            html.Div([html.Label("group by"), dcc.Dropdown(
                id="cr-group", value="service", clearable=False,
                options=["service", "account"])], className="field"),
            html.Div([html.Label("accounts"), dcc.Dropdown(id="cr-accounts", multi=True)],
                     className="field"),
            html.Div([html.Label("services"), dcc.Dropdown(id="cr-services", multi=True)],
                     className="field"),
            html.Div([html.Label("tag (key=value)"), dcc.Input(id="cr-tag", type="text",
                                                               debounce=True)],
                     className="field"),
        ], className="grid panel"),
        dcc.Loading(html.Div(id="cr-review"), type="dot"),
        dcc.Store(id="cr-token"),
    ], id="cr-page")


def on_upload(settings: Settings, contents: str | None, filename: str | None):
    """Save an uploaded export privately; return (upload token, message)."""
    if not contents:
        return no_update, no_update
    try:
        path = logic.save_upload(settings, contents, filename)
    except PlannerError as exc:
        return no_update, message(str(exc))
    return path.parent.name, message(f"uploaded {path.name}", "ok")


def review_components(settings: Settings, token: str | None, month: str | None, group_by: str,
                      accounts: list[str] | None, services: list[str] | None,
                      tag: str | None) -> tuple[Any, list[Any], list[Any], list[Any]]:
    """Return (review children, month options, account options, service options)."""
    paths = logic.upload_files(settings, token) or logic.data_files(settings.data_dir)
    try:
        if not paths:
            raise PlannerError("no billing files: start with --data DIR or upload an export")
        read = logic.read(paths)
        options = logic.filter_options(read.frame)
        review = logic.review_dict(paths, month=month, group_by=group_by or "service",
                                   accounts=accounts or (), services=services or (), tag=tag)
    except PlannerError as exc:
        return message(str(exc)), no_update, no_update, no_update
    cur, change, fc = review.get("current") or {}, review.get("change") or {}, review.get("forecast")
    summary = (f"{review['month']}: effective ${cur.get('effective_usd', 0):,.2f}, billed "
               f"${cur.get('billed_usd', 0):,.2f}, list ${cur.get('list_usd', 0):,.2f}")
    if change and change.get("effective_pct") is not None:
        summary += f"; {change['effective_pct']:+.1f}% vs {review['previous_month']}"
    if fc:
        summary += (f"; month-end forecast ${fc['point_usd']:,.0f}"
                    + (f" ({fc['low_usd']:,.0f}-{fc['high_usd']:,.0f})"
                       if fc.get("low_usd") is not None and fc.get("high_usd") is not None
                       else ""))
    children = [
        message(summary, "info"),
        dcc.Graph(id="cr-fig-daily", figure=logic.review_figure(review)),
        html.H3("Month-over-month movers"),
        _table(["group", "previous", "current", "change", "change %"],
               logic.movers_rows(review), "cr-movers"),
        html.H3("GPU effective $/GPU-hour"),
        _table(["instance", "purchase", "GPU", "GPU-hours", "used cost", "unused commitment",
                "effective cost", "used $/GPU-h", "effective $/GPU-h (incl. unused)",
                "list $/GPU-h"], logic.gpu_rows(review), "cr-gpu"),
        html.H3("Commitment coverage"),
        _table(["commitment", "coverage (hours)", "coverage (cost)", "utilisation", "unused",
                "savings"], logic.commitment_rows(review), "cr-commitments"),
        html.H3("Anomalies"),
        _table(["day", "cost", "baseline", "delta"],
               [[a["day"], f"${a['cost_usd']:,.2f}", f"${a['baseline_usd']:,.2f}",
                 f"${a['delta_usd']:+,.2f}"] for a in review.get("anomalies") or []],
               "cr-anomalies"),
    ]
    if review.get("oddities"):
        children += [html.H3("Reading notes"), html.Ul([html.Li(o) for o in review["oddities"]])]
    months = list(review.get("months_available") or [])
    return children, months, options["accounts"], options["services"]


def register_callbacks(app: dash.Dash, settings: Settings) -> None:
    """Register this page's callbacks on ``app``."""
    if logic.unavailable_reason() is not None:
        return
    app.callback(
        Output("cr-token", "data"), Output("cr-upload-msg", "children"),
        Input("cr-upload", "contents"), State("cr-upload", "filename"),
        prevent_initial_call=True,
    )(lambda contents, filename: on_upload(settings, contents, filename))
    app.callback(
        Output("cr-review", "children"), Output("cr-month", "options"),
        Output("cr-accounts", "options"), Output("cr-services", "options"),
        Input("cr-token", "data"), Input("cr-month", "value"), Input("cr-group", "value"),
        Input("cr-accounts", "value"), Input("cr-services", "value"), Input("cr-tag", "value"),
    )(lambda *args: review_components(settings, *args))
