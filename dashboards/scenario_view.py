"""Scenarios page handlers as plain functions: each callback of the page calls one of these.

They return Dash components and values, never raise for a user's mistake (a bad scenario, a bad
file): the mistake becomes a message in the page.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from dashboards import charts
from dashboards import scenario_logic as logic
from dashboards.settings import Settings, instance_keys
from domain.errors import PlannerError

_NUMBER_FIELDS = {
    "rate_rps": "arrival rate / mean rate (req/s)",
    "slo_ms": "SLO latency (ms)",
    "ttft_ms": "SLO TTFT (ms, llm)",
    "tpot_ms": "SLO TPOT (ms, llm)",
    "horizon_s": "simulated horizon (s)",
    "nodes": "fleet nodes",
    "on_demand_base": "on-demand base nodes (spot fleets)",
    "min_nodes": "autoscaling min nodes",
    "max_nodes": "autoscaling max nodes",
    "max_batch": "max batch",
    "max_wait_ms": "max wait (ms)",
    "max_num_seqs": "max_num_seqs (llm engine)",
    "max_num_batched_tokens": "max_num_batched_tokens (llm engine)",
}
GLOBAL_INPUTS = ("rate_rps", "slo_ms", "ttft_ms", "tpot_ms", "horizon_s", "replications")
DESIGN_INPUTS = ("instance", "purchase", "nodes", "on_demand_base", "min_nodes", "max_nodes",
                 "max_batch", "max_wait_ms", "max_num_seqs", "max_num_batched_tokens")
FIELDS = GLOBAL_INPUTS + DESIGN_INPUTS


def message(text: str, kind: str = "error") -> html.Div:
    """Return a message box (``error``, ``info`` or ``ok``)."""
    return html.Div(text, className=f"msg {kind}")


def field(field: str) -> html.Div:
    fid = f"scn-in-{field}"
    if field == "instance":
        control = dcc.Dropdown(id=fid, options=instance_keys(), clearable=False)
        label = "instance type (catalog)"
    elif field == "purchase":
        control = dcc.Dropdown(id=fid, options=list(logic.PURCHASE_OPTIONS), clearable=False)
        label = "purchase option"
    elif field == "replications":
        control = dcc.Slider(id=fid, min=2, max=32, step=1, value=None,
                             marks={2: "2", 8: "8", 16: "16", 32: "32"},
                             tooltip={"placement": "bottom"})
        label = "replications"
    else:
        label = _NUMBER_FIELDS[field]
        control = dcc.Input(id=fid, type="number", debounce=True)  # the schema checks bounds
    return html.Div([html.Label(label, htmlFor=fid), control], className="field")


def choice_options(settings: Settings, extra: str | None = None) -> list[dict[str, str]]:
    """Return the scenario dropdown options: bundled scenarios, plus ``extra`` if uploaded."""
    options = [{"label": name, "value": name} for name in logic.bundled_scenarios(settings)]
    if extra and extra.startswith(logic.UPLOAD_PREFIX):
        options.append({"label": f"uploaded ({extra[len(logic.UPLOAD_PREFIX):]})",
                        "value": extra})
    return options


def _edits_for(edits: dict[str, Any] | None, choice: str | None) -> dict[str, Any]:
    if not edits or edits.get("scenario") != choice:
        return {}
    return dict(edits.get("values") or {})


def on_upload(settings: Settings, contents: str | None, filename: str | None):
    """Return (options, value, message) after an upload; a bad file gives only the message."""
    if not contents:
        return no_update, no_update, no_update
    try:
        choice = logic.store_upload(settings, contents, filename)
    except PlannerError as exc:
        return no_update, no_update, message(str(exc))
    return (choice_options(settings, choice), choice,
            message(f"uploaded {logic.safe_filename(filename)}", "ok"))


def on_choice(settings: Settings, choice: str | None):
    """Return (base store, design options, design value, message) for a chosen scenario."""
    try:
        base, label = logic.load_base(settings, choice)
    except PlannerError as exc:
        return None, [], None, message(str(exc))
    names = logic.design_names(base)
    text = base.get("description") or ""
    return ({"choice": choice, "data": base}, names, names[0] if names else None,
            message(f"{label}: {str(text).strip()}", "info") if text else None)


def on_design(base: dict[str, Any] | None, design: str | None,
              edits: dict[str, Any] | None) -> list[Any]:
    """Return each input's value then each input's ``disabled`` flag, in :data:`FIELDS` order."""
    if not base:
        return [None] * len(FIELDS) + [True] * len(FIELDS)
    values = logic.current_values(base["data"], _edits_for(edits, base["choice"]), design)
    return [values[f] for f in FIELDS] + [values[f] is None for f in FIELDS]


def on_design_notes(base: dict[str, Any] | None, design: str | None):
    """Return the message naming the disabled controls and why (None when all apply)."""
    if not base:
        return None
    notes = logic.not_applicable(base["data"], design)
    if not notes:
        return None
    return html.Div([html.Span("Not applicable here (disabled): "),
                     html.Ul([html.Li(n) for n in notes])], className="msg info",
                    id="scn-design-notes-text")


def on_inputs(base: dict[str, Any] | None, design: str | None, edits: dict[str, Any] | None,
              values: list[Any]):
    """Return the edits store after an input changed."""
    if not base:
        return no_update
    new = logic.update_edits(base["data"], _edits_for(edits, base["choice"]), design,
                             dict(zip(FIELDS, values)))
    return {"scenario": base["choice"], "values": new}


def on_edits(settings: Settings, choice: str | None, edits: dict[str, Any] | None):
    """Return (URL query, validation message) of the current view."""
    values = _edits_for(edits, choice)
    query = logic.state_to_query(choice, values)
    try:
        scenario = logic.build_scenario(settings, choice, values)
    except PlannerError as exc:
        return query, message(str(exc))
    changed = ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "none"
    return query, message(f"valid: {len(scenario.designs)} design(s) x {scenario.replications} "
                          f"replications over {scenario.horizon_s:g} s; edits: {changed}", "ok")


def on_download(settings: Settings, which: str | None, choice: str | None,
                edits: dict[str, Any] | None, run_id: str | None):
    """Return (dcc.Download data, message) for the YAML, JSON or HTML download."""
    try:
        if which == "scn-dl-yaml":
            name, text = logic.scenario_yaml(settings, choice, _edits_for(edits, choice))
        elif which == "scn-dl-json":
            name, text = logic.results_json(settings, run_id)
        elif which == "scn-dl-html":
            name, text = logic.results_html(settings, run_id)
        else:
            return no_update, no_update
    except PlannerError as exc:
        return no_update, message(str(exc))
    return {"content": text, "filename": name}, None


def on_run(settings: Settings, set_progress, choice: str | None, edits: dict[str, Any] | None):
    """Run the view; return (results, run id, message, calibration link)."""
    def progress(done: int, total: int) -> None:
        set_progress((str(done), str(total), f"{done}/{total} replications"))

    try:
        view = logic.run_view(settings, choice, _edits_for(edits, choice), progress)
    except PlannerError as exc:
        return None, None, message(str(exc)), "/calibration"
    return (charts.result_components(view.result, view.run_id), view.run_id, None,
            f"/calibration?run={view.run_id}")



def register_run(app, settings: Settings) -> None:
    """Register the page's background run callback (progress, cancel) on ``app``.

    It lives here, not in the page module, because the job runs in another process that
    imports this module (a page module can only be imported beside a Dash app).
    """
    def run(set_progress, _n_clicks, choice, edits):
        return on_run(settings, set_progress, choice, edits)

    app.callback(
        Output("scn-results", "children"), Output("scn-run-id", "data"),
        Output("scn-run-msg", "children"), Output("scn-calibrate", "href"),
        Input("scn-run", "n_clicks"), State("scn-choice", "value"), State("scn-edits", "data"),
        background=True,
        prevent_initial_call=True,
        running=[(Output("scn-run", "disabled"), True, False),
                 (Output("scn-cancel", "disabled"), False, True)],
        cancel=[Input("scn-cancel", "n_clicks")],
        progress=[Output("scn-progress", "value"), Output("scn-progress", "max"),
                  Output("scn-progress-text", "children")],
        interval=300,
    )(run)
