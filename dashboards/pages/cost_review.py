"""Cost review page: the monthly review of billing exports (the --data folder or an upload).

The view lives in the URL (``?upload=&month=&group_by=&account=&service=&tag=``), so a reload or
a shared link shows the same review; every figure is ``planner billing review``'s
(:mod:`dashboards.review_view`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards import billing_logic as logic
from dashboards.review_view import review_children
from dashboards.settings import Settings
from domain.errors import PlannerError

dash.register_page(__name__, path="/cost-review", name="Cost review",
                   title="Cost review - GPU planner", order=1)

GROUPS = ["service", "account"]
"""Group-by choices every bill has; ``tag:<key>`` choices follow the source's tag keys."""


def message(text: str, kind: str = "error") -> html.Div:
    """Return a message box (``error``, ``info`` or ``ok``); errors are announced."""
    return html.Div(text, className=f"msg {kind}", role="alert" if kind == "error" else None)


def _listed(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _options(values: list[str]) -> list[dict[str, str]]:
    """The URL's choices as options until the source's are known (a dropdown drops a value
    that is not among its options)."""
    return [{"label": v, "value": v} for v in values]


def layout(upload: str | None = None, month: str | None = None, group_by: str | None = None,
           account: Any = None, service: Any = None, tag: str | None = None,
           **_query: Any) -> html.Div:
    """Return the page: source, upload, filters (from the URL), and the review (a callback)."""
    reason = logic.unavailable_reason()
    head = [html.H2("Cost review"),
            html.P("What the month cost, what moved, what a GPU-hour really costs, how well "
                   "commitments are covered, anomalies and the month-end forecast.",
                   className="lead")]
    if reason is not None:
        return html.Div(head + [message(f"billing support is not available: {reason}")],
                        id="cr-page")
    return html.Div(head + [
        html.Div([
            html.Div([html.Span("source: ", className="muted"),
                      html.Span(id="cr-source-text")], className="grow"),
            dcc.Upload(id="cr-upload", className="upload grow",
                       children=html.Div("Upload a billing export (AWS CUR, GCP export or "
                                         "FOCUS; .csv, .csv.gz, .parquet, .zip; at most 50 MB)")),
        ], className="row panel"),
        html.Div(id="cr-upload-msg", **{"aria-live": "polite"}),
        html.Div([
            html.Div([html.Label("month", htmlFor="cr-month"),
                      dcc.Dropdown(id="cr-month", value=month, placeholder="latest",
                                   options=_options([month] if month else []))],
                     className="field"),
            html.Div([html.Label("group by", htmlFor="cr-group"),
                      dcc.Dropdown(id="cr-group", value=group_by or "service",
                                   clearable=False, options=list(dict.fromkeys(
                                       GROUPS + [group_by or "service"])))],
                     className="field"),
            html.Div([html.Label("accounts", htmlFor="cr-accounts"),
                      dcc.Dropdown(id="cr-accounts", multi=True, value=_listed(account),
                                   options=_options(_listed(account)))],
                     className="field"),
            html.Div([html.Label("services", htmlFor="cr-services"),
                      dcc.Dropdown(id="cr-services", multi=True, value=_listed(service),
                                   options=_options(_listed(service)))],
                     className="field"),
            html.Div([html.Label("tag (key=value)", htmlFor="cr-tag"),
                      dcc.Input(id="cr-tag", type="text", debounce=True, value=tag or "",
                                placeholder="team=search")], className="field"),
            html.Div([html.Label("\u00a0"), html.Button("Clear filters", id="cr-clear",
                                                        n_clicks=0)], className="field"),
        ], className="grid panel"),
        html.Div(id="cr-filter-msg", **{"aria-live": "polite"}),
        html.Div([html.Span("download this review:", className="muted")]
                 + [html.Button(label, id=f"cr-dl-{fmt}", n_clicks=0)
                    for fmt, label in (("json", "JSON"), ("markdown", "Markdown"),
                                       ("html", "HTML report"))]
                 + [dcc.Download(id="cr-download"), html.Span(id="cr-dl-msg")],
                 className="row"),
        dcc.Loading(html.Div(id="cr-review"), type="dot"),
        dcc.Store(id="cr-token", data=upload if isinstance(upload, str)
                  and re.fullmatch(r"[0-9a-f]{32}", upload) else None),
        dcc.Store(id="cr-query"),
        html.Div(id="cr-url-dummy", hidden=True),
    ], id="cr-page")


def on_upload(settings: Settings, contents: str | None, filename: str | None):
    """Save and read an uploaded export; return (upload token, message). A file that is not a
    billing export leaves the source as it was and says why."""
    if not contents:
        return no_update, no_update
    try:
        path, n_rows = logic.save_upload(settings, contents, filename)
    except PlannerError as exc:
        return no_update, message(logic.public_message(str(exc), settings)
                                  + "; the review still shows the previous source")
    return path.parent.name, message(f"uploaded {path.name}: {n_rows:,} billing rows read; "
                                     "the review below is this file's", "ok")


def _query(token: str | None, month: str | None, group_by: str, accounts: list[str],
           services: list[str], tag: str | None) -> str:
    pairs: list[tuple[str, str]] = []
    if token:
        pairs.append(("upload", token))
    if month:
        pairs.append(("month", month))
    if group_by and group_by != "service":
        pairs.append(("group_by", group_by))
    pairs += [("account", a) for a in accounts] + [("service", s) for s in services]
    if tag:
        pairs.append(("tag", tag))
    return "?" + urlencode(pairs) if pairs else ""


def review_components(settings: Settings, token: str | None, month: str | None,
                      group_by: str | None, accounts: list[str] | None,
                      services: list[str] | None, tag: str | None) -> tuple[Any, ...]:
    """Return the page's outputs for a source and filters: (review, filter message, month
    options, month value, month placeholder, group options, account options, service options,
    URL query, source text, header "data as of")."""
    src = logic.source(settings, token)
    group_by = group_by or "service"
    accounts, services = list(accounts or []), list(services or [])
    notes: list[Any] = []
    if token and src.upload is None:
        notes.append(message("the uploaded file is no longer on the server (uploads expire); "
                             f"showing {src.label}; upload it again to review it", "info"))
    as_of = f"data as of {logic.data_as_of(settings, src.upload)}"
    source_text = src.label
    if not src.paths:
        return (message("No billing files yet: upload an export above, or start the dashboard "
                        "with --data DIR.", "info"), notes, [], None, "latest", GROUPS, [], [],
                _query(None, None, "service", [], [], None), source_text, as_of)
    try:
        loaded = logic.read(src.paths)
        options = logic.filter_options(loaded.frame)
    except PlannerError as exc:
        return (message(logic.public_message(str(exc), settings)), [], [], None, "latest",
                GROUPS, [], [],
                _query(src.upload, None, "service", [], [], None), source_text, as_of)
    source_text = (f"{src.label}: {loaded.n_rows:,} rows, {', '.join(options['months'])}"
                   + "".join(f"; {n}" for n in loaded.notes[:1]))  # the reconciliation
    if month and month not in options["months"]:
        notes.append(message(f"{month} is not in {src.label} (it covers "
                             f"{', '.join(options['months'])}); showing the latest month",
                             "info"))
        month = None
    groups = GROUPS + [f"tag:{k}" for k in options["tag_keys"]]
    known_accounts = {o["value"] for o in options["accounts"]}
    known_services = {o["value"] for o in options["services"]}
    dropped = [a for a in accounts if a not in known_accounts] + \
        [s for s in services if s not in known_services]
    if dropped:
        notes.append(message(f"not in {src.label}, so not applied: {', '.join(dropped)}",
                             "info"))
        accounts = [a for a in accounts if a in known_accounts]
        services = [s for s in services if s in known_services]
    try:
        tag_filter = logic.parse_tag(tag)
    except PlannerError as exc:
        notes.append(message(str(exc)))
        tag_filter = None
    query = _query(src.upload, month, group_by, accounts, services, tag)
    outputs = (notes, [{"label": m, "value": m} for m in options["months"]], month,
               f"latest ({options['months'][-1]})" if options["months"] else "latest", groups,
               options["accounts"], options["services"], query, source_text, as_of)
    try:
        review = logic.review_of(src.paths, month=month, group_by=group_by, accounts=accounts,
                                 services=services, tag=tag_filter)
    except logic.NoMatchingRows as exc:
        return (message(f"Nothing to review: {exc} ({_filters_text(accounts, services, tag)}) "
                        f"in {src.label}. Change or clear the filters to see the bill.",
                        "info"), *outputs)
    except PlannerError as exc:
        return (message(logic.public_message(str(exc), settings)), *outputs)
    return (review_children(review, loaded.notes), *outputs)


def on_download(settings: Settings, fmt: str, token: str | None, month: str | None,
                group_by: str | None, accounts: list[str] | None, services: list[str] | None,
                tag: str | None):
    """Return the review as ``planner billing review --format FMT`` writes it, as a download
    (and no message), or no download and the reason."""
    src = logic.source(settings, token)
    try:
        tag_filter = logic.parse_tag(tag)
        name, text = logic.review_report(src.paths, fmt, month=month or None,
                                         group_by=group_by or "service",
                                         accounts=accounts or [], services=services or [],
                                         tag=tag_filter)
    except PlannerError as exc:
        return no_update, message(logic.public_message(str(exc), settings))
    return dcc.send_string(text, name, type=logic.REPORT_FORMATS[fmt][1]), None


def _filters_text(accounts: list[str], services: list[str], tag: str | None) -> str:
    parts = ([f"accounts {', '.join(accounts)}"] if accounts else []) + \
        ([f"services {', '.join(services)}"] if services else []) + \
        ([f"tag {tag.strip()}"] if tag and tag.strip() else [])
    return "; ".join(parts) or "no filters"


def register_callbacks(app: dash.Dash, settings: Settings) -> None:
    """Register this page's callbacks on ``app`` (the header's "data as of" included)."""
    if logic.unavailable_reason() is not None:
        return
    app.callback(
        Output("cr-token", "data"), Output("cr-upload-msg", "children"),
        Input("cr-upload", "contents"), State("cr-upload", "filename"),
        prevent_initial_call=True,
    )(lambda contents, filename: on_upload(settings, contents, filename))
    app.callback(
        Output("cr-month", "value", allow_duplicate=True),
        Output("cr-group", "value", allow_duplicate=True),
        Output("cr-accounts", "value", allow_duplicate=True),
        Output("cr-services", "value", allow_duplicate=True),
        Output("cr-tag", "value", allow_duplicate=True),
        Input("cr-clear", "n_clicks"), prevent_initial_call=True,
    )(lambda _clicks: (None, "service", [], [], ""))
    app.callback(
        Output("cr-review", "children"), Output("cr-filter-msg", "children"),
        Output("cr-month", "options"), Output("cr-month", "value"),
        Output("cr-month", "placeholder"),
        Output("cr-group", "options"), Output("cr-accounts", "options"),
        Output("cr-services", "options"), Output("cr-query", "data"),
        Output("cr-source-text", "children"), Output("data-as-of", "children"),
        Input("cr-token", "data"), Input("cr-month", "value"), Input("cr-group", "value"),
        Input("cr-accounts", "value"), Input("cr-services", "value"), Input("cr-tag", "value"),
    )(lambda *args: review_components(settings, *args))
    app.callback(
        Output("cr-download", "data"), Output("cr-dl-msg", "children"),
        *[Input(f"cr-dl-{fmt}", "n_clicks") for fmt in logic.REPORT_FORMATS],
        State("cr-token", "data"), State("cr-month", "value"), State("cr-group", "value"),
        State("cr-accounts", "value"), State("cr-services", "value"), State("cr-tag", "value"),
        prevent_initial_call=True,
    )(lambda *args: on_download(settings, str(ctx.triggered_id).removeprefix("cr-dl-"),
                                *args[len(logic.REPORT_FORMATS):]))
    app.clientside_callback(
        """
        function(query) {
            if (query === null || query === undefined) { return window.dash_clientside.no_update; }
            if (window.location.search !== query) {
                window.history.replaceState(window.history.state, '', window.location.pathname + query);
            }
            return window.dash_clientside.no_update;
        }
        """,
        Output("cr-url-dummy", "children"), Input("cr-query", "data"),
    )
