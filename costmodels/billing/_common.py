"""Shared pieces of the billing readers: typed column access, parsing, rejection and oddity rules,
and the reconciliation records (:class:`Reconciliation`) with their wording.

Every reader scans a file with all CSV cells as strings (Parquet and JSON keep their types),
then builds polars expressions through :class:`Cols`, which knows each column's source dtype and
original spelling.  Nothing here collects data.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import polars as pl

from costmodels.billing.errors import BillingFormatError
from costmodels.billing.schema import NORMALISED_SCHEMA, UTC_TIME

NULL_TOKENS = ("null",)
"""Cell values (compared case-insensitively) that stand for a missing value in real exports."""

MONEY_IN = "_money_in"
REJECT_REASON = "_reject_reason"
REJECT_COLUMN = "_reject_column"
REJECT_VALUE = "_reject_value"
ROW = "__row"
"""Internal 1-based row index; becomes ``x_SourceRow``."""
SOURCE_ROWS = "_source_rows"
"""A compact read's count of the source rows each aggregated row sums; becomes ``x_SourceRows``."""
INTERNAL_COLUMNS = (MONEY_IN, REJECT_REASON, REJECT_COLUMN, REJECT_VALUE)

MONEY_EXACT = pl.Decimal(38, 12)
"""Exact type of the reconciliation's "money in" (the source's own cost column)."""


@dataclass(frozen=True)
class Oddity:
    """Something odd in a source file that was read anyway.

    Attributes
    ----------
    kind : str
        A stable key, e.g. ``"null_literal"``, ``"wrong_case_enum"``, ``"short_account_id"``,
        ``"mixed_time_zones"``, ``"extra_columns"``.
    source_file : str
        The file it was seen in.
    column : str or None
        The column, as the file spells it (``None`` for file-level oddities).
    count : int
        How many cells (or columns, for column-level oddities) are affected.
    example : str or None
        One affected value (or column name).
    message : str
        What was seen and what the reader did about it.
    """

    kind: str
    source_file: str
    column: str | None
    count: int
    example: str | None
    message: str


@dataclass(frozen=True)
class OddityCheck:
    """A row-level oddity rule, evaluated on the raw (uncleaned) frame of one file."""

    kind: str
    column: str
    condition: pl.Expr
    value: pl.Expr
    message: str


@dataclass
class Prepared:
    """One file, ready to reconcile: the normalised frame plus internal columns and checks.

    ``frame`` holds :data:`NORMALISED_SCHEMA` followed by :data:`INTERNAL_COLUMNS`;
    ``raw`` is the file as scanned (with ``x_SourceRow``), used for the oddity checks.  A
    compact read (:mod:`costmodels.billing._compact`) sets ``rows``: ``raw`` is then the
    grouped rows (with :data:`SOURCE_ROWS`), ``rows`` the file's rows and ``row_checks`` the
    checks of the columns the groups dropped, evaluated on ``rows``.
    """

    source_file: str
    format_name: str
    money_basis: str
    raw: pl.LazyFrame
    frame: pl.LazyFrame
    checks: list[OddityCheck] = field(default_factory=list)
    oddities: list[Oddity] = field(default_factory=list)
    unfiltered: pl.LazyFrame | None = None
    rows: pl.LazyFrame | None = None
    row_checks: list[OddityCheck] = field(default_factory=list)

    @property
    def compact(self) -> bool:
        """Whether ``raw`` and ``frame`` are grouped rows (a compact read)."""
        return self.rows is not None


def is_stringy(dtype: pl.DataType) -> bool:
    """Whether a source column holds text (CSV cells, string Parquet columns)."""
    return dtype == pl.String or dtype == pl.Categorical


class Cols:
    """Typed access to the columns of one scanned file.

    Parameters
    ----------
    schema : dict[str, polars.DataType]
        The scanned file's columns under their canonical names.
    original : dict[str, str]
        Canonical name -> the name as the file spells it (for messages).
    """

    def __init__(self, schema: dict[str, pl.DataType], original: dict[str, str]) -> None:
        self.schema = schema
        self.original = original
        self.used: set[str] = set()
        """The columns the expressions built so far read (a compact read groups by them)."""
        self.exact_used: set[str] = set()
        """The columns read as exact decimals (a compact read sums them exactly)."""

    def col(self, name: str) -> pl.Expr:
        """The column as the file holds it, recorded as read."""
        self.used.add(name)
        return pl.col(name)

    def has(self, name: str) -> bool:
        """Whether the file has the column ``name``."""
        return name in self.schema

    def label(self, name: str) -> str:
        """The column as the file spells it."""
        return self.original.get(name, name)

    def text(self, name: str) -> pl.Expr:
        """The column as a string (null when absent)."""
        if name not in self.schema:
            return pl.lit(None, pl.String)
        if is_stringy(self.schema[name]):
            return self.col(name).cast(pl.String)
        return self.col(name).cast(pl.String, strict=False)

    def money(self, name: str) -> pl.Expr:
        """The column as Float64 (null when absent, empty or unparseable)."""
        if name not in self.schema:
            return pl.lit(None, pl.Float64)
        if is_stringy(self.schema[name]):
            value = self.col(name).str.strip_chars().cast(pl.Float64, strict=False)
        else:
            value = self.col(name).cast(pl.Float64, strict=False)
        return pl.when(value.is_finite()).then(value)

    def exact(self, name: str) -> pl.Expr:
        """The column as an exact decimal (for reconciliation; null when unparseable)."""
        if name not in self.schema:
            return pl.lit(None, MONEY_EXACT)
        self.exact_used.add(name)
        if is_stringy(self.schema[name]):
            return self.col(name).str.strip_chars().cast(MONEY_EXACT, strict=False)
        return self.col(name).cast(MONEY_EXACT, strict=False)

    def bad_number(self, name: str) -> pl.Expr:
        """True where a value is present but is not a number."""
        if name not in self.schema or not is_stringy(self.schema[name]):
            return pl.lit(False)
        return self.col(name).is_not_null() & self.money(name).is_null()

    def time(self, name: str) -> pl.Expr:
        """The column as ``Datetime("us", "UTC")``; strings without a zone are read as UTC."""
        if name not in self.schema:
            return pl.lit(None, UTC_TIME)
        dtype = self.schema[name]
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                return self.col(name).dt.cast_time_unit("us").dt.replace_time_zone("UTC")
            return self.col(name).dt.cast_time_unit("us").dt.convert_time_zone("UTC")
        if dtype == pl.Date:
            return self.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return parse_utc(self.text(name))

    def bad_time(self, name: str) -> pl.Expr:
        """True where a value is present but is not a date/time."""
        if name not in self.schema:
            return pl.lit(False)
        return self.text(name).is_not_null() & self.time(name).is_null()

    def account_id(self, name: str) -> pl.Expr:
        """An account id as a string; all-digit ids shorter than 12 are left-padded with zeros."""
        value = self.text(name).str.strip_chars()
        return pl.when(value.str.contains(r"^\d{1,11}$")).then(value.str.zfill(12)).otherwise(value)


def parse_utc(text: pl.Expr) -> pl.Expr:
    """Parse ISO 8601 strings (``Z``, ``+hh:mm``, no zone = UTC, date only) to UTC datetimes."""
    norm = text.str.strip_chars().str.replace(" ", "T")
    norm = pl.when(norm.str.len_chars() == 10).then(norm + "T00:00:00").otherwise(norm)
    norm = norm.str.replace(r"[zZ]$", "+00:00").str.replace(r"([+-]\d\d)(\d\d)$", "$1:$2")
    norm = pl.when(norm.str.contains(r"[+-]\d\d:\d\d$")).then(norm).otherwise(norm + "+00:00")
    return norm.str.strptime(UTC_TIME, "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False)


def json_fragment(key: str, value: pl.Expr) -> pl.Expr:
    """``"key": "value"`` as JSON text, or null when ``value`` is null."""
    encoded = pl.struct(value.cast(pl.String).alias(key)).struct.json_encode()
    return pl.when(value.is_not_null()).then(encoded.str.slice(1, encoded.str.len_chars() - 2))


def json_object(fragments: Sequence[pl.Expr]) -> pl.Expr:
    """Join ``json_fragment`` expressions into a JSON object string (null when all are null)."""
    if not fragments:
        return pl.lit(None, pl.String)
    joined = pl.concat_list(list(fragments)).list.drop_nulls().list.join(",")
    return pl.when(joined.str.len_chars() > 0).then("{" + joined + "}")


def missing_column(label: str, column: str, what: str, fix: str) -> BillingFormatError:
    """Return the error for a required ``column`` missing from the header row of ``label``.

    ``what`` names it in the message (``"FOCUS column BilledCost"``); ``fix`` says what to do.
    """
    return BillingFormatError(f"{label}: required {what} is missing (header row); {fix}",
                              source_file=label, column=column, row=0)


def reject_rules(rules: Sequence[tuple[pl.Expr, str, str, pl.Expr]]) -> list[pl.Expr]:
    """Build the reason, column and value of the first broken rule of each row.

    Parameters
    ----------
    rules : sequence of (condition, reason, column label, offending value)
        Checked in order; the first true condition rejects the row.
    """
    if not rules:
        none = pl.lit(None, pl.String)
        return [none.alias(REJECT_REASON), none.alias(REJECT_COLUMN), none.alias(REJECT_VALUE)]
    reason = pl.when(rules[0][0]).then(pl.lit(rules[0][1]))
    column = pl.when(rules[0][0]).then(pl.lit(rules[0][2]))
    value = pl.when(rules[0][0]).then(rules[0][3].cast(pl.String))
    for cond, why, col, val in rules[1:]:
        reason = reason.when(cond).then(pl.lit(why))
        column = column.when(cond).then(pl.lit(col))
        value = value.when(cond).then(val.cast(pl.String))
    return [reason.alias(REJECT_REASON), column.alias(REJECT_COLUMN), value.alias(REJECT_VALUE)]


def finish(frame: pl.LazyFrame, exprs: dict[str, pl.Expr]) -> pl.LazyFrame:
    """Select the normalised columns (missing ones null) and internal columns, typed and ordered."""
    out = []
    if "x_SourceRows" not in exprs:
        compact = SOURCE_ROWS in frame.collect_schema()
        exprs = {**exprs, "x_SourceRows": pl.col(SOURCE_ROWS) if compact else pl.lit(1)}
    for name, dtype in NORMALISED_SCHEMA.items():
        expr = exprs.get(name, pl.lit(None))
        out.append(expr.cast(dtype).alias(name))
    for name in INTERNAL_COLUMNS:
        out.append(exprs[name].alias(name) if name in exprs else pl.col(name))
    return frame.select(out)


_NULL_LITERAL = (r"(?i)^\s*(?:" + "|".join(re.escape(t) for t in NULL_TOKENS)
                 + r")\s*$")


def is_null_literal(expr: pl.Expr) -> pl.Expr:
    """Whether a string cell is a literal null token (:data:`NULL_TOKENS`, any case, spaces
    around): one anchored regex, no lowered copy of every cell (3x faster on 10M rows)."""
    return expr.str.contains(_NULL_LITERAL)


def null_literal_checks(schema: dict[str, pl.DataType], original: dict[str, str],
                        columns: Sequence[str] | None = None) -> list[OddityCheck]:
    """One check per string column: cells holding a literal ``NULL`` (any case)."""
    checks = []
    for name in columns if columns is not None else schema:
        if name not in schema or not is_stringy(schema[name]):
            continue
        cond = is_null_literal(pl.col(name))
        checks.append(OddityCheck(
            "null_literal", original.get(name, name), cond, pl.col(name),
            "literal null text read as a missing value"))
    return checks


def clean_nulls(frame: pl.LazyFrame, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    """Turn literal ``NULL`` cells (any case) of string columns into nulls."""
    exprs = []
    for name, dtype in schema.items():
        if is_stringy(dtype) and name != ROW:
            exprs.append(pl.when(is_null_literal(pl.col(name))).then(None)
                         .otherwise(pl.col(name)).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def time_zone_checks(cols: Cols, names: Sequence[str]) -> list[OddityCheck]:
    """Checks for date/time strings with a non-UTC offset or no zone at all."""
    checks = []
    for name in names:
        if not cols.has(name) or not is_stringy(cols.schema[name]):
            continue
        text = pl.col(name).str.strip_chars()
        has_zone = text.str.contains(r"([zZ]|[+-]\d\d:?\d\d)$")
        utc = text.str.contains(r"([zZ]|[+-]00:?00)$")
        date_only = text.str.len_chars() == 10
        checks.append(OddityCheck(
            "non_utc_offset", cols.label(name), text.is_not_null() & has_zone & ~utc,
            pl.col(name), "date/time with a non-UTC offset, converted to UTC"))
        checks.append(OddityCheck(
            "no_time_zone", cols.label(name), text.is_not_null() & ~has_zone & ~date_only,
            pl.col(name), "date/time without a time zone, read as UTC"))
    return checks


def short_account_checks(cols: Cols, names: Sequence[str]) -> tuple[list[OddityCheck], list[str]]:
    """Checks for all-digit account ids shorter than 12 digits; numeric id columns by name."""
    checks, numeric = [], []
    for name in names:
        if not cols.has(name):
            continue
        if not is_stringy(cols.schema[name]):
            numeric.append(name)
        text = cols.text(name).str.strip_chars()
        checks.append(OddityCheck(
            "short_account_id", cols.label(name), text.str.contains(r"^\d{1,11}$").fill_null(False),
            text, "account id shorter than 12 digits (leading zeros lost upstream); "
                  "left-padded with zeros to 12 digits"))
    return checks, numeric


@functools.lru_cache(maxsize=1)
def gpu_table() -> pl.DataFrame:
    """Instance type -> GPU model and count, from the built-in price catalog (one row per key)."""
    from costmodels.catalog import load_snapshot

    frame = load_snapshot().frame
    return (frame.select("provider", "instance_type", "gpu_model", "gpus")
            .unique(subset=["provider", "instance_type"], keep="first", maintain_order=True))


def join_gpus(frame: pl.LazyFrame, provider: str | None, instance_col: str) -> pl.LazyFrame:
    """Left-join ``_cat_gpu_model`` and ``_cat_gpus`` on an instance-type column."""
    table = gpu_table()
    if provider is not None:
        table = table.filter(pl.col("provider") == provider)
    table = (table.unique(subset=["instance_type"], keep="first", maintain_order=True)
             .select(pl.col("instance_type").alias("_cat_key"),
                     pl.col("gpu_model").alias("_cat_gpu_model"),
                     pl.col("gpus").alias("_cat_gpus")))
    key = pl.col(instance_col).str.strip_prefix("ml.")
    # a lookup, not a join: each output column stays prunable and rows keep their order
    keys = table["_cat_key"].to_list()
    return frame.with_columns(
        key.replace_strict(keys, table["_cat_gpu_model"].to_list(), default=None,
                           return_dtype=table.schema["_cat_gpu_model"]).alias("_cat_gpu_model"),
        key.replace_strict(keys, table["_cat_gpus"].to_list(), default=None,
                           return_dtype=table.schema["_cat_gpus"]).alias("_cat_gpus"))


SERVICE_SUBCATEGORY_DEFAULT = "Other ({})"


def to_json_text(value: object) -> str:
    """Compact JSON text (for examples in messages)."""
    return json.dumps(value, separators=(",", ":"), default=str)


# -- the reconciliation of a read --------------------------------------------------------

SHORT_ROW_REASON = "row has fewer fields than the header (a field is missing or cut off)"
"""The reason of a CSV row with fewer fields than the header; its amount is unknown."""

_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")


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

    Every amount is the source's own text read as an exact decimal (``money_basis``, the cost
    column(s) as the file spells them).  ``money_in`` sums the amounts that could be read,
    ``money_out`` those of the normalised rows, ``money_rejected`` those of the rejected rows.
    ``amounts_unknown`` counts rejected rows whose amount could not be read (not a number, or a
    row with fewer fields than the header); ``unknown_examples`` quotes a few.
    ``rows_mismatched`` counts normalised rows whose Float64 ``BilledCost`` is not their source
    amount (to Float64 precision): the conversion lost money.
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
    amounts_unknown: int = 0
    unknown_examples: tuple[str, ...] = ()
    rows_mismatched: int = 0
    first_mismatch_row: int | None = None

    @property
    def balanced(self) -> bool:
        """Rows in = out + rejected, and the known money in = out + rejected, exactly."""
        return (self.rows_in == self.rows_out + self.rows_rejected
                and self.money_in == self.money_out + self.money_rejected
                and self.rows_mismatched == 0)

    @property
    def complete(self) -> bool:
        """Whether every amount could be read (no rejected row's amount is unknown)."""
        return self.amounts_unknown == 0

    @property
    def verdict(self) -> str:
        """``balanced``, ``INCOMPLETE`` (balanced, some amounts unknown) or ``NOT BALANCED``."""
        return verdict(self.balanced, self.complete)


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
    def amounts_unknown(self) -> int:
        """Rejected rows whose amount could not be read."""
        return sum(p.amounts_unknown for p in self.periods)

    @property
    def rows_mismatched(self) -> int:
        """Normalised rows whose BilledCost is not their source amount."""
        return sum(p.rows_mismatched for p in self.periods)

    @property
    def balanced(self) -> bool:
        """Whether every file and period balances (rows and the known money, exactly)."""
        return all(p.balanced for p in self.periods)

    @property
    def complete(self) -> bool:
        """Whether every amount could be read."""
        return all(p.complete for p in self.periods)

    @property
    def verdict(self) -> str:
        """``balanced``, ``INCOMPLETE`` (balanced, some amounts unknown) or ``NOT BALANCED``."""
        return verdict(self.balanced, self.complete)

    def summary_lines(self) -> list[str]:
        """Human-readable lines: one per file and period, then the rejections by reason."""
        lines = []
        for p in self.periods:
            month = p.billing_period_start.strftime("%Y-%m") if p.billing_period_start else "?"
            lines.append(
                f"{p.source_file} [{month}] rows {p.rows_in} in = {p.rows_out} out + "
                f"{p.rows_rejected} rejected; {p.money_basis}: "
                f"{money_text(p.money_in, p.amounts_unknown, rows=p.rows_in)} in = "
                f"{p.money_out:.2f} out + "
                f"{money_text(p.money_rejected, p.amounts_unknown, rows=p.rows_rejected)} "
                f"rejected ({period_verdict_text(p)})")
        for (source, reason), n in sorted(self.rejected_counts.items()):
            example = next((r for r in self.rejected
                            if r.source_file == source and r.reason == reason), None)
            where = f", e.g. {rejected_example(example)}" if example else ""
            lines.append(f"rejected {n} row(s) of {source}: {reason}{where}")
        return lines


def verdict(balanced: bool, complete: bool) -> str:
    """The reconciliation's one-word verdict."""
    if not balanced:
        return "NOT BALANCED"
    return "balanced" if complete else "INCOMPLETE"


def money_text(known: Decimal, unknown: int, *, rows: int | None = None,
               spec: str = ".2f") -> str:
    """An exact total (format ``spec``), ``+ ?`` when some amounts are unknown, ``?`` when all
    ``rows`` are."""
    if not unknown:
        return format(known, spec)
    if rows is not None and rows == unknown and known == 0:
        return "?"
    return f"{format(known, spec)} + ?"


def period_verdict_text(p: PeriodReconciliation) -> str:
    """The verdict with what makes a period incomplete or unbalanced."""
    notes = []
    if p.rows_mismatched:
        notes.append(f"{p.rows_mismatched} normalised row(s) whose BilledCost is not the source "
                     f"amount, e.g. row {p.first_mismatch_row}")
    if p.amounts_unknown:
        shown = "; ".join(p.unknown_examples)
        more = p.amounts_unknown - len(p.unknown_examples)
        notes.append(f"{p.amounts_unknown} rejected amount(s) unknown: {shown}"
                     + (f" and {more} more" if more > 0 else ""))
    return p.verdict + (": " + "; ".join(notes) if notes else "")


def amount_hint(value: str | None) -> str:
    """A hint for an amount that was not read: thousands separators are not."""
    if value is not None and _THOUSANDS.match(value.strip()):
        plain = value.strip().replace(",", "")
        return f" (thousands separators are not read; write {plain})"
    return ""


def rejected_example(row: RejectedRow) -> str:
    """One rejected row as a message fragment: row, column, value (and a hint)."""
    if row.reason == SHORT_ROW_REASON:
        return f"row {row.row}: {row.value} (from column {row.column} on, no field)"
    return (f"row {row.row} column {row.column} value {row.value!r}"
            f"{amount_hint(row.value)}")
