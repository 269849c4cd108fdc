"""Calibrate a one-worker realtime design with a measured in-loop service-time table.

:mod:`planner.calibrate_batches` recovers each per-request test's batches and times the
back-to-back ones; here the tests' times become the design's service time
(:func:`planner.calibrate_batches.measured_table`), every test is replayed with it, and with
several tests each is left out in turn: the table measured on the others predicts it, and the
batch sizes it formed that they did not measure are named (``Prediction.extrapolation``).

Chosen by ``planner calibrate --method auto`` whenever every test is per-request and the design
has one worker: a measured batch time per size carries what two terms cannot (ResNet-50 on an
H100 runs 4.4 ms a batch in the loop up to 26 requests, then 6-7.3 ms: no ``scale x t(n) +
overhead`` of its flat profile bends there).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from domain.errors import ScenarioError
from planner.calibrate_batches import (
    MeasuredTable,
    RecoveredBatches,
    TestBatches,
    extrapolation_note,
    in_loop_rows,
    measured_table,
    recover_batches,
    recovery_skip_reason,
    serial_correlation,
)
from planner.calibrate_result import Comparison, LoadTestReport, Prediction, Terms
from simulators.core.service import ServiceTime, table_service

__all__ = ["METHOD_IDS", "choose_method", "recover_all", "table_calibration", "table_service_of"]

METHOD_IDS = ("auto", "terms", "table")
"""``--method`` values: ``auto`` picks ``table`` when batches can be recovered from every test,
else ``terms``."""
_NO_TERMS = Terms(0.0, 1.0)


def recover_all(replays: Sequence, n_workers: int, max_wait_ms: float, warmup_s: float,
                ) -> tuple[tuple[TestBatches, ...], dict[str, RecoveredBatches]]:
    """Recover every test's batches where valid; return the per-test summaries (with the
    reason where skipped) and the recovered batches by test name."""
    summaries, recovered = [], {}
    for replay in replays:
        test = replay.test
        reason = recovery_skip_reason(test, n_workers)
        if reason is not None:
            summaries.append(TestBatches(test.name, reason))
            continue
        try:
            batches = recover_batches(test, replay.max_batch, max_wait_ms, warmup_s)
        except ScenarioError as exc:  # e.g. a clock too coarse to tell batches apart
            summaries.append(TestBatches(test.name, str(exc)))
            continue
        recovered[test.name] = batches
        rows = in_loop_rows([batches], 1000.0 * replay.model.mean_s)
        summaries.append(TestBatches(test.name, None, batches.n_batches,
                                     batches.n_back_to_back, tuple(rows),
                                     serial_correlation(batches)))
    return tuple(summaries), recovered


def choose_method(method: str, summaries: Sequence[TestBatches]) -> str:
    """Resolve ``--method`` (``auto``, ``terms`` or ``table``) against what recovery found."""
    if method not in METHOD_IDS:
        raise ScenarioError(f"--method: unknown method {method!r} (got {method!r}); use one of "
                            f"{', '.join(METHOD_IDS)}")
    skipped = [s for s in summaries if s.skipped is not None]
    if method == "table":
        if not summaries:
            raise ScenarioError("--method table: only realtime designs have batch tables; use "
                                "--method terms")
        if skipped:
            raise ScenarioError(f"--method table: no batches can be recovered from "
                                f"{skipped[0].test} ({skipped[0].skipped}); use --method terms")
        empty = [s.test for s in summaries if s.n_back_to_back == 0]
        if empty:
            raise ScenarioError(f"--method table: {empty[0]} has no back-to-back batch (got 0 "
                                "timed batches: the server was never busy); use --method terms")
        return "table"
    if method == "auto":
        usable = summaries and not skipped and all(s.n_back_to_back for s in summaries)
        return "table" if usable else "terms"
    return "terms"


def table_service_of(table: MeasuredTable, max_batch: int) -> ServiceTime:
    """The simulator's service time of a measured table (lognormal jitter, its dispersion)."""
    measured = ", ".join(table.fitted_on)
    return table_service(table.batch_sizes, table.mean_ms, max_batch, p50_ms=table.p50_ms,
                         p99_ms=table.p99_ms, jitter="lognormal",
                         description=f"in-loop table measured on {measured}")


def table_calibration(replays: Sequence, recovered: dict[str, RecoveredBatches],
                      before: Terms, warmup_s: float, compare,
                      ) -> tuple[MeasuredTable, tuple[LoadTestReport, ...], tuple[Prediction, ...]]:
    """Measure the table on every test, compare each test before (``before`` terms on the
    profile) and after (the table), and leave each out in turn.

    ``compare(replay, terms, warmup_s) -> Comparison`` is :func:`planner.calibrate.compare`.
    """
    table = _table(replays, recovered)
    after_model = table_service_of(table, replays[0].max_batch)
    reports, before_by_name = [], {}
    for replay in replays:
        t = replay.test
        first = compare(replay, before, warmup_s)
        before_by_name[t.name] = first
        after = compare(dataclasses.replace(replay, model=after_model), _NO_TERMS, warmup_s)
        reports.append(LoadTestReport(t.name, t.path, t.kind, t.n_requests, t.rate_rps,
                                      t.duration_s, replay.arrivals_text, first, after))
    loo = []
    if len(replays) > 1:
        for i, left in enumerate(replays):
            others = [r for j, r in enumerate(replays) if j != i]
            partial = _table(others, recovered)
            model = table_service_of(partial, left.max_batch)
            predicted: Comparison = compare(dataclasses.replace(left, model=model), _NO_TERMS,
                                            warmup_s)
            loo.append(Prediction(left.test.name, None, before_by_name[left.test.name],
                                  predicted, partial,
                                  extrapolation_note(partial, recovered[left.test.name])))
    return table, tuple(reports), tuple(loo)


def _table(replays: Sequence, recovered: dict[str, RecoveredBatches]) -> MeasuredTable:
    model = replays[0].model
    return measured_table([recovered[r.test.name] for r in replays], 1000.0 * model.mean_s,
                          np.asarray(model.log_sigma))
