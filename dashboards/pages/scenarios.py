"""Scenarios page: choose or upload a scenario, edit key parameters, run it, compare designs."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html

from dashboards import scenario_logic as logic
from dashboards.scenario_view import (
    DESIGN_INPUTS,
    FIELDS,
    GLOBAL_INPUTS,
    SPOT_CONTROLS,
    choice_options,
    field,
    message,
    on_cancel,
    on_choice,
    on_design,
    on_design_notes,
    on_download,
    on_edits,
    on_fleet_choices,
    on_inputs,
    on_spot,
    on_stale,
    on_upload,
    register_run,
)
from dashboards.settings import Settings, current_settings

dash.register_page(__name__, path="/", name="Scenarios", title="Scenarios - GPU planner",
                   order=0)


def layout(**query: Any) -> html.Div:
    """Return the page for the view in the URL query (``scenario`` plus parameter edits)."""
    settings = current_settings()
    choice, edits, problems = logic.query_to_state(query)
    bundled = logic.bundled_scenarios(settings)
    if choice is None:
        choice = "bert-serving" if "bert-serving" in bundled else (bundled[0] if bundled else None)
    notes = [message(p, "info") for p in problems]
    return html.Div([
        html.H2("Scenarios"),
        html.P("Pick a scenario, change its key parameters, run it, and compare the designs' "
               "latency against their cost. The URL keeps the view: share it.", className="lead"),
        html.Div([
            html.Div([html.Label("scenario", htmlFor="scn-choice"),
                      dcc.Dropdown(id="scn-choice", options=choice_options(settings, choice),
                                   value=choice, clearable=False)], className="field grow"),
            dcc.Upload(id="scn-upload", children=html.Div(
                "Upload a scenario YAML (at most 256 KB): drop it here or click",
                role="button", tabIndex="0", **{"aria-label": "upload a scenario YAML file"}),
                className="upload grow", multiple=False),
        ], className="row panel"),
        html.Div(notes, id="scn-upload-msg", **{"aria-live": "polite"}),
        html.Div(id="scn-load-msg", **{"aria-live": "polite"}),
        html.Div([
            html.H3("Scenario-wide"),
            html.Div([field(f) for f in GLOBAL_INPUTS], className="grid"),
            html.H3("Design"),
            html.Div([html.Div([html.Label("design to edit", htmlFor="scn-design",
                                           id="scn-design-label"),
                                dcc.Dropdown(id="scn-design", clearable=False)],
                               className="field", id="scn-field-design")]
                     + [field(f) for f in DESIGN_INPUTS], className="grid"),
            html.Div(id="scn-fleet-notes", **{"aria-live": "polite"}),
        ], className="panel"),
        html.Div(id="scn-design-notes", **{"aria-live": "polite"}),
        html.Div(id="scn-validation", **{"aria-live": "polite"}),
        html.Div([
            html.Button("Run", id="scn-run", className="primary", n_clicks=0),
            html.Button("Cancel", id="scn-cancel", disabled=True, n_clicks=0),
            html.Progress(id="scn-progress", value="0", max="1",
                          **{"aria-label": "run progress (replications done)"}),
            html.Span(id="scn-progress-text", className="muted", role="status",
                      **{"aria-live": "polite"}),
            html.Span(style={"flex": "1"}),
            html.Button("Scenario YAML", id="scn-dl-yaml", n_clicks=0),
            html.Button("JSON results", id="scn-dl-json", n_clicks=0),
            html.Button("HTML report", id="scn-dl-html", n_clicks=0),
            dcc.Download(id="scn-download"),
        ], className="row panel"),
        html.Div(id="scn-dl-msg"),
        html.Div([html.Span("share this view: ", className="muted"),
                  html.Label("share this view (URL)", htmlFor="scn-share",
                             className="visually-hidden"),
                  dcc.Input(id="scn-share", type="text", readOnly=True, className="share"),
                  dcc.Link("compare with the bills (Calibration)", id="scn-calibrate",
                           href="/calibration")], className="row"),
        html.Div(id="scn-run-msg", **{"aria-live": "assertive"}),
        html.Div(id="scn-stale", **{"aria-live": "polite"}),
        dcc.Loading(html.Div(id="scn-results", className="results"), type="dot"),
        dcc.Store(id="scn-base"),
        dcc.Store(id="scn-edits", data={"scenario": choice, "values": edits}),
        dcc.Store(id="scn-query"),
        dcc.Store(id="scn-run-id"),
        dcc.Store(id="scn-run-inputs"),
        html.Div(id="scn-url-dummy", hidden=True),
    ])


def _changed() -> set[str]:
    """The page inputs whose values triggered the running callback (``scn-in-<field>``)."""
    return {key.split(".", 1)[0].removeprefix("scn-in-") for key in ctx.triggered_prop_ids}


def register_callbacks(app: dash.Dash, settings: Settings) -> None:
    """Register this page's callbacks on ``app`` (each calls one function above)."""
    app.callback(
        Output("scn-choice", "options"), Output("scn-choice", "value"),
        Output("scn-upload-msg", "children"),
        Input("scn-upload", "contents"), State("scn-upload", "filename"),
        prevent_initial_call=True,
    )(lambda contents, filename: on_upload(settings, contents, filename))

    app.callback(
        Output("scn-base", "data"), Output("scn-design", "options"),
        Output("scn-design", "value"), Output("scn-load-msg", "children"),
        Input("scn-choice", "value"),
    )(lambda choice: on_choice(settings, choice))

    app.callback(
        [Output(f"scn-in-{f}", "value") for f in FIELDS]
        + [Output(f"scn-in-{f}", "disabled") for f in FIELDS],
        Input("scn-base", "data"), Input("scn-design", "value"), State("scn-edits", "data"),
    )(on_design)

    app.callback(
        Output("scn-design-notes", "children"),
        Input("scn-base", "data"), Input("scn-design", "value"), Input("scn-edits", "data"),
    )(on_design_notes)

    app.callback(
        Output("scn-edits", "data"),
        [Input(f"scn-in-{f}", "value") for f in FIELDS],
        State("scn-base", "data"), State("scn-design", "value"), State("scn-edits", "data"),
        prevent_initial_call=True,
    )(lambda *args: on_inputs(args[-3], args[-2], args[-1], list(args[:-3]), _changed()))

    app.callback(
        Output("scn-in-spot_interruptions", "options"),
        Output("scn-in-spot_interruptions", "value", allow_duplicate=True),
        Output("scn-in-spot_per_node_hour", "value", allow_duplicate=True),
        [Output(f"scn-in-{f}", "disabled", allow_duplicate=True) for f in SPOT_CONTROLS],
        Input("scn-base", "data"), Input("scn-design", "value"), Input("scn-edits", "data"),
        prevent_initial_call="initial_duplicate",
    )(on_spot)

    app.callback(
        Output("scn-query", "data"), Output("scn-validation", "children"),
        [Output(f"scn-field-{f}", "className") for f in FIELDS],
        [Output(f"scn-err-{f}", "children") for f in FIELDS],
        Output("scn-field-design", "className"),
        Input("scn-edits", "data"), Input("scn-base", "data"), Input("scn-design", "value"),
        State("scn-choice", "value"),
    )(lambda edits, base, design, choice: on_edits(
        settings, base["choice"] if base else choice, edits, base, design))

    app.callback(
        Output("scn-in-instance", "options"), Output("scn-in-purchase", "options"),
        Output("scn-fleet-notes", "children"),
        Output("scn-in-instance", "value", allow_duplicate=True),
        Output("scn-in-purchase", "value", allow_duplicate=True),
        Input("scn-base", "data"), Input("scn-design", "value"), Input("scn-edits", "data"),
        prevent_initial_call="initial_duplicate",
    )(on_fleet_choices)

    app.callback(
        Output("scn-stale", "children"), Output("scn-results", "className"),
        Input("scn-run-inputs", "data"), Input("scn-choice", "value"), Input("scn-edits", "data"),
    )(on_stale)

    app.callback(
        Output("scn-run-msg", "children", allow_duplicate=True),
        Output("scn-progress-text", "children", allow_duplicate=True),
        Input("scn-cancel", "n_clicks"), State("scn-progress", "value"),
        State("scn-progress", "max"),
        prevent_initial_call=True,
    )(on_cancel)

    app.clientside_callback(  # a new run starts from an empty bar, not the last run's full one
        """
        function(n) {
            return ["0", "1", n ? "starting…" : window.dash_clientside.no_update];
        }
        """,
        Output("scn-progress", "value", allow_duplicate=True),
        Output("scn-progress", "max", allow_duplicate=True),
        Output("scn-progress-text", "children", allow_duplicate=True),
        Input("scn-run", "n_clicks"), prevent_initial_call=True,
    )

    app.clientside_callback(
        """
        function(query) {
            if (query === null || query === undefined) { return window.dash_clientside.no_update; }
            if (window.location.search !== query) {
                window.history.replaceState(window.history.state, '', window.location.pathname + query);
            }
            return window.location.origin + window.location.pathname + query;
        }
        """,
        Output("scn-share", "value"), Input("scn-query", "data"),
    )

    app.callback(
        Output("scn-download", "data"), Output("scn-dl-msg", "children"),
        Input("scn-dl-yaml", "n_clicks"), Input("scn-dl-json", "n_clicks"),
        Input("scn-dl-html", "n_clicks"),
        State("scn-choice", "value"), State("scn-edits", "data"), State("scn-run-id", "data"),
        prevent_initial_call=True,
    )(lambda _y, _j, _h, choice, edits, run_id: on_download(
        settings, ctx.triggered_id, choice, edits, run_id))

    register_run(app, settings)
