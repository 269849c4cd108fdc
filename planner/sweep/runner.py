"""The point function every executor runs, and what travels with it.

A :class:`SweepJob` holds everything a worker needs, as plain data: the validated scenario (JSON
data, one design), a record (digest, size, time, inode) of every file it points to, the price
catalog chosen on the driver, and a fingerprint.  Local workers read the files in place once
checked unchanged; a job for other machines carries the files' bytes (:meth:`SweepJob.
with_contents`), which each machine writes once into a content-addressed, per-user cache
(:mod:`planner.sweep.datafiles`) and points the scenario at.  The local executor sends the job
once per worker process, the Ray executor puts it in the object store once.

Each point is run as a one-design scenario with the scenario's replications and the point's own
seed (:func:`planner.sweep.points.point_seed`), so a point's numbers depend on neither the
executor nor the number of workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from costmodels.catalog import PriceCatalog
from domain.errors import PlannerError
from planner.sweep.datafiles import (
    DataFileChanged,
    Files,
    check_in_place,
    collect_files,
    local_paths,
    walk_paths,
    with_contents,
)
from planner.sweep.points import SweepPlan, SweepPoint, check_point

__all__ = ["PointTask", "SweepJob", "build_job", "run_point"]

KERNELS = (("simulators.realtime.api", "realtime_kernel"),
           ("simulators.streaming.api", "streaming_kernel"),
           ("simulators.batch._kernel", "batch_kernel"),
           ("simulators.training._kernel", "training_kernel"),
           ("simulators.llm.api", "llm_kernel"))
"""The module attributes timed with ``measure_kernels`` (each pattern's compiled kernel)."""


@dataclass(frozen=True)
class SweepJob:
    """What every point of one sweep shares; plain, picklable data."""

    scenario_data: dict[str, Any]
    files: Files
    """Absolute path in ``scenario_data`` -> {relative name ("" for a plain file): the file's
    digest, size, time and inode, and its bytes only when sent to other machines}."""
    catalog: PriceCatalog
    key: str
    """Fingerprint of the scenario (without the sweep), the catalog and the files."""
    measure_kernels: bool = False

    def with_contents(self) -> SweepJob:
        """Return this job with the bytes of its files, for workers on other machines."""
        return replace(self, files=with_contents(self.files))


@dataclass(frozen=True)
class PointTask:
    """One point to run: its id, parameters, seed and design data."""

    point_id: str
    index: int
    params: dict[str, Any]
    seed: int
    design: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, point: SweepPoint) -> PointTask:
        """Return the task of a planned point."""
        assert point.design is not None
        return cls(point.point_id, point.index, point.params, point.seed, point.design)


def _fingerprint(data: Mapping[str, Any], files: Files, catalog: PriceCatalog) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    for path in sorted(files):
        digest.update(path.encode())
        for name in sorted(files[path]):
            digest.update(name.encode())
            digest.update(bytes.fromhex(files[path][name].sha256))
    digest.update(f"{catalog.label}|{catalog.as_of}".encode())
    return digest.hexdigest()[:16]


def build_job(plan: SweepPlan, catalog: PriceCatalog, *, label: str,
              measure_kernels: bool = False) -> SweepJob:
    """Return the job of a plan: its scenario data, the bytes of its files, the catalog."""
    everything = {"scenario": plan.scenario_data,
                  "designs": [p.design for p in plan.points if p.design is not None]}
    files = collect_files(everything, label)  # a variant may point to files of its own
    return SweepJob(plan.scenario_data, files, catalog,
                    _fingerprint(plan.scenario_data, files, catalog), measure_kernels)


# --------------------------------------------------------------------------------- the worker

_PREPARED: dict[tuple[str, bool], tuple[dict[str, Any], dict[str, str]]] = {}
"""Per worker process: (job key, whether it carries the files' bytes) -> (scenario data pointing
at the files this worker reads, scenario path -> that file)."""


def _prepared(job: SweepJob) -> tuple[dict[str, Any], dict[str, str]]:
    shipped = any(r.blob is not None for entries in job.files.values() for r in entries.values())
    found = _PREPARED.get((job.key, shipped))
    if found is not None:
        check_in_place(job.files)  # files read in place: still the ones the sweep started with
    else:
        local = local_paths(job.files)
        found = (walk_paths(job.scenario_data, lambda v: local.get(v, v)), local)
        _PREPARED.clear()  # one sweep at a time per worker
        _PREPARED[(job.key, shipped)] = found
    return found


@contextlib.contextmanager
def _timed_kernels(enabled: bool) -> Iterator[list[float]]:
    """Yield a one-item list accumulating the seconds spent inside the compiled kernels."""
    spent = [0.0]
    if not enabled:
        yield spent
        return
    import importlib

    saved = []
    for module_name, attr in KERNELS:
        module = importlib.import_module(module_name)
        kernel = getattr(module, attr)

        def timed(*args, _kernel=kernel, **kwargs):
            t0 = time.perf_counter()
            try:
                return _kernel(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t0

        saved.append((module, attr, kernel))
        setattr(module, attr, timed)
    try:
        yield spent
    finally:
        for module, attr, kernel in saved:
            setattr(module, attr, kernel)


def run_point(job: SweepJob, task: PointTask) -> dict[str, Any]:
    """Run one point and return its row (see :mod:`planner.sweep.store`).

    A point that the planner rejects at run time (a :class:`PlannerError`, e.g. more workers
    per node than the instance has GPUs) gives a row with ``status: error`` and the message;
    any other exception propagates.
    """
    from planner.run import run_scenario

    started = time.perf_counter()
    row: dict[str, Any] = {"point_id": task.point_id, "index": task.index,
                           "params": task.params, "seed": task.seed, "status": "ok",
                           "error": None, "metrics": None, "slo_ms": None, "meets_slo": None,
                           "slos": None, "cost_incomplete": None,
                           "usd_per_month_half_width": None, "kernel_s": None}
    try:
        data, local = _prepared(job)
        design = walk_paths(task.design, lambda v: local.get(v, v))
        scenario = check_point(data, design, task.seed)
        with _timed_kernels(job.measure_kernels) as spent:
            result = run_scenario(scenario, catalog=job.catalog)
    except DataFileChanged:
        raise  # the whole sweep stops: its fingerprint no longer says what runs
    except PlannerError as exc:
        row.update(status="error", error=" ".join(str(exc).split()))
    else:
        design = result.designs[0]
        row.update(metrics=design.flat_metrics(),
                   meets_slo=None if design.unjudged_slo else design.meets_slo,
                   slo_ms=None if design.slo is None else design.slo.achieved_ms.mean,
                   slos=[s.to_dict() for s in design.slos],
                   cost_incomplete=design.cost.incomplete,
                   usd_per_month_half_width=design.cost.usd_per_month_half_width,
                   kernel_s=spent[0] if job.measure_kernels else None)
    row["wall_s"] = time.perf_counter() - started
    return row
