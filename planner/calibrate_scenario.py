"""Write the calibrated scenario: the input scenario with the fitted terms in one design.

The scenario is written from its validated model (what the user set, nothing defaulted), so it
loads and runs as the original did; file paths are rewritten relative to the new file's folder
so that it runs wherever it is written. The design's ``service_time`` gains ``overhead_ms``,
``scale`` and ``calibrated_from`` (the load tests, relative to the new file).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import yaml

from planner import schema
from planner.calibrate_batches import MIN_BACK_TO_BACK
from planner.calibrate_result import CalibrationResult, Fit

__all__ = ["calibrated_scenario_text"]


def calibrated_scenario_text(scenario: schema.Scenario, result: CalibrationResult,
                             test_paths: Sequence[str], output_path: str,
                             fit_path: str | os.PathLike[str] | None = None,
                             table_path: str | os.PathLike[str] | None = None) -> str:
    """Return the YAML of ``scenario`` with ``result``'s fitted terms in its design.

    Parameters
    ----------
    scenario : Scenario
        The scenario calibrated (validated, paths resolved).
    result : CalibrationResult
        What :func:`planner.calibrate.calibrate_design` returned for it.
    test_paths : sequence of str
        The load tests' files, named in ``calibrated_from``.
    output_path : str
        Where the YAML will be written (paths are made relative to its folder).
    fit_path : path, optional
        An llm design's calibrated latency fit file (``result.latency_fit``, written there):
        its ``latency.fit`` points to it and ``engine.host_overhead_ms`` takes the fitted host
        time per step.
    table_path : path, optional
        The in-loop table's CSV (``result.table``, written there; table method): the design's
        ``service_time`` becomes ``{kind: table, path: it, jitter: lognormal}``.
    """
    folder = os.path.dirname(os.path.abspath(output_path))
    data = _rebased(scenario.model_dump(mode="json", exclude_unset=True), folder)
    data.pop("source_path", None)
    fit = result.fit
    for design in data["designs"]:
        if design["name"] != result.design:
            continue
        if result.pattern == "llm":
            if fit_path is None:
                raise ValueError("an llm design's calibrated scenario needs its fit file")
            design["latency"] = {**design.get("latency", {"kind": "auto"}),
                                 "fit": _relative(os.path.abspath(fit_path), folder)}
            design["engine"] = {**design.get("engine", {}),
                                "host_overhead_ms": round(float(fit.overhead_ms.value), 4)}
            continue
        sources = [_relative(os.path.abspath(p), folder) for p in test_paths]
        if result.table is not None:
            if table_path is None:
                raise ValueError("a table calibration's scenario needs its table file")
            design["service_time"] = {"kind": "table",
                                      "path": _relative(os.path.abspath(table_path), folder),
                                      "column": "mean_ms", "batch_column": "batch",
                                      "jitter": "lognormal", "calibrated_from": sources}
            continue
        kept = {k: v for k, v in design["service_time"].items()
                if k not in ("overhead_ms", "scale", "calibrated_from")}
        design["service_time"] = {
            **kept, "overhead_ms": round(float(fit.overhead_ms.value), 4),
            "scale": round(float(fit.scale.value), 4),
            "calibrated_from": sources}
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if result.table is not None:
        return _table_header(scenario, result) + body
    return _header(scenario, result, fit) + body


def _table_header(scenario: schema.Scenario, result: CalibrationResult) -> str:
    source = os.path.basename(scenario.source_path) if scenario.source_path else scenario.name
    table = result.table
    lines = [f"Calibrated by planner calibrate from {source}: design {result.design!r} serves",
             "with the in-loop batch times measured on " + ", ".join(table.fitted_on),
             "(back-to-back batches recovered from per-request completions).",
             (f"ASSUMPTION: batch sizes {table.unobserved_text} had fewer than "
              f"{MIN_BACK_TO_BACK} back-to-back"),
             f"batches in those tests; their times are the profile x {table.terms.scale:.4g} + "
             f"{table.terms.overhead_ms:.4g} ms, not measured."
             if table.unobserved_text else "Every batch size was measured in the loop.",
             "(planner calibrate --format json shows each test before and after)."]
    return "".join(f"# {line}\n" for line in lines)


def _header(scenario: schema.Scenario, result: CalibrationResult, fit: Fit) -> str:
    source = os.path.basename(scenario.source_path) if scenario.source_path else scenario.name
    percentiles = ", ".join(f"p{100 * q:g}" for q in result.quantiles)
    where = ("engine.host_overhead_ms and latency.fit (GEMM and attention efficiencies / scale)"
             if result.pattern == "llm" else "service_time (a batch of n takes scale x t(n) + "
             "overhead_ms)")
    lines = [f"Calibrated by planner calibrate from {source}: design {result.design!r}",
             f"gets overhead_ms {_with_ci(fit.overhead_ms)} and scale {_with_ci(fit.scale)}",
             f"in its {where},",
             f"fitted on {', '.join(fit.fitted_on)} to the latency percentiles {percentiles}",
             "(planner calibrate --format json shows each test before and after)."]
    return "".join(f"# {line}\n" for line in lines)


def _with_ci(estimate) -> str:
    if estimate.ci95_low is None or estimate.ci95_high is None:
        return f"{estimate.value:.4g} (95% CI n/a)"
    return (f"{estimate.value:.4g} (95% CI {estimate.ci95_low:.4g} to "
            f"{estimate.ci95_high:.4g})")


def _relative(path: str, folder: str) -> str:
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows): keep it absolute
        return path


def _rebased(value: Any, folder: str) -> Any:
    """Every absolute file path in ``value`` (the schema resolved them) made relative."""
    if isinstance(value, dict):
        return {k: _rebased(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebased(v, folder) for v in value]
    if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
        return _relative(value, folder)
    return value
