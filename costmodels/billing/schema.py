"""The normalised billing frame: FOCUS 1.2 and 1.3 column names and polars types, plus ``x_`` extras.

Every reader in :mod:`costmodels.billing` returns a ``polars.LazyFrame`` with exactly
:data:`FOCUS_COLUMNS` (FOCUS 1.2), :data:`FOCUS_13_COLUMNS` (the columns FOCUS 1.3 adds) and
:data:`EXTRA_COLUMNS`, in that order (:data:`NORMALISED_SCHEMA`).  Conventions:

* Date/times are ``Datetime("us", "UTC")``; ``ChargePeriodEnd`` and ``BillingPeriodEnd`` are
  exclusive bounds.
* Money is ``Float64`` in ``BillingCurrency`` (FOCUS's Decimal; float is exact enough for
  reviews and keeps scans fast).
* ``Tags`` is a JSON object as a string (FOCUS's Key-Value Format), e.g. ``{"team": "ml"}``;
  ``SkuPriceDetails`` likewise.
* Enum columns hold FOCUS's exact, case-sensitive allowed values (``ChargeCategory``: Usage,
  Purchase, Tax, Credit, Adjustment; ``PricingCategory``: Standard, Dynamic, Committed, Other;
  ``CommitmentDiscountStatus``: Used, Unused; ``CommitmentDiscountCategory``: Spend, Usage;
  ``ChargeClass``: Correction or null; ``ChargeFrequency``: One-Time, Recurring, Usage-Based).
* The FOCUS 1.3 columns are null unless the source has them (a FOCUS 1.3 file); the FOCUS 1.3
  writer derives ``ServiceProviderName``, ``HostProviderName`` and ``ContractApplied`` where
  they are null (:mod:`costmodels.billing.focus_writer`).  ``ContractApplied``,
  ``AllocatedMethodDetails`` and ``AllocatedTags`` are JSON objects as strings.
* Extras: ``x_Provider`` (``aws`` | ``gcp`` | ``focus`` source), ``x_SourceFile`` and
  ``x_SourceRow`` (1-based data row, for error messages and reconciliation;
  null on a compact read's grouped rows), ``x_SourceRows`` (the source rows the row stands
  for: 1, or the count of rows a compact read summed into it; readers only, never written to a
  FOCUS file), ``x_InstanceType``
  (e.g. ``p5.48xlarge``, ``a2-highgpu-1g``), ``x_GpuModel`` (e.g. ``NVIDIA H100``),
  ``x_GpuCount`` (GPUs per instance), ``x_PurchaseOption`` (one of
  :data:`PURCHASE_OPTIONS`), ``x_UsageHours`` (instance-hours of a compute usage row, else
  null), ``x_CreditTypes`` (GCP credit types applied, comma separated).
"""

from __future__ import annotations

import polars as pl

from costmodels.billing.errors import BillingError

UTC_TIME = pl.Datetime("us", "UTC")

FOCUS_COLUMNS: dict[str, pl.DataType] = {
    "AvailabilityZone": pl.String(),
    "BilledCost": pl.Float64(),
    "BillingAccountId": pl.String(),
    "BillingAccountName": pl.String(),
    "BillingAccountType": pl.String(),
    "BillingCurrency": pl.String(),
    "BillingPeriodEnd": UTC_TIME,
    "BillingPeriodStart": UTC_TIME,
    "CapacityReservationId": pl.String(),
    "CapacityReservationStatus": pl.String(),
    "ChargeCategory": pl.String(),
    "ChargeClass": pl.String(),
    "ChargeDescription": pl.String(),
    "ChargeFrequency": pl.String(),
    "ChargePeriodEnd": UTC_TIME,
    "ChargePeriodStart": UTC_TIME,
    "CommitmentDiscountCategory": pl.String(),
    "CommitmentDiscountId": pl.String(),
    "CommitmentDiscountName": pl.String(),
    "CommitmentDiscountQuantity": pl.Float64(),
    "CommitmentDiscountStatus": pl.String(),
    "CommitmentDiscountType": pl.String(),
    "CommitmentDiscountUnit": pl.String(),
    "ConsumedQuantity": pl.Float64(),
    "ConsumedUnit": pl.String(),
    "ContractedCost": pl.Float64(),
    "ContractedUnitPrice": pl.Float64(),
    "EffectiveCost": pl.Float64(),
    "InvoiceId": pl.String(),
    "InvoiceIssuerName": pl.String(),
    "ListCost": pl.Float64(),
    "ListUnitPrice": pl.Float64(),
    "PricingCategory": pl.String(),
    "PricingCurrency": pl.String(),
    "PricingCurrencyContractedUnitPrice": pl.Float64(),
    "PricingCurrencyEffectiveCost": pl.Float64(),
    "PricingCurrencyListUnitPrice": pl.Float64(),
    "PricingQuantity": pl.Float64(),
    "PricingUnit": pl.String(),
    "ProviderName": pl.String(),
    "PublisherName": pl.String(),
    "RegionId": pl.String(),
    "RegionName": pl.String(),
    "ResourceId": pl.String(),
    "ResourceName": pl.String(),
    "ResourceType": pl.String(),
    "ServiceCategory": pl.String(),
    "ServiceName": pl.String(),
    "ServiceSubcategory": pl.String(),
    "SkuId": pl.String(),
    "SkuMeter": pl.String(),
    "SkuPriceDetails": pl.String(),
    "SkuPriceId": pl.String(),
    "SubAccountId": pl.String(),
    "SubAccountName": pl.String(),
    "SubAccountType": pl.String(),
    "Tags": pl.String(),
}
"""The 57 FOCUS 1.2 Cost and Usage columns, alphabetical as in the specification."""

FOCUS_13_COLUMNS: dict[str, pl.DataType] = {
    "AllocatedMethodDetails": pl.String(),
    "AllocatedMethodId": pl.String(),
    "AllocatedResourceId": pl.String(),
    "AllocatedResourceName": pl.String(),
    "AllocatedTags": pl.String(),
    "ContractApplied": pl.String(),
    "HostProviderName": pl.String(),
    "ServiceProviderName": pl.String(),
}
"""The 8 Cost and Usage columns FOCUS 1.3 adds to 1.2's 57 (it keeps ProviderName and
PublisherName, deprecated: ServiceProviderName replaces ProviderName)."""

FOCUS_VERSIONS: tuple[str, ...] = ("1.2", "1.3")
"""The FOCUS versions the writer produces."""


def focus_columns(version: str) -> list[str]:
    """The FOCUS column names of ``version`` (``"1.2"`` or ``"1.3"``), alphabetical."""
    if version == "1.2":
        return list(FOCUS_COLUMNS)
    if version == "1.3":
        return sorted({*FOCUS_COLUMNS, *FOCUS_13_COLUMNS})
    raise BillingError(f"unknown FOCUS version {version!r}; use one of "
                       f"{', '.join(FOCUS_VERSIONS)}")


PURCHASE_OPTIONS: tuple[str, ...] = (
    "on_demand", "spot", "reserved", "savings_plan", "committed_use", "other",
)
"""Values of ``x_PurchaseOption`` (null for rows that are not compute usage or purchases)."""

EXTRA_COLUMNS: dict[str, pl.DataType] = {
    "x_Provider": pl.String(),
    "x_SourceFile": pl.String(),
    "x_SourceRow": pl.Int64(),
    "x_SourceRows": pl.Int64(),
    "x_InstanceType": pl.String(),
    "x_GpuModel": pl.String(),
    "x_GpuCount": pl.Int64(),
    "x_PurchaseOption": pl.String(),
    "x_UsageHours": pl.Float64(),
    "x_CreditTypes": pl.String(),
}
"""Provider extras after the FOCUS columns (FOCUS requires the ``x_`` prefix)."""

WRITTEN_EXTRA_COLUMNS: tuple[str, ...] = tuple(c for c in EXTRA_COLUMNS if c != "x_SourceRows")
"""The extras a FOCUS file is written with (``x_SourceRows`` describes a read, not a charge)."""

NORMALISED_SCHEMA: dict[str, pl.DataType] = {**FOCUS_COLUMNS, **FOCUS_13_COLUMNS, **EXTRA_COLUMNS}
"""Column order and types of every normalised frame."""
