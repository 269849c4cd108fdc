"""Write the normalised billing frame as a FOCUS 1.2 dataset (Parquet or CSV).

FOCUS columns come first (alphabetical, as in the specification), then the ``x_`` extras.
Date/times are UTC (``YYYY-MM-DDTHH:MM:SSZ`` in CSV).  Where a mandatory cost column is null the
specification's own fallback is applied (``ListCost`` and ``ContractedCost`` equal to
``BilledCost`` when no unit price is known, ``EffectiveCost`` equal to ``BilledCost``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from costmodels.billing.errors import BillingError
from costmodels.billing.schema import EXTRA_COLUMNS, FOCUS_COLUMNS, NORMALISED_SCHEMA

FORMATS = ("parquet", "csv")


def focus_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Apply FOCUS 1.2's null fallbacks to a normalised frame and order its columns."""
    missing = [name for name in NORMALISED_SCHEMA if name not in frame.collect_schema()]
    if missing:
        raise BillingError(f"frame lacks normalised columns {missing}; pass the frame of "
                           "costmodels.billing.readers.read_billing")
    billed = pl.col("BilledCost")
    list_cost = pl.coalesce(pl.col("ListCost"),
                            pl.when(pl.col("ListUnitPrice").is_null()).then(billed))
    contracted = pl.coalesce(
        pl.col("ContractedCost"),
        pl.when(pl.col("ContractedUnitPrice").is_null()).then(list_cost))
    return frame.with_columns(
        pl.col("EffectiveCost").fill_null(billed),
        list_cost.alias("ListCost"),
        contracted.alias("ContractedCost"),
    ).select([*FOCUS_COLUMNS, *EXTRA_COLUMNS])


def write_focus(frame: pl.LazyFrame, path: str | Path, *, file_format: str | None = None) -> Path:
    """Write ``frame`` (the normalised schema) as FOCUS 1.2 Parquet or CSV.

    Parameters
    ----------
    frame : polars.LazyFrame
        A frame with :data:`NORMALISED_SCHEMA` (e.g. ``read_billing(...).frame``).
    path : str or pathlib.Path
        The output file; its suffix (``.parquet`` or ``.csv``) picks the format unless
        ``file_format`` is given.
    file_format : {"parquet", "csv"}, optional

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    fmt = file_format or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise BillingError(f"cannot write FOCUS as {fmt!r} ({path}); use a .parquet or .csv "
                           "output file")
    out = focus_frame(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        out.sink_parquet(path)
    else:
        out.sink_csv(path, datetime_format="%Y-%m-%dT%H:%M:%SZ", quote_style="non_numeric")
    return path
