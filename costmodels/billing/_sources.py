"""Resolve billing inputs (files, folders, globs, ``s3://`` prefixes, manifests) to local files.

S3 objects are downloaded with boto3 and gzip files are decompressed, both streamed into a
temporary folder that the caller keeps alive as long as its lazy frames; a truncated gzip fails
here, before any frame is built.
"""

from __future__ import annotations

import glob
import gzip
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from costmodels.billing.errors import BillingError, BillingFormatError

DATA_SUFFIXES = (".csv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """One data file to read.

    Attributes
    ----------
    label : str
        The file as the user named it (local path or ``s3://bucket/key``), used in messages.
    local : pathlib.Path
        A readable, uncompressed local copy (the file itself when it is local and plain).
    kind : str
        ``"csv"``, ``"parquet"`` or ``"ndjson"``.
    """

    label: str
    local: Path
    kind: str


@dataclass(frozen=True)
class Skipped:
    """A file seen but not read (not listed by the manifest of its folder)."""

    label: str
    reason: str


def _base_suffix(name: str) -> tuple[str, bool]:
    lowered = name.lower()
    gz = lowered.endswith(".gz")
    if gz:
        lowered = lowered[:-3]
    return PurePosixPath(lowered).suffix, gz


def _is_data_name(name: str) -> bool:
    suffix, _ = _base_suffix(name)
    return suffix in DATA_SUFFIXES and not PurePosixPath(name).name.startswith(".")


def _is_manifest(path: Path) -> dict | None:
    if path.suffix.lower() != ".json" or path.stat().st_size > 50_000_000:
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(1)
            if head != b"{":
                return None
            handle.seek(0)
            doc = json.load(handle)
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and ("reportKeys" in doc or "dataFiles" in doc):
        return doc
    return None


def _redacted(exc: BaseException) -> str:
    """An S3 client error's text without credentials: a hostile or debugging endpoint may echo
    the signed request's headers (key id, session token, signature) in its error."""
    from costmodels.providers.redact import redact

    return redact(str(exc))


class SourceResolver:
    """Turn user inputs into :class:`SourceFile` objects, downloading and decompressing as needed.

    Parameters
    ----------
    workdir : pathlib.Path
        A private temporary folder for downloads and decompressed copies.
    s3_client : boto3 S3 client or None
        Used for ``s3://`` inputs; one is created with default settings when needed.
    """

    def __init__(self, workdir: Path, s3_client=None) -> None:
        self.workdir = workdir
        self._s3 = s3_client
        self.skipped: list[Skipped] = []
        self._counter = 0

    # -- S3 -------------------------------------------------------------------------------
    def _client(self):
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def _download(self, bucket: str, key: str) -> Path:
        target = self.workdir / "s3" / bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._client().download_file(bucket, key, str(target))
        except Exception as exc:  # botocore raises many types; name the object either way
            raise BillingError(f"cannot download s3://{bucket}/{key} ({_redacted(exc)}); check the "
                               "bucket, key and credentials") from exc
        return target

    def _expand_s3(self, uri: str) -> list[tuple[str, Path]]:
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        if not bucket:
            raise BillingError(f"{uri!r} names no bucket; write s3://bucket/prefix")
        keys: list[str] = []
        try:
            paginator = self._client().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except Exception as exc:
            raise BillingError(f"cannot list {uri} ({_redacted(exc)}); check the bucket name, the "
                               "prefix and your AWS credentials") from exc
        if prefix in keys:
            keys = [prefix]
        else:
            keys = [k for k in sorted(keys) if _is_data_name(k)]
        if not keys:
            raise BillingError(f"no billing files under {uri}; check the prefix")
        return [(f"s3://{bucket}/{k}", self._download(bucket, k)) for k in keys]

    # -- local ----------------------------------------------------------------------------
    @staticmethod
    def _expand_local(path: str) -> list[tuple[str, Path]]:
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", path)
        if scheme:
            how = (" (gcloud storage cp -r gs://BUCKET/PREFIX exports/)"
                   if scheme.group(1).lower() == "gs" else "")
            raise BillingError(f"billing file {path}: {scheme.group(1)}:// is not read directly "
                               f"(only s3:// is); copy the export to a local folder first{how} "
                               "and pass that folder")
        if any(ch in path for ch in "*?["):
            found = sorted(glob.glob(path, recursive=True))
            files = [f for f in found if Path(f).is_file()]
            if not files:
                raise BillingError(f"no files match {path!r}; check the pattern")
            return [(f, Path(f)) for f in files]
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and _is_data_name(f.name))
            if not files:
                raise BillingError(f"folder {path} holds no billing files (.csv, .csv.gz, "
                                   ".parquet, .json, .jsonl)")
            return [(str(f), f) for f in files]
        if not p.is_file():
            raise BillingError(f"billing file {path} does not exist; check the path")
        return [(path, p)]

    # -- manifests ------------------------------------------------------------------------
    def _manifest_files(self, label: str, local: Path, doc: dict) -> list[tuple[str, Path]]:
        keys = [str(k) for k in doc.get("reportKeys", [])] + [str(k) for k in doc.get("dataFiles", [])]
        out = []
        for key in keys:
            if label.startswith("s3://"):
                bucket = label[len("s3://"):].split("/", 1)[0]
                uri = key if key.startswith("s3://") else f"s3://{bucket}/{key.lstrip('/')}"
                b, _, k = uri[len("s3://"):].partition("/")
                out.append((uri, self._download(b, k)))
                continue
            name = PurePosixPath(key).name
            candidates = [local.parent / name, *sorted(local.parent.rglob(name))]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise BillingError(f"manifest {label} lists {key} but {name} is not in "
                                   f"{local.parent}; download the missing part")
            out.append((str(found), found))
        return out

    # -- public ---------------------------------------------------------------------------
    def resolve(self, paths: Sequence[str]) -> list[SourceFile]:
        """Expand ``paths`` in order; read manifest-listed files instead of their folder's others."""
        if not paths:
            raise BillingError("no billing inputs given; pass files, folders, globs or s3:// URIs")
        expanded: list[tuple[str, Path]] = []
        for path in paths:
            path = str(path)
            expanded.extend(self._expand_s3(path) if path.startswith("s3://")
                            else self._expand_local(path))
        manifest_lists: dict[str, list[tuple[str, Path]]] = {}
        manifest_dirs: list[Path] = []
        for label, local in expanded:
            doc = _is_manifest(local)
            if doc is not None and label not in manifest_lists:
                manifest_lists[label] = self._manifest_files(label, local, doc)
                manifest_dirs.append(local.parent.resolve())
        listed_paths = {p.resolve() for items in manifest_lists.values() for _, p in items}
        ordered: list[tuple[str, Path]] = []
        seen: set[Path] = set()
        for label, local in expanded:
            items = manifest_lists.get(label)
            if items is None:
                resolved = local.resolve()
                if resolved not in listed_paths and any(d == resolved.parent or d in resolved.parents
                                                        for d in manifest_dirs):
                    self.skipped.append(Skipped(label, "not listed in its folder's manifest"))
                    continue
                items = [(label, local)]
            for item in items:
                resolved = item[1].resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    ordered.append(item)
        return [self._prepare(label, local) for label, local in ordered]

    def _prepare(self, label: str, local: Path) -> SourceFile:
        suffix, gz = _base_suffix(local.name)
        if gz or _magic(local)[:2] == b"\x1f\x8b":
            local = self._gunzip(label, local)
        if suffix in (".parquet", ".pq") or _magic(local) == b"PAR1":
            kind = "parquet"
        elif suffix in (".json", ".jsonl", ".ndjson"):
            kind = "ndjson"
        else:
            kind = "csv"
        return SourceFile(label, local, kind)

    def _gunzip(self, label: str, local: Path) -> Path:
        self._counter += 1
        name = local.name[:-3] if local.name.lower().endswith(".gz") else local.name + ".raw"
        target = self.workdir / "gunzip" / f"{self._counter:05d}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = 0
        try:
            with gzip.open(local, "rb") as src, target.open("wb") as dst:
                while chunk := src.read(_CHUNK):
                    lines += chunk.count(b"\n")
                    dst.write(chunk)
        except (EOFError, OSError, zlib.error) as exc:
            raise BillingFormatError(
                f"{label} is a truncated or corrupt gzip file ({exc}); it broke off after data "
                f"row {max(lines - 1, 0)}; download the file again",
                source_file=label, row=max(lines - 1, 0) + 1) from exc
        return target


def _magic(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4)[:4] if path.stat().st_size >= 4 else b""


# -- the bytes of a CSV file, before polars parses it --------------------------------------

_QUOTE, _COMMA, _NEWLINE, _CR = 34, 44, 10, 13
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class BadBytes:
    """Byte sequences of a text file that are not UTF-8.

    Attributes
    ----------
    count : int
        How many maximal invalid sequences the file holds (each read as one U+FFFD).
    offset : int
        The 0-based byte offset of the first one.
    row : int
        The record it is in (0 = the header row, 1 = the first data row).
    field : int
        Its 0-based field in that record (CSV; 0 for other files).
    example : str
        The text around it, each undecodable sequence read as U+FFFD.
    first_bytes : str
        The first undecodable sequence, as ``\\xNN`` escapes.
    """

    count: int
    offset: int
    row: int
    field: int
    example: str
    first_bytes: str


@dataclass(frozen=True)
class CsvLayout:
    """The records of a CSV file as its bytes delimit them (RFC 4180 quoting).

    Attributes
    ----------
    header : tuple[str, ...]
        The header row's fields, as the file spells them.
    short_rows : tuple[tuple[int, int], ...]
        (data row, fields) of each non-blank row ended by a line break that has fewer fields
        than the header.
    long_row : tuple[int, int] or None
        (data row, fields) of the first row with more fields than the header.
    cut_row : tuple[int, int] or None
        (data row, fields) of the last row when the file is cut off in it: it ends inside a
        quoted field, or the row has fewer fields than the header and no line break ends it.
    cut_in_quotes : bool
        Whether the file ends inside a quoted field.
    bad_bytes : BadBytes or None
        The file's bytes that are not UTF-8, if any.
    """

    header: tuple[str, ...]
    short_rows: tuple[tuple[int, int], ...]
    long_row: tuple[int, int] | None
    cut_row: tuple[int, int] | None
    cut_in_quotes: bool
    bad_bytes: BadBytes | None


def _utf8_cut(buf: bytes) -> int:
    """Return the end of the last complete UTF-8 character of ``buf`` (its length if whole)."""
    for back in range(1, min(4, len(buf)) + 1):
        byte = buf[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead byte
            continue
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(buf) - back if need > back else len(buf)
        return len(buf)
    return len(buf)


class _Utf8Scan:
    """Count the non-UTF-8 sequences of a byte stream fed in chunks (C-speed when clean)."""

    def __init__(self) -> None:
        self.carry = b""
        self.base = 0  # offset of ``carry``'s first byte in the file
        self.count = 0
        self.first: int | None = None
        self.example = ""
        self.first_bytes = ""

    def feed(self, chunk: bytes, final: bool) -> None:
        buf = self.carry + chunk
        cut = len(buf) if final else _utf8_cut(buf)
        part = buf[:cut]
        try:
            part.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = part.decode("utf-8", errors="replace")
            self.count += text.count(_REPLACEMENT) - part.count(_REPLACEMENT.encode())
            if self.first is None:
                self.first = self.base + exc.start
                start = max(part.rfind(b"\n", max(exc.start - 30, 0), exc.start) + 1,
                            exc.start - 30, 0)
                end = part.find(b"\n", exc.end, exc.end + 30)
                around = part[start:end if end >= 0 else exc.end + 30]
                self.example = around.decode("utf-8", errors="replace")
                self.first_bytes = "".join(f"\\x{b:02x}" for b in part[exc.start:exc.end])
        self.base += cut
        self.carry = buf[cut:]


@dataclass
class _CsvState:
    """Where a chunked CSV scan stands between two chunks."""

    offset: int = 0          # bytes scanned before this chunk
    parity: int = 0          # 1 inside a quoted field
    record: int = 0          # the record being read (0 = header)
    separators: int = 0      # separators of that record seen so far
    length: int = 0          # bytes of that record seen so far
    last_byte: int = -1      # the last byte seen
    header_end: int | None = None
    header_fields: int | None = None
    short: list[tuple[int, int]] = field(default_factory=list)
    long_row: tuple[int, int] | None = None
    bad_position: tuple[int, int] | None = None  # (row, field) of the first non-UTF-8 byte


def _separators_per_record(arr, parity: int):
    """Return (record ends, separators per record, the quotes) of one chunk, outside quotes.

    Quoted spans are (opening quote, closing quote) pairs; a span open at the chunk's start
    opens at -1, one still open at its end closes at ``len(arr)``.  Separators are counted per
    record and those inside spans subtracted, which costs O(quotes), not O(bytes), in Python.
    """
    import numpy as np

    quotes = np.flatnonzero(arr == _QUOTE)
    spans = quotes
    if parity:
        spans = np.concatenate(([-1], spans))
    if len(spans) % 2:
        spans = np.concatenate((spans, [len(arr)]))
    ends = np.flatnonzero(arr == _NEWLINE)
    if len(spans):
        ends = ends[np.searchsorted(spans, ends) % 2 == 0]
    seps = np.flatnonzero(arr == _COMMA)
    bounds = np.concatenate(([0], np.searchsorted(seps, ends), [len(seps)]))
    per_record = np.diff(bounds)
    if len(spans):
        opens, closes = spans[0::2], spans[1::2]
        inside = np.searchsorted(seps, closes) - np.searchsorted(seps, opens)
        where = np.searchsorted(ends, opens)
        per_record = per_record - np.bincount(where, weights=inside,
                                              minlength=len(ends) + 1).astype(np.int64)
    return ends, per_record, quotes, spans, seps


def _scan_chunk(state: _CsvState, chunk: bytes, bad_offset: int | None) -> None:
    """Advance ``state`` over ``chunk``: complete records' field counts, header, bad byte."""
    import numpy as np

    arr = np.frombuffer(chunk, dtype=np.uint8)
    ends, per_record, quotes, spans, seps = _separators_per_record(arr, state.parity)
    per_record[0] += state.separators
    if bad_offset is not None and state.bad_position is None:
        local = max(bad_offset - state.offset, 0)
        done = int(np.searchsorted(ends, local))
        start = int(ends[done - 1]) + 1 if done else 0
        candidates = seps[(seps >= start) & (seps < local)]
        outside = np.searchsorted(spans, candidates) % 2 == 0 if len(spans) else candidates >= 0
        state.bad_position = (state.record + done, int(np.count_nonzero(outside))
                              + (state.separators if done == 0 else 0))
    if len(ends):
        fields = per_record[:-1] + 1
        starts = np.concatenate(([0], ends[:-1] + 1))
        lengths = ends - starts
        lengths[0] += state.length
        before = np.concatenate(([state.last_byte], arr[np.maximum(ends - 1, 0)][1:]))
        if ends[0] > 0:
            before[0] = arr[ends[0] - 1]
        blank = (lengths == 0) | ((lengths == 1) & (before == _CR))
        records = state.record + np.arange(len(ends))
        if state.record == 0:
            state.header_end = state.offset + int(ends[0])
            state.header_fields = int(fields[0])
        _note_rows(state, records, fields, blank)
        state.record += len(ends)
        state.separators = int(per_record[-1])
        state.length = len(arr) - int(ends[-1]) - 1
    else:
        state.separators = int(per_record[-1])
        state.length += len(arr)
    state.parity = (state.parity + len(quotes)) % 2
    if len(arr):
        state.last_byte = int(arr[-1])
    state.offset += len(arr)


def _note_rows(state: _CsvState, records, fields, blank) -> None:
    """Record the short rows and the first long row among complete records."""
    import numpy as np

    width = state.header_fields
    if width is None:
        return
    data = (records > 0) & ~blank
    short = np.flatnonzero(data & (fields < width))
    state.short.extend((int(records[i]), int(fields[i])) for i in short)
    if state.long_row is None:
        long = np.flatnonzero(data & (fields > width))
        if len(long):
            state.long_row = (int(records[long[0]]), int(fields[long[0]]))


def _header(path: Path, end: int | None) -> tuple[str, ...]:
    import csv
    import io

    with path.open("rb") as handle:
        head = handle.read(end) if end is not None else handle.read()
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    row = next(csv.reader(io.StringIO(text)), [])
    return tuple(row)


def inspect_csv(path: Path) -> CsvLayout:
    """Read a CSV file's bytes once: its header, rows of the wrong width, a cut, non-UTF-8 bytes.

    Quoting follows RFC 4180 (a quote toggles the quoted state, so ``""`` inside a quoted field
    toggles twice); records end at line breaks outside quotes, and their numbering matches
    polars' row index (blank lines count as rows).  Streams in chunks, so memory stays flat.
    """
    state = _CsvState()
    utf8 = _Utf8Scan()
    with path.open("rb") as handle:
        chunk = handle.read(_CHUNK)
        while chunk:
            following = handle.read(_CHUNK)
            utf8.feed(chunk, final=not following)
            _scan_chunk(state, chunk, utf8.first)
            chunk = following
    cut_row, in_quotes = None, bool(state.parity)
    tail_blank = state.length == 0 or (state.length == 1 and state.last_byte == _CR)
    if state.header_fields is None:  # no line break at all: the header is the whole file
        state.header_fields = state.separators + 1
    elif not tail_blank or in_quotes:
        tail = (state.record, state.separators + 1)
        if in_quotes or tail[1] < state.header_fields:
            cut_row = tail
        elif tail[1] > state.header_fields and state.long_row is None:
            state.long_row = tail
    bad = None
    if utf8.count and utf8.first is not None:
        row, fld = state.bad_position or (state.record, state.separators)
        bad = BadBytes(utf8.count, utf8.first, row, fld, utf8.example, utf8.first_bytes)
    return CsvLayout(_header(path, state.header_end), tuple(state.short), state.long_row,
                     cut_row, in_quotes, bad)


def inspect_text(path: Path) -> BadBytes | None:
    """Return the non-UTF-8 bytes of a text file (JSON lines), with their line as ``row``."""
    utf8 = _Utf8Scan()
    lines = 0
    with path.open("rb") as handle:
        chunk = handle.read(_CHUNK)
        while chunk:
            following = handle.read(_CHUNK)
            known = utf8.first
            utf8.feed(chunk, final=not following)
            if known is None and utf8.first is not None:
                local = max(utf8.first - (utf8.base - len(chunk) + len(utf8.carry)), 0)
                return BadBytes(utf8.count, utf8.first, lines + chunk[:local].count(b"\n") + 1,
                                0, utf8.example, utf8.first_bytes)
            lines += chunk.count(b"\n")
            chunk = following
    return None
