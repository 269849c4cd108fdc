"""``planner calibrate``: fit a design's service-time corrections to load tests.

Parses, calls :func:`planner.calibrate.calibrate_design`, renders (table or versioned JSON) and
writes the calibrated scenario (``--output``). Formats of the load tests:
:mod:`planner.inputs_loadtest`; the model and the fit: :mod:`planner.calibrate`.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from planner.cli import options
from planner.cli.common import emit, stderr_console, user_errors

HELP = "Fit a design's service-time corrections to load tests and write a calibrated scenario."


class CalibrateFormat(str, Enum):
    """Formats ``planner calibrate`` renders in."""

    table = "table"
    json = "json"


LOADTESTS = typer.Argument(
    ..., metavar="LOADTEST...", dir_okay=False, show_default=False,
    help="Load-test files: per-request CSV or JSON lines (arrival_s or arrival_ms or timestamp "
         "or JMeter timeStamp; latency_ms or latency_s or JMeter elapsed; optional batch_size, "
         "and for an llm design prompt_tokens and output_tokens), k6 --out json, or Locust "
         "stats_history.csv (their percentiles, with Poisson arrivals at their rate).")
DESIGN = typer.Option(..., "--design", "-d", metavar="NAME",
                      help="The design the tests ran against: realtime (fits a per-batch "
                      "overhead and a scale on its service time) or llm with latency: {kind: "
                      "auto} (host time per step, scale on the GEMM and attention "
                      "efficiencies).")
OUTPUT = typer.Option(None, "--output", "-o", dir_okay=False, writable=True,
                      metavar="CALIBRATED.yaml", help="Write the scenario with the fitted terms "
                      "in the design's service_time here.")
FORMAT = typer.Option(CalibrateFormat.table, "--format", "-f", case_sensitive=False,
                      help="Output format.")
class CalibrateMethod(str, Enum):
    """How ``planner calibrate`` corrects the service time."""

    auto = "auto"
    terms = "terms"
    table = "table"


METHOD = typer.Option(CalibrateMethod.auto, "--method", "-m", case_sensitive=False,
                      help="table: the in-loop batch times measured from the tests' recovered "
                      "batches (one-worker realtime design, per-request tests), written as a "
                      "service-time table beside --output; terms: fit overhead_ms and scale by "
                      "replay; auto: table where batches can be recovered from every test, else "
                      "terms.")
WARMUP = typer.Option(0.0, "--warmup-s", min=0, metavar="S", help="Leave out requests sent in "
                      "a test's first S seconds (measured and simulated alike).")


def calibrate(
    scenario: Path = options.SCENARIO,
    loadtests: list[Path] = LOADTESTS,
    design: str = DESIGN,
    output: Path | None = OUTPUT,
    fmt: CalibrateFormat = FORMAT,
    warmup_s: float = WARMUP,
    method: CalibrateMethod = METHOD,
    replications: int | None = options.REPLICATIONS,
    wide: bool = options.WIDE,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Correct the design's service time (in-loop table or overhead_ms and scale) so the
    simulated p50/p90/p99 match the load tests."""
    from planner.calibrate import calibrate_design, fleet_quote
    from planner.calibrate_scenario import calibrated_scenario_text
    from planner.inputs import load_scenario_inputs
    from planner.inputs_loadtest import load_loadtest
    from planner.json_schemas import CALIBRATION_VERSION
    from planner.reports.calibration import render_calibration
    from planner.schema import load_scenario

    with user_errors(debug):
        spec = load_scenario(scenario)
        tests = [load_loadtest(str(path)) for path in loadtests]
        inputs = load_scenario_inputs(spec)
        if not quiet:
            stderr_console().print(f"replaying {len(tests)} load test(s) through {design} "
                                   "and fitting (a few dozen replays per fit) ...")
        result = calibrate_design(spec, design, inputs, tests, warmup_s=warmup_s,
                                  replications=replications, quote=fleet_quote(spec, design),
                                  method=method.value)
        fit_path = table_path = None
        if output is not None and result.latency_fit is not None:
            fit_path = output.with_name(output.stem + ".latency-fit.json")
        if output is not None and result.table is not None:
            table_path = output.with_name(output.stem + ".service-time.csv")
        doc = {"schema_version": CALIBRATION_VERSION, "kind": "calibration",
               **result.as_dict(), "wrote": None if output is None else str(output),
               "wrote_fit": None if fit_path is None else str(fit_path),
               "wrote_table": None if table_path is None else str(table_path)}
        if fit_path is not None:
            emit(result.latency_fit, fit_path)
        if table_path is not None:
            emit(result.table.csv_text(), table_path)
        if output is not None:
            emit(calibrated_scenario_text(spec, result, [str(p) for p in loadtests],
                                          str(output), fit_path=fit_path,
                                          table_path=table_path), output)
        if fmt is CalibrateFormat.json:
            emit(json.dumps(doc, indent=2), None)
        else:
            emit(render_calibration(doc, wide=wide), None)


def register(root: typer.Typer) -> None:
    """Add ``planner calibrate`` to the root app."""
    root.command("calibrate", help=HELP)(calibrate)
