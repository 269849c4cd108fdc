"""Write the normalised billing frame as a FOCUS 1.3 (default) or 1.2 dataset (Parquet or CSV).

FOCUS columns come first (alphabetical, as in the specification), then the ``x_`` extras.
Date/times are UTC (``YYYY-MM-DDTHH:MM:SSZ`` in CSV).  Where a mandatory column is null the
specification's own fallback is applied:

* ``ListCost`` and ``ContractedCost`` equal ``BilledCost`` when no unit price is known,
  ``EffectiveCost`` equals ``BilledCost``;
* ``ServiceSubcategory`` (mandatory since 1.2) is kept where it is an allowed value of the
  row's ServiceCategory and derived from ServiceCategory and ServiceName otherwise
  (:mod:`costmodels.billing._subcategories`), whatever the source.

The names and descriptions of :data:`ASCII_COLUMNS` are written in ASCII, as the FinOps
Foundation validator checks FOCUS's StringHandling (``ServiceName-C-002-M`` ...): the marks
®, ™, ©, ℠ are dropped ("Red Hat® OpenShift®" -> "Red Hat OpenShift"), accents are taken off
(NFKD, "Zürich" -> "Zurich"), dashes, quotes, spaces and ellipses become their ASCII forms; a
character with no ASCII form (e.g. CJK) is kept rather than lost.  Identifiers, units and codes
are written as the source gives them.

FOCUS 1.3 adds eight columns and keeps 1.2's, ProviderName and PublisherName included
(deprecated; the specification asks data generators to keep them during the transition).
Where the source did not give them (every source but a FOCUS 1.3 file):

* ``ServiceProviderName`` is ``ProviderName`` (the specification's migration mapping);
* ``HostProviderName`` is ``ServiceProviderName`` (the provider hosts its own services and the
  exports name no other host), null on ``Tax`` rows, whose host cannot be determined;
* ``ContractApplied`` is set on the usage rows a commitment discount applies to (a
  ``CommitmentDiscountId``, ``ChargeCategory`` "Usage": the covered and the unused rows): one
  element whose ``ContractId`` and ``ContractCommitmentId`` are the commitment's id,
  ``ContractCommitmentAppliedCost`` the row's EffectiveCost and
  ``ContractCommitmentAppliedQuantity`` / ``Unit`` its CommitmentDiscountQuantity / Unit (both
  null unless both are known); the cost and quantity are rounded to :data:`JSON_DECIMALS`
  places (0.6184, not the float sum's 0.6184000000000001).  Commitment purchases and rows without a commitment get null;
* the allocation columns (``AllocatedMethodId``, ``AllocatedMethodDetails``,
  ``AllocatedResourceId``, ``AllocatedResourceName``, ``AllocatedTags``) are the source's: a
  reader fills them from the source's split cost allocation, else they stay null.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from costmodels.billing._subcategories import with_service_subcategory
from costmodels.billing.errors import BillingError
from costmodels.billing.schema import NORMALISED_SCHEMA, WRITTEN_EXTRA_COLUMNS, focus_columns

FORMATS = ("parquet", "csv")
DEFAULT_VERSION = "1.3"
"""The FOCUS version written unless another is asked for."""

JSON_DECIMALS = 10
"""Decimal places of the amounts written inside JSON columns (ContractApplied)."""

ASCII_COLUMNS: tuple[str, ...] = (
    "BillingAccountName", "ChargeDescription", "CommitmentDiscountName", "InvoiceIssuerName",
    "ProviderName", "PublisherName", "RegionName", "ResourceName", "ServiceName", "SkuMeter",
    "SubAccountName", "AllocatedResourceName", "HostProviderName", "ServiceProviderName")
"""Name and description columns written in ASCII (see the module docstring)."""

_DROPPED_MARKS = "[\u00ae\u2122\u00a9\u2120]"
_ASCII_FORMS = {"[\u2010-\u2015\u2212]": "-", "[\u2018\u2019\u201a\u2032]": "'",
                "[\u201c\u201d\u201e\u2033]": '"', "\u2026": "...",
                "[\u00a0\u2000-\u200a\u202f]": " "}


def _service_provider() -> pl.Expr:
    return pl.coalesce(pl.col("ServiceProviderName"), pl.col("ProviderName"))


def _host_provider() -> pl.Expr:
    not_tax = (pl.col("ChargeCategory") != "Tax").fill_null(True)
    return pl.coalesce(pl.col("HostProviderName"), pl.when(not_tax).then(_service_provider()))


def ascii_text(text: pl.Expr) -> pl.Expr:
    """``text`` in ASCII where it has an ASCII form (see the module docstring)."""
    fixed = text.str.replace_all(_DROPPED_MARKS, "")
    for pattern, replacement in _ASCII_FORMS.items():
        fixed = fixed.str.replace_all(pattern, replacement, literal=False)
    fixed = fixed.str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
    return pl.when(text.str.contains(r"[^\x00-\x7F]")).then(fixed).otherwise(text)


def _contract_applied() -> pl.Expr:
    """ContractApplied of a commitment-covered usage row (JSON object text), else the source's."""
    commitment = pl.col("CommitmentDiscountId")
    quantity, unit = pl.col("CommitmentDiscountQuantity"), pl.col("CommitmentDiscountUnit")
    both = quantity.is_not_null() & unit.is_not_null()
    element = pl.struct(
        commitment.alias("ContractId"),
        commitment.alias("ContractCommitmentId"),
        pl.col("EffectiveCost").round(JSON_DECIMALS).alias("ContractCommitmentAppliedCost"),
        pl.when(both).then(quantity.round(JSON_DECIMALS))
        .alias("ContractCommitmentAppliedQuantity"),
        pl.when(both).then(unit).alias("ContractCommitmentAppliedUnit"),
    ).struct.json_encode()
    covered = commitment.is_not_null() & (pl.col("ChargeCategory") == "Usage").fill_null(False)
    derived = pl.when(covered).then(
        pl.concat_str(pl.lit('{"Elements":['), element, pl.lit("]}")))
    return pl.coalesce(pl.col("ContractApplied"), derived)


def focus_frame(frame: pl.LazyFrame, version: str = DEFAULT_VERSION) -> pl.LazyFrame:
    """Apply FOCUS's null fallbacks to a normalised frame and order its columns for ``version``.

    Parameters
    ----------
    frame : polars.LazyFrame
        A frame with :data:`NORMALISED_SCHEMA` (e.g. ``read_billing(...).frame``).
    version : {"1.3", "1.2"}
        The FOCUS version whose columns the result has.
    """
    columns = focus_columns(version)
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
    out = with_service_subcategory(frame.with_columns(
        pl.col("EffectiveCost").fill_null(billed),
        list_cost.alias("ListCost"),
        contracted.alias("ContractedCost"),
        *[ascii_text(pl.col(name)).alias(name) for name in ASCII_COLUMNS],
    ))
    if version == "1.3":
        out = out.with_columns(
            _service_provider().alias("ServiceProviderName"),
            _host_provider().alias("HostProviderName"),
            _contract_applied().alias("ContractApplied"),
        )
    return out.select([*columns, *WRITTEN_EXTRA_COLUMNS])


def write_focus(frame: pl.LazyFrame, path: str | Path, *, file_format: str | None = None,
                version: str = DEFAULT_VERSION, parts: Sequence[pl.LazyFrame] = ()) -> Path:
    """Write ``frame`` (the normalised schema) as FOCUS 1.3 or 1.2 Parquet or CSV.

    Parameters
    ----------
    frame : polars.LazyFrame
        A frame with :data:`NORMALISED_SCHEMA` (e.g. ``read_billing(...).frame``).
    path : str or pathlib.Path
        The output file; its suffix (``.parquet`` or ``.csv``) picks the format unless
        ``file_format`` is given.
    file_format : {"parquet", "csv"}, optional
    version : {"1.3", "1.2"}
        The FOCUS version to write (default 1.3).
    parts : sequence of polars.LazyFrame, optional
        ``frame`` file by file (:attr:`costmodels.billing.readers.BillingRead.parts`): each is
        streamed to a temporary Parquet part in turn, and each part is appended to ``path`` a
        batch at a time while the next is made, so memory holds one input file's pipeline and
        one batch (polars runs a concatenation of many pipelines side by side).

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    The dataset is written to a hidden temporary file beside ``path``
    (``.<name>.<random>.part``) and renamed onto ``path`` only once complete, so a run that
    fails or is killed leaves the previous file (or none), never a torn one; the temporary file
    is removed on failure (a SIGKILL can leave it behind, hidden, never under ``path``'s name).
    A ``path`` that is a link is followed (the file it names is replaced, the link kept); a pipe
    or a device (``/dev/stdout``) is written directly.
    """
    path = Path(path)
    fmt = file_format or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise BillingError(f"cannot write FOCUS as {fmt!r} ({path}); use a .parquet or .csv "
                           "output file")
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.resolve() if path.is_symlink() else path  # a link keeps pointing at the file
    if target.exists() and not target.is_file():  # a pipe or a device: nothing to rename onto
        _write(frame, target, fmt, version, parts)
        return path
    # created by the writer itself, so it gets the usual permissions (umask), not mkstemp's 0600
    partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        _write(frame, partial, fmt, version, parts)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write(frame: pl.LazyFrame, path: Path, fmt: str, version: str,
           parts: Sequence[pl.LazyFrame]) -> None:
    """Write the FOCUS dataset to ``path`` (in place: :func:`write_focus` renames it after)."""
    if len(parts) > 1:
        with tempfile.TemporaryDirectory(prefix=".focus-parts-", dir=path.parent) as tmp:
            if fmt == "parquet":
                _write_parts(parts, version, Path(tmp), path)
            else:
                files = []
                for i, part in enumerate(parts):
                    files.append(Path(tmp) / f"part-{i:05d}.parquet")
                    focus_frame(part, version).sink_parquet(files[-1], compression="lz4")
                _sink(pl.scan_parquet(files), path, fmt)
        return
    _sink(focus_frame(frame, version), path, fmt)


COPY_BATCH_ROWS = 131_072
"""Rows per batch (and row group) when the Parquet parts are appended to the output."""


class _PartAppender:
    """Append Parquet parts to one file a batch at a time (pyarrow's writer: memory holds one
    batch, where polars' streaming copy of ten 1M-row parts peaked at 2.1-2.6 GB)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = None
        self.schema = None

    def append(self, part: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            self.schema = pq.read_schema(part)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        for batch in pq.ParquetFile(part).iter_batches(batch_size=COPY_BATCH_ROWS):
            if batch.schema != self.schema:
                batch = pa.Table.from_batches([batch]).cast(self.schema).to_batches()[0]
            self.writer.write_batch(batch, row_group_size=COPY_BATCH_ROWS)
        part.unlink()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _write_parts(parts: Sequence[pl.LazyFrame], version: str, tmp: Path, path: Path) -> None:
    """Stream each part to a temporary Parquet file while a thread appends the previous ones
    to ``path`` (both release the GIL, so normalising and writing overlap)."""
    from concurrent.futures import ThreadPoolExecutor

    appender = _PartAppender(path)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="focus-append") as pool:
            pending = []
            for i, part in enumerate(parts):
                file = tmp / f"part-{i:05d}.parquet"
                focus_frame(part, version).sink_parquet(file, compression="lz4")
                pending.append(pool.submit(appender.append, file))
            for done in pending:
                done.result()
    finally:
        appender.close()


def _sink(out: pl.LazyFrame, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        out.sink_parquet(path)
    else:
        out.sink_csv(path, datetime_format="%Y-%m-%dT%H:%M:%SZ", quote_style="non_numeric")
