"""AWS Spot Instance Advisor bands and the interruption rates they imply.

The Spot Instance Advisor gives, per region and instance type, the spot discount against
on-demand and a *band* of the frequency of interruption: the share of spot instances AWS
interrupted over the trailing month (``<5%``, ``5-10%``, ``10-15%``, ``15-20%``, ``>20%``).
:func:`lookup_band` reads the bundled, dated snapshot of the GPU and accelerator Linux rows
(``costmodels/data/spot_advisor_gpu_linux.csv``; provenance in ``costmodels/data/PROVENANCE.md``)
and :func:`rate_per_node_hour` turns a band into a Poisson interruption rate per spot node.

From band to rate
-----------------
A band's interrupted fraction ``f`` is taken at the band's midpoint
(:data:`BAND_INTERRUPTED_FRACTION_PER_MONTH`); the open band ``>20%`` is *assumed* to mean 25 %,
an assumption, not an AWS figure (AWS's own upper edge for the band is 100 %). A node lifetime
that is exponential with rate ``r`` per hour interrupts the fraction ``1 - exp(-r H)`` of nodes
within a month of ``H`` hours, so ``r = -ln(1 - f) / H``.
"""

from __future__ import annotations

import difflib
import functools
import io
import math
from dataclasses import dataclass
from importlib import resources

import polars as pl

from domain.errors import CatalogError

__all__ = [
    "ADVISOR_AS_OF",
    "BANDS",
    "BAND_INTERRUPTED_FRACTION_PER_MONTH",
    "DEFAULT_REGION",
    "SpotAdvice",
    "load_advisor_table",
    "lookup_band",
    "rate_per_node_hour",
]

BANDS: tuple[str, ...] = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
"""The Advisor's interruption-frequency bands, by its range index 0..4."""

BAND_INTERRUPTED_FRACTION_PER_MONTH: dict[str, float] = {
    "<5%": 0.025,
    "5-10%": 0.075,
    "10-15%": 0.125,
    "15-20%": 0.175,
    ">20%": 0.25,  # assumption: the band is open-ended; AWS gives no midpoint
}
"""Fraction of spot nodes interrupted within a month, per band (band midpoints)."""

DEFAULT_REGION = "us-east-1"
"""Region looked up when a fleet names none: the AWS region of the built-in price snapshot."""

ADVISOR_AS_OF = "2025-06-28"
"""Date of the bundled snapshot (the last change of the upstream copy of the AWS feed)."""

ADVISOR_SOURCE = (
    "AWS Spot Instance Advisor feed spot-advisor-data.json, via alexei-led/spotinfo "
    "internal/spot/data/spot-advisor-data.json @5eedf20a99614443af215f4aaf09bd10805cac72; "
    "GPU/accelerator Linux rows"
)
"""Where the bundled rows come from (see ``costmodels/data/PROVENANCE.md``)."""

ADVISOR_SCHEMA: dict[str, pl.DataType] = {
    "region": pl.String(),
    "instance_type": pl.String(),
    "savings_pct_vs_ondemand": pl.Int64(),
    "interruption_range_index": pl.Int64(),
    "interruption_range_label": pl.String(),
}
"""Columns of the bundled table and their dtypes."""

_PACKAGE = "costmodels"
_PATH = ("data", "spot_advisor_gpu_linux.csv")
_FIX = "set spot.interruptions.band explicitly or use interruptions kind: rate"


@dataclass(frozen=True)
class SpotAdvice:
    """The Advisor's entry for one instance type in one region (Linux).

    Attributes
    ----------
    band : str
        Interruption-frequency band, one of :data:`BANDS`.
    savings_pct : int
        Spot discount against on-demand, percent.
    region, instance_type : str
        What was looked up, e.g. ``"us-east-1"``, ``"p5.48xlarge"``.
    as_of : str
        ISO date of the snapshot.
    source : str
        Where the figures come from.
    """

    band: str
    savings_pct: int
    region: str
    instance_type: str
    as_of: str = ADVISOR_AS_OF
    source: str = ADVISOR_SOURCE

    @property
    def interrupted_fraction_per_month(self) -> float:
        """The band's assumed fraction of nodes interrupted within a month."""
        return BAND_INTERRUPTED_FRACTION_PER_MONTH[self.band]


def rate_per_node_hour(band: str, hours_per_month: float = 730.0) -> float:
    """Return the Poisson interruption rate (1/h per spot node) that a band implies.

    Parameters
    ----------
    band : str
        One of :data:`BANDS`.
    hours_per_month : float, default 730.0
        Hours in the month the band's fraction refers to (h).

    Returns
    -------
    float
        ``-ln(1 - f) / hours_per_month`` with ``f`` the band's fraction from
        :data:`BAND_INTERRUPTED_FRACTION_PER_MONTH`: an exponential node lifetime at this rate
        interrupts the fraction ``f`` of nodes within ``hours_per_month`` hours.

    Raises
    ------
    CatalogError
        If ``band`` is not a band or ``hours_per_month`` is not a positive finite number.
    """
    if band not in BAND_INTERRUPTED_FRACTION_PER_MONTH:
        raise CatalogError(f"spot interruption band {band!r} is unknown; use one of "
                           f"{', '.join(BANDS)}")
    if not (math.isfinite(hours_per_month) and hours_per_month > 0):
        raise CatalogError(f"hours_per_month must be a positive number (got {hours_per_month}); "
                           "use 730 for an average month")
    return -math.log1p(-BAND_INTERRUPTED_FRACTION_PER_MONTH[band]) / hours_per_month


@functools.lru_cache(maxsize=1)
def load_advisor_table() -> pl.DataFrame:
    """Load the bundled Spot Advisor snapshot (GPU and accelerator families, Linux).

    Read on first call (never at import time) and cached.

    Returns
    -------
    polars.DataFrame
        One row per (region, instance_type), columns of :data:`ADVISOR_SCHEMA`.

    Raises
    ------
    CatalogError
        If the packaged file is missing or malformed (a broken installation).
    """
    resource = resources.files(_PACKAGE).joinpath(*_PATH)
    try:
        raw = resource.read_bytes()
        frame = pl.read_csv(io.BytesIO(raw), schema=ADVISOR_SCHEMA)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise CatalogError(f"cannot read the bundled Spot Advisor table {'/'.join(_PATH)} "
                           f"({exc}); reinstall the package") from exc
    labels = frame["interruption_range_index"].replace_strict(
        list(range(len(BANDS))), list(BANDS), default=None)
    if not (labels == frame["interruption_range_label"]).fill_null(False).all():
        raise CatalogError(f"the bundled Spot Advisor table {'/'.join(_PATH)} has a band label "
                           "that does not match its range index; reinstall the package")
    return frame


def lookup_band(instance_type: str, region: str) -> SpotAdvice:
    """Return the Advisor's band and spot discount for an instance type in a region (Linux).

    Parameters
    ----------
    instance_type : str
        An AWS instance type without the provider, e.g. ``"p4d.24xlarge"``.
    region : str
        An AWS region, e.g. ``"us-east-1"``.

    Returns
    -------
    SpotAdvice

    Raises
    ------
    CatalogError
        If the snapshot has no Linux entry for that instance type in that region; the message
        says which regions do list it (or which instance types are close) and how to go on.
    """
    table = load_advisor_table()
    rows = table.filter((pl.col("instance_type") == instance_type) & (pl.col("region") == region))
    if rows.height:
        row = rows.row(0, named=True)
        return SpotAdvice(band=row["interruption_range_label"],
                          savings_pct=row["savings_pct_vs_ondemand"], region=region,
                          instance_type=instance_type)
    where = f"the Spot Advisor snapshot of {ADVISOR_AS_OF} (GPU and accelerator types, Linux)"
    elsewhere = sorted(table.filter(pl.col("instance_type") == instance_type)["region"])
    if elsewhere:
        shown = ", ".join(elsewhere[:8]) + (", ..." if len(elsewhere) > 8 else "")
        raise CatalogError(f"{instance_type} has no entry for region {region!r} in {where} (it "
                           f"is listed in {shown}); use one of those regions, or {_FIX}")
    if region not in set(table["region"]):
        close = difflib.get_close_matches(region, sorted(set(table["region"])), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CatalogError(f"region {region!r} is not in {where}{hint}; {_FIX}")
    close = difflib.get_close_matches(instance_type, table.filter(
        pl.col("region") == region)["instance_type"].to_list(), n=3)
    hint = f" (close: {', '.join(close)})" if close else ""
    raise CatalogError(f"{instance_type} in {region} is not in {where}{hint}; {_FIX}")
