"""Which files a dashboard scenario may name: every file reference inside an allowed folder.

A scenario names files in several fields (an arrival trace, a service-time table, a token
profile, a spot-capacity trace, an LLM model's ``config.json``, a latency fit, billing exports,
a model given as a path); a sweep may set any of them too. On a server, an uploaded or edited
scenario must not make the planner read the server's other files, walk its folders, or call a
cloud with the server's credentials. :func:`check_files` finds every reference in the validated
scenario (any field, any depth: :data:`FILE_FIELDS`, string models, and the ``sweep:`` section)
and refuses one that is a remote URL or resolves (links followed) outside the allowed folders,
naming the field and the value as the user wrote it, never the server's path.

:func:`redact` removes the server's folders from a message before a page shows it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from domain.errors import ScenarioError, SimulationError
from planner.schema import (
    AutoLatency,
    LlmDesign,
    ModelConfig,
    Pricing,
    ProfileLatency,
    Scenario,
    TableServiceTime,
    TokenServiceTime,
    TraceArrivals,
    TraceInterruptions,
)
from planner.schema_errors import shorten

__all__ = ["FILE_FIELDS", "FileReference", "check_files", "file_references", "redact"]

FILE_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    TraceArrivals: ("path",),
    TraceInterruptions: ("path",),
    TableServiceTime: ("path",),
    TokenServiceTime: ("path",),
    ProfileLatency: ("path",),
    AutoLatency: ("fit",),
    ModelConfig: ("config",),
    Pricing: ("paths",),
}
"""Every schema field that names a file (those resolved against the scenario's folder)."""

_FILE_KEYS = frozenset(name for names in FILE_FIELDS.values() for name in names)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class FileReference:
    """One file a scenario names.

    ``field`` is its path in the scenario (``designs[0].service_time.path``), ``written`` the
    value as the user wrote it, ``resolved`` the path the planner would read; ``is_model`` marks
    an LLM design's ``model`` string, which is a catalog name unless a file of that name exists.
    """

    field: str
    written: str
    resolved: str
    is_model: bool = False


def file_references(scenario: Scenario, raw: Mapping[str, Any],
                    base_dir: str | os.PathLike[str]) -> list[FileReference]:
    """Return every file reference of ``scenario``, with the values ``raw`` held before
    validation (``raw`` is the mapping validated; relative sweep values join ``base_dir``)."""
    found = list(_model_references(scenario, raw, ""))
    if isinstance(raw.get("sweep"), Mapping):
        found += _raw_references(raw["sweep"], "sweep", os.fspath(base_dir))
    return found


def _model_references(value: Any, raw: Any, where: str) -> Iterator[FileReference]:
    if isinstance(value, BaseModel):
        file_names = FILE_FIELDS.get(type(value), ())
        for name in type(value).model_fields:
            if name == "source_path" or name == "sweep":
                continue
            child, raw_child = getattr(value, name), _get(raw, name)
            field = f"{where}.{name}" if where else name
            if name in file_names and child is not None:
                if isinstance(child, tuple):
                    for i, item in enumerate(child):
                        yield FileReference(f"{field}[{i}]", _written(_get(raw_child, i), item),
                                            item)
                else:
                    yield FileReference(field, _written(raw_child, child), child)
            elif isinstance(value, LlmDesign) and name == "model" and isinstance(child, str):
                yield FileReference(field, child, child, is_model=True)
            else:
                yield from _model_references(child, raw_child, field)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _model_references(item, _get(raw, i), f"{where}[{i}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _model_references(item, _get(raw, key), f"{where}.{key}")


def _raw_references(value: Any, where: str, base_dir: str, key: str = "") -> list[FileReference]:
    """References in an unvalidated section (a sweep's values): strings under a file key."""
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(value, str):
        if leaf in _FILE_KEYS:
            resolved = value if os.path.isabs(value) else os.path.normpath(
                os.path.join(base_dir, value))
            return [FileReference(where, value, resolved)]
        if leaf == "model":
            return [FileReference(where, value, value, is_model=True)]
        return []
    if isinstance(value, Mapping):
        return [ref for k, v in value.items()
                for ref in _raw_references(v, f"{where}.{k}", base_dir, str(k))]
    if isinstance(value, (list, tuple)):
        return [ref for i, v in enumerate(value)
                for ref in _raw_references(v, f"{where}[{i}]", base_dir, key)]
    return []


def _get(raw: Any, key: Any) -> Any:
    if isinstance(key, int):
        return raw[key] if isinstance(raw, (list, tuple)) and key < len(raw) else None
    return raw.get(key) if isinstance(raw, Mapping) else None


def _written(raw: Any, validated: str) -> str:
    return raw if isinstance(raw, str) else validated


def check_files(scenario: Scenario, raw: Mapping[str, Any], roots: Sequence[Path],
                label: str, base_dir: str | os.PathLike[str]) -> None:
    """Refuse every file reference that is remote or resolves outside ``roots``.

    Raises
    ------
    ScenarioError
        One line per refused reference: its field, the value as written and the fix.
    """
    real_roots = [os.path.realpath(root) for root in roots]
    shown = "/ or ".join(root.name for root in roots) + "/"
    problems = []
    for ref in file_references(scenario, raw, base_dir):
        problem = _model_problem(ref) if ref.is_model else _file_problem(ref, real_roots, shown)
        if problem:
            problems.append(f"{ref.field}: {problem}")
    if problems:
        noun = "file reference" if len(problems) == 1 else "file references"
        raise ScenarioError(f"{label}: {len(problems)} refused {noun}:\n"
                            + "\n".join(f"  - {line}" for line in problems))


def _file_problem(ref: FileReference, real_roots: list[str], shown: str) -> str | None:
    if _URL.match(ref.written) or _URL.match(ref.resolved):
        return (f"{shorten(ref.written)} is a remote URL; the dashboard reads no remote files "
                f"(only files under {shown}); run this scenario with the CLI (planner run), "
                "which reads them with your own credentials")
    real = os.path.realpath(os.path.expanduser(ref.resolved))
    if ref.written.startswith("~") or not any(_inside(real, root) for root in real_roots):
        return (f"{shorten(ref.written)} is outside the scenarios folder; in the dashboard a "
                f"scenario may only read files under {shown} (e.g. data/...)")
    return None


def _model_problem(ref: FileReference) -> str | None:
    """A model string is read as a file when one exists at that path (relative to the server's
    working folder): refuse that, and names that are not in the model catalog."""
    from simulators.core.llm_models import model_spec

    text = ref.written.strip()
    if _URL.match(text):
        return (f"{shorten(text)} is a remote URL; give a catalog model name (e.g. llama-3-8b) "
                "or {config: data/<model>/config.json} under the scenarios folder")
    names_file = (f"{shorten(text)} names a file; in the dashboard give a catalog model name "
                  "(e.g. llama-3-8b) or {config: data/<model>/config.json} under the scenarios "
                  "folder")
    if text.startswith(("~", ".")) or os.path.isabs(text) or os.path.lexists(text):
        return names_file
    try:
        model_spec(text)
    except SimulationError as exc:
        if "/" in text or "\\" in text or text.endswith(".json"):
            return names_file
        return f"{exc}; in the dashboard a model is a catalog name or {{config: PATH}}"
    return None


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def redact(text: str, folders: Sequence[Path | None]) -> str:
    """Return ``text`` with the server's ``folders`` removed: a path under the first (the
    scenarios folder) becomes relative to it, one under another ``.../<file name>``."""
    known = [(os.path.realpath(f), i) for i, f in enumerate(folders) if f is not None]
    known += [(os.fspath(f), i) for i, f in enumerate(folders) if f is not None]
    for folder, index in sorted(set(known), key=lambda item: -len(item[0])):
        prefix = folder.rstrip(os.sep) + os.sep
        if index == 0:
            text = text.replace(prefix, "")
        else:
            text = re.sub(re.escape(prefix) + r"(?:[^\s'\"/]+/)*", ".../", text)
    return text
