"""Read billing exports (AWS CUR, GCP billing export, FOCUS) into the normalised FOCUS 1.2 frame.

:func:`read_billing` detects each file's format from its header, builds a lazy polars plan that
maps it onto :data:`costmodels.billing.schema.NORMALISED_SCHEMA`, and reconciles every file on the
way: rows and money in (the source's own cost column, summed exactly) against rows and money out
plus rows rejected, per billing period.  A row with a bad value is rejected with its reason and
row number, never dropped silently; a malformed file raises :class:`BillingFormatError`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from costmodels.billing._aws import detect_shape as detect_aws
from costmodels.billing._aws import prepare_aws
from costmodels.billing._common import (
    MONEY_IN,
    REJECT_COLUMN,
    REJECT_REASON,
    REJECT_VALUE,
    ROW,
    Oddity,
    Prepared,
)
from costmodels.billing._focus import detect_focus, prepare_focus
from costmodels.billing._gcp import detect_gcp, prepare_gcp
from costmodels.billing._sources import SourceFile, SourceResolver
from costmodels.billing.errors import BillingError, BillingFormatError
from costmodels.billing.schema import NORMALISED_SCHEMA

__all__ = [
    "BillingError", "BillingFormatError", "BillingRead", "Oddity", "PeriodReconciliation",
    "Reconciliation", "RejectedRow", "read_billing",
]

MAX_REJECTED_LISTED = 10_000
"""Rejected rows listed one by one per file; beyond this only their counts are kept."""

_CENT = Decimal("0.005")


@dataclass(frozen=True)
class RejectedRow:
    """One source row that was not normalised, and why."""

    source_file: str
    row: int
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True)
class PeriodReconciliation:
    """Rows and money of one source file in one billing period.

    ``money_in`` is the exact sum of the source's own cost column (``money_basis``);
    ``money_out`` the sum of ``BilledCost`` of the normalised rows; ``money_rejected`` the
    source cost of the rejected rows (a cost that is not a number counts as 0).
    """

    source_file: str
    billing_period_start: datetime | None
    money_basis: str
    rows_in: int
    money_in: Decimal
    rows_out: int
    money_out: Decimal
    rows_rejected: int
    money_rejected: Decimal

    @property
    def balanced(self) -> bool:
        """Rows in = out + rejected, and money in = out + rejected to the cent."""
        return (self.rows_in == self.rows_out + self.rows_rejected
                and abs(self.money_in - self.money_out - self.money_rejected) < _CENT)


@dataclass(frozen=True)
class Reconciliation:
    """The reconciliation of one :func:`read_billing` call."""

    periods: tuple[PeriodReconciliation, ...]
    rejected: tuple[RejectedRow, ...]
    rejected_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """(source file, reason) -> number of rows rejected for it (complete, even past the list)."""

    @property
    def rows_in(self) -> int:
        """Rows read from all files."""
        return sum(p.rows_in for p in self.periods)

    @property
    def rows_out(self) -> int:
        """Rows in the normalised frame."""
        return sum(p.rows_out for p in self.periods)

    @property
    def rows_rejected(self) -> int:
        """Rows rejected."""
        return sum(p.rows_rejected for p in self.periods)

    @property
    def money_in(self) -> Decimal:
        """Sum of the sources' own cost columns."""
        return sum((p.money_in for p in self.periods), Decimal(0))

    @property
    def money_out(self) -> Decimal:
        """Sum of BilledCost in the normalised frame."""
        return sum((p.money_out for p in self.periods), Decimal(0))

    @property
    def money_rejected(self) -> Decimal:
        """Source cost of the rejected rows."""
        return sum((p.money_rejected for p in self.periods), Decimal(0))

    @property
    def balanced(self) -> bool:
        """Whether every file and period balances (rows exactly, money to the cent)."""
        return all(p.balanced for p in self.periods)

    def summary_lines(self) -> list[str]:
        """Human-readable lines: one per file and period, then the rejections by reason."""
        lines = []
        for p in self.periods:
            month = p.billing_period_start.strftime("%Y-%m") if p.billing_period_start else "?"
            lines.append(
                f"{p.source_file} [{month}] rows {p.rows_in} in = {p.rows_out} out + "
                f"{p.rows_rejected} rejected; {p.money_basis}: {p.money_in:.2f} in = "
                f"{p.money_out:.2f} out + {p.money_rejected:.2f} rejected "
                f"{'(balanced)' if p.balanced else '(NOT BALANCED)'}")
        for (source, reason), n in sorted(self.rejected_counts.items()):
            example = next((r for r in self.rejected
                            if r.source_file == source and r.reason == reason), None)
            where = (f", e.g. row {example.row} column {example.column} value {example.value!r}"
                     if example else "")
            lines.append(f"rejected {n} row(s) of {source}: {reason}{where}")
        return lines


@dataclass(frozen=True)
class BillingRead:
    """The result of :func:`read_billing`.

    Attributes
    ----------
    frame : polars.LazyFrame
        Normalised rows, exactly :data:`NORMALISED_SCHEMA` (columns, order, dtypes).
    reconciliation : Reconciliation
        Rows and money in/out/rejected per file and billing period.
    oddities : list[Oddity]
        Everything odd that was read anyway, with counts and an example.
    sources : list[str]
        The files read, in order (local paths or ``s3://`` URIs).
    latest_charge_period_end : datetime or None
        The latest ``ChargePeriodEnd`` among the normalised rows (data freshness).
    formats : dict[str, str]
        File -> detected format (``aws-cur-csv``, ``aws-cur-athena``, ``aws-cur2``,
        ``gcp-standard``, ``gcp-detailed``,
        ``focus-1.0``, ``focus-1.1``, ``focus-1.2``).
    """

    frame: pl.LazyFrame
    reconciliation: Reconciliation
    oddities: list[Oddity]
    sources: list[str]
    latest_charge_period_end: datetime | None
    formats: dict[str, str] = field(default_factory=dict)
    _workdir: object = field(default=None, repr=False, compare=False)


def read_billing(paths: Sequence[str], *, s3_client=None, strict: bool = False) -> BillingRead:
    """Read billing exports and normalise them to the FOCUS 1.2 frame, reconciled.

    Parameters
    ----------
    paths : sequence of str
        Files (``.csv``, ``.csv.gz``, ``.parquet``, ``.json``/``.jsonl``), folders, globs,
        CUR manifest JSON files, or ``s3://bucket/prefix`` URIs.
    s3_client : boto3 S3 client, optional
        Used for ``s3://`` inputs (default: ``boto3.client("s3")``).
    strict : bool
        Raise :class:`BillingFormatError` on the first rejected row instead of rejecting it.

    Returns
    -------
    BillingRead
        A lazy normalised frame plus its reconciliation and oddities.  Downloaded and
        decompressed copies live in a temporary folder held by the result.

    Raises
    ------
    BillingError
        An input is missing or unreachable.
    BillingFormatError
        A file is truncated, of unknown format, lacks a required column, or (``strict``) has a
        bad row; the message names the file, column and row.
    """
    workdir = tempfile.TemporaryDirectory(prefix="planner-billing-")
    resolver = SourceResolver(Path(workdir.name), s3_client)
    files = resolver.resolve(list(paths))
    periods: list[PeriodReconciliation] = []
    rejected: list[RejectedRow] = []
    rejected_counts: dict[tuple[str, str], int] = {}
    oddities: list[Oddity] = [Oddity("unlisted_file", s.label, None, 1, s.label, s.reason)
                              for s in resolver.skipped]
    frames: list[pl.LazyFrame] = []
    formats: dict[str, str] = {}
    latest: datetime | None = None
    for source in files:
        prepared = _prepare(source)
        formats[source.label] = prepared.format_name
        result = _reconcile(prepared)
        periods.extend(result[0])
        rejected.extend(result[1])
        for reason, n in result[2].items():
            rejected_counts[(source.label, reason)] = n
        oddities.extend(prepared.oddities)
        oddities.extend(result[3])
        if result[4] is not None and (latest is None or result[4] > latest):
            latest = result[4]
        if strict and result[1]:
            bad = result[1][0]
            raise BillingFormatError(
                f"{bad.source_file}: row {bad.row}, column {bad.column}: {bad.reason} "
                f"(value {bad.value!r}); fix the row or read without --strict to reject it",
                source_file=bad.source_file, column=bad.column, row=bad.row)
        frames.append(prepared.frame.filter(pl.col(REJECT_REASON).is_null())
                      .select(list(NORMALISED_SCHEMA)))
    frame = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    return BillingRead(frame, Reconciliation(tuple(periods), tuple(rejected), rejected_counts),
                       oddities, [f.label for f in files], latest, formats, workdir)


def _scan(source: SourceFile) -> pl.LazyFrame:
    try:
        if source.kind == "parquet":
            lf = pl.scan_parquet(source.local, row_index_name=ROW, row_index_offset=1)
        elif source.kind == "ndjson":
            lf = pl.scan_ndjson(source.local, row_index_name=ROW, row_index_offset=1,
                                infer_schema_length=10_000)
        else:
            lf = pl.scan_csv(source.local, infer_schema=False, row_index_name=ROW,
                             row_index_offset=1, encoding="utf8-lossy")
        lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise BillingFormatError(f"{source.label} cannot be read as {source.kind} ({exc}); "
                                 "check that the file is complete", source_file=source.label,
                                 row=0) from exc
    return lf


def _prepare(source: SourceFile) -> Prepared:
    raw = _scan(source)
    schema = dict(raw.collect_schema())
    columns = [c for c in schema if c != ROW]
    if not columns:
        raise BillingFormatError(f"{source.label} is empty (no header row)",
                                 source_file=source.label, row=0)
    unfiltered = raw
    if source.kind == "csv":
        raw = raw.filter(pl.any_horizontal(pl.exclude(ROW).is_not_null()))
    prepared = None
    shape = detect_aws(columns)
    if shape is not None:
        prepared = prepare_aws(source.label, raw, schema, shape)
    elif (version := detect_focus(columns)) is not None:
        prepared = prepare_focus(source.label, raw, schema, version)
    elif (gcp_shape := detect_gcp(columns)) is not None:
        prepared = prepare_gcp(source.label, raw, schema, gcp_shape)
    if prepared is not None:
        prepared.unfiltered = unfiltered if source.kind == "csv" else None
        return prepared
    shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
    raise BillingFormatError(
        f"{source.label}: unknown billing format (header: {shown}); expected an AWS CUR "
        "(lineItem/UnblendedCost or line_item_unblended_cost), a GCP billing export (cost, "
        "billing_account_id, invoice.month) or a FOCUS file (BilledCost, ChargePeriodStart)",
        source_file=source.label, row=0)


def _reconcile(p: Prepared):
    """Collect the per-period stats, rejected rows and oddity counts of one prepared file."""
    accepted = pl.col(REJECT_REASON).is_null()
    money_in = pl.col(MONEY_IN).fill_null(0)
    stats_q = (p.frame.group_by("BillingPeriodStart").agg(
        pl.len().alias("rows_in"),
        money_in.sum().alias("money_in"),
        accepted.sum().alias("rows_out"),
        pl.col("BilledCost").filter(accepted).sum().alias("money_out"),
        (~accepted).sum().alias("rows_rejected"),
        money_in.filter(~accepted).sum().alias("money_rejected"),
        pl.col("ChargePeriodEnd").filter(accepted).max().alias("latest"),
    ).sort("BillingPeriodStart", nulls_last=True))
    rejected_q = (p.frame.filter(~accepted)
                  .select("x_SourceRow", REJECT_REASON, REJECT_COLUMN, REJECT_VALUE)
                  .head(MAX_REJECTED_LISTED))
    counts_q = p.frame.filter(~accepted).group_by(REJECT_REASON).len()
    rows_q = p.raw.select(pl.len().alias("n"))
    all_q = (p.unfiltered if p.unfiltered is not None else p.raw).select(pl.len().alias("n"))
    odd_exprs = []
    for i, check in enumerate(p.checks):
        odd_exprs.append(check.condition.fill_null(False).sum().alias(f"n{i}"))
        odd_exprs.append(check.value.cast(pl.String).filter(check.condition.fill_null(False))
                         .first().alias(f"e{i}"))
    odd_q = p.raw.select(odd_exprs) if odd_exprs else pl.LazyFrame({"_": [0]})
    try:
        stats, rejected, counts, rows, odd, all_rows = pl.collect_all(
            [stats_q, rejected_q, counts_q, rows_q, odd_q, all_q])
    except pl.exceptions.PolarsError as exc:
        raise BillingFormatError(
            f"{p.source_file} is malformed ({str(exc).splitlines()[0]}); check that the file is "
            "complete and that every row has as many fields as the header",
            source_file=p.source_file) from exc
    if rows["n"][0] != stats["rows_in"].sum():
        raise BillingError(f"internal error: {p.source_file} has {rows['n'][0]} rows but "
                           f"normalising produced {stats['rows_in'].sum()}; please report it")
    periods = [
        PeriodReconciliation(
            p.source_file, r["BillingPeriodStart"], p.money_basis, r["rows_in"],
            Decimal(str(r["money_in"] or 0)), r["rows_out"],
            Decimal(repr(float(r["money_out"] or 0.0))), r["rows_rejected"],
            Decimal(str(r["money_rejected"] or 0)))
        for r in stats.iter_rows(named=True)]
    rejected_rows = [RejectedRow(p.source_file, r["x_SourceRow"], r[REJECT_COLUMN], r[REJECT_VALUE],
                                 r[REJECT_REASON]) for r in rejected.iter_rows(named=True)]
    reason_counts = {r[REJECT_REASON]: r["len"] for r in counts.iter_rows(named=True)}
    oddities = []
    for i, check in enumerate(p.checks):
        n = odd[f"n{i}"][0]
        if n:
            oddities.append(Oddity(check.kind, p.source_file, check.column, int(n),
                                   odd[f"e{i}"][0], check.message))
    blank = all_rows["n"][0] - rows["n"][0]
    if blank:
        oddities.append(Oddity("blank_rows", p.source_file, None, int(blank), None,
                               "blank lines (every field empty) skipped; they are not rows"))
    latest = stats["latest"].max()
    return periods, rejected_rows, reason_counts, oddities, latest
