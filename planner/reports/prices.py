"""Listings of a price catalog: filter, derive per-GPU prices, render as table, JSON or CSV.

:func:`select_prices` is pure (catalog in, frame out); the ``render_*`` functions return strings
and never write files.  An unknown price stays null: "n/a" in tables, ``null`` in JSON and an
empty cell in CSV, never $0.
"""

from __future__ import annotations

import io
import json
import re

import polars as pl
from rich.table import Table

from costmodels.catalog import PriceCatalog
from domain.errors import CatalogError
from planner.reports.fit import plain_console, print_fitted
from planner.reports.table import NA

SORT_KEYS: dict[str, str] = {
    "on_demand": "on_demand_usd_per_hour",
    "spot": "spot_usd_per_hour",
    "gpu_price": "usd_per_gpu_hour",
}
"""``--sort`` choices and the column each sorts by (cheapest first, unknown prices last)."""

SCHEMA_VERSION = 1
"""Version of the listing's JSON (``planner prices list --format json``, ``kind: prices``); its
JSON Schema is ``planner schema prices``."""
BASIS = "prices are public list prices in USD per hour, Linux, shared tenancy, no discounts"
_MAX_HINTS = 12


def select_prices(
    catalog: PriceCatalog,
    *,
    provider: str | None = None,
    gpu: str | None = None,
    region: str | None = None,
    instance: str | None = None,
    sort: str | None = None,
) -> pl.DataFrame:
    """Return the catalog rows matching every filter, with per-GPU price and spot discount.

    Parameters
    ----------
    catalog : PriceCatalog
        e.g. :func:`costmodels.catalog.load_snapshot`.
    provider : str or None
        Exact provider, case-insensitive (``aws``, ``gcp``).
    gpu : str or None
        Case-insensitive substring of ``gpu_model`` (``"h100"`` matches ``"NVIDIA H100 80GB"``).
    region : str or None
        Exact region, e.g. ``"us-east-1"``.
    instance : str or None
        Case-insensitive substring of ``instance_type`` (``"p5"`` matches ``"p5.48xlarge"``).
    sort : str or None
        A key of :data:`SORT_KEYS`; None keeps the catalog's order.  Ties keep catalog order and
        unknown prices go last.

    Returns
    -------
    polars.DataFrame
        The catalog columns plus ``usd_per_gpu_hour`` (on-demand / gpus) and
        ``spot_discount_pct`` (100 * (1 - spot / on-demand)); both null when a price is unknown.

    Raises
    ------
    CatalogError
        If no row matches; the message names the filters and the values that do exist.
    """
    filters = _filters(provider=provider, gpu=gpu, region=region, instance=instance)
    frame = catalog.frame.filter(*filters.values()) if filters else catalog.frame
    if frame.height == 0:
        raise CatalogError(_no_rows_message(catalog, provider=provider, gpu=gpu, region=region,
                                            instance=instance))
    frame = frame.with_columns(
        (pl.col("on_demand_usd_per_hour") / pl.col("gpus")).alias("usd_per_gpu_hour"),
        ((1 - pl.col("spot_usd_per_hour") / pl.col("on_demand_usd_per_hour")) * 100)
        .alias("spot_discount_pct"),
    )
    if sort is not None:
        if sort not in SORT_KEYS:
            raise CatalogError(f"sort key {sort!r} is unknown; use one of {', '.join(SORT_KEYS)}")
        frame = frame.sort(SORT_KEYS[sort], nulls_last=True, maintain_order=True)
    return frame


def _filters(**values: str | None) -> dict[str, pl.Expr]:
    """Return one polars predicate per given filter, keyed by filter name."""
    out: dict[str, pl.Expr] = {}
    if values.get("provider"):
        out["provider"] = pl.col("provider").str.to_lowercase() == values["provider"].lower()
    if values.get("gpu"):
        out["gpu"] = pl.col("gpu_model").str.to_lowercase().str.contains(
            values["gpu"].lower(), literal=True)
    if values.get("region"):
        out["region"] = pl.col("region") == values["region"]
    if values.get("instance"):
        out["instance"] = pl.col("instance_type").str.to_lowercase().str.contains(
            values["instance"].lower(), literal=True)
    return out


_COLUMN_OF = {"provider": "provider", "gpu": "gpu_model", "region": "region",
              "instance": "instance_type"}


def _no_rows_message(catalog: PriceCatalog, **values: str | None) -> str:
    """Say which filters matched nothing and which values each could take instead."""
    filters = _filters(**values)
    named = " ".join(f"--{name} {values[name]}" for name in filters)
    hints = []
    for name in filters:
        others = [expr for key, expr in filters.items() if key != name]
        pool = catalog.frame.filter(*others) if others else catalog.frame
        if pool.height == 0:
            pool = catalog.frame
        choices = list(dict.fromkeys(pool[_COLUMN_OF[name]].drop_nulls().to_list()))
        shown = ", ".join(choices[:_MAX_HINTS]) + (", ..." if len(choices) > _MAX_HINTS else "")
        hints.append(f"known --{name} values: {shown}")
    return (f"no row of the {catalog.label} ({catalog.as_of}) matches {named}; "
            + "; ".join(hints) + "; change or drop a filter")


def _price(value: float | None) -> str:
    if value is None:
        return NA
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return NA
    return f"{value:,.0f}{unit}" if float(value).is_integer() else f"{value:,.1f}{unit}"


def short_sources(sources: list[str]) -> list[str]:
    """Return the distinct clauses of ``sources`` (split at ';'), commit hashes shortened."""
    clauses: dict[str, None] = {}
    for source in sources:
        for clause in source.split(";"):
            clause = re.sub(r"\b([0-9a-f]{7})[0-9a-f]{33}\b", r"\1", clause.strip())
            if clause:
                clauses[clause] = None
    return list(clauses)


def footer(frame: pl.DataFrame, catalog: PriceCatalog) -> str:
    """Return the line naming the catalog, the listed rows' as-of dates, sources and basis."""
    dates = sorted(set(frame["as_of"].to_list()))
    sources = short_sources(frame["source"].drop_nulls().to_list())
    return (f"Catalog: {catalog.label}, as of {', '.join(dates)}; sources: "
            f"{'; '.join(sources) or NA}; {BASIS}.")


def render_table(frame: pl.DataFrame, catalog: PriceCatalog, *, width: int | None = None,
                 wide: bool = False) -> str:
    """Return a rich table of a :func:`select_prices` frame and its footer, as plain text.

    It fits ``width`` (default the terminal's) as stacked tables that repeat the provider,
    region and instance columns, or is one table with ``wide``; no value is cut.
    """
    buffer = io.StringIO()
    console = plain_console(buffer, width)
    table = Table(title=f"GPU instance prices ({frame.height} row{'s' * (frame.height != 1)})",
                  title_justify="left")
    for header, justify in [
        ("provider", "left"), ("region", "left"), ("instance", "left"), ("GPUs", "left"),
        ("vCPU", "right"), ("RAM", "right"), ("on-demand $/h", "right"),
        ("spot $/h", "right"), ("1-yr $/h", "right"), ("3-yr $/h", "right"),
        ("SP 1-yr $/h", "right"), ("SP 3-yr $/h", "right"), ("$/GPU-h", "right"),
    ]:
        table.add_column(header, justify=justify, no_wrap=True)
    for row in frame.iter_rows(named=True):
        memory = _number(row["gpu_memory_gib"], " GiB")
        spot = _price(row["spot_usd_per_hour"])
        if row["spot_discount_pct"] is not None:
            spot += f" (-{row['spot_discount_pct']:.0f}%)"
        table.add_row(
            row["provider"],
            row["region"],
            row["instance_type"],
            f"{_number(row['gpus'])} × {row['gpu_model'] or NA} ({memory})",
            _number(row["vcpus"]),
            _number(row["memory_gib"], " GiB"),
            _price(row["on_demand_usd_per_hour"]),
            spot,
            _price(row["reserved_1yr_usd_per_hour"]),
            _price(row["reserved_3yr_usd_per_hour"]),
            _price(row["savings_plan_1yr_usd_per_hour"]),
            _price(row["savings_plan_3yr_usd_per_hour"]),
            _price(row["usd_per_gpu_hour"]),
        )
    print_fitted(console, table, wide=wide, keys=3)
    console.print(footer(frame, catalog), soft_wrap=True)
    return buffer.getvalue()


def render_json(frame: pl.DataFrame, catalog: PriceCatalog) -> str:
    """Return ``{"schema_version", "kind": "prices", "catalog", "as_of", "as_of_dates",
    "basis", "rows"}``; unknown prices are null.

    ``as_of`` is the newest date among the listed rows, ``as_of_dates`` every such date.
    """
    dates = sorted(set(frame["as_of"].to_list()))
    document = {
        "schema_version": SCHEMA_VERSION,
        "kind": "prices",
        "catalog": catalog.label,
        "as_of": dates[-1] if dates else catalog.as_of,
        "as_of_dates": dates,
        "basis": BASIS,
        "rows": frame.to_dicts(),
    }
    return json.dumps(document, indent=2)


def render_csv(frame: pl.DataFrame) -> str:
    """Return the frame as CSV (polars ``write_csv``); unknown prices are empty cells."""
    return frame.write_csv()
