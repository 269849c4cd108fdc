"""Scenarios page handlers as plain functions: each callback of the page calls one of these.

They return Dash components and values, never raise for a user's mistake (a bad scenario, a bad
file): the mistake becomes a message in the page.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from dashboards import charts
from dashboards import scenario_logic as logic
from dashboards import scenario_status as status
from dashboards.settings import Settings
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
    "spot_per_node_hour": "spot interruptions per node-hour (a given rate)",
}
GLOBAL_INPUTS = ("rate_rps", "slo_ms", "ttft_ms", "tpot_ms", "horizon_s", "replications")
DESIGN_INPUTS = ("instance", "purchase", "nodes", "on_demand_base", "min_nodes", "max_nodes",
                 "spot_interruptions", "spot_per_node_hour", "max_batch", "max_wait_ms",
                 "max_num_seqs", "max_num_batched_tokens")
FIELDS = GLOBAL_INPUTS + DESIGN_INPUTS


def message(text: str, kind: str = "error") -> html.Div:
    """Return a message box (``error``, ``info`` or ``ok``); an error is announced at once by
    screen readers (``role=alert``), the others politely (``role=status``)."""
    return html.Div(text, className=f"msg {kind}", role="alert" if kind == "error" else "status")


def field(field: str) -> html.Div:
    """Return one labelled control of the page, with the place its problem is shown."""
    fid = f"scn-in-{field}"
    if field == "instance":
        control = dcc.Dropdown(id=fid, options=[], clearable=False)
        label = "instance type ($/h for the purchase option)"
    elif field == "purchase":
        control = dcc.Dropdown(id=fid, options=[], clearable=False)
        label = "purchase option ($/h for the instance)"
    elif field == "spot_interruptions":
        control = dcc.Dropdown(id=fid, options=[], clearable=False)
        label = "spot interruptions (spot fleets)"
    elif field == "replications":
        control = dcc.Slider(id=fid, min=2, max=32, step=1, value=None,
                             marks={2: "2", 8: "8", 16: "16", 32: "32"},
                             tooltip={"placement": "bottom"})
        label = "replications"
    else:
        label = _NUMBER_FIELDS[field]
        control = dcc.Input(id=fid, type="number", debounce=True)  # the schema checks bounds
    return html.Div([html.Label(label, htmlFor=fid, id=f"{fid}-label"), control,
                     html.Div(id=f"scn-err-{field}", className="field-error",
                              **{"aria-live": "polite"})],
                    className="field", id=f"scn-field-{field}")


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
    own = _edits_for(edits, base["choice"])
    values = logic.current_values(base["data"], own, design)
    off = logic.disabled_fields(base["data"], own, design)
    return [values[f] for f in FIELDS] + [f in off for f in FIELDS]


SPOT_CONTROLS = logic.SPOT_ONLY
"""The controls that follow the design's purchase option (:func:`on_spot`)."""


def on_spot(base: dict[str, Any] | None, design: str | None, edits: dict[str, Any] | None):
    """Return (interruption options, interruptions, rate, then the ``disabled`` flag of each
    of :data:`SPOT_CONTROLS`) after an edit: the spot controls apply with purchase spot only,
    the rate with a given rate only (:func:`dashboards.scenario_spot.interruption_options`)."""
    from dashboards.scenario_choices import design_fleet, scenario_pricing
    from dashboards.scenario_spot import interruption_options

    if not base or not design:
        return [[], None, None] + [True] * len(SPOT_CONTROLS)
    own = _edits_for(edits, base["choice"])
    data = logic.apply_edits(base["data"], own)
    values = logic.current_values(base["data"], own, design)
    off = logic.disabled_fields(base["data"], own, design)
    fleet = design_fleet(data, design) or {}
    options = interruption_options(fleet, scenario_pricing(data).hours_per_month)
    return [options, values["spot_interruptions"], values["spot_per_node_hour"]] \
        + [f in off for f in SPOT_CONTROLS]


def on_design_notes(base: dict[str, Any] | None, design: str | None,
                    edits: dict[str, Any] | None = None):
    """Return the message naming the disabled controls and why (None when all apply)."""
    if not base:
        return None
    notes = logic.not_applicable(base["data"], design, _edits_for(edits, base.get("choice")))
    if not notes:
        return None
    return html.Div([html.Span("Not applicable here (disabled): "),
                     html.Ul([html.Li(n) for n in notes])], className="msg info",
                    id="scn-design-notes-text")


def on_fleet_choices(base: dict[str, Any] | None, design: str | None,
                     edits: dict[str, Any] | None):
    """Return (instance options, purchase options, notes, instance, purchase) of the design
    being edited: only pairs with a price, each with its $/h
    (:func:`scenario_choices.fleet_choices`).

    The values are sent with the options: a dropdown drops a value its options lack, so a value
    that arrived before its options would be lost.
    """
    from dashboards.scenario_choices import fleet_choices
    from dashboards.settings import catalog

    if not base or not design:
        return [], [], None, None, None
    own = _edits_for(edits, base["choice"])
    data = logic.apply_edits(base["data"], own)
    values = logic.current_values(base["data"], own, design)
    try:
        choices = fleet_choices(catalog(), data, design)
    except PlannerError as exc:  # no catalog: nothing can be priced
        return [], [], message(f"prices: n/a ({exc})"), no_update, no_update
    notes = message("; ".join(choices.notes), "info") if choices.notes else None
    return (choices.instances, choices.purchases, notes, values["instance"],
            values["purchase"])


def on_inputs(base: dict[str, Any] | None, design: str | None, edits: dict[str, Any] | None,
              values: list[Any], changed: set[str] | None = None):
    """Return the edits store after inputs changed: ``changed`` names them (None: all), so a
    control that still shows a value from before the last edit changes nothing."""
    if not base:
        return no_update
    given = {f: v for f, v in zip(FIELDS, values) if changed is None or f in changed}
    new = logic.update_edits(base["data"], _edits_for(edits, base["choice"]), design, given)
    return {"scenario": base["choice"], "values": new}


def on_edits(settings: Settings, choice: str | None, edits: dict[str, Any] | None,
             base: dict[str, Any] | None = None, design: str | None = None) -> list[Any]:
    """Return the URL query and the validation message of the current view, then each
    control's class (``field invalid`` when a problem is about it) and problem text, in
    :data:`FIELDS` order, then the design picker's class.

    A problem is shown at its control with the design it is about (``big: fleet.nodes must be
    >= 1 ...``); when that is not the design being edited, the design picker is marked too.
    """
    values = _edits_for(edits, choice)
    query = logic.state_to_query(choice, values)
    fine = ["field"] * len(FIELDS) + [None] * len(FIELDS) + ["field"]
    try:
        scenario = logic.build_scenario(settings, choice, values)
    except PlannerError as exc:
        names = logic.design_names(base["data"]) if base else []
        problems = status.field_problems(str(exc), names)
        classes = {p.field: "field invalid" for p in problems}
        texts: dict[str, list[str]] = {}
        for p in problems:
            texts.setdefault(p.field, []).append(p.text)
        other = any(p.design not in (None, design) for p in problems)
        return [query, message(status.name_designs(str(exc), names))] \
            + [classes.get(f, "field") for f in FIELDS] \
            + ["; ".join(texts[f]) if f in texts else None for f in FIELDS] \
            + ["field invalid" if other else "field"]
    changed = ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "none"
    return [query, message(f"valid: {len(scenario.designs)} design(s) x "
                           f"{scenario.replications} replications over "
                           f"{scenario.horizon_s:g} s; edits: {changed}", "ok"), *fine]


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
    """Run the view; return (results, run id, message, calibration link, the run's inputs,
    progress value, progress max, progress text).

    The progress bar ends at n/n with the run's time: the last replication's progress report
    can arrive after the job has ended, so the result carries the final count itself.
    """
    import time

    def progress(done: int, total: int) -> None:
        set_progress((str(done), str(total), f"{done}/{total} replications"))

    inputs = {"scenario": choice, "values": _edits_for(edits, choice)}
    began = time.perf_counter()
    try:
        view = logic.run_view(settings, choice, inputs["values"], progress)
    except PlannerError as exc:
        return (None, None, message(str(exc)), "/calibration", None, "0", "1",
                "run failed: see the message below")
    n_total = len(view.result.designs) * int(view.result.scenario.get("replications") or 0)
    return (charts.result_components(view.result, view.run_id, status.inputs_text(inputs)),
            view.run_id, None, f"/calibration?run={view.run_id}", inputs, str(n_total),
            str(n_total), (f"{n_total}/{n_total} replications, done in "
                          f"{time.perf_counter() - began:.1f} s"))


def on_cancel(n_clicks: int | None, value: str | None, maximum: str | None):
    """Return (run message, progress text) after Cancel: what was stopped, and that the results
    on screen (if any) are from the previous run."""
    if not n_clicks:
        return no_update, no_update
    done = f" after {value}/{maximum} replications" if value not in (None, "0") else ""
    return (message(f"Run cancelled{done}: nothing was saved. Results below, if any, are from "
                    "the previous run; press Run to start again.", "info"),
            f"cancelled{done}")


def on_stale(ran: dict[str, Any] | None, choice: str | None, edits: dict[str, Any] | None):
    """Return (stale notice, results class): results of other inputs than the page's are
    marked stale, naming what changed since their run."""
    now = {"scenario": choice, "values": _edits_for(edits, choice)}
    changes = status.input_changes(ran, now)
    if not changes:
        return None, "results"
    return (html.Div([html.Strong("Stale results: "),
                      "the inputs changed since this run (" + "; ".join(changes)
                      + "). Press Run to update them."],
                     className="msg warn", id="scn-stale-text", role="status"),
            "results stale")



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
        Output("scn-run-inputs", "data"),
        Output("scn-progress", "value", allow_duplicate=True),
        Output("scn-progress", "max", allow_duplicate=True),
        Output("scn-progress-text", "children", allow_duplicate=True),
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
