"""Regenerate ``gpu_catalog_snapshot.csv`` from the shared curated GPU price table.

This is a maintainer script, never imported at run time.  It reads
``../shared/data/catalog/gpu_instances.csv`` (beside the repository clone), renames its columns to
the planner's catalog schema, reduces each ``price_date`` to an ISO date and writes the packaged
snapshot next to this file.  Values are copied as text, so no price is reformatted or rounded, and
an empty cell stays empty (an unknown price, never zero).

Usage::

    python costmodels/data/build_snapshot.py [SOURCE_CSV] [OUTPUT_CSV]
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

#: Snapshot column -> column of the shared ``gpu_instances.csv`` it is copied from.
#: ``as_of`` is derived from ``price_date`` (see :func:`iso_date`).
COLUMN_SOURCES: dict[str, str] = {
    "provider": "provider",
    "region": "region",
    "instance_type": "instance_type",
    "gpu_model": "gpu_model",
    "gpus": "gpu_count",
    "gpu_memory_gib": "gpu_memory_gb_per_gpu",
    "vcpus": "vcpu",
    "memory_gib": "ram_gib",
    "on_demand_usd_per_hour": "on_demand_usd_per_hour",
    "spot_usd_per_hour": "spot_usd_per_hour_typical",
    "reserved_1yr_usd_per_hour": "commit_1yr_usd_per_hour",
    "reserved_3yr_usd_per_hour": "commit_3yr_usd_per_hour",
    "source": "source",
    "as_of": "price_date",
}

SNAPSHOT_COLUMNS: tuple[str, ...] = tuple(COLUMN_SOURCES)

_ISO_DATE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\b")

_HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = _HERE.parents[2] / "shared" / "data" / "catalog" / "gpu_instances.csv"
DEFAULT_OUTPUT = _HERE / "gpu_catalog_snapshot.csv"


def iso_date(price_date: str) -> str:
    """Return the leading ISO date of a ``price_date`` cell.

    Parameters
    ----------
    price_date : str
        Cell text such as ``"2026-01-21 (on-demand/RI); spot: SkyPilot catalog snapshot"``.

    Returns
    -------
    str
        The date, e.g. ``"2026-01-21"``.

    Raises
    ------
    ValueError
        If the cell does not start with a ``YYYY-MM-DD`` date.
    """
    match = _ISO_DATE.match(price_date)
    if match is None:
        raise ValueError(
            f"price_date {price_date!r} does not start with a YYYY-MM-DD date; "
            "fix the shared gpu_instances.csv row"
        )
    return match.group(1)


def convert_rows(source_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Map rows of the shared table to snapshot rows (same order, values as text).

    Parameters
    ----------
    source_rows : list of dict
        Rows of ``gpu_instances.csv`` as read by :class:`csv.DictReader`.

    Returns
    -------
    list of dict
        Rows keyed by :data:`SNAPSHOT_COLUMNS`.
    """
    rows = []
    for index, source_row in enumerate(source_rows):
        missing = [name for name in COLUMN_SOURCES.values() if name not in source_row]
        if missing:
            raise ValueError(
                f"row {index + 2} of the shared catalog lacks columns {missing}; "
                "update COLUMN_SOURCES in build_snapshot.py to the new header"
            )
        row = {name: source_row[origin].strip() for name, origin in COLUMN_SOURCES.items()}
        row["as_of"] = iso_date(source_row["price_date"])
        rows.append(row)
    return rows


def build(source: Path = DEFAULT_SOURCE, output: Path = DEFAULT_OUTPUT) -> int:
    """Write the snapshot CSV and return its number of data rows.

    Parameters
    ----------
    source : Path
        The shared ``gpu_instances.csv``.
    output : Path
        Where to write ``gpu_catalog_snapshot.csv``.

    Returns
    -------
    int
        Number of rows written.
    """
    with source.open(newline="", encoding="utf-8") as handle:
        rows = convert_rows(list(csv.DictReader(handle)))
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SNAPSHOT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: list[str]) -> int:
    """Command-line entry point; see the module docstring."""
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    n_rows = build(source, output)
    print(f"wrote {n_rows} rows to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
