"""An uploaded scenario reads no file outside the scenarios folder (issue 19, Security 1).

Attacks go over HTTP, as a script would send them, to the Dash callback endpoint
(``POST /_dash-update-component``) of the real app on 127.0.0.1: upload a scenario that names
``/etc/passwd``, a ``..`` escape or a cloud URL in one file field, then ask for its validation
and Run it. Every file field of the schema is tried (the list is checked against the schema
modules' own path resolution), at every depth the schema has one, plus a string ``model`` and a
sweep's values. Messages name the field and the value as written, never the server's folders
or a file's contents.
"""

from __future__ import annotations

import base64
import copy
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import scenario_files
from dashboards import scenario_logic as logic
from domain.errors import ScenarioError
from planner import schema
from tests.dashboards._http import DashSession, serve, text_of

GOOD_TABLE = "data/h100_forward_latency.csv"


def data_url(text: str) -> str:
    return "data:application/x-yaml;base64," + base64.b64encode(text.encode()).decode()


def tiny(settings) -> dict[str, Any]:
    data = yaml.safe_load((settings.scenarios_dir / "tiny.yaml").read_text())
    data["workloads"][0]["tokens"] = {"prompt_tokens": 500, "output_tokens": 100}
    return data


def _llm(data: dict[str, Any], **fields: Any) -> None:
    design = {"name": "llm", "workload": "api", "pattern": "llm", "model": "llama-3-8b",
              "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1}}
    data["designs"].append({**design, **fields})


def put(where: str, data: dict[str, Any], value: str) -> str:
    """Put ``value`` in the file field ``where`` of ``data``; return the field's path."""
    if where == "arrivals":
        data["workloads"][0]["arrivals"] = {"kind": "trace", "path": value}
        return "workloads[0].arrivals.path"
    if where == "table":
        data["designs"][0]["service_time"] = {"kind": "table", "path": value}
        return "designs[0].service_time.path"
    if where == "tokens":
        data["designs"][0]["service_time"] = {"kind": "tokens", "path": value,
                                              "model": "llama-3-8b"}
        return "designs[0].service_time.path"
    if where == "spot-trace":
        data["designs"][0]["fleet"].update(purchase="spot", spot={
            "interruptions": {"kind": "trace", "path": value}})
        return "designs[0].fleet.spot.interruptions.path"
    if where == "profile":
        _llm(data, latency={"kind": "profile", "path": value})
        return "designs[2].latency.path"
    if where == "fit":
        _llm(data, latency={"kind": "auto", "fit": value})
        return "designs[2].latency.fit"
    if where == "config":
        _llm(data, model={"config": value})
        return "designs[2].model.config"
    if where == "model":
        _llm(data, model=value)
        return "designs[2].model"
    if where == "billing":
        data["pricing"] = {"source": "billing", "paths": [GOOD_TABLE, value]}
        return "pricing.paths[1]"
    if where == "sweep":
        data["sweep"] = {"design": "small", "parameters": {"service_time.path": [value]}}
        return "sweep.parameters.service_time.path[0]"
    raise AssertionError(where)


FIELDS = ("arrivals", "table", "tokens", "spot-trace", "profile", "fit", "config", "model",
          "billing", "sweep")
ESCAPES = ("/etc/passwd", "../../../../etc/hostname", "data/../../outside.csv", "~/.aws/config",
           "s3://other-bucket/cur/", "gs://other-bucket/export/")


def test_the_file_fields_are_every_field_the_schema_resolves_as_a_path():
    """FILE_FIELDS is checked against the schema's own code: each model whose validators call
    ``_resolve_path`` (grep the schema modules), and the fields those validators handle."""
    resolving = {}
    for name in schema.__all__:
        model = getattr(schema, name)
        if not isinstance(model, type) or not hasattr(model, "__pydantic_decorators__"):
            continue
        for decorator in model.__pydantic_decorators__.field_validators.values():
            source = inspect.getsource(decorator.func)
            if "_resolve_path" in source:
                resolving.setdefault(model, set()).update(decorator.info.fields)
    # a subclass (LlmFleet of Fleet...) inherits; keep the class that declares the validator
    declared = {m: f for m, f in resolving.items()
                if not any(m is not o and issubclass(m, o) for o in resolving)}
    assert {m: set(f) for m, f in scenario_files.FILE_FIELDS.items()} == declared
    assert len(declared) == 8


def test_every_field_accepts_a_file_inside_the_scenarios_folder(settings):
    """The refusals below are about the path: the same scenarios with a bundled file pass."""
    for where in FIELDS:
        data = tiny(settings)
        good = "llama-3-8b" if where == "model" else GOOD_TABLE
        put(where, data, good)
        choice = logic.store_upload(settings, data_url(yaml.safe_dump(data)), "ok.yaml")
        try:
            logic.build_scenario(settings, choice, {})
        except ScenarioError as exc:
            assert "refused" not in str(exc), (where, str(exc))  # other schema problems only


@pytest.fixture
def server(settings):
    from dashboards.app import create_app

    app = create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir)
    with serve(app.server) as base:
        yield base


def upload(session: DashSession, text: str, filename: str) -> str:
    """Upload a scenario over HTTP; return the choice the page then shows."""
    answer = session.call(session.dependency("scn-upload-msg", "children"),
                          {"scn-upload.contents": data_url(text)},
                          {"scn-upload.filename": filename})
    value = answer.get("scn-choice", {}).get("value")
    assert value, text_of(answer.get("scn-upload-msg", {}).get("children"))
    return value


def validation(session: DashSession, choice: str) -> str:
    answer = session.call(session.dependency("scn-validation", "children"),
                          {"scn-edits.data": {"scenario": choice, "values": {}}},
                          {"scn-choice.value": choice})
    return text_of(answer["scn-validation"]["children"])


def run(session: DashSession, choice: str, values: dict[str, Any] | None = None) -> str:
    answer = session.call(session.dependency("scn-results", "children"),
                          {"scn-run.n_clicks": 1},
                          {"scn-choice.value": choice,
                           "scn-edits.data": {"scenario": choice, "values": values or {}}},
                          deadline_s=120)
    assert answer is not None, "the run answered 204"
    return text_of(answer["scn-run-msg"]["children"])


def assert_no_leak(text: str, settings) -> None:
    for secret in (str(settings.scenarios_dir), str(settings.work_dir), "root:x:",
                   str(Path.home()) + "/", str(Path(logic.__file__).parents[1])):
        assert secret not in text, (secret, text)


def test_every_file_field_is_refused_outside_the_folder_over_http(settings, server):
    with DashSession(server) as session:
        session.open("/")
        for where in FIELDS:
            for escape in ESCAPES:
                if where == "model" and escape.startswith(("s3:", "gs:")):
                    continue
                data = tiny(settings)
                field = put(where, data, escape)
                choice = upload(session, yaml.safe_dump(data), f"{where}.yaml")
                message = validation(session, choice)
                assert_no_leak(message, settings)
                assert f"{field}: {escape!r}" in message, (where, escape, message)
                if escape.startswith(("s3:", "gs:")):
                    assert "is a remote URL; the dashboard reads no remote files" in message
                elif where == "model":
                    assert "names a file" in message
                else:
                    assert "is outside the scenarios folder" in message
        assert all(200 <= code < 300 for _, code in session.statuses)


def test_run_refuses_files_outside_and_names_files_inside_without_server_paths(settings,
                                                                              server):
    """The issue's exploit: pricing: {source: billing, paths: [/etc/passwd]} showed the file's
    first line after Run. Run (over HTTP, the background job) must refuse it and read nothing.
    A bundled file that is not a billing export fails the run too; that message names it
    relative to the scenarios folder, as written, never by its server path."""
    with DashSession(server) as session:
        session.open("/")
        for paths, expected in (
                (["/etc/passwd"], ("pricing.paths[0]: '/etc/passwd' is outside the "
                                   "scenarios folder")),
                ([GOOD_TABLE], GOOD_TABLE)):
            data = tiny(settings)
            data["pricing"] = {"source": "billing", "paths": paths}
            choice = upload(session, yaml.safe_dump(data), "bills.yaml")
            message = run(session, choice)
            assert expected in message
            assert_no_leak(message, settings)


def test_a_link_inside_the_folder_to_outside_is_refused(settings, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("batch,mean_ms\n1,2\n")
    (settings.scenarios_dir / "data" / "link.csv").symlink_to(outside)
    data = tiny(settings)
    put("table", data, "data/link.csv")
    choice = logic.store_upload(settings, data_url(yaml.safe_dump(data)), "link.yaml")
    with pytest.raises(ScenarioError, match="'data/link.csv' is outside the scenarios folder"):
        logic.build_scenario(settings, choice, {})


def test_redact_keeps_names_and_drops_folders(tmp_path):
    scenarios, work = tmp_path / "scn", tmp_path / "work"
    text = (f"{scenarios}/data/x.csv: bad; {work}/uploads/0af3/cur.csv: bad; "
            f"'{work}/store/y' too")
    out = scenario_files.redact(text, [scenarios, work])
    assert out == "data/x.csv: bad; .../cur.csv: bad; '.../y' too"
    assert re.search(re.escape(str(tmp_path)), out) is None


def test_a_deep_copy_of_a_reference_keeps_what_the_user_wrote(settings):
    data = tiny(settings)
    put("billing", data, "data/../data/h100_forward_latency.csv")
    scenario = schema.parse_scenario(copy.deepcopy(data), base_dir=settings.scenarios_dir)
    refs = scenario_files.file_references(scenario, data, settings.scenarios_dir)
    assert [(r.field, r.written) for r in refs] == [
        ("pricing.paths[0]", GOOD_TABLE),
        ("pricing.paths[1]", "data/../data/h100_forward_latency.csv")]
    assert refs[1].resolved == str(settings.scenarios_dir / GOOD_TABLE)
