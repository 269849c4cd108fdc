"""Read the files of the LLM latency model: a model's Hugging Face ``config.json`` and a
latency-model fit file (JSON written by ``planner llm fit`` or ``planner llm replay --fit``).

Part of the input layer: the simulators take the parsed shapes and terms
(:func:`simulators.core.llm_models.model_from_config`,
:func:`simulators.core.latency_fit.fit_from_dict`). Every problem raises a
:class:`~domain.errors.SimulationError` naming the file, the key and value, and the fix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from domain.errors import SimulationError
from simulators.core.latency_fit import BUNDLED_FIT, fit_from_dict
from simulators.core.latency_model import LatencyFit
from simulators.core.llm_models import ModelSpec, _catalog_key, model_from_config, model_spec

_MAX_CONFIG_BYTES = 8 * 1024 * 1024


def model_from_hf_config(path) -> ModelSpec:
    """Return the shape in a Hugging Face ``config.json`` (the file, or a folder holding it).

    The file is parsed with ``json.load`` and read by :func:`model_from_config`; the spec is
    named from ``_name_or_path`` (its last part when that is a local path) or the folder.

    Raises
    ------
    SimulationError
        The file is missing, unreadable, not JSON, or lacks a key the shape needs; the message
        names the file, the key and value, and the fix.
    """
    file = os.path.expanduser(str(path))
    if os.path.isdir(file):
        folder, file = file, os.path.join(file, "config.json")
        if not os.path.isfile(file):
            raise SimulationError(f"{folder}: folder has no config.json; give the folder a "
                                  "model was downloaded to, or the path of its config.json")
    if not os.path.isfile(file):
        raise SimulationError(f"{file}: no such file; give the path of the model's Hugging "
                              "Face config.json (or of the folder holding it)")
    size = os.path.getsize(file)
    if size > _MAX_CONFIG_BYTES:
        raise SimulationError(f"{file}: {size / 1e6:.0f} MB is not a config.json (weights?); "
                              "give the model's config.json")
    try:
        with open(file, encoding="utf-8") as handle:
            config = json.load(handle)
    except json.JSONDecodeError as exc:
        raise SimulationError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                              f"{exc.colno}); download the config.json again") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SimulationError(f"{file}: not a JSON text file ({exc.__class__.__name__}); give "
                              "the model's config.json") from None
    except OSError as exc:
        raise SimulationError(f"{file}: cannot be read ({exc.strerror or exc}); check the "
                              "path and its permissions") from None
    return model_from_config(config, path=file)


def load_model(ref: str, *, base_dir: str | None = None) -> ModelSpec:
    """Return the shape ``ref`` names: a path to a ``config.json`` or a folder holding one
    (absolute, ``~``, or relative to ``base_dir``, default the working directory), else a
    catalog name (:func:`model_spec`).

    A file, or a folder with a ``config.json``, at that path wins over a catalog name.

    Raises
    ------
    SimulationError
        For a path that cannot be read (see :func:`model_from_hf_config`), or a name that is
        neither a path nor in the catalog.
    """
    text = str(ref).strip()
    if not text:
        raise SimulationError("model is empty; give a catalog name such as 'llama-3.1-8b' or "
                              "the path of a Hugging Face config.json")
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        path = os.path.join(base_dir if base_dir is not None else os.getcwd(), path)
    if os.path.isfile(path) or os.path.isfile(os.path.join(path, "config.json")):
        return model_from_hf_config(path)
    if _catalog_key(text)[0] is not None:
        return model_spec(text)
    if text.endswith(".json") or text.startswith((".", "~", os.sep)) or os.path.isabs(text):
        return model_from_hf_config(path)  # a path that is not there: says so
    try:
        return model_spec(text)
    except SimulationError as exc:
        if "/" not in text and os.sep not in text:
            raise
        raise SimulationError(f"{exc}; as a path, {path} does not exist") from None


@dataclass(frozen=True)
class FitFile:
    """A fit file: the terms, and the engine host time per step when it was fitted to an engine
    run (``planner llm replay --fit``; None for a fit to a CUDA-graph profile)."""

    fit: LatencyFit
    host_overhead_ms: float | None


def load_fit_file(path: str | None = None) -> FitFile:
    """Return the fit stored in ``path`` (JSON written by ``planner llm fit`` or ``planner llm
    replay --fit``), or the bundled one."""
    where = path or BUNDLED_FIT
    try:
        with open(where, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise SimulationError(f"{where}: no such fit file; write one with 'planner llm fit "
                              "PROFILE.csv --out FILE'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimulationError(f"{where}: not a readable JSON fit file ({exc})") from None
    host = data.get("host_overhead_ms") if isinstance(data, dict) else None
    if host is not None and not (isinstance(host, (int, float)) and 0 <= host < 1e4):
        raise SimulationError(f"{where}: host_overhead_ms = {host!r} must be a number of ms "
                              ">= 0")
    return FitFile(fit_from_dict(data, where=where), None if host is None else float(host))


def load_fit(path: str | None = None) -> LatencyFit:
    """Return the terms stored in ``path``, or the bundled ones."""
    return load_fit_file(path).fit


def bundled_fit() -> LatencyFit:
    """Return the shipped fit."""
    return load_fit(None)
