"""Helpers shared by the modules of the input layer (:mod:`planner.inputs`).

Opening a file a scenario points to, reading a CSV as strings with each row's index, naming a
missing column, parsing a number column with the first bad row's line in the message, and
freezing arrays handed to the simulators.  Line numbers count the CSV header as line 1, so the
first data row is line 2 (``frame[ROW] + 2``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from domain.errors import ScenarioError

__all__ = ["ROW", "check_file", "columns_text", "distinct", "numbers", "read_csv", "readonly",
           "require_column"]

ROW = "__row"
"""0-based data-row index added by :func:`read_csv` before any filtering; line = row + 2."""


def readonly(values: np.ndarray) -> np.ndarray:
    """Return ``values`` with writing switched off (inputs are shared by every replication)."""
    values.flags.writeable = False
    return values


def check_file(path: str, *, field_path: str) -> Path:
    """Return ``path`` as a Path when it is a file; otherwise raise a ScenarioError."""
    file = Path(path)
    if not file.is_file():
        where = "is a folder" if file.is_dir() else "not found"
        raise ScenarioError(f"{field_path}: file {where} (got {path}); check the path (a "
                            "relative path is resolved against the scenario file's folder)")
    return file


def read_csv(
    path: str, *, field_path: str, columns: tuple[str, ...] | None = None,
    n_rows: int | None = None,
) -> pl.DataFrame:
    """Read a CSV as strings (types are checked by the caller), with a :data:`ROW` column.

    With ``columns``, only those are read when the header has them (all otherwise, so the
    missing-column error can list what is there); with ``n_rows``, only the first rows.
    """
    file = check_file(path, field_path=field_path)
    try:
        header = pl.read_csv(file, n_rows=0, infer_schema=False).columns
        wanted = list(columns) if columns and set(columns) <= set(header) else None
        frame = pl.read_csv(file, columns=wanted, infer_schema=False, n_rows=n_rows)
    except pl.exceptions.NoDataError:
        raise ScenarioError(f"{field_path}: {path} is empty (got 0 bytes of data); write a "
                            "header line and one row per measurement") from None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(f"{field_path}: cannot read {path} as CSV ({first}); save it as "
                            "comma-separated UTF-8 text with one header line") from None
    return frame.with_row_index(ROW)


def columns_text(frame: pl.DataFrame) -> str:
    """Return the file's column names, comma-separated (without :data:`ROW`)."""
    return ", ".join(c for c in frame.columns if c != ROW)


def require_column(frame: pl.DataFrame, column: str, file: str, field_path: str) -> None:
    """Raise a ScenarioError listing the file's columns when ``column`` is not one of them."""
    if column not in frame.columns:
        raise ScenarioError(f"{field_path}: {file} has no column {column!r} (got {column!r}; "
                            f"columns: {columns_text(frame)}); use one of those columns")


def distinct(column: pl.Series) -> list[str]:
    """Return the distinct non-null values of a column as sorted strings."""
    return sorted(str(v) for v in column.drop_nulls().unique().to_list())


def numbers(
    frame: pl.DataFrame, column: str, file: str, *, field_path: str, positive: bool = False
) -> np.ndarray:
    """Parse a string column as float64, naming the first bad row (line) in the error."""
    text = frame[column].str.strip_chars()
    values = text.cast(pl.Float64, strict=False).to_numpy()
    bad = ~np.isfinite(values)
    if positive:
        bad |= np.isfinite(values) & (values <= 0)
    if not bad.any():
        return values.astype(np.float64)
    i = int(np.flatnonzero(bad)[0])
    line = int(frame[ROW][i]) + 2
    raw = text[i]
    what = "is not a finite number" if not np.isfinite(values[i]) else "must be > 0"
    fix = "write a positive number" if positive else "write a number"
    raise ScenarioError(f"{field_path}: line {line} of {file}, column {column!r}: the value "
                        f"{what} (got {raw!r}); {fix} in every row")
