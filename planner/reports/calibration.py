"""The terminal report of ``planner calibrate``, rendered from its JSON document."""

from __future__ import annotations

import io

from rich.table import Table

from planner.reports.fit import plain_console, print_fitted
from planner.reports.formatting import human_ms

__all__ = ["render_calibration"]

NA = "n/a"


def _pct(value: float | None) -> str:
    return NA if value is None else f"{value:+.1f}%"


def _error(err: dict) -> str:
    """``+3.5% (+3.4..+3.9)``: the error of the replications' mean, then their range."""
    if err["mean"] is None:
        return NA
    return f"{_pct(err['mean'])} ({_pct(err['min'])}..{_pct(err['max'])})"


def _term(estimate: dict, unit: str) -> str:
    value = f"{estimate['value']:.4g}{unit}"
    ci = estimate.get("ci95")
    return f"{value} (95% CI {NA})" if ci is None else \
        f"{value} (95% CI {ci[0]:.4g}..{ci[1]:.4g}{unit})"


def _comparison_rows(name: str, measured: dict, sides: list[tuple[str, dict]]) -> list[tuple]:
    rows = []
    for p, value in measured.items():
        cells = [name, p, human_ms(value)]
        for _, side in sides:
            cells += [human_ms(side["simulated_ms"][p]), _error(side["error_pct"][p])]
        rows.append(tuple(cells))
        name = ""
    return rows


def _table(title: str, headers: list[str], rows: list[tuple]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i < 2 else "right", no_wrap=i > 0)
    for row in rows:
        table.add_row(*row)
    return table


def render_calibration(doc: dict, *, width: int | None = None, wide: bool = False) -> str:
    """Return the report of a calibration document (``kind: calibration``) as plain text.

    The fitted terms with their intervals, then each load test's measured percentiles and the
    simulated ones before and after the fit (error: of the replications' mean, then the range
    over replications), then the leave-one-out predictions when there are several tests.
    """
    buffer = io.StringIO()
    console = plain_console(buffer, width)
    fit, before = doc["fit"], doc["terms_before"]
    console.print(f"calibrate {doc['design']} ({doc['pattern']}) of {doc['scenario']}: "
                  f"service time {doc['service_time']}")
    model = ("overhead_ms is the engine's host time per step; scale divides the latency "
             "model's GEMM and attention efficiencies" if doc["pattern"] == "llm"
             else "a batch of n takes scale x t(n) + overhead_ms")
    console.print(f"{model}; fitted on {', '.join(fit['fitted_on'])}")
    terms = _table("Fitted terms", ["term", "before", "fitted"], [
        ("overhead_ms", f"{before['overhead_ms']:.4g} ms", _term(fit["overhead_ms"], " ms")),
        ("scale", f"{before['scale']:.4g}", _term(fit["scale"], ""))])
    print_fitted(console, terms, wide=wide)
    corr = fit["correlation"]
    console.print(f"chi-square {fit['chi2']:.3g} on {fit['dof']} degree(s) of freedom; "
                  f"correlation of the terms {NA if corr is None else f'{corr:+.2f}'}"
                  + (" (the tests barely tell them apart)" if corr is not None
                     and abs(corr) > 0.95 else "") + f"; {fit['n_evaluations']} replays")
    rows = []
    for test in doc["tests"]:
        rows += _comparison_rows(test["name"], test["measured_ms"],
                                 [("before", test["before"]), ("after", test["after"])])
    tests = _table("Each test, before and after the fit (error vs measured: mean of the "
                   f"{doc['replications']} replications (min..max))",
                   ["test", "pct", "measured", "before", "error", "after", "error"], rows)
    print_fitted(console, tests, wide=wide, keys=2)
    for test in doc["tests"]:
        console.print(f"{test['name']}: {test['format']}, {test['requests']:,} requests at "
                      f"{test['rate_rps']:,.4g}/s over {test['duration_s']:.3g} s; arrivals "
                      f"{test['arrivals']}")
    if doc["leave_one_out"]:
        rows = []
        for pred in doc["leave_one_out"]:
            label = (f"{pred['left_out']} (fit: {pred['fit']['overhead_ms']['value']:.3g} ms, "
                     f"x{pred['fit']['scale']['value']:.3g})")
            measured = next(t["measured_ms"] for t in doc["tests"]
                            if t["name"] == pred["left_out"])
            rows += _comparison_rows(label, measured, [("before", pred["before"]),
                                                       ("predicted", pred["predicted"])])
        loo = _table("Leave one out: fitted on the other tests, this one predicted",
                     ["left out", "pct", "measured", "before", "error", "predicted", "error"],
                     rows)
        print_fitted(console, loo, wide=wide, keys=2)
    if doc.get("wrote_fit"):
        console.print(f"wrote {doc['wrote_fit']} (the latency fit with the calibrated "
                      "efficiencies)")
    if doc.get("wrote"):
        console.print(f"wrote {doc['wrote']} (design {doc['design']} carries the fitted terms)")
    return buffer.getvalue()
