"""Dated GPU price catalogs and instance price quotes.

A :class:`PriceCatalog` is a polars DataFrame of list prices (one row per provider, region and
instance type) with a label and an as-of date.  :func:`load_snapshot` returns the built-in dated
snapshot packaged in ``costmodels/data``; other catalogs (AWS Pricing API, GCP Cloud Billing
Catalog) build the same frame with :meth:`PriceCatalog.from_frame`.

:func:`quote_instance` answers "what does ``aws:p5.48xlarge`` on spot cost per hour?".  An unknown
instance or a missing price is not an error here: the quote carries ``usd_per_hour=None`` and a
note saying why and where to get the price (:func:`price_sources_hint`), so that reports print
"n/a" and never $0.  (The planner's input layer rejects a scenario instance the catalog does not
know and the scenario does not price, with :func:`suggest_instance_keys` as its did-you-mean.)
A malformed key or an unknown purchase option is a user error and raises
:class:`domain.errors.CatalogError`.
"""

from __future__ import annotations

import difflib
import functools
import io
from dataclasses import dataclass, replace
from importlib import resources

import polars as pl

from domain.errors import CatalogError
from domain.purchase import PURCHASE_OPTIONS, SAVINGS_PLANS

# PURCHASE_OPTIONS (re-exported): the purchase options a catalog can price, each with a
# ``<option>_usd_per_hour`` column.  ``reserved_*`` are AWS standard reserved instances (No
# Upfront, upfront amortised) or GCP resource-based committed-use discounts; ``savings_plan_*``
# are AWS Compute Savings Plans rates (No Upfront) for the instance type.

PRICE_COLUMNS: dict[str, str] = {option: f"{option}_usd_per_hour" for option in PURCHASE_OPTIONS}
"""Purchase option -> its price column."""

PROVIDERS: tuple[str, ...] = ("aws", "gcp")
"""Providers an instance key may name."""

CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "provider": pl.String(),
    "region": pl.String(),
    "instance_type": pl.String(),
    "gpu_model": pl.String(),
    "gpus": pl.Int64(),
    "gpu_memory_gib": pl.Float64(),
    "vcpus": pl.Int64(),
    "memory_gib": pl.Float64(),
    **{column: pl.Float64() for column in PRICE_COLUMNS.values()},
    "source": pl.String(),
    "as_of": pl.String(),
}
"""Columns of a catalog frame and their dtypes; a null cell means unknown.

``gpu_memory_gib`` is the memory of one GPU (the vendor's nominal figure, e.g. 80 for an H100),
``memory_gib`` the host RAM of one node, prices are USD per node-hour, ``as_of`` an ISO date.
"""

OPTIONAL_COLUMNS: tuple[str, ...] = tuple(PRICE_COLUMNS[option] for option in SAVINGS_PLANS)
"""Columns a catalog frame may lack (catalogs and caches written before they existed, GCP);
:meth:`PriceCatalog.from_frame` fills them with nulls (unknown)."""

SNAPSHOT_LABEL = "built-in snapshot"
_SNAPSHOT_PACKAGE = "costmodels"
_SNAPSHOT_PATH = ("data", "gpu_catalog_snapshot.csv")


@dataclass(frozen=True, eq=False)
class PriceCatalog:
    """A dated table of GPU instance list prices.

    Build one with :meth:`from_frame` (which validates and computes ``as_of``) or
    :func:`load_snapshot`; the constructor trusts its arguments.

    Attributes
    ----------
    frame : polars.DataFrame
        One row per (provider, region, instance_type) with the columns of :data:`CATALOG_SCHEMA`.
        Prices are USD per node-hour; null means unknown.
    label : str
        Where the prices come from, for humans, e.g. ``"built-in snapshot"``.
    as_of : str
        The newest ``as_of`` date (ISO ``YYYY-MM-DD``) among the rows; rows may be older.
    """

    frame: pl.DataFrame
    label: str
    as_of: str

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, *, label: str) -> PriceCatalog:
        """Validate a catalog frame, cast it to :data:`CATALOG_SCHEMA` and wrap it.

        Parameters
        ----------
        frame : polars.DataFrame
            Must hold every column of :data:`CATALOG_SCHEMA` except :data:`OPTIONAL_COLUMNS`
            (filled with nulls when absent); extra columns are dropped.
        label : str
            Human-readable name of the catalog, e.g. ``"built-in snapshot"``.

        Returns
        -------
        PriceCatalog

        Raises
        ------
        CatalogError
            If a column is missing or uncastable, a key or ``as_of`` is empty, a
            (provider, region, instance_type) repeats, or a price or GPU count is not positive.
        """
        absent = [name for name in OPTIONAL_COLUMNS if name not in frame.columns]
        if absent:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64()).alias(n) for n in absent)
        missing = [name for name in CATALOG_SCHEMA if name not in frame.columns]
        if missing:
            raise CatalogError(
                f"catalog {label!r} lacks columns {missing}; "
                f"a catalog needs {list(CATALOG_SCHEMA)}"
            )
        try:
            typed = frame.select(
                pl.col(name).cast(dtype, strict=True) for name, dtype in CATALOG_SCHEMA.items()
            )
        except pl.exceptions.PolarsError as exc:
            raise CatalogError(
                f"catalog {label!r} has a value of the wrong type ({exc}); "
                f"expected dtypes {{{', '.join(f'{k}: {v}' for k, v in CATALOG_SCHEMA.items())}}}"
            ) from exc
        _check_frame(typed, label)
        return cls(frame=typed, label=label, as_of=str(typed["as_of"].max()))

    def instance_keys(self) -> list[str]:
        """Return the distinct ``provider:instance_type`` keys, sorted.

        Returns
        -------
        list of str
            e.g. ``["aws:g5.xlarge", ..., "gcp:g2-standard-96"]``.
        """
        keys = self.frame.select(
            pl.concat_str(pl.col("provider"), pl.lit(":"), pl.col("instance_type")).alias("key")
        )["key"]
        return sorted(set(keys.to_list()))

    def has_instance(self, instance_key: str) -> bool:
        """Return whether the catalog lists ``provider:instance_type`` in any region.

        The provider is compared lower-cased and both halves stripped, as
        :func:`quote_instance` does; a key without a colon is never listed.
        """
        provider, sep, instance_type = instance_key.partition(":")
        if not sep:
            return False
        rows = self.frame.filter((pl.col("provider") == provider.strip().lower())
                                 & (pl.col("instance_type") == instance_type.strip()))
        return rows.height > 0


def suggest_instance_keys(catalog: PriceCatalog, text: str, *, n: int = 3) -> list[str]:
    """Return up to ``n`` catalog keys close to ``text``, the likeliest first.

    ``text`` may lack its provider prefix (``g5.xlarge``) or name the wrong one
    (``gcp:g5.xlarge``, ``azure:g5.xlarge``): the same instance type under another provider
    comes first, then close instance types of the named provider, then of any provider
    (:func:`difflib.get_close_matches` on the lower-cased instance types, cutoff 0.6).

    Parameters
    ----------
    catalog : PriceCatalog
        The catalog whose :meth:`PriceCatalog.instance_keys` are suggested.
    text : str
        What the user wrote, e.g. ``"aws:g5.xxlarge"``.
    n : int, default 3
        Most suggestions returned.

    Returns
    -------
    list of str
        e.g. ``["aws:g5.xlarge", "aws:g5.8xlarge", "aws:g5.4xlarge"]``; empty when nothing is
        close.
    """
    provider, sep, instance_type = text.strip().partition(":")
    if not sep:
        provider, instance_type = "", provider
    provider, wanted = provider.strip().lower(), instance_type.strip().lower()
    keys = catalog.instance_keys()

    def close_in(pool: list[str]) -> list[str]:
        by_type = {key.partition(":")[2].lower(): key for key in pool}
        return [by_type[t] for t in difflib.get_close_matches(wanted, list(by_type), n=n,
                                                               cutoff=0.6)]

    same_type = [key for key in keys if key.partition(":")[2].lower() == wanted]
    same_provider = [key for key in keys if key.partition(":")[0] == provider]
    ranked = same_type + close_in(same_provider) + close_in(keys)
    return [key for key in dict.fromkeys(ranked) if key != f"{provider}:{instance_type}"][:n]


def did_you_mean(suggestions: list[str]) -> str:
    """Return ``"did you mean K? (also close: ...)"`` for suggested keys ("" for none)."""
    if not suggestions:
        return ""
    others = f" (also close: {', '.join(suggestions[1:])})" if len(suggestions) > 1 else ""
    return f"did you mean {suggestions[0]}?{others}"


def price_sources_hint(instance_key: str, purchase: str, region: str | None = None) -> str:
    """Say where to get a price the catalog lacks: a refresh of the local price cache
    (``planner prices refresh`` with its real options) or an effective rate in the scenario.

    Parameters
    ----------
    instance_key : str
        ``provider:instance_type``, e.g. ``"aws:g5.xlarge"``.
    purchase : str
        The purchase option to price, e.g. ``"spot"``.
    region : str or None
        The region to refresh (None: the command's default region for the provider).
    """
    provider, _, instance_type = instance_key.partition(":")
    region_option = f" --region {region}" if region else ""
    return (f"run `planner prices refresh --provider {provider} --instances {instance_type}"
            f"{region_option}` to fetch its current prices into the local price cache, or give "
            f"the price in the scenario as pricing.effective_rates: [{{instance: {instance_key}, "
            f"purchase: {purchase}, usd_per_hour: <USD per node-hour>, source: <where the rate "
            "comes from>, as_of: <YYYY-MM-DD>}]")


def _check_frame(frame: pl.DataFrame, label: str) -> None:
    """Raise CatalogError naming the first row that breaks a catalog invariant."""
    for name in ("provider", "region", "instance_type", "as_of"):
        empty = frame.with_row_index("row").filter(
            pl.col(name).is_null() | (pl.col(name).str.strip_chars() == "")
        )
        if empty.height:
            raise CatalogError(
                f"catalog {label!r} row {empty['row'][0]} has an empty {name}; "
                f"every row needs provider, region, instance_type and as_of"
            )
    bad_dates = frame.filter(~pl.col("as_of").str.contains(r"^\d{4}-\d{2}-\d{2}$"))
    if bad_dates.height:
        raise CatalogError(
            f"catalog {label!r} has as_of {bad_dates['as_of'][0]!r}; "
            "write it as an ISO date such as '2026-01-21'"
        )
    duplicates = frame.group_by("provider", "region", "instance_type").len().filter(
        pl.col("len") > 1
    )
    if duplicates.height:
        row = duplicates.row(0, named=True)
        raise CatalogError(
            f"catalog {label!r} lists {row['provider']}:{row['instance_type']} in "
            f"{row['region']} {row['len']} times; keep one row per provider, region and instance"
        )
    for name in ("gpus", *PRICE_COLUMNS.values()):
        bad = frame.filter(pl.col(name) <= 0)
        if bad.height:
            row = bad.row(0, named=True)
            raise CatalogError(
                f"catalog {label!r} has {name}={row[name]} for "
                f"{row['provider']}:{row['instance_type']} in {row['region']}; "
                "it must be positive, or empty when unknown (an unknown price is never 0)"
            )


@functools.lru_cache(maxsize=1)
def load_snapshot() -> PriceCatalog:
    """Load the built-in dated price snapshot packaged with ``costmodels``.

    The file is read on first call (never at import time) and cached; the returned catalog is
    immutable.  See ``costmodels/data/PROVENANCE.md`` for its origin and dates.

    Returns
    -------
    PriceCatalog
        Labelled ``"built-in snapshot"``; ``as_of`` is its newest row date.

    Raises
    ------
    CatalogError
        If the packaged file is missing or invalid (a broken installation).
    """
    resource = resources.files(_SNAPSHOT_PACKAGE).joinpath(*_SNAPSHOT_PATH)
    try:
        raw = resource.read_bytes()
    except OSError as exc:
        raise CatalogError(
            f"cannot read the built-in price snapshot {'/'.join(_SNAPSHOT_PATH)} ({exc}); "
            "reinstall the package or rebuild it with costmodels/data/build_snapshot.py"
        ) from exc
    frame = pl.read_csv(io.BytesIO(raw), schema_overrides=CATALOG_SCHEMA)
    return PriceCatalog.from_frame(frame, label=SNAPSHOT_LABEL)


@dataclass(frozen=True)
class InstanceQuote:
    """The hourly price of one instance type for one purchase option, with its provenance.

    Attributes
    ----------
    instance_key : str
        ``provider:instance_type`` as asked, e.g. ``"aws:p5.48xlarge"``.
    provider, instance_type : str
        The two halves of the key (provider lower-cased).
    region : str or None
        The region priced; None when the instance is unknown and no region was asked for.
    purchase : str
        One of :data:`PURCHASE_OPTIONS`.
    gpu_model : str or None
        e.g. ``"NVIDIA H100"``.
    gpus : int or None
        GPUs (or accelerators) per node.
    gpu_memory_gib : float or None
        Memory of one GPU, GiB (vendor nominal).
    vcpus : int or None
        vCPUs per node.
    memory_gib : float or None
        Host RAM per node, GiB.
    usd_per_hour : float or None
        Price of one node-hour, USD.  None means unknown (never 0); ``note`` says why.
    source : str or None
        Where the row's figures come from (repository, path, commit).
    as_of : str or None
        ISO date of the row's prices.
    note : str or None
        Why the price is unknown, with a way out; None when priced.
    """

    instance_key: str
    provider: str
    instance_type: str
    region: str | None
    purchase: str
    gpu_model: str | None
    gpus: int | None
    gpu_memory_gib: float | None
    vcpus: int | None
    memory_gib: float | None
    usd_per_hour: float | None
    source: str | None
    as_of: str | None
    note: str | None


def parse_instance_key(instance_key: str) -> tuple[str, str]:
    """Split ``"provider:instance_type"`` into its lower-cased provider and instance type.

    Parameters
    ----------
    instance_key : str
        e.g. ``"aws:p5.48xlarge"`` or ``"gcp:a3-highgpu-8g"``.

    Returns
    -------
    tuple of str
        ``(provider, instance_type)``.

    Raises
    ------
    CatalogError
        If the key is not a string, has no colon, an empty half, or an unknown provider.
    """
    if not isinstance(instance_key, str) or ":" not in instance_key:
        raise CatalogError(
            f"instance {instance_key!r} must be 'provider:instance_type' "
            "such as 'aws:p5.48xlarge' or 'gcp:a3-highgpu-8g'"
        )
    provider, _, instance_type = instance_key.partition(":")
    provider = provider.strip().lower()
    instance_type = instance_type.strip()
    if provider not in PROVIDERS:
        raise CatalogError(
            f"instance {instance_key!r} names provider {provider!r}; "
            f"use one of {', '.join(PROVIDERS)}, e.g. 'aws:p5.48xlarge'"
        )
    if not instance_type:
        raise CatalogError(
            f"instance {instance_key!r} has no instance type after the colon; "
            f"write it like '{provider}:{'p5.48xlarge' if provider == 'aws' else 'a3-highgpu-8g'}'"
        )
    return provider, instance_type


def _check_purchase(purchase: str) -> None:
    """Raise CatalogError if ``purchase`` is not one of PURCHASE_OPTIONS."""
    if purchase in PURCHASE_OPTIONS:
        return
    close = difflib.get_close_matches(str(purchase), PURCHASE_OPTIONS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise CatalogError(
        f"purchase option {purchase!r} is unknown; {hint}use one of {', '.join(PURCHASE_OPTIONS)}"
    )


def quote_instance(
    catalog: PriceCatalog,
    instance_key: str,
    *,
    purchase: str = "on_demand",
    region: str | None = None,
) -> InstanceQuote:
    """Quote the hourly list price of one node of an instance type.

    Parameters
    ----------
    catalog : PriceCatalog
        Where to look the price up, e.g. :func:`load_snapshot`.
    instance_key : str
        ``"provider:instance_type"``, e.g. ``"aws:p5.48xlarge"``; provider is ``aws`` or ``gcp``.
    purchase : str, default "on_demand"
        One of :data:`PURCHASE_OPTIONS`.
    region : str or None, default None
        Region to price; None takes the catalog's only region for that instance.

    Returns
    -------
    InstanceQuote
        ``usd_per_hour`` is USD per node-hour, or None with a ``note`` when the instance is not in
        the catalog (the note suggests close keys), not in ``region``, or has no price for
        ``purchase``.

    Raises
    ------
    CatalogError
        If ``instance_key`` is malformed or names an unknown provider, ``purchase`` is not a
        purchase option, or ``region`` is None while the catalog lists the instance in several
        regions.
    """
    provider, instance_type = parse_instance_key(instance_key)
    _check_purchase(purchase)
    key = f"{provider}:{instance_type}"
    where = f"{catalog.label} ({catalog.as_of})"

    rows = catalog.frame.filter(
        (pl.col("provider") == provider) & (pl.col("instance_type") == instance_type)
    )
    if rows.height == 0:
        return _unpriced(
            key, provider, instance_type, region, purchase,
            note=(f"unknown instance {key!r} in {where}; "
                  f"{_close_keys_hint(catalog, key, provider)}; if {key} is a real instance "
                  f"type the catalog lacks, {price_sources_hint(key, purchase, region)}"),
        )

    regions = sorted(rows["region"].to_list())
    region = _pick_region(regions, region, key, where)
    row_frame = rows.filter(pl.col("region") == region)
    if row_frame.height == 0:
        return _unpriced(
            key, provider, instance_type, region, purchase,
            hardware=rows.row(0, named=True),
            note=(
                f"{instance_type} has no price in region {region!r} in {where}; "
                f"price it in {' or '.join(regions)}, or "
                f"{price_sources_hint(key, purchase, region)}"
            ),
        )

    row = row_frame.row(0, named=True)
    price = row[PRICE_COLUMNS[purchase]]
    note = None
    if price is None:
        note = _missing_price_note(catalog, row, key, purchase)
    return replace(_unpriced(key, provider, instance_type, region, purchase, note=note,
                             hardware=row),
                   usd_per_hour=None if price is None else float(price), source=row["source"],
                   as_of=row["as_of"])


def _close_keys_hint(catalog: PriceCatalog, key: str, provider: str) -> str:
    """Suggest close instance keys for an unknown ``key`` (or how to list the known ones)."""
    return did_you_mean(suggest_instance_keys(catalog, key)) or (
        f"list the known instances with `planner prices list --provider {provider}` "
        f"({provider} instances are named like "
        f"{'p5.48xlarge' if provider == 'aws' else 'a3-highgpu-8g'})")


def _pick_region(regions: list[str], region: str | None, key: str, where: str) -> str:
    """Return ``region``, or the instance's only region when it is None."""
    if region is None:
        if len(regions) > 1:
            raise CatalogError(
                f"instance {key!r} is listed in regions {', '.join(regions)} in {where}; "
                "pass region= to choose one"
            )
        region = regions[0]
    return region


def _missing_price_note(catalog: PriceCatalog, row: dict, key: str, purchase: str) -> str:
    """Explain a missing ``purchase`` price of a catalog row and where to get one."""
    priced = [option for option in PURCHASE_OPTIONS if row[PRICE_COLUMNS[option]] is not None]
    others = (f"or choose a purchase option the catalog prices for it ({', '.join(priced)})"
              if priced else "the catalog prices no purchase option of it")
    return (
        f"the catalog ({catalog.label}, {row['as_of']}) has no {purchase} price for {key} in "
        f"{row['region']}: {price_sources_hint(key, purchase, row['region'])}; {others}"
    )


def _unpriced(
    key: str,
    provider: str,
    instance_type: str,
    region: str | None,
    purchase: str,
    *,
    note: str | None,
    hardware: dict | None = None,
) -> InstanceQuote:
    """Build a quote with no price (nor source); hardware facts come from ``hardware`` (a row)
    if given.  :func:`quote_instance` adds a row's price and provenance to it."""
    facts = hardware or {}
    return InstanceQuote(
        instance_key=key,
        provider=provider,
        instance_type=instance_type,
        region=region,
        purchase=purchase,
        gpu_model=facts.get("gpu_model"),
        gpus=facts.get("gpus"),
        gpu_memory_gib=facts.get("gpu_memory_gib"),
        vcpus=facts.get("vcpus"),
        memory_gib=facts.get("memory_gib"),
        usd_per_hour=None,
        source=None,
        as_of=None,
        note=note,
    )
