"""A generated month of billing for the Cost review and Calibration pages: FOCUS files.

:func:`write_month` writes about 30,000 rows: September 2026 complete and October 2026 in
progress (data through 20 October), several services, accounts and team tags, GPU and CPU
instances on on-demand, spot, reserved and savings plan prices with unused commitment, monthly
fees and taxes (the generator of the review tests), a 10 % discount on on-demand usage, plus a spike of H100 on-demand usage on
14 October charged to team ``ads`` (an anomaly with a driver). :func:`write_november` writes a
small November file, another source for upload tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.costmodels.billing.test_review_data import (
    ACCOUNTS,
    EC2,
    UTC,
    frame_from_rows,
    generate_focus,
)

THROUGH = dt.datetime(2026, 10, 20, tzinfo=UTC)
"""The end of the generated data (October in progress)."""
SPIKE_DAY = dt.date(2026, 10, 14)
SPIKE_ROWS = 60
H100_ON_DEMAND_PER_HOUR = 98.32
ON_DEMAND_DISCOUNT = 0.10
"""An enterprise discount on every on-demand usage row (effective and billed below list), so
the bills' on-demand rates differ from the catalog's."""


def _spike_rows(day: dt.date, n_rows: int) -> pl.DataFrame:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows = [{"ChargePeriodStart": start + dt.timedelta(hours=i % 24),
             "EffectiveCost": H100_ON_DEMAND_PER_HOUR, "ServiceName": EC2[0],
             "ServiceCategory": EC2[1], "SubAccountId": ACCOUNTS[0][0],
             "SubAccountName": ACCOUNTS[0][1], "Tags": '{"team": "ads", "env": "prod"}',
             "x_InstanceType": "p5.48xlarge", "x_GpuModel": "NVIDIA H100", "x_GpuCount": 8,
             "x_PurchaseOption": "on_demand", "x_UsageHours": 1.0, "RegionId": "us-east-1",
             "ProviderName": "AWS", "x_Provider": "aws", "PricingCategory": "Standard",
             "ChargeFrequency": "Usage-Based", "ConsumedQuantity": 1.0, "ConsumedUnit": "Hours",
             "x_SourceRow": 900_000 + i, "x_SourceFile": "spike"} for i in range(n_rows)]
    return frame_from_rows(rows).collect()


def write_month(folder: Path, n_rows: int = 30_000, *, seed: int = 5) -> Path:
    """Write the generated September-October bills as one FOCUS Parquet file in ``folder``."""
    from costmodels.billing.focus_writer import write_focus

    frame = generate_focus(n_rows, ("2026-09", "2026-10"), seed=seed, until=THROUGH)
    frame = pl.concat([frame, _spike_rows(SPIKE_DAY, SPIKE_ROWS)], how="vertical_relaxed")
    on_demand = (pl.col("x_PurchaseOption") == "on_demand") & (pl.col("x_UsageHours") > 0)
    frame = frame.with_columns(
        pl.when(on_demand).then(pl.col(c) * (1 - ON_DEMAND_DISCOUNT)).otherwise(pl.col(c))
        .alias(c) for c in ("EffectiveCost", "BilledCost"))
    return write_focus(frame.lazy(), folder / "focus-2026-09-10.parquet")


@pytest.fixture(scope="session")
def generated_bills(tmp_path_factory) -> Path:
    """A folder holding :func:`write_month`'s bills (skips without billing support)."""
    from dashboards.billing_logic import unavailable_reason

    if unavailable_reason() is not None:
        pytest.skip(f"billing support is not available: {unavailable_reason()}")
    folder = tmp_path_factory.mktemp("generated-bills")
    write_month(folder)
    return folder


def write_november(folder: Path, n_rows: int = 2_000) -> Path:
    """Write a small generated November 2026 (complete) as one FOCUS CSV in ``folder``."""
    from costmodels.billing.focus_writer import write_focus

    frame = generate_focus(n_rows, ("2026-11",), seed=9)
    return write_focus(frame.lazy(), folder / "focus-2026-11.csv")
