"""The point function every executor runs, and what travels with it.

A :class:`SweepJob` holds everything a worker needs, as plain data: the validated scenario (JSON
data, one design), the *bytes* of every file it points to, the price catalog chosen on the
driver, and a fingerprint.  Data files travel as bytes rather than as paths (or Ray's
``runtime_env`` working folder) so that a worker on another machine, in another folder, needs
nothing but the package: :func:`run_point` writes the files once per machine into a
content-addressed folder under the temporary folder (``planner-sweep-files/<hash>/<name>``) and
points the scenario at those copies.  The driver reads each file once; the local executor sends
the job once per worker process, the Ray executor puts it in the object store once.

Each point is run as a one-design scenario with the scenario's replications and the point's own
seed (:func:`planner.sweep.points.point_seed`), so a point's numbers depend on neither the
executor nor the number of workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costmodels.catalog import PriceCatalog
from domain.errors import PlannerError, ScenarioError
from planner.sweep.points import SweepPlan, SweepPoint, check_point

__all__ = ["PointTask", "SweepJob", "build_job", "collect_files", "run_point"]

_PATH_KEYS = ("path", "paths")
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
    files: dict[str, dict[str, bytes]]
    """Absolute path in ``scenario_data`` -> {relative name: bytes} ("" for a plain file)."""
    catalog: PriceCatalog
    key: str
    """Fingerprint of the scenario (without the sweep), the catalog and the files."""
    measure_kernels: bool = False


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


def _walk_paths(data: Any, visit) -> Any:
    """Return ``data`` with every string under a ``path``/``paths`` key replaced by
    ``visit(string)`` (s3:// URLs kept)."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in _PATH_KEYS and isinstance(value, str):
                out[key] = visit(value)
            elif key in _PATH_KEYS and isinstance(value, list):
                out[key] = [visit(v) if isinstance(v, str) else v for v in value]
            else:
                out[key] = _walk_paths(value, visit)
        return out
    if isinstance(data, list):
        return [_walk_paths(v, visit) for v in data]
    return data


def collect_files(data: Mapping[str, Any], label: str) -> dict[str, dict[str, bytes]]:
    """Read every file (or folder) a scenario's ``path``/``paths`` fields name, on the driver.

    Raises
    ------
    ScenarioError
        A path that does not exist or cannot be read.
    """
    files: dict[str, dict[str, bytes]] = {}

    def visit(value: str) -> str:
        if value.startswith("s3://") or value in files:
            return value
        path = Path(value)
        try:
            if path.is_dir():
                files[value] = {str(p.relative_to(path)): p.read_bytes()
                                for p in sorted(path.rglob("*")) if p.is_file()}
            else:
                files[value] = {"": path.read_bytes()}
        except OSError as exc:
            raise ScenarioError(f"{label}: cannot read {value} for the sweep workers "
                                f"({exc.strerror or exc}); check the path (relative paths are "
                                "resolved against the scenario file's folder)") from None
        return value

    _walk_paths(dict(data), visit)
    return files


def _fingerprint(data: Mapping[str, Any], files: Mapping[str, Mapping[str, bytes]],
                 catalog: PriceCatalog) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    for path in sorted(files):
        digest.update(path.encode())
        for name in sorted(files[path]):
            digest.update(name.encode())
            digest.update(hashlib.sha256(files[path][name]).digest())
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

_PREPARED: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
"""Per worker process: job key -> (scenario data pointing at the local copies of its files,
driver path -> local copy)."""


def _materialise(path: str, entries: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(name.encode() + b"\0" + hashlib.sha256(entries[name]).digest())
    root = Path(tempfile.gettempdir()) / "planner-sweep-files" / digest.hexdigest()[:24]
    target = root / (Path(path).name or "data")
    for name, blob in entries.items():
        file = target / name if name else target
        if file.is_file() and file.stat().st_size == len(blob):
            continue
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
        os.replace(tmp, file)
    return str(target)


def _prepared(job: SweepJob) -> tuple[dict[str, Any], dict[str, str]]:
    found = _PREPARED.get(job.key)
    if found is None:
        local = {path: _materialise(path, entries) for path, entries in job.files.items()}
        found = (_walk_paths(job.scenario_data, lambda v: local.get(v, v)), local)
        _PREPARED.clear()  # one sweep at a time per worker
        _PREPARED[job.key] = found
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
        design = _walk_paths(task.design, lambda v: local.get(v, v))
        scenario = check_point(data, design, task.seed)
        with _timed_kernels(job.measure_kernels) as spent:
            result = run_scenario(scenario, catalog=job.catalog)
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
