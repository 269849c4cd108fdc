"""Read billing exports (AWS CUR, GCP billing export, FOCUS) into the normalised FOCUS 1.2 frame.

:func:`read_billing` detects each file's format from its header, builds a lazy polars plan that
maps it onto :data:`costmodels.billing.schema.NORMALISED_SCHEMA`, and reconciles every file on the
way: rows and money in (the source's own cost column, summed exactly) against rows and money out
plus rows rejected, per billing period.  A row with a bad value is rejected with its reason and
row number, never dropped silently; a malformed file raises :class:`BillingFormatError`.

Money is summed exactly: each amount is the source's own text read as a decimal (no float
sums), so a 1e15 row next to many 0.01 rows reconciles to the cent.  A rejected row whose amount
cannot be read (``abc``, ``1,234.50``: thousands separators are not read, the text is shown; a
row with fewer fields than the header) makes the reconciliation *incomplete* rather than
claiming 0.00.  A CSV file's bytes are checked first (:func:`inspect_csv`): duplicate column
names, a row with more fields than the header and a file cut off in its last row are errors;
bytes that are not UTF-8 are read as U+FFFD and reported as an oddity with their offset.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
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
    SHORT_ROW_REASON,
    SOURCE_ROWS,
    Oddity,
    PeriodReconciliation,
    Prepared,
    Reconciliation,
    RejectedRow,
    amount_hint,
)
from costmodels.billing._focus import detect_focus, prepare_focus
from costmodels.billing._gcp import detect_gcp, prepare_gcp
from costmodels.billing._sources import (
    BadBytes,
    CsvLayout,
    SourceFile,
    SourceResolver,
    inspect_csv,
    inspect_text,
)
from costmodels.billing.errors import BillingError, BillingFormatError
from costmodels.billing.schema import NORMALISED_SCHEMA

__all__ = [
    "BillingError", "BillingFormatError", "BillingRead", "Oddity", "PeriodReconciliation",
    "Reconciliation", "RejectedRow", "read_billing",
]

MAX_REJECTED_LISTED = 10_000
"""Rejected rows listed one by one per file; beyond this only their counts are kept."""

UNKNOWN_EXAMPLES = 3
"""Unknown amounts quoted per file and billing period."""

FLOAT_TOLERANCE_ABS = 1e-6
FLOAT_TOLERANCE_REL = 1e-12
"""How far a normalised (Float64) BilledCost may sit from its exact source amount."""


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
    parts: tuple[pl.LazyFrame, ...] = ()
    """``frame`` file by file (each file's accepted rows and the rows they imply), for writers
    that stream one file at a time (:func:`costmodels.billing.focus_writer.write_focus`)."""


def read_billing(paths: Sequence[str], *, s3_client=None, strict: bool = False,
                 compact: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> BillingRead:
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
    compact : bool
        Sum the rows that normalising cannot tell apart before normalising them
        (:mod:`costmodels.billing._compact`: AWS CUR Parquet files): every sum, row count and
        the reconciliation are the row-by-row read's, per-resource columns (``ResourceId``,
        ``Allocated*``) are null and ``x_SourceRows`` counts the rows each row stands for.  For
        the review, the rates and pricing, not for writing FOCUS files.
    progress : callable, optional
        Called with ``(files read, files)`` before the first file and after each.

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
    if progress is not None:
        progress(0, len(files))
    for i, (source, (prepared, result)) in enumerate(
            zip(files, _read_each(files, compact), strict=True)):
        if progress is not None:
            progress(i + 1, len(files))
        formats[source.label] = prepared.format_name
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
        accepted = prepared.frame.filter(pl.col(REJECT_REASON).is_null())
        part = accepted.select(list(NORMALISED_SCHEMA))
        derived = getattr(prepared, "derived", None)
        if derived is not None:  # rows accepted source rows imply (AWS unused commitment)
            part = pl.concat([part, derived], how="vertical")
        frames.append(part)
    frame = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    return BillingRead(frame, Reconciliation(tuple(periods), tuple(rejected), rejected_counts),
                       oddities, [f.label for f in files], latest, formats, workdir,
                       parts=tuple(frames))


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


def _check_layout(label: str, layout: CsvLayout) -> None:
    """Raise for what makes a CSV file unreadable as a table: duplicate names, cut, long rows."""
    header, width = layout.header, len(layout.header)
    dupes = [name for i, name in enumerate(header) if name in header[:i]]
    if dupes:
        name = dupes[0]
        where = ", ".join(str(i + 1) for i, h in enumerate(header) if h == name)
        others = sorted(set(dupes) - {name})
        also = f"; also duplicated: {', '.join(others)}" if others else ""
        raise BillingFormatError(
            f"{label}: column {name} appears {header.count(name)} times in the header (fields "
            f"{where}){also}; every column needs its own name: rename or drop the duplicate",
            source_file=label, column=name, row=0)
    if layout.cut_row is not None:
        row, fields = layout.cut_row
        column = header[min(fields, width) - 1] if width else None
        what = (f"it ends inside the quoted field {column} (field {fields} of {width})"
                if layout.cut_in_quotes else
                f"it has {fields} of {width} fields and no line break ends it (from column "
                f"{column} on, missing or cut short)")
        raise BillingFormatError(
            f"{label}: the file is cut off in row {row}: {what}; download the file again",
            source_file=label, column=column, row=row)
    if layout.long_row is not None:
        row, fields = layout.long_row
        raise BillingFormatError(
            f"{label}: row {row} has {fields} fields but the header has {width}; a value holds "
            "an unquoted comma or the header lost a column: quote the value or fix the header",
            source_file=label, row=row)


def _bad_bytes_oddity(label: str, bad: BadBytes, header: tuple[str, ...]) -> Oddity:
    column = header[bad.field] if bad.row > 0 and bad.field < len(header) else None
    where = f"row {bad.row}" + (f", column {column}" if column else "") if bad.row else "header row"
    return Oddity("invalid_utf8", label, column, bad.count, bad.example,
                  f"{bad.count} byte sequence(s) that are not UTF-8, the first ({bad.first_bytes}) "
                  f"at byte {bad.offset} ({where}); each read as U+FFFD (\ufffd); re-export the "
                  "file as UTF-8")


def _reject_short_rows(frame: pl.LazyFrame, layout: CsvLayout) -> pl.LazyFrame:
    """Reject the rows with fewer fields than the header (their reason overrides any other).

    Their fields may have shifted, so their amount is unknown: ``MONEY_IN`` is set to null.
    """
    width = len(layout.header)
    short = pl.LazyFrame({
        "x_SourceRow": [row for row, _ in layout.short_rows],
        "_short_column": [layout.header[min(n, width - 1)] for _, n in layout.short_rows],
        "_short_value": [f"{n} of {width} fields" for _, n in layout.short_rows],
    }, schema={"x_SourceRow": NORMALISED_SCHEMA["x_SourceRow"], "_short_column": pl.String,
               "_short_value": pl.String})
    is_short = pl.col("_short_value").is_not_null()
    return (frame.join(short, on="x_SourceRow", how="left", maintain_order="left")
            .with_columns(pl.when(is_short).then(pl.lit(SHORT_ROW_REASON))
                          .otherwise(pl.col(REJECT_REASON)).alias(REJECT_REASON),
                          pl.when(is_short).then(pl.col("_short_column"))
                          .otherwise(pl.col(REJECT_COLUMN)).alias(REJECT_COLUMN),
                          pl.when(is_short).then(pl.col("_short_value"))
                          .otherwise(pl.col(REJECT_VALUE)).alias(REJECT_VALUE),
                          pl.when(~is_short).then(pl.col(MONEY_IN)).alias(MONEY_IN))
            .drop("_short_column", "_short_value"))


def _read_one(source: SourceFile, compact: bool):
    """Prepare and reconcile one file; a compact read whose file needs its rows listed is read
    again row by row."""
    prepared = _prepare(source, compact)
    if prepared.compact:  # small: normalise once for the reconciliation and every reader
        prepared.frame = prepared.frame.collect().lazy()
        if getattr(prepared, "derived", None) is not None:
            prepared.derived = prepared.derived.collect().lazy()
    result = _reconcile(prepared)
    if prepared.compact and _needs_rows(result[0]):  # list each rejected row by its number
        prepared = _prepare(source, False)
        result = _reconcile(prepared)
    return prepared, result


def _read_each(files: list[SourceFile], compact: bool):
    """Yield ``(prepared, reconciliation)`` per file, in order, one file at a time (grouping
    two at once saved 0.1 s of 4 on a 10M-row CUR but raised the peak from 0.9 to 1.3 GB)."""
    for source in files:
        yield _read_one(source, compact)


def _needs_rows(periods: list[PeriodReconciliation]) -> bool:
    """Whether a compact read found what only a row-by-row read can list row by row."""
    return any(p.rows_rejected or p.rows_mismatched or p.amounts_unknown for p in periods)


def _prepare(source: SourceFile, compact: bool = False) -> Prepared:
    layout = None
    if source.kind == "csv":
        layout = inspect_csv(source.local)
        _check_layout(source.label, layout)
    elif source.kind == "ndjson" and (bad := inspect_text(source.local)) is not None:
        raise BillingFormatError(
            f"{source.label}: {bad.count} byte sequence(s) that are not UTF-8, the first "
            f"({bad.first_bytes}) at byte {bad.offset} (line {bad.row}: {bad.example!r}); JSON "
            "must be UTF-8: re-export the file as UTF-8", source_file=source.label, row=bad.row)
    prepared = _prepare_format(source, compact and source.kind == "parquet")
    if layout is not None and layout.bad_bytes is not None:
        prepared.oddities.append(_bad_bytes_oddity(source.label, layout.bad_bytes, layout.header))
    if layout is not None and layout.short_rows:
        prepared.frame = _reject_short_rows(prepared.frame, layout)
    return prepared


def _prepare_format(source: SourceFile, compact: bool) -> Prepared:
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
        prepared = prepare_aws(source.label, raw, schema, shape, compact=compact)
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


def money_columns(money_basis: str) -> list[str]:
    """The source columns a ``money_basis`` names (``"cost + credits (net cost)"`` -> both)."""
    names = money_basis.split(" (", 1)[0]
    return [name.strip() for name in names.split(" + ") if name.strip()]


def _amount_unknown(p: Prepared) -> pl.Expr:
    """True for a rejected row whose amount cannot be read.

    That is a row with fewer fields than the header, or one rejected for a present value of a
    money column (or whose amount is null while a present value was rejected: the amount rules
    come first, so an empty amount reads "missing", with no value).
    """
    rejected = pl.col(REJECT_REASON).is_not_null()
    bad_money = (pl.col(REJECT_COLUMN).is_in(money_columns(p.money_basis))
                 | pl.col(MONEY_IN).is_null())
    return (rejected & ((pl.col(REJECT_REASON) == SHORT_ROW_REASON)
                        | (pl.col(REJECT_VALUE).is_not_null() & bad_money))).fill_null(False)


def _unknown_examples(rows: list | None, reasons: list | None, values: list | None) -> tuple[
        str, ...]:
    """``row 7 'abc'`` or ``row 6 (9 of 15 fields)`` for each unknown amount quoted."""
    out = []
    for row, reason, value in zip(rows or [], reasons or [], values or [], strict=True):
        if reason == SHORT_ROW_REASON:
            out.append(f"row {row} ({value})")
        else:
            out.append(f"row {row} {value!r}{amount_hint(value)}")
    return tuple(out)


def _reconcile(p: Prepared):
    """Collect the per-period stats, rejected rows and oddity counts of one prepared file."""
    accepted = pl.col(REJECT_REASON).is_null()
    money_in = pl.col(MONEY_IN).fill_null(0)
    unknown = pl.col("_unknown")
    source_float = pl.col(MONEY_IN).cast(pl.Float64)
    mismatch = accepted & ((pl.col("BilledCost") - source_float).abs()
                           > FLOAT_TOLERANCE_ABS + FLOAT_TOLERANCE_REL * source_float.abs()
                           ).fill_null(True)
    n_rows = pl.col("x_SourceRows")
    stats_q = (p.frame.with_columns(_amount_unknown(p).alias("_unknown"))
               .group_by("BillingPeriodStart").agg(
        n_rows.sum().alias("rows_in"),
        money_in.sum().alias("money_in"),
        n_rows.filter(accepted).sum().alias("rows_out"),
        money_in.filter(accepted).sum().alias("money_out"),
        n_rows.filter(~accepted).sum().alias("rows_rejected"),
        money_in.filter(~accepted).sum().alias("money_rejected"),
        n_rows.filter(unknown).sum().alias("amounts_unknown"),
        *[pl.col(c).filter(unknown).head(UNKNOWN_EXAMPLES).alias(f"_u{c}")
          for c in ("x_SourceRow", REJECT_REASON, REJECT_VALUE)],
        n_rows.filter(mismatch).sum().alias("rows_mismatched"),
        pl.col("x_SourceRow").filter(mismatch).first().alias("first_mismatch_row"),
        pl.col("ChargePeriodEnd").filter(accepted).max().alias("latest"),
    ).sort("BillingPeriodStart", nulls_last=True))
    rejected_q = (p.frame.filter(~accepted)
                  .select("x_SourceRow", REJECT_REASON, REJECT_COLUMN, REJECT_VALUE)
                  .head(MAX_REJECTED_LISTED))
    counts_q = (p.frame.filter(~accepted).group_by(REJECT_REASON)
                .agg(n_rows.sum().alias("len")))
    weight = pl.col(SOURCE_ROWS) if p.compact else None
    rows_q = p.raw.select((pl.len() if weight is None else weight.sum()).alias("n"))
    all_q = (p.unfiltered if p.unfiltered is not None else p.raw).select(pl.len().alias("n"))
    if weight is not None:
        all_q = rows_q
    odd_q = _oddity_query(p.raw, p.checks, weight)
    row_odd_q = _oddity_query(p.rows, p.row_checks, None) if p.rows is not None else odd_q
    try:
        stats, rejected, counts, rows, odd, all_rows, row_odd = pl.collect_all(
            [stats_q, rejected_q, counts_q, rows_q, odd_q, all_q, row_odd_q],
            engine="streaming")
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
            _exact(r["money_in"]), r["rows_out"], _exact(r["money_out"]), r["rows_rejected"],
            _exact(r["money_rejected"]), int(r["amounts_unknown"]),
            _unknown_examples(r["_ux_SourceRow"], r[f"_u{REJECT_REASON}"],
                              r[f"_u{REJECT_VALUE}"]), int(r["rows_mismatched"]),
            r["first_mismatch_row"])
        for r in stats.iter_rows(named=True)]
    rejected_rows = [RejectedRow(p.source_file, r["x_SourceRow"], r[REJECT_COLUMN], r[REJECT_VALUE],
                                 r[REJECT_REASON]) for r in rejected.iter_rows(named=True)]
    reason_counts = {r[REJECT_REASON]: r["len"] for r in counts.iter_rows(named=True)}
    oddities = _oddities(p.source_file, p.checks, odd)
    if p.rows is not None:
        oddities += _oddities(p.source_file, p.row_checks, row_odd)
    blank = all_rows["n"][0] - rows["n"][0]
    if blank:
        oddities.append(Oddity("blank_rows", p.source_file, None, int(blank), None,
                               "blank lines (every field empty) skipped; they are not rows"))
    latest = stats["latest"].max()
    return periods, rejected_rows, reason_counts, oddities, latest


def _oddity_query(frame: pl.LazyFrame, checks: list, weight: pl.Expr | None) -> pl.LazyFrame:
    """Each check's count (rows, or ``weight``: the rows a compact read's group stands for)
    and first offending value, as one row ``n0, e0, n1, e1, ...``."""
    exprs = []
    for i, check in enumerate(checks):
        hit = check.condition.fill_null(False)
        exprs.append((hit.sum() if weight is None else weight.filter(hit).sum()).alias(f"n{i}"))
        exprs.append(check.value.cast(pl.String).filter(hit).first().alias(f"e{i}"))
    return frame.select(exprs) if exprs else pl.LazyFrame({"_": [0]})


def _oddities(label: str, checks: list, counts: pl.DataFrame) -> list[Oddity]:
    """The checks that found something, as oddities."""
    out = []
    for i, check in enumerate(checks):
        n = counts[f"n{i}"][0]
        if n:
            out.append(Oddity(check.kind, label, check.column, int(n), counts[f"e{i}"][0],
                              check.message))
    return out


def _exact(value: object) -> Decimal:
    """A polars Decimal sum as an exact ``Decimal`` (0 for an empty group)."""
    return Decimal(0) if value is None else Decimal(str(value))
