"""JSON Schemas of the scenario file and of every command's JSON output, generated from the models.

Each schema is generated from the types the document is built from: the scenario from the
pydantic :class:`planner.schema.Scenario` (validation mode: what a YAML file may hold, with the
shorthands its validators accept), the results of ``planner run`` / ``compare`` and the other
outputs from typed mirrors of their ``to_dict`` (:mod:`planner.json_schema_results`,
:mod:`planner.json_schema_outputs`) that reuse the result dataclasses and the constants the
writers use (warning codes, latency keys, catalog columns, fit terms).  The generated files
are shipped in ``planner/schemas/`` (package data) and printed by ``planner schema NAME``;
every output document carries ``schema_version`` (and ``kind``) that its schema pins.

Regenerate after changing a model or an output::

    python -m planner.json_schemas --write     # rewrite planner/schemas/*.schema.json
    python -m planner.json_schemas --check     # exit 1 naming the stale files

Importing this module is cheap (standard library only): the generators import the models
when they run, so ``planner schema`` prints a shipped file without loading the simulators.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.resources
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CALIBRATION_VERSION", "DRAFT", "LATENCY_FIT_VERSION", "LLM_LATENCY_VERSION", "LLM_REPLAY_VERSION",
           "REGENERATE", "SCHEMAS", "SchemaDoc", "finish", "generate", "render", "shipped_text",
           "stale", "write"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "python -m planner.json_schemas --write"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

LLM_LATENCY_VERSION = 1
"""Version of ``planner llm latency --format json`` (``kind: llm-latency``)."""
LLM_REPLAY_VERSION = 1
"""Version of ``planner llm replay --format json`` (``kind: llm-replay``)."""
LATENCY_FIT_VERSION = 1
"""Version of a latency fit file (``kind: latency-fit``): ``planner llm fit --out`` / ``--format
json`` and ``planner llm replay --fit``; the same layout as the bundled fit."""
CALIBRATION_VERSION = 1
"""Version of ``planner calibrate --format json`` (``kind: calibration``)."""


@dataclass(frozen=True)
class SchemaDoc:
    """One shipped schema: its name, what it describes and the function that generates it."""

    name: str
    summary: str
    """One line for ``planner schema --list``."""
    builder: str
    """``module:function`` returning the schema body (without ``$schema``/``title``)."""
    title: str

    @property
    def file(self) -> str:
        """The shipped file's name, ``<name>.schema.json``."""
        return f"{self.name}.schema.json"


SCHEMAS: dict[str, SchemaDoc] = {doc.name: doc for doc in (
    SchemaDoc("scenario", "a scenario YAML file (what run, compare, sweep, adr and diff read)",
              "planner.json_schemas:scenario_schema", "gpu-planner scenario"),
    SchemaDoc("results", "planner run / compare --format json",
              "planner.json_schema_results:results_schema", "gpu-planner run results"),
    SchemaDoc("sweep", "planner sweep --format json",
              "planner.json_schema_outputs:sweep_schema", "gpu-planner sweep"),
    SchemaDoc("diff", "planner diff --format json",
              "planner.json_schema_outputs:diff_schema", "gpu-planner diff of two runs"),
    SchemaDoc("billing-review", "planner billing review --format json",
              "planner.json_schema_outputs:billing_review_schema",
              "gpu-planner monthly billing review"),
    SchemaDoc("billing-rates", "planner billing rates --format json",
              "planner.json_schema_outputs:billing_rates_schema",
              "gpu-planner effective rates from bills"),
    SchemaDoc("prices", "planner prices list --format json",
              "planner.json_schema_outputs:prices_schema", "gpu-planner price listing"),
    SchemaDoc("llm-latency", "planner llm latency --format json",
              "planner.json_schema_outputs:llm_latency_schema", "gpu-planner LLM step time"),
    SchemaDoc("llm-replay", "planner llm replay --format json",
              "planner.json_schema_outputs:llm_replay_schema", "gpu-planner engine-run replay"),
    SchemaDoc("latency-fit", "a latency fit file: planner llm fit (--out, --format json), "
              "planner llm replay --fit", "planner.json_schema_outputs:latency_fit_schema",
              "gpu-planner latency fit"),
    SchemaDoc("calibration", "planner calibrate --format json",
              "planner.json_schema_calibration:calibration_schema",
              "gpu-planner service-time calibration"),
)}
"""Every shipped schema, in listing order."""


# ------------------------------------------------------------------------------ generation

def generate(name: str) -> dict[str, Any]:
    """Return the schema ``name`` as generated from the models now."""
    doc = SCHEMAS[name]
    module, function = doc.builder.split(":")
    build: Callable[[], dict[str, Any]] = getattr(importlib.import_module(module), function)
    return finish(build(), doc)


def finish(body: dict[str, Any], doc: SchemaDoc) -> dict[str, Any]:
    """Return ``body`` headed by ``$schema``, the title, its summary and how to regenerate it."""
    body = dict(body)
    body.pop("title", None)
    description = body.pop("description", None)
    head: dict[str, Any] = {
        "$schema": DRAFT,
        "title": doc.title,
        "description": (f"{description}\n\n" if description else "") + f"Schema of {doc.summary}.",
        "$comment": f"Generated from the models by '{REGENERATE}'; do not edit.",
    }
    return {**head, **body}


def render(schema: dict[str, Any]) -> str:
    """Return the text of a schema file: indented JSON, keys in generation order."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped_text(name: str) -> str:
    """Return the shipped schema file of ``name`` (package data), as text."""
    resource = importlib.resources.files("planner").joinpath("schemas", SCHEMAS[name].file)
    return resource.read_text(encoding="utf-8")


def stale(names: Iterable[str] | None = None) -> list[str]:
    """Return the names whose shipped file differs from what the generator gives now."""
    out = []
    for name in names or SCHEMAS:
        path = SCHEMA_DIR / SCHEMAS[name].file
        if not path.is_file() or path.read_text(encoding="utf-8") != render(generate(name)):
            out.append(name)
    return out


def write(names: Iterable[str] | None = None) -> list[Path]:
    """Write the schema files of ``names`` (default all) into ``planner/schemas/``."""
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for name in names or SCHEMAS:
        path = SCHEMA_DIR / SCHEMAS[name].file
        path.write_text(render(generate(name)), encoding="utf-8")
        written.append(path)
    return written


# ------------------------------------------------------------------------- shared rewriting

def walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """Call ``visit`` on every object (dict) of a schema, depth first."""
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            walk(value, visit)


def drop_property_titles(schema: dict[str, Any]) -> None:
    """Remove pydantic's generated property titles ("Horizon S"): the names say it."""
    def visit(node: dict[str, Any]) -> None:
        for prop in (node.get("properties") or {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
    walk(schema, visit)


def def_of(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """Return ``$defs[name]``, or raise naming the generator to fix (a model was renamed)."""
    try:
        return schema["$defs"][name]
    except KeyError:
        raise RuntimeError(f"the generated schema has no $defs[{name!r}]: a model was renamed "
                           "or removed; update planner/json_schemas.py") from None


# --------------------------------------------------------------------------------- scenario

def scenario_schema() -> dict[str, Any]:
    """The scenario file's schema: :class:`planner.schema.Scenario` in validation mode, plus the
    input shorthands its ``mode="before"`` validators accept (a YAML file may use them):
    ``latency_s`` for ``latency_ms`` in an SLO, a list for a sweep parameter's ``values``,
    ``range: {low, high}`` for a random range.  ``source_path`` is left out: the loader sets it
    and refuses it in a file."""
    from planner.schema import Scenario
    from planner.schema_sweep import RandomRange

    schema = copy.deepcopy(Scenario.model_json_schema(mode="validation"))
    props = schema["properties"]
    if "source_path" not in props:
        raise RuntimeError("Scenario has no source_path any more; update scenario_schema()")
    del props["source_path"]
    for key in ("workloads", "designs"):  # the validator refuses an empty list
        props[key]["minItems"] = 1
    _slo_seconds(def_of(schema, "LatencySLO"))
    _sweep_shorthands(schema, RandomRange.model_json_schema(mode="validation"))
    drop_property_titles(schema)
    return schema


def _slo_seconds(slo: dict[str, Any]) -> None:
    props = slo["properties"]
    for key in ("latency_ms", "ttft_ms", "tpot_ms"):
        if key not in props:
            raise RuntimeError(f"LatencySLO has no {key} any more; update _slo_seconds()")
    props["latency_s"] = {
        "type": "number", "exclusiveMinimum": 0,
        "description": "latency_ms in seconds (e.g. latency_s: 21600 for 6 hours); give one of "
                       "latency_ms and latency_s"}
    slo["allOf"] = [
        {"not": {"required": ["latency_ms", "latency_s"]}},
        {"anyOf": [{"required": [key], "properties": {key: {"type": "number"}}}
                   for key in ("latency_ms", "latency_s", "ttft_ms", "tpot_ms")]},
    ]


def _sweep_shorthands(schema: dict[str, Any], random_range: dict[str, Any]) -> None:
    param = def_of(schema, "SweepParameter")
    if "range" not in param["properties"] or "GridRange" not in schema["$defs"]:
        raise RuntimeError("SweepParameter.range is not a GridRange any more; update "
                           "_sweep_shorthands()")
    schema["$defs"]["RandomRange"] = random_range
    param["properties"]["range"] = {"anyOf": [
        {"$ref": "#/$defs/GridRange"}, {"$ref": "#/$defs/RandomRange"}],
        "description": "a grid {start, stop, step}, or {low, high} (the same as low/high)"}
    schema["$defs"]["SweepParameter"] = {
        "anyOf": [{"type": "array", "minItems": 1,
                   "description": "shorthand for values: [...]"}, param],
        "description": param.get("description", ""),
    }


# ------------------------------------------------------------------------------ command line

def main(argv: list[str] | None = None) -> int:
    """``python -m planner.json_schemas [--write | --check] [NAME ...]``."""
    parser = argparse.ArgumentParser(prog="python -m planner.json_schemas",
                                     description="Generate the shipped JSON Schemas.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite planner/schemas/")
    group.add_argument("--check", action="store_true", help="exit 1 if a shipped file is stale")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"schemas (default all: {', '.join(SCHEMAS)})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SCHEMAS]
    if unknown:
        parser.error(f"unknown schema {', '.join(unknown)} (choose from {', '.join(SCHEMAS)})")
    names = args.names or list(SCHEMAS)
    if args.write:
        for path in write(names):
            print(f"wrote {path}")
        return 0
    if args.check:
        old = stale(names)
        for name in old:
            print(f"stale: planner/schemas/{SCHEMAS[name].file}; run '{REGENERATE}'")
        return 1 if old else 0
    for name in names:
        sys.stdout.write(render(generate(name)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
