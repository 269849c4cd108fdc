"""Read a design's measured service-time table (``service_time: {kind: table}``).

Part of the input layer (:mod:`planner.inputs`); every problem raises
:class:`~domain.errors.ScenarioError` naming the scenario field path, the file, the bad value
(with its line; the CSV header is line 1) and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from domain.errors import ScenarioError
from planner.inputs_common import (
    ROW,
    columns_text,
    distinct,
    numbers,
    read_csv,
    readonly,
    require_column,
)
from planner.schema import TableServiceTime

__all__ = ["ServiceTable", "load_service_table"]


@dataclass(frozen=True, eq=False)
class ServiceTable:
    """A measured per-batch service-time profile for one GPU worker.

    Attributes
    ----------
    batch_sizes : int64[k]
        Measured batch sizes, sorted ascending, unique, all >= 1.
    mean_ms : float64[k]
        Service time of one batch of each size (ms), from the spec's ``column`` (``mean_ms``
        unless the scenario chose another column such as ``p50_ms``).
    p50_ms, p99_ms : float64[k] or None
        The file's median and 99th-percentile batch times (ms) when it has those columns.
    source_path : str
        The CSV file read.
    model : str or None
        The model whose rows were selected, or None when the file was used whole.
    column : str
        The column ``mean_ms`` was read from.

    Notes
    -----
    Between measured sizes the service time is interpolated linearly; a batch smaller than the
    smallest measured size takes that first measurement (clamped, never extrapolated down).
    Batches above the largest measured size are refused when the table is loaded.
    """

    batch_sizes: np.ndarray
    mean_ms: np.ndarray
    p50_ms: np.ndarray | None
    p99_ms: np.ndarray | None
    source_path: str
    model: str | None
    column: str

    def service_time_ms(self, batch_size: np.ndarray | int) -> np.ndarray:
        """Return the interpolated batch service time (ms) for batch sizes (int[n] or int).

        Linear between measured sizes, clamped to the first measurement below the smallest
        measured size; a size above the largest measured one raises ``ValueError``.
        """
        sizes = np.asarray(batch_size, dtype=np.float64)
        if np.any(sizes > self.batch_sizes[-1]):
            raise ValueError(f"batch size above the largest measured size {self.batch_sizes[-1]}")
        return np.interp(sizes, self.batch_sizes.astype(np.float64), self.mean_ms)



def load_service_table(spec: TableServiceTime, *, field_path: str, max_batch: int) -> ServiceTable:
    """Read and check a per-batch-size service-time table.

    Parameters
    ----------
    spec : TableServiceTime
        The scenario's table spec (its ``path`` already resolved by the schema).
    field_path : str
        Where the spec sits in the scenario, e.g. ``designs[0].service_time``; starts messages.
    max_batch : int
        The design's ``batching.max_batch``; it must not exceed the largest measured size.

    Returns
    -------
    ServiceTable

    Raises
    ------
    ScenarioError
        Missing or unreadable file, missing column, no rows for ``model`` (or several models and
        none chosen), a non-numeric, non-finite or non-positive value, a non-integer batch size,
        duplicate batch sizes, or ``max_batch`` above the largest measured batch size.
    """
    frame = read_csv(spec.path, field_path=f"{field_path}.path")
    file = spec.path
    require_column(frame, spec.batch_column, file, f"{field_path}.batch_column")
    require_column(frame, spec.column, file, f"{field_path}.column")
    frame = _select_model(frame, spec, field_path=field_path)
    if frame.height == 0:
        raise ScenarioError(f"{field_path}.path: {file} has no data rows (got only a header); "
                            "add one row per measured batch size")
    rows = frame[ROW].to_numpy()
    batch = numbers(frame, spec.batch_column, file, field_path=f"{field_path}.batch_column")
    fractional = np.flatnonzero((batch != np.round(batch)) | (batch < 1))
    if fractional.size:
        i = fractional[0]
        raise ScenarioError(f"{field_path}.batch_column: line {rows[i] + 2} of {file} has batch "
                            f"size {batch[i]:g} in column {spec.batch_column!r} (got "
                            f"{batch[i]:g}); batch sizes must be whole numbers >= 1")
    mean = numbers(frame, spec.column, file, field_path=f"{field_path}.column", positive=True)
    extras = {}
    for name in ("p50_ms", "p99_ms"):
        if name in frame.columns:
            extras[name] = numbers(frame, name, file, field_path=field_path, positive=True)
    if spec.jitter == "lognormal" and len(extras) < 2:
        raise ScenarioError(f"{field_path}.jitter: lognormal jitter needs p50_ms and p99_ms "
                            f"columns in {file} (got columns: {columns_text(frame)}); add them or "
                            "set jitter: none")

    order = np.argsort(batch, kind="stable")
    batch_sizes = batch[order].astype(np.int64)
    repeated = np.flatnonzero(np.diff(batch_sizes) == 0)
    if repeated.size:
        j = repeated[0]
        lines = f"lines {rows[order[j]] + 2} and {rows[order[j + 1]] + 2}"
        raise ScenarioError(f"{field_path}.path: batch size {batch_sizes[j]} appears twice in "
                            f"{file} ({lines}){_for_model(spec.model)} (got duplicate batch "
                            "sizes); keep one row per batch size")
    largest = int(batch_sizes[-1])
    if max_batch > largest:
        raise ScenarioError(f"{field_path}: max_batch {max_batch} exceeds the largest measured "
                            f"batch size {largest} in {file}{_for_model(spec.model)}; lower "
                            "batching.max_batch or add measurements")
    return ServiceTable(
        batch_sizes=readonly(batch_sizes),
        mean_ms=readonly(mean[order]),
        p50_ms=readonly(extras["p50_ms"][order]) if "p50_ms" in extras else None,
        p99_ms=readonly(extras["p99_ms"][order]) if "p99_ms" in extras else None,
        source_path=file,
        model=spec.model,
        column=spec.column,
    )


def _for_model(model: str | None) -> str:
    return f" for model {model}" if model is not None else ""


def _select_model(frame: pl.DataFrame, spec: TableServiceTime, *, field_path: str) -> pl.DataFrame:
    """Keep the rows of ``spec.model``; without a model, the file must hold at most one."""
    has_column = spec.model_column in frame.columns
    if spec.model is None:
        if not has_column:
            return frame
        models = distinct(frame[spec.model_column])
        if len(models) > 1:
            raise ScenarioError(f"{field_path}.model: {spec.path} holds several models in column "
                                f"{spec.model_column!r} (got none chosen; models: "
                                f"{', '.join(models)}); set model: to one of them")
        return frame
    if not has_column:
        raise ScenarioError(f"{field_path}.model_column: {spec.path} has no column "
                            f"{spec.model_column!r} to select model {spec.model!r} from "
                            f"(columns: {columns_text(frame)}); set model_column or remove model")
    selected = frame.filter(pl.col(spec.model_column) == spec.model)
    if selected.height == 0:
        models = distinct(frame[spec.model_column])
        raise ScenarioError(f"{field_path}.model: no rows for model {spec.model!r} in "
                            f"{spec.path} (got {spec.model!r}; models: {', '.join(models)}); "
                            "use one of those models")
    return selected

