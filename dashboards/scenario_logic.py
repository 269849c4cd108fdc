"""Scenarios page logic as plain functions: choose, upload, edit, validate, run, download.

The page's callbacks only call these. A scenario's state is ``choice`` (a bundled scenario's
file stem, or ``upload:<hash>`` for an uploaded one) plus ``edits``, a flat mapping of parameter
names to values (``rate_rps``, ``<design>.nodes`` ...), applied to the scenario's YAML mapping
before it is validated once by :func:`planner.schema.parse_scenario`. Both live in the URL query
string, so a view can be shared.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from costmodels.price_cache import default_catalog
from dashboards import scenario_spot as spot
from dashboards.jobs import check_run_size, current_session, job_slot, load_limits
from dashboards.scenario_files import check_files, redact
from dashboards.settings import SCENARIO_UPLOAD_LIMIT_BYTES, Settings
from dashboards.uploads import UPLOAD_TTL_S
from domain.errors import PlannerError, ScenarioError
from domain.purchase import FLEET_PURCHASES
from domain.purchase import PURCHASE_OPTIONS as ANY_PURCHASE
from planner.inputs import instance_problem
from planner.results import RunResult
from planner.schema import Scenario, parse_scenario
from planner.yaml_load import CLI_LIMITS, UPLOAD_LIMITS, YamlLimits, load_yaml

UPLOAD_PREFIX = "upload:"
_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HASH = re.compile(r"^[0-9a-f]{16}$")

GLOBAL_FIELDS: dict[str, type] = {
    "rate_rps": float,
    "slo_ms": float,
    "ttft_ms": float,
    "tpot_ms": float,
    "horizon_s": float,
    "replications": int,
}
"""Scenario-wide parameters: arrival (mean) rate of every inference workload, the SLO bounds
(latency, and the TTFT and TPOT bounds of LLM workloads) of every workload that has that bound,
simulated horizon and replications."""

SLO_BOUNDS = {"slo_ms": "latency_ms", "ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms"}
"""Global SLO parameters and the workload ``slo:`` field each sets."""

DESIGN_FIELDS: dict[str, type] = {
    "instance": str,
    "purchase": str,
    "nodes": int,
    "on_demand_base": int,
    "min_nodes": int,
    "max_nodes": int,
    "max_batch": int,
    "max_wait_ms": float,
    "max_num_seqs": int,
    "max_num_batched_tokens": int,
    "spot_interruptions": str,
    "spot_per_node_hour": float,
}
"""Per-design parameters, keyed ``<design>.<field>`` in edits and in the URL: fleet and
autoscaling, the dynamic batching of request-queue designs, the engine of LLM designs, and the
spot settings (:mod:`dashboards.scenario_spot`)."""

FIELD_CHOICES = {"purchase": ANY_PURCHASE, "spot_interruptions": spot.SPOT_KINDS}
"""The values a text field may take (others in a URL are named and ignored)."""

SPOT_ONLY = ("on_demand_base", *spot.SPOT_FIELDS)
"""Design fields that apply with ``purchase: spot`` only (their controls are disabled else)."""

ENGINE_FIELDS = ("max_num_seqs", "max_num_batched_tokens")
"""Design fields that live in an LLM design's ``engine:`` (defaults as the schema's)."""
ENGINE_DEFAULTS = {"max_num_seqs": 256, "max_num_batched_tokens": 2048}

PURCHASE_OPTIONS = FLEET_PURCHASES  # a real-time fleet's options, as the schema accepts them
_STORE_SIZE_LIMIT_BYTES = 256 * 1024 * 1024
_STORE_EXPIRE_S = UPLOAD_TTL_S  # uploaded scenarios and stored runs


# ----------------------------------------------------------------------------- choosing

def bundled_scenarios(settings: Settings) -> list[str]:
    """Return the stems of the bundled ``*.yaml`` scenarios, sorted."""
    if not settings.scenarios_dir.is_dir():
        return []
    return sorted(p.stem for p in settings.scenarios_dir.glob("*.yaml")
                  if p.is_file() and _STEM.match(p.stem))


def _store(settings: Settings):
    import diskcache

    return diskcache.Cache(str(settings.store_dir), size_limit=_STORE_SIZE_LIMIT_BYTES)


def _plain(data: Any) -> Any:
    """Return ``data`` as plain JSON types: YAML anchors become independent copies."""
    return json.loads(json.dumps(data, default=str))


def load_base(settings: Settings, choice: str | None) -> tuple[dict[str, Any], str]:
    """Return the YAML mapping of scenario ``choice`` and a label for messages.

    Raises
    ------
    ScenarioError
        Unknown choice, unreadable file or a YAML error.
    """
    if not choice:
        raise ScenarioError("no scenario chosen; pick a bundled scenario or upload one")
    if choice.startswith(UPLOAD_PREFIX):
        digest = choice[len(UPLOAD_PREFIX):]
        entry = _store(settings).get(f"scenario:{digest}") if _HASH.match(digest) else None
        if entry is None:
            raise ScenarioError(f"uploaded scenario {choice!r} is no longer stored on this "
                                "server; upload the YAML file again")
        return _plain(entry["data"]), entry["filename"]
    if choice not in bundled_scenarios(settings):
        raise ScenarioError(f"scenario {choice!r} is not bundled (bundled: "
                            f"{', '.join(bundled_scenarios(settings)) or 'none'}); pick one of "
                            "those or upload a YAML file")
    path = settings.scenarios_dir / f"{choice}.yaml"
    data = _parse_yaml(path.read_text(encoding="utf-8"), path.name, CLI_LIMITS)
    return _plain(data), path.name


def _parse_yaml(text: str, label: str, limits: YamlLimits) -> dict[str, Any]:
    data = load_yaml(text, label, limits)
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: the top level must be a mapping of fields (got "
                            f"{type(data).__name__}); write 'name: ...', 'horizon_s: ...' etc.")
    return data


def safe_filename(filename: str | None, default: str = "upload") -> str:
    """Return the last path component of ``filename`` with only ``[A-Za-z0-9._-]`` kept."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:100]
    return name or default


def decode_upload(contents: str, limit_bytes: int) -> bytes:
    """Return the bytes of a ``dcc.Upload`` data URL, refusing more than ``limit_bytes``."""
    if not contents or "," not in contents:
        raise ScenarioError("the upload is empty or not a data URL; choose the file again")
    head, payload = contents.split(",", 1)
    if len(payload) > (limit_bytes + 2) * 4 // 3 + 4:
        raise ScenarioError(f"the file is larger than {limit_bytes // 1024:,} KB; upload a "
                            "smaller file")
    try:
        raw = base64.b64decode(payload, validate=True) if ";base64" in head else payload.encode()
    except (binascii.Error, ValueError):
        raise ScenarioError("the upload is not valid base64; choose the file again") from None
    if len(raw) > limit_bytes:
        raise ScenarioError(f"the file is larger than {limit_bytes // 1024:,} KB; upload a "
                            "smaller file")
    return raw


def store_upload(settings: Settings, contents: str, filename: str | None) -> str:
    """Check an uploaded scenario YAML and keep it in the server's store; return its choice.

    The file is parsed in memory (:func:`planner.yaml_load.load_yaml` with
    :data:`~planner.yaml_load.UPLOAD_LIMITS`) and never written as a file; its mapping is kept
    in the work folder's store under a content hash.

    Raises
    ------
    ScenarioError
        Larger than 256 KB, not UTF-8, a YAML error, a key written twice, nested too deep or
        too large once its aliases are expanded, or not a mapping.
    """
    name = safe_filename(filename, "scenario.yaml")
    raw = decode_upload(contents, SCENARIO_UPLOAD_LIMIT_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{name}: not UTF-8 text; upload a YAML file") from None
    data = _parse_yaml(text, name, UPLOAD_LIMITS)
    digest = hashlib.sha256(raw).hexdigest()[:16]
    _store(settings).set(f"scenario:{digest}", {"data": _plain(data), "filename": name},
                         expire=_STORE_EXPIRE_S)
    return UPLOAD_PREFIX + digest


# ----------------------------------------------------------------------------- editing

def design_names(base: Mapping[str, Any]) -> list[str]:
    """Return the names of the scenario's designs."""
    return [str(d.get("name")) for d in base.get("designs") or [] if isinstance(d, dict)]


def _design(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for d in data.get("designs") or []:
        if isinstance(d, dict) and d.get("name") == name:
            return d
    return None


def _workloads(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [w for w in data.get("workloads") or [] if isinstance(w, dict)]


def base_values(base: Mapping[str, Any], design: str | None,
                instance: str | None = None) -> dict[str, Any]:
    """Return the scenario's current value of every editable parameter (None = not applicable).

    Global keys are those of :data:`GLOBAL_FIELDS`; the design's are the bare field names of
    :data:`DESIGN_FIELDS`. The spot settings are the design's ``fleet.spot``, else those a
    switch to spot would write for ``instance`` (default: the fleet's own).
    """
    out: dict[str, Any] = dict.fromkeys([*GLOBAL_FIELDS, *DESIGN_FIELDS])
    for w in _workloads(base):
        arrivals = w.get("arrivals") or {}
        for key in ("rate_rps", "mean_rate_rps"):
            if out["rate_rps"] is None and isinstance(arrivals.get(key), (int, float)):
                out["rate_rps"] = arrivals[key]
        slo = w.get("slo") or {}
        for key, name in SLO_BOUNDS.items():
            if out[key] is None and isinstance(slo.get(name), (int, float)):
                out[key] = slo[name]
        if out["slo_ms"] is None and isinstance(slo.get("latency_s"), (int, float)):
            out["slo_ms"] = slo["latency_s"] * 1000.0
    out["horizon_s"] = base.get("horizon_s")
    out["replications"] = base.get("replications", 8)
    d = _design(base, design) if design else None
    if d is not None:
        fleet = d.get("fleet") or {}
        auto = fleet.get("autoscaling") or {}
        batching = d.get("batching") if isinstance(d.get("batching"), dict) else None
        job = d.get("pattern") in ("batch", "training")  # a gang: no on-demand base
        out.update(instance=fleet.get("instance"), nodes=fleet.get("nodes"),
                   purchase=fleet.get("purchase", "on_demand") if fleet else None,
                   on_demand_base=fleet.get("on_demand_base", 0) if fleet and not job else None,
                   min_nodes=auto.get("min_nodes", 1) if auto else None,
                   max_nodes=auto.get("max_nodes") if auto else None,
                   max_batch=None if batching is None else batching.get("max_batch", 1),
                   max_wait_ms=None if batching is None else batching.get("max_wait_ms", 0.0))
        if d.get("pattern") == "llm":
            engine = d.get("engine") if isinstance(d.get("engine"), dict) else {}
            out.update({k: engine.get(k, ENGINE_DEFAULTS[k]) for k in ENGINE_FIELDS})
        if fleet:
            out.update(spot.spot_values(fleet, instance))
    return out


def not_applicable(base: Mapping[str, Any], design: str | None,
                   edits: Mapping[str, Any] | None = None) -> list[str]:
    """Return, for people, the controls that do not apply to the scenario or the design (they
    are disabled) and why, with ``edits`` applied (a design edited to spot has spot settings)."""
    values = current_values(base, edits or {}, design)
    d = _design(base, design) if design else None
    out = []
    missing = [label for key, label in (("slo_ms", "SLO latency"), ("ttft_ms", "SLO TTFT"),
                                        ("tpot_ms", "SLO TPOT")) if values[key] is None]
    if missing:
        out.append(f"{', '.join(missing)}: no workload of this scenario has that bound")
    if d is None:
        return out
    pattern = d.get("pattern", "realtime")
    if pattern == "llm":
        out.append(f"{design} is an llm design (continuous batching): max batch and max wait "
                   "do not apply; max_num_seqs and max_num_batched_tokens set its engine")
    else:
        out.append(f"max_num_seqs and max_num_batched_tokens apply to llm designs only "
                   f"({design} is {pattern})")
        if values["max_batch"] is None:
            out.append(f"max batch and max wait: {design} has no batching: section")
    if values["min_nodes"] is None:
        out.append(f"autoscaling min/max nodes: {design} has a fixed fleet (no autoscaling:)")
    return out + spot.spot_notes(str(design), values)


def _edited_instance(edits: Mapping[str, Any], design: str | None) -> str | None:
    return edits.get(f"{design}.instance") or None if design else None


def current_values(base: Mapping[str, Any], edits: Mapping[str, Any],
                   design: str | None) -> dict[str, Any]:
    """Return :func:`base_values` with ``edits`` applied (what the inputs should show)."""
    out = base_values(base, design, _edited_instance(edits, design))
    for key in GLOBAL_FIELDS:
        if key in edits:
            out[key] = edits[key]
    for key in DESIGN_FIELDS:
        if design and f"{design}.{key}" in edits and out[key] is not None:
            out[key] = edits[f"{design}.{key}"]
    return out


def disabled_fields(base: Mapping[str, Any], edits: Mapping[str, Any],
                    design: str | None) -> set[str]:
    """Return the fields whose control is disabled: not applicable to the scenario or the
    design (no value), the spot settings and on-demand base off spot, and the rate unless the
    interruptions are a given rate."""
    values = current_values(base, edits, design)
    out = {k for k, v in values.items() if v is None}
    if values.get("purchase") != "spot":
        out.update(SPOT_ONLY)
    if values.get("spot_interruptions") != "rate":
        out.add("spot_per_node_hour")
    return out


def update_edits(base: Mapping[str, Any], edits: Mapping[str, Any], design: str | None,
                 values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``edits`` updated from the inputs' ``values`` (global and the design's fields;
    a field not in ``values`` keeps its edit).

    A value equal to the scenario's own, empty, or not applicable to the design is dropped, so
    the edits (and the URL) only hold real changes. Off spot, the design's spot settings and
    on-demand base are dropped (leaving spot removes them: :func:`apply_edits`); the rate is
    dropped unless the interruptions are a given rate.
    """
    out = dict(edits)
    instance = values.get("instance") if "instance" in values else \
        _edited_instance(edits, design)
    own = base_values(base, design, instance if isinstance(instance, str) else None)
    for field, cast in (*GLOBAL_FIELDS.items(), *DESIGN_FIELDS.items()):
        if field not in values:
            continue
        key = field if field in GLOBAL_FIELDS else (f"{design}.{field}" if design else None)
        if key is None:
            continue
        value = values[field]
        if value in (None, "") or own[field] is None:
            out.pop(key, None)
            continue
        try:
            value = cast(value)
        except (TypeError, ValueError):
            out.pop(key, None)
            continue
        if value == own[field]:
            out.pop(key, None)
        else:
            out[key] = value
    if design:
        now = current_values(base, out, design)
        for field in SPOT_ONLY:
            if now["purchase"] != "spot" or (field == "spot_per_node_hour"
                                             and now["spot_interruptions"] != "rate"):
                out.pop(f"{design}.{field}", None)
    return out


def apply_edits(base: Mapping[str, Any], edits: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of the scenario mapping ``base`` with ``edits`` applied.

    ``rate_rps`` sets ``arrivals.rate_rps`` (Poisson) or ``arrivals.mean_rate_rps`` (diurnal)
    of every inference workload; ``slo_ms``, ``ttft_ms`` and ``tpot_ms`` set that bound of
    every workload whose SLO has it; ``<design>.<field>`` sets that design's fleet,
    autoscaling, batching or (LLM designs) engine field. Edits that do not apply (an unknown
    design, a trace workload's rate, max batch of an LLM design) are ignored.
    A purchase edit off spot removes the design's spot settings and on-demand base; on spot, the
    spot settings are written from the ``spot_*`` edits, the file's or the defaults
    (:func:`dashboards.scenario_spot.apply_spot_edits`).
    """
    data = _plain(base)
    spot_edits: dict[str, dict[str, Any]] = {}
    for key, value in edits.items():
        if key in ("horizon_s", "replications"):
            data[key] = value
        elif key == "rate_rps":
            for w in _workloads(data):
                arrivals = w.get("arrivals")
                if isinstance(arrivals, dict):
                    for name in ("rate_rps", "mean_rate_rps"):
                        if name in arrivals:
                            arrivals[name] = value
        elif key in SLO_BOUNDS:
            _set_bound(data, SLO_BOUNDS[key], value)
        elif "." in key:
            name, field = key.rsplit(".", 1)
            d = _design(data, name)
            if d is None or field not in DESIGN_FIELDS:
                continue
            fleet = d.get("fleet")
            if field in ("purchase", *spot.SPOT_FIELDS, "on_demand_base"):
                spot_edits.setdefault(name, {})[field] = value
            if field in spot.SPOT_FIELDS:
                continue
            if field in ("min_nodes", "max_nodes"):
                if isinstance(fleet, dict) and isinstance(fleet.get("autoscaling"), dict):
                    fleet["autoscaling"][field] = value
            elif field in ("max_batch", "max_wait_ms"):
                if d.get("pattern") == "llm":
                    continue  # continuous batching: the engine's fields apply instead
                d.setdefault("batching", {})
                if isinstance(d["batching"], dict):
                    d["batching"][field] = value
            elif field in ENGINE_FIELDS:
                if d.get("pattern") == "llm":
                    d.setdefault("engine", {})
                    if isinstance(d["engine"], dict):
                        d["engine"][field] = value
            elif isinstance(fleet, dict):
                fleet[field] = value
    for name, own_edits in spot_edits.items():
        fleet = (_design(data, name) or {}).get("fleet")
        if isinstance(fleet, dict):
            spot.apply_spot_edits(fleet, own_edits, "purchase" in own_edits)
    if edits.get("horizon_s") is not None and isinstance(data.get("warmup_s"), (int, float)):
        data["warmup_s"] = min(data["warmup_s"], float(edits["horizon_s"]) / 10)
    return data


def _set_bound(data: dict[str, Any], name: str, value: Any) -> None:
    """Set SLO bound ``name`` of every workload whose SLO has that bound (``latency_s`` is
    replaced by ``latency_ms``); an SLO without it is left alone (no new bound appears)."""
    for w in _workloads(data):
        slo = w.get("slo")
        if not isinstance(slo, dict):
            continue
        if name == "latency_ms" and "latency_s" in slo:
            del slo["latency_s"]
            slo["latency_ms"] = value
        elif name in slo:
            slo[name] = value


# ----------------------------------------------------------------------------- URL state

def state_to_query(choice: str | None, edits: Mapping[str, Any]) -> str:
    """Return the URL query string (``?scenario=...&rate_rps=...``) of a view."""
    params: list[tuple[str, str]] = []
    if choice:
        params.append(("scenario", choice))
    for key in sorted(edits):
        value = edits[key]
        params.append((key, repr(value) if isinstance(value, float) else str(value)))
    return "?" + urlencode(params) if params else ""


def query_to_state(query: Mapping[str, Any]) -> tuple[str | None, dict[str, Any], list[str]]:
    """Return ``(choice, edits, problems)`` from parsed query parameters.

    Unknown or malformed parameters are left out and named in ``problems``.
    """
    choice = query.get("scenario")
    choice = choice if isinstance(choice, str) and choice else None
    edits: dict[str, Any] = {}
    problems: list[str] = []
    for key, raw in query.items():
        if key == "scenario":
            continue
        field = key.rsplit(".", 1)[-1] if "." in key else key
        cast = DESIGN_FIELDS.get(field) if "." in key else GLOBAL_FIELDS.get(field)
        if cast is None or isinstance(raw, list):
            problems.append(f"URL parameter {key!r} is not an editable parameter; ignored")
            continue
        try:
            edits[key] = cast(raw)
        except ValueError:
            problems.append(f"URL parameter {key}={raw!r} is not a {cast.__name__}; ignored")
            continue
        allowed = FIELD_CHOICES.get(field) if "." in key else None
        if allowed is not None and edits[key] not in allowed:
            problems.append(f"URL parameter {key}={raw!r} is not one of {', '.join(allowed)}; "
                            "ignored")
            del edits[key]
    return choice, edits, problems


# ----------------------------------------------------------------------------- validate and run

def build_scenario(settings: Settings, choice: str | None,
                   edits: Mapping[str, Any]) -> Scenario:
    """Return the validated scenario of ``choice`` with ``edits`` applied.

    Relative file fields are resolved against the bundled scenarios folder; every file the
    scenario names, in any field (:func:`dashboards.scenario_files.check_files`), must be a
    local file under that folder: a remote URL or a path that resolves outside it (absolute,
    ``..``, a link) is refused, so an uploaded scenario cannot read the server's other files.
    Messages name the server's folders only relative to the scenarios folder. A run past the
    server's limits (:func:`dashboards.jobs.check_run_size`) is refused too.

    Raises
    ------
    ScenarioError
        The validation message of :func:`planner.schema.parse_scenario`, or a refused file.
    """
    base, label = load_base(settings, choice)
    data = apply_edits(base, edits)
    data.pop("source_path", None)
    try:
        scenario = parse_scenario(data, base_dir=settings.scenarios_dir, source=label)
    except ScenarioError as exc:
        raise ScenarioError(redact(str(exc), _folders(settings))) from None
    check_files(scenario, data, [settings.scenarios_dir], label, settings.scenarios_dir)
    _check_instances(scenario, label)
    check_run_size(scenario, label, load_limits(settings))
    return scenario


def _folders(settings: Settings) -> list[Path | None]:
    """The server's folders a message must not show (the scenarios folder first)."""
    return [settings.scenarios_dir, settings.work_dir, settings.data_dir,
            Path(__file__).resolve().parents[1], Path.home()]


def _check_instances(scenario: Scenario, label: str) -> None:
    """Refuse, at edit time, an instance the price catalog does not know and the scenario does
    not price (the run would refuse it: :func:`planner.inputs.instance_problem`); a scenario
    priced from billing exports is checked when it runs, once the bills are read."""
    if scenario.pricing.source == "billing":
        return
    catalog = default_catalog()
    problems = [p for i, d in enumerate(scenario.designs) if (p := instance_problem(
        d.fleet.instance, d.fleet.region, catalog=catalog, pricing=scenario.pricing,
        billing=None, purchase=getattr(d.fleet, "purchase", "on_demand"),
        field_path=f"designs[{i}].fleet.instance")) is not None]
    if problems:
        raise ScenarioError(f"{label}: " + "; ".join(problems))


def scenario_yaml(settings: Settings, choice: str | None,
                  edits: Mapping[str, Any]) -> tuple[str, str]:
    """Return ``(filename, text)`` of the edited scenario as YAML (``yaml.safe_dump``)."""
    base, label = load_base(settings, choice)
    data = apply_edits(base, edits)
    data.pop("source_path", None)
    stem = safe_filename(str(data.get("name") or label.rsplit(".", 1)[0]), "scenario")
    return f"{stem}.yaml", yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class RunView:
    """A finished run: its results and the id they are stored under for downloads."""

    run_id: str
    result: RunResult


def run_view(settings: Settings, choice: str | None, edits: Mapping[str, Any],
             progress: Callable[[int, int], None] | None = None) -> RunView:
    """Validate, simulate and price the edited scenario; store the result for downloads.

    ``progress(done, total)`` is called as replications finish, over all designs. Run from a
    Dash callback, the run holds a job slot (:func:`dashboards.jobs.job_slot`): it cancels its
    session's previous run, and is refused when the server runs its most jobs at once.
    """
    from dashboards.settings import catalog
    from planner.run import run_scenario

    scenario = build_scenario(settings, choice, edits)
    total = scenario.replications * len(scenario.designs)
    done: dict[str, int] = {}

    def on_progress(design: str, n_done: int, _n_total: int) -> None:
        done[design] = n_done
        if progress is not None:
            progress(sum(done.values()), total)

    try:
        with job_slot(settings, current_session()):
            result = run_scenario(scenario, catalog=catalog(), progress=on_progress)
    except PlannerError as exc:  # a message about the scenario's files: no server paths
        raise PlannerError(redact(str(exc), _folders(settings))) from None
    run_id = uuid.uuid4().hex
    _store(settings).set(f"run:{run_id}", result, expire=_STORE_EXPIRE_S)
    return RunView(run_id, result)


def stored_result(settings: Settings, run_id: str | None) -> RunResult:
    """Return the stored result of run ``run_id``."""
    result = None
    if run_id and re.fullmatch(r"[0-9a-f]{32}", run_id):
        result = _store(settings).get(f"run:{run_id}")
    if result is None:
        raise ScenarioError("no results to download; run the scenario first")
    return result


def results_json(settings: Settings, run_id: str | None) -> tuple[str, str]:
    """Return ``(filename, text)`` of the run's JSON results (``RunResult.to_json()``)."""
    result = stored_result(settings, run_id)
    return f"{safe_filename(str(result.scenario.get('name')), 'results')}-results.json", \
        result.to_json()


def results_html(settings: Settings, run_id: str | None) -> tuple[str, str]:
    """Return ``(filename, text)`` of the run's HTML report (``render_html``)."""
    from planner.reports.html import render_html

    result = stored_result(settings, run_id)
    return f"{safe_filename(str(result.scenario.get('name')), 'report')}-report.html", \
        render_html(result)
