"""A local cache of fetched price catalogs, one Parquet file per provider and fetch.

``planner prices refresh`` fetches a provider's list prices (e.g. with
:func:`costmodels.providers.aws.fetch_aws_catalog`) and :func:`write_cache` stores them as
``<cache_dir>/<provider>-<fetched_at:%Y%m%dT%H%M%SZ>.parquet``.

File layout: the columns of :data:`costmodels.catalog.CATALOG_SCHEMA` plus three constant
bookkeeping columns, ``cache_provider``, ``cache_label`` (the fetched catalog's label, e.g.
``"AWS Pricing API"``) and ``cache_fetched_at`` (ISO UTC time of the fetch, e.g.
``"2026-11-26T10:00:00Z"``); the catalog's ``as_of`` is recomputed from the rows' ``as_of``
column.  A file is written to a hidden temporary file in the same folder and renamed into place,
so readers never see a half-written cache.

:func:`load_newest` takes the newest file of each provider and lays it over the built-in
snapshot: a cached (provider, region, instance_type) row replaces the snapshot's, and every other
snapshot row is kept.  The label says which parts come from where, e.g.
``"cache (aws fetched 2026-11-26T10:00Z) + built-in snapshot (gcp)"``.
:func:`default_catalog` is what scenarios and ``prices list`` use: the newest cache merged with
the snapshot, else the snapshot alone.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from costmodels.catalog import (
    CATALOG_SCHEMA,
    OPTIONAL_COLUMNS,
    PROVIDERS,
    SNAPSHOT_LABEL,
    PriceCatalog,
    load_snapshot,
)
from domain.errors import CatalogError

CACHE_ENV = "PLANNER_PRICE_CACHE"
"""Environment variable naming the cache folder (overrides the XDG default)."""

FILENAME_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_FILE_RE = re.compile(r"^(?P<provider>[a-z0-9]+)-(?P<stamp>\d{8}T\d{6}Z)\.parquet$")
_META_COLUMNS = ("cache_provider", "cache_label", "cache_fetched_at")
_KEY = ("provider", "region", "instance_type")


@dataclass(frozen=True)
class CacheEntry:
    """One cache file read back.

    Attributes
    ----------
    path : Path
        The Parquet file.
    provider : str
        ``aws`` or ``gcp``.
    fetched_at : datetime.datetime
        When the prices were fetched (UTC, whole seconds).
    catalog : PriceCatalog
        The fetched catalog with its original label (e.g. ``"AWS Pricing API"``) and ``as_of``.
    """

    path: Path
    provider: str
    fetched_at: dt.datetime
    catalog: PriceCatalog


def default_cache_dir() -> Path:
    """Return ``$PLANNER_PRICE_CACHE``, else ``$XDG_CACHE_HOME/gpu-planner/prices``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "gpu-planner" / "prices"


def _utc(moment: dt.datetime | None) -> dt.datetime:
    moment = moment or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_cache(
    catalog: PriceCatalog,
    provider: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    fetched_at: dt.datetime | None = None,
) -> Path:
    """Store a fetched catalog as ``<provider>-<fetched_at>.parquet`` in the cache folder.

    Parameters
    ----------
    catalog : PriceCatalog
        Rows of one provider (at least one row).
    provider : str
        ``aws`` or ``gcp``; every row must belong to it.
    cache_dir : path, optional
        Folder to write in (created when absent); :func:`default_cache_dir` by default.
    fetched_at : datetime, optional
        Fetch time (naive means UTC); now by default.  Stored to the second.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    CatalogError
        Unknown provider, empty catalog, rows of another provider, or an unwritable folder.
    """
    if provider not in PROVIDERS:
        raise CatalogError(f"cannot cache provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    if catalog.frame.height == 0:
        raise CatalogError(f"catalog {catalog.label!r} has no rows; nothing to cache")
    others = sorted(set(catalog.frame["provider"].to_list()) - {provider})
    if others:
        raise CatalogError(
            f"catalog {catalog.label!r} has rows of provider(s) {others} but is cached as "
            f"{provider!r}; cache each provider's rows separately"
        )
    moment = _utc(fetched_at)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / f"{provider}-{moment.strftime(FILENAME_TIME_FORMAT)}.parquet"
    frame = catalog.frame.with_columns(
        pl.lit(provider).alias("cache_provider"),
        pl.lit(catalog.label).alias("cache_label"),
        pl.lit(_iso(moment)).alias("cache_fetched_at"),
    )
    tmp_name = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        frame.write_parquet(tmp_name)
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise CatalogError(
            f"cannot write the price cache {target} ({exc.strerror or exc}); choose a writable "
            f"folder with --cache-dir or ${CACHE_ENV}"
        ) from exc
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
    return target


def read_cache_file(path: str | os.PathLike[str]) -> CacheEntry:
    """Read one cache file back.

    Raises
    ------
    CatalogError
        If the file cannot be read or is not a valid cache file; the message names the file and
        says to delete it or run ``planner prices refresh`` again.
    """
    path = Path(path)
    fix = f"delete {path} or run 'planner prices refresh' again"
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several exception types for a damaged file
        raise CatalogError(f"price cache file {path} is unreadable ({exc}); {fix}") from exc
    missing = [c for c in (*CATALOG_SCHEMA, *_META_COLUMNS)
               if c not in frame.columns and c not in OPTIONAL_COLUMNS]
    if missing or frame.height == 0:
        what = f"lacks columns {missing}" if missing else "has no rows"
        raise CatalogError(f"price cache file {path} {what}; {fix}")
    meta = {c: frame[c].unique().to_list() for c in _META_COLUMNS}
    if any(len(v) != 1 or v[0] is None for v in meta.values()):
        raise CatalogError(f"price cache file {path} has inconsistent cache columns; {fix}")
    provider, label, fetched = (meta[c][0] for c in _META_COLUMNS)
    try:
        fetched_at = dt.datetime.strptime(fetched, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise CatalogError(f"price cache file {path} has fetch time {fetched!r}; {fix}") from exc
    try:
        catalog = PriceCatalog.from_frame(frame, label=label)
    except CatalogError as exc:
        raise CatalogError(f"price cache file {path} is invalid: {exc}; {fix}") from exc
    return CacheEntry(path=path, provider=provider, fetched_at=fetched_at, catalog=catalog)


def newest_entries(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, CacheEntry]:
    """Return the newest cache file of each provider, read, keyed by provider.

    Only files named ``<provider>-<YYYYmmddTHHMMSSZ>.parquet`` for a known provider count
    (temporary and foreign files are ignored).  A missing folder is an empty cache.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not folder.is_dir():
        return {}
    newest: dict[str, tuple[str, Path]] = {}
    for path in folder.iterdir():
        match = _FILE_RE.match(path.name)
        if not match or match["provider"] not in PROVIDERS or not path.is_file():
            continue
        provider, stamp = match["provider"], match["stamp"]
        if provider not in newest or stamp > newest[provider][0]:
            newest[provider] = (stamp, path)
    return {provider: read_cache_file(path) for provider, (_, path) in sorted(newest.items())}


def load_newest(cache_dir: str | os.PathLike[str] | None = None) -> PriceCatalog | None:
    """Merge the newest cache file of each provider over the built-in snapshot.

    A cached (provider, region, instance_type) row replaces the snapshot's row; every other
    snapshot row is kept.  The label names the cached providers with their fetch times and what
    the snapshot still supplies, e.g. ``"cache (aws fetched 2026-11-26T10:00Z) + built-in
    snapshot (gcp; 35 other aws instances)"``.

    Returns
    -------
    PriceCatalog or None
        None when the cache holds no file.

    Raises
    ------
    CatalogError
        If the newest file of a provider is corrupt (the message names it and the fix).
    """
    entries = newest_entries(cache_dir)
    if not entries:
        return None
    cached = pl.concat([e.catalog.frame for e in entries.values()], how="vertical")
    snapshot = load_snapshot().frame
    kept = snapshot.join(cached.select(_KEY), on=list(_KEY), how="anti")
    parts = [f"{p} fetched {e.fetched_at.strftime('%Y-%m-%dT%H:%MZ')}" for p, e in entries.items()]
    label = f"cache ({', '.join(parts)})"
    counts = {p: kept.filter(pl.col("provider") == p).height for p in PROVIDERS}
    filled = [p for p in PROVIDERS if p not in entries and counts[p]]
    filled += [f"{counts[p]} other {p} instance{'s' if counts[p] != 1 else ''}"
               for p in PROVIDERS if p in entries and counts[p]]
    if filled:
        label += f" + {SNAPSHOT_LABEL} ({'; '.join(filled)})"
    return PriceCatalog.from_frame(pl.concat([cached, kept], how="vertical"), label=label)


def default_catalog(cache_dir: str | os.PathLike[str] | None = None) -> PriceCatalog:
    """Return the newest cache merged with the snapshot, else the built-in snapshot."""
    merged = load_newest(cache_dir)
    return merged if merged is not None else load_snapshot()
