"""Resolve billing inputs (files, folders, globs, ``s3://`` prefixes, manifests) to local files.

S3 objects are downloaded with boto3 and gzip files are decompressed, both streamed into a
temporary folder that the caller keeps alive as long as its lazy frames; a truncated gzip fails
here, before any frame is built.
"""

from __future__ import annotations

import glob
import gzip
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
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
            raise BillingError(f"cannot download s3://{bucket}/{key} ({exc}); check the "
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
            raise BillingError(f"cannot list {uri} ({exc}); check the bucket name, the prefix "
                               "and your AWS credentials") from exc
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
