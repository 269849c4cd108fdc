"""Compact reads: sum the rows of a file that normalising cannot tell apart, then normalise.

The monthly review, the effective rates and pricing a scenario from bills need sums over a few
dimensions, not each line item, and a month of a large organisation's CUR has tens of millions
of line items that differ only in their resource and line-item ids.  A compact read groups the
scanned rows by every column the normaliser reads except the *additive* ones (costs and usage
amounts, summed: exactly, as decimals, where the normaliser reads them exactly) and the
*identity* ones (resource ids: dropped, so ``ResourceId`` and the ``Allocated*`` columns are
null), then normalises the groups as if they were rows.  Every normalised figure is linear in the
additive columns, so the sums are the row-by-row read's sums:

* the sign of each additive value (and whether it is a finite number at all) is part of the
  key, so a rule such as "usage hours > 0" or "the cost is missing" sees one kind of value per
  group;
* rows a format marks as its own (AWS commitment fees, whose unused part becomes a row of its
  own) are never grouped;
* ``x_SourceRows`` counts the source rows a group stands for (``x_SourceRow`` is null: a group
  has many rows),
  so row counts and the reconciliation (rows and money in = out + rejected, exactly) are the
  row-by-row read's;
* a file in which the compact read rejects a row, finds a cost that disagrees with its exact
  amount, or cannot read an amount is read again row by row, so every rejected row is listed
  with its own row number (:func:`costmodels.billing.readers.read_billing`).

Only typed files are compacted (Parquet: their amounts are numbers, so no cell can be "not a
number"); a CSV file's every cell is text that is checked row by row.  The oddity checks run on
the groups, counted by the rows they stand for, and the identity columns' own checks (literal
``NULL``) on the rows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from costmodels.billing._common import MONEY_EXACT, ROW, SOURCE_ROWS, Cols, is_stringy

__all__ = ["CompactPlan", "DayPeriod", "compact_rows", "plan_compaction"]

@dataclass(frozen=True)
class DayPeriod:
    """A file's charge period: its start and end columns (``Datetime``; naive ones are UTC)."""

    start: str
    end: str
    time_zone: str | None = None

    def utc(self, name: str) -> pl.Expr:
        """The column as a naive UTC date/time (cheaper to truncate than a zoned one)."""
        if self.time_zone is None:
            return pl.col(name)
        return pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)


_NUMERIC = (pl.Float32, pl.Float64, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16,
            pl.UInt32, pl.UInt64, pl.Decimal)


@dataclass(frozen=True)
class CompactPlan:
    """How one file's rows are grouped: by ``keys``, summing ``additive`` (``exact`` ones as
    decimals), dropping ``identity``."""

    keys: tuple[str, ...]
    additive: tuple[str, ...]
    exact: tuple[str, ...]
    identity: tuple[str, ...]


def _numeric(dtype: pl.DataType) -> bool:
    return not is_stringy(dtype) and isinstance(dtype, _NUMERIC)


def plan_compaction(cols: Cols, additive: Collection[str],
                    identity: Collection[str]) -> CompactPlan | None:
    """The grouping of a file whose normaliser has read ``cols.used``; None when the file
    cannot be compacted (an amount column the normaliser reads holds text)."""
    used = cols.used - {ROW}
    summed = sorted(c for c in used if c in additive)
    if any(not _numeric(cols.schema[c]) for c in summed):
        return None
    dropped = sorted(c for c in used if c in identity)
    keys = sorted(used - set(summed) - set(dropped))
    exact = tuple(c for c in summed if c in cols.exact_used)
    return CompactPlan(tuple(keys), tuple(summed), exact, tuple(dropped))


MAX_GROUP_SHARE = 0.5
"""A file is compacted only when its groups are at most this share of its rows; otherwise the
grouping costs more than it saves and the file is read row by row."""


def compact_rows(raw: pl.LazyFrame, plan: CompactPlan, *, own_row: pl.Expr | None = None,
                 period: DayPeriod | None = None) -> pl.LazyFrame | None:
    """``raw`` grouped by ``plan`` and collected: the keys, each amount summed and
    :data:`SOURCE_ROWS` the group's row count, in key order; None when the groups are more than
    :data:`MAX_GROUP_SHARE` of the rows.

    ``own_row`` marks rows that stay rows of their own, after the groups, with their ``ROW``
    (a group's ``ROW`` is null: its rows are many).  ``period``: charges within one UTC day
    are grouped by that day, their start the group's earliest and their end its latest (every
    other charge keeps its own start and end).
    """
    signs, nulls = [], []
    for i, name in enumerate(plan.additive):
        value = pl.col(name).cast(pl.Float64, strict=False)
        signs.append(pl.when(value.is_finite()).then(value.sign()).cast(pl.Int8)
                     .alias(f"_sign{i}"))
        nulls.append(pl.when(pl.col(f"_sign{i}").is_not_null()).then(pl.col(name)).alias(name))
    keys, extra, times = list(plan.keys), [], []
    if period is not None:
        keys = [k for k in keys if k not in (period.start, period.end)]
        start, end = period.utc(period.start), period.utc(period.end)
        day = start.dt.truncate("1d")
        within = ((end >= start) & (end <= day + pl.duration(days=1))).fill_null(False)
        extra = [pl.when(within).then(day).alias("_day"),
                 pl.when(~within).then(pl.col(period.start)).alias("_start"),
                 pl.when(~within).then(pl.col(period.end)).alias("_end")]
        times = [pl.col(period.start).min(), pl.col(period.end).max()]
    by = [*keys, *signs, *extra]
    own = own_row.fill_null(False) if own_row is not None else None
    if own is not None and raw.filter(own).select(pl.len()).collect().item() == 0:
        own = None  # most files have none: one scan, no split
    amounts = [pl.col(c).cast(MONEY_EXACT, strict=False) if c in plan.exact
               else pl.col(c).cast(pl.Float64, strict=False) for c in plan.additive]
    names = [b if isinstance(b, str) else b.meta.output_name() for b in by]
    grouped = (raw.filter(~own) if own is not None else raw).group_by(by)
    grouped = (grouped.agg(*[a.sum() for a in amounts], *times,
                           pl.len().cast(pl.Int64).alias(SOURCE_ROWS))
               .with_columns(nulls).sort(names, nulls_last=True)
               .drop(names[len(keys):]).with_columns(pl.lit(None, pl.Int64).alias(ROW)))
    if own is not None:
        singles = raw.filter(own).select(
            *keys, *amounts, *([pl.col(period.start), pl.col(period.end)] if period else []),
            pl.lit(1, pl.Int64).alias(SOURCE_ROWS), pl.col(ROW).cast(pl.Int64))
        grouped = pl.concat([grouped, singles], how="diagonal")
    small = grouped.collect(engine="streaming")
    n_rows = int(small[SOURCE_ROWS].sum() or 0)
    if small.height > MAX_GROUP_SHARE * max(n_rows, 1):
        return None
    return small.lazy()
