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
    console.print(f"calibrate {doc['design']} ({doc['pattern']}) of {doc['scenario']}: "
                  f"service time {doc['service_time']}")
    for batches in doc.get("batches", []):
        _print_batches(console, batches, wide)
    if doc.get("table") is not None:
        _print_table(console, doc["table"])
    else:
        _print_terms(console, doc, wide)
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
            label = (f"{pred['left_out']} (table of the others)" if pred["fit"] is None else
                     f"{pred['left_out']} (fit: {pred['fit']['overhead_ms']['value']:.3g} ms, "
                     f"x{pred['fit']['scale']['value']:.3g})")
            measured = next(t["measured_ms"] for t in doc["tests"]
                            if t["name"] == pred["left_out"])
            rows += _comparison_rows(label, measured, [("before", pred["before"]),
                                                       ("predicted", pred["predicted"])])
        loo = _table("Leave one out: fitted on the other tests, this one predicted",
                     ["left out", "pct", "measured", "before", "error", "predicted", "error"],
                     rows)
        print_fitted(console, loo, wide=wide, keys=2)
        for pred in doc["leave_one_out"]:
            if pred.get("extrapolation"):
                console.print(f"ASSUMPTION predicting {pred['left_out']}: "
                              f"{pred['extrapolation']}")
    if doc.get("wrote_fit"):
        console.print(f"wrote {doc['wrote_fit']} (the latency fit with the calibrated "
                      "efficiencies)")
    if doc.get("wrote_table"):
        console.print(f"wrote {doc['wrote_table']} (the in-loop service-time table; its source "
                      "column says which sizes were measured)")
    if doc.get("wrote"):
        what = "the in-loop table" if doc.get("table") is not None else "the fitted terms"
        console.print(f"wrote {doc['wrote']} (design {doc['design']} carries {what})")
    return buffer.getvalue()


def _print_terms(console, doc: dict, wide: bool) -> None:
    fit, before = doc["fit"], doc["terms_before"]
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


def _ms(value: float | None) -> str:
    return NA if value is None else f"{value:.3f}"


def _print_batches(console, batches: dict, wide: bool) -> None:
    if batches["skipped"]:
        console.print(f"batch recovery skipped for {batches['test']}: {batches['skipped']}")
        return
    rows = [(str(r["batch_size"]), f"{r['batches']:,}", f"{r['back_to_back']:,}",
             _ms(r["median_ms"]), _ms(r["mean_ms"]), _ms(r["p90_ms"]),
             NA if r["median_ci95_ms"] is None else
             f"{r['median_ci95_ms'][0]:.3f}..{r['median_ci95_ms'][1]:.3f}",
             f"{r['profile_ms']:.3f}", r["flag"] or "")
            for r in batches["rows"]]
    table = _table(f"In-loop batch times of {batches['test']}: {batches['batches']:,} batches "
                   f"recovered (completions within {batches['tolerance_ms']:g} ms), "
                   f"{batches['back_to_back']:,} back to back and timed (ms)",
                   ["size", "batches", "timed", "median", "mean", "p90", "median 95% CI",
                    "profile", "vs profile"], rows)
    print_fitted(console, table, wide=wide, keys=1)
    corr = batches["serial_correlation"]
    if batches["drifts"]:
        console.print(f"WARNING {batches['test']}: successive in-loop batch times correlate "
                      f"(lag-1 r = {corr:.2f}, size effect removed): the loop runs in slow and "
                      "fast stretches. The simulator draws each batch's time independently, so "
                      "it cannot build the queues of a slow stretch: near capacity its tail "
                      "comes out too short.")
    elif corr is not None:
        console.print(f"{batches['test']}: successive in-loop batch times barely correlate "
                      f"(lag-1 r = {corr:.2f}): independent draws, as simulated, fit.")


def _print_table(console, table: dict) -> None:
    measured = [r["batch_size"] for r in table["rows"] if r["measured"]]
    terms = table["terms_elsewhere"]
    console.print(f"in-loop table measured on {', '.join(table['fitted_on'])}: "
                  f"{len(measured)} of {len(table['rows'])} batch sizes with at least "
                  f"{table['min_back_to_back']} back-to-back batches")
    if table["unobserved"]:
        console.print(f"ASSUMPTION: batch sizes {table['unobserved']} not measured; their times "
                      f"are the profile x {terms['scale']:.4g} + {terms['overhead_ms']:.4g} ms "
                      f"(terms fitted to the measured sizes), dispersion sigma "
                      f"{table['sigma_elsewhere']:.3g}")
