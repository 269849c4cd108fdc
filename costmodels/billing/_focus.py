"""FOCUS 1.0 / 1.1 / 1.2 / 1.3 files (CSV or Parquet) -> the normalised frame.

Column names are matched case-insensitively (``SkuPriceid`` -> ``SkuPriceId``) and deprecated
names are mapped (``AmortizedCost`` -> ``EffectiveCost``, ``ChargeType`` -> ``ChargeCategory``,
``UsageQuantity``/``UsageUnit`` -> ``ConsumedQuantity``/``ConsumedUnit``, ``Region`` ->
``RegionId``, ``Provider``/``Publisher``/``InvoiceIssuer`` -> ``...Name``); each is reported as
an oddity.  Enum values in the wrong case are corrected and counted.

A FOCUS 1.3 file is read as a 1.2 file where the columns are shared; its own columns
(``ServiceProviderName``, ``HostProviderName``, ``ContractApplied``, ``Allocated*``) are kept,
and a 1.3 file without the deprecated ``ProviderName`` / ``PublisherName`` gets them from
``ServiceProviderName``.  ServiceSubcategory, mandatory since FOCUS 1.2, is derived where a file
lacks it (FOCUS 1.0), leaves it null, or gives a value that is not allowed for the row's
ServiceCategory (:mod:`costmodels.billing._subcategories`); an absent column and a replaced
value are reported as oddities.
"""

from __future__ import annotations

import polars as pl

from costmodels.billing._common import (
    MONEY_IN,
    ROW,
    Cols,
    Oddity,
    OddityCheck,
    Prepared,
    clean_nulls,
    finish,
    is_null_literal,
    join_gpus,
    missing_column,
    null_literal_checks,
    reject_rules,
    short_account_checks,
    time_zone_checks,
)
from costmodels.billing._subcategories import unfit_subcategory, with_service_subcategory
from costmodels.billing.schema import EXTRA_COLUMNS, FOCUS_13_COLUMNS, FOCUS_COLUMNS

DEPRECATED = {"AmortizedCost": "EffectiveCost", "ChargeType": "ChargeCategory",
              "UsageQuantity": "ConsumedQuantity", "UsageUnit": "ConsumedUnit",
              "Region": "RegionId", "Provider": "ProviderName", "Publisher": "PublisherName",
              "InvoiceIssuer": "InvoiceIssuerName"}

ENUMS: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
    "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CapacityReservationStatus": ("Used", "Unused"),
}

_V13 = tuple(FOCUS_13_COLUMNS)
_V12 = ("BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
        "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice")
_V11 = ("CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails")
_V10 = ("ConsumedQuantity", "ConsumedUnit", "ChargeClass", "ContractedCost",
        "ContractedUnitPrice", "RegionId", "RegionName", "CommitmentDiscountStatus")
_OWN_EXTRAS = ("x_InstanceType", "x_GpuModel", "x_GpuCount", "x_PurchaseOption",
               "x_UsageHours", "x_CreditTypes", "x_Provider")
_HOUR_UNITS = ["Hours", "Hour", "Hrs", "hour", "hours", "Instance Hours", "Normalized Hour"]


_KNOWN = (*FOCUS_COLUMNS, *FOCUS_13_COLUMNS, *EXTRA_COLUMNS)


def _canonical_names(columns: list[str]) -> dict[str, str]:
    lowered = {name.lower(): name for name in _KNOWN}
    deprecated = {k.lower(): v for k, v in DEPRECATED.items()}
    out = {}
    for col in columns:
        key = col.lower()
        if col in _KNOWN:
            out[col] = col
        elif key in lowered:
            out[col] = lowered[key]
        elif key in deprecated:
            out[col] = deprecated[key]
        else:
            out[col] = col
    return out


def detect_focus(columns: list[str]) -> str | None:
    """The FOCUS version a header implies (``"focus-1.0"``...``"focus-1.3"``), or None."""
    names = set(_canonical_names(columns).values())
    if "BilledCost" not in names or not ({"ChargePeriodStart", "ChargeCategory"} & names):
        return None
    if names & set(_V13):
        return "focus-1.3"
    if names & set(_V12):
        return "focus-1.2"
    if names & set(_V11):
        return "focus-1.1"
    if names & set(_V10):
        return "focus-1.0"
    return "focus-1.0-preview"


def _enum(cols: Cols, name: str, checks: list[OddityCheck]) -> pl.Expr:
    allowed = ENUMS[name]
    text = cols.text(name).str.strip_chars()
    lower = text.str.to_lowercase()
    fixed = lower.replace_strict({a.lower(): a for a in allowed}, default=None,
                                 return_dtype=pl.String)
    if cols.has(name):
        checks.append(OddityCheck("wrong_case_enum", cols.label(name),
                                  fixed.is_not_null() & (fixed != text), text,
                                  f"{name} value in the wrong case; corrected to "
                                  f"one of {', '.join(allowed)}"))
        checks.append(OddityCheck("invalid_enum", cols.label(name),
                                  text.is_not_null() & fixed.is_null(), text,
                                  f"{name} value not allowed by FOCUS 1.2 "
                                  f"({', '.join(allowed)}); read as null"))
    return fixed


def _name_oddities(label: str, names: dict[str, str]) -> tuple[list[Oddity], dict[str, str],
                                                               set[str]]:
    """Duplicate, deprecated and wrong-case column names: (oddities, renamed, duplicates)."""
    oddities: list[Oddity] = []
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    dupes: set[str] = set()
    for col, canon in names.items():
        if canon in seen:
            dupes.add(col)
            oddities.append(Oddity("duplicate_column", label, col, 1, col,
                                   f"column {col} duplicates {canon}; ignored"))
            continue
        seen.add(canon)
        if canon != col:
            renamed[col] = canon
            kind = "deprecated_column" if col.lower() in {k.lower() for k in DEPRECATED} \
                else "wrong_case_column"
            oddities.append(Oddity(kind, label, col, 1, col,
                                   f"column {col} read as FOCUS {canon}"))
    return oddities, renamed, dupes


def _read_columns(label: str, raw: pl.LazyFrame, schema: dict[str, pl.DataType]) -> tuple[
        pl.LazyFrame, Cols, list[Oddity]]:
    """Select the FOCUS and ``x_`` columns under their FOCUS 1.2 names; check the required ones."""
    columns = [c for c in schema if c != ROW]
    names = _canonical_names(columns)
    oddities, renamed, dupes = _name_oddities(label, names)
    extra = [c for c in columns if names[c] not in _KNOWN and not c.startswith("x_")]
    if extra:
        oddities.append(Oddity("extra_columns", label, None, len(extra), ", ".join(extra[:10]),
                               "columns that are neither FOCUS nor x_-prefixed; ignored"))
    keep = [c for c in columns if c not in extra and c not in dupes
            and names[c] not in ("x_SourceRow", "x_SourceRows", "x_SourceFile")]
    raw = raw.select([ROW, *[pl.col(c).alias(names[c]) for c in keep]])
    cschema = dict(raw.collect_schema())
    original = {renamed.get(c, c): c for c in columns}
    cols = Cols(cschema, original)
    for required in ("BilledCost", "ChargePeriodStart"):
        if not cols.has(required):
            raise missing_column(
                label, required, f"FOCUS column {required}",
                "a FOCUS file needs at least BilledCost, ChargeCategory and ChargePeriodStart")
    return raw, cols, oddities


def _provider(cols: Cols) -> pl.Expr:
    """ProviderName, else FOCUS 1.3's ServiceProviderName that replaces it."""
    return pl.coalesce(cols.text("ProviderName"), cols.text("ServiceProviderName"))


def _is_aws(cols: Cols) -> pl.Expr:
    return _provider(cols).is_in(["AWS", "Amazon Web Services"]).fill_null(False)


def _row_checks(cols: Cols) -> tuple[list[OddityCheck], dict[str, pl.Expr], list[str]]:
    """Row-level oddities, the corrected enum columns and the account columns stored as numbers.

    Short account ids are only an oddity on AWS rows.
    """
    checks = null_literal_checks(cols.schema, cols.original)
    if cols.has("ServiceSubcategory"):
        given = cols.text("ServiceSubcategory")
        null_text = is_null_literal(given)
        checks.append(OddityCheck(
            "invalid_subcategory", cols.label("ServiceSubcategory"),
            unfit_subcategory(cols.text("ServiceCategory"), given) & ~null_text, given,
            "ServiceSubcategory not allowed for the row's ServiceCategory; derived from "
            "ServiceCategory and ServiceName"))
    checks += time_zone_checks(cols, ["ChargePeriodStart", "ChargePeriodEnd",
                                      "BillingPeriodStart", "BillingPeriodEnd"])
    enums = {name: _enum(cols, name, checks) for name in ENUMS}
    aws = _is_aws(cols)
    acct_checks, numeric = short_account_checks(cols, ["BillingAccountId", "SubAccountId"])
    checks += [OddityCheck(c.kind, c.column, c.condition & aws, c.value, c.message)
               for c in acct_checks]
    return checks, enums, numeric


def _periods(cols: Cols) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """Charge period start and end, billing period start and end (derived where absent)."""
    charge_start = cols.time("ChargePeriodStart")
    charge_end = pl.coalesce(cols.time("ChargePeriodEnd"), charge_start) \
        if not cols.has("ChargePeriodEnd") else cols.time("ChargePeriodEnd")
    period_start = (cols.time("BillingPeriodStart") if cols.has("BillingPeriodStart")
                    else charge_start.dt.truncate("1mo"))
    period_end = (cols.time("BillingPeriodEnd") if cols.has("BillingPeriodEnd")
                  else period_start.dt.offset_by("1mo"))
    return charge_start, charge_end, period_start, period_end


def _missing_column_oddities(label: str, cols: Cols) -> list[Oddity]:
    """File-level oddities for the optional key columns that are absent."""
    oddities = []
    fixes = {"BillingPeriodStart": "derived from ChargePeriodStart's calendar month (UTC)",
             "EffectiveCost": "set to BilledCost",
             "ChargeCategory": "rows rejected",
             "ServiceSubcategory": "derived from ServiceCategory and ServiceName"}
    for name, fix in fixes.items():
        if not cols.has(name):
            oddities.append(Oddity("missing_column", label, name, 1, name,
                                   f"FOCUS column {name} is absent; {fix}"))
    return oddities


def _rejection_rules(cols: Cols, category: pl.Expr) -> list[tuple[pl.Expr, str, str, pl.Expr]]:
    """The rules that reject a row, in the order they are checked."""
    charge_start, charge_end, period_start, _ = _periods(cols)
    rules = [
        (cols.bad_number("BilledCost"), "BilledCost is not a number", cols.label("BilledCost"),
         cols.text("BilledCost")),
        (cols.money("BilledCost").is_null(), "BilledCost is missing", cols.label("BilledCost"),
         pl.lit(None, pl.String)),
        (charge_start.is_null(), "ChargePeriodStart is missing or not a date/time",
         cols.label("ChargePeriodStart"), cols.text("ChargePeriodStart")),
        (charge_end.is_null(), "ChargePeriodEnd is missing or not a date/time",
         cols.label("ChargePeriodEnd"), cols.text("ChargePeriodEnd")),
        (period_start.is_null(), "BillingPeriodStart is missing or not a date/time",
         cols.label("BillingPeriodStart"), cols.text("BillingPeriodStart")),
        (category.is_null(), "ChargeCategory is missing or not an allowed value",
         cols.label("ChargeCategory"), cols.text("ChargeCategory")),
    ]
    for name in ("EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice",
                 "ContractedUnitPrice", "PricingQuantity", "ConsumedQuantity",
                 "CommitmentDiscountQuantity"):
        rules.append((cols.bad_number(name), f"{name} is not a number", cols.label(name),
                      cols.text(name)))
    return rules


def _focus_columns(cols: Cols, enums: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    """Every FOCUS column read as its type, enums corrected, costs, periods and accounts filled."""
    aws = _is_aws(cols)

    def account(name: str) -> pl.Expr:
        return pl.when(aws).then(cols.account_id(name)).otherwise(cols.text(name))

    billed = cols.money("BilledCost")
    charge_start, charge_end, period_start, period_end = _periods(cols)
    exprs: dict[str, pl.Expr] = {}
    for name, dtype in {**FOCUS_COLUMNS, **FOCUS_13_COLUMNS}.items():
        if dtype == pl.Float64:
            exprs[name] = cols.money(name)
        elif isinstance(dtype, pl.Datetime):
            exprs[name] = cols.time(name)
        else:
            exprs[name] = cols.text(name)
    exprs.update(enums)
    exprs.update({
        "BilledCost": billed,
        "EffectiveCost": cols.money("EffectiveCost") if cols.has("EffectiveCost") else billed,
        "ChargePeriodStart": charge_start,
        "ChargePeriodEnd": charge_end,
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": period_end,
        "BillingAccountId": account("BillingAccountId"),
        "SubAccountId": account("SubAccountId"),
        "ProviderName": _provider(cols),
        "PublisherName": pl.coalesce(cols.text("PublisherName"),
                                     cols.text("ServiceProviderName")),
    })
    return exprs


def _instance_frame(frame: pl.LazyFrame, cols: Cols) -> pl.LazyFrame:
    """Add the instance type (x_InstanceType, else SkuPriceDetails) and the catalog's GPUs."""
    instance = pl.coalesce(cols.text("x_InstanceType"),
                           cols.text("SkuPriceDetails").str.json_path_match("$.InstanceType"))
    frame = frame.with_columns(instance.alias("_instance"))
    return join_gpus(frame, None, "_instance")


def _extension_columns(label: str, cols: Cols, enums: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    """The ``x_`` columns: read where the file has them, else derived (GPUs, option, hours)."""
    category = enums["ChargeCategory"]
    details_gpus = cols.text("SkuPriceDetails").str.json_path_match("$.GpuCount") \
        .cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)
    compute = pl.col("_instance").is_not_null()
    commit_type = cols.text("CommitmentDiscountType").str.to_lowercase()
    pricing = enums["PricingCategory"]
    derived_option = (
        pl.when(commit_type.str.contains("savings")).then(pl.lit("savings_plan"))
        .when(commit_type.str.contains("reserv")).then(pl.lit("reserved"))
        .when((pricing == "Committed") | cols.text("CommitmentDiscountId").is_not_null())
        .then(pl.lit("committed_use"))
        .when(compute & (pricing == "Dynamic")).then(pl.lit("spot"))
        .when(compute & (pricing == "Standard") & (category == "Usage")).then(pl.lit("on_demand"))
        .when(compute).then(pl.lit("other")))
    derived_option = pl.when(compute | (category == "Purchase")).then(derived_option)
    unit = cols.text("ConsumedUnit")
    derived_hours = pl.when(compute & (category == "Usage") & unit.is_in(_HOUR_UNITS)) \
        .then(cols.money("ConsumedQuantity"))
    return {
        "x_Provider": cols.text("x_Provider").fill_null("focus"),
        "x_SourceFile": pl.lit(label),
        "x_SourceRow": pl.col(ROW),
        "x_InstanceType": pl.col("_instance"),
        "x_GpuModel": pl.coalesce(cols.text("x_GpuModel"), pl.col("_cat_gpu_model")),
        "x_GpuCount": pl.coalesce(cols.money("x_GpuCount").cast(pl.Int64, strict=False),
                                  pl.col("_cat_gpus"), details_gpus),
        "x_PurchaseOption": (cols.text("x_PurchaseOption") if cols.has("x_PurchaseOption")
                             else derived_option),
        "x_UsageHours": (cols.money("x_UsageHours") if cols.has("x_UsageHours")
                         else derived_hours),
        "x_CreditTypes": cols.text("x_CreditTypes"),
        MONEY_IN: cols.exact("BilledCost"),
    }


def prepare_focus(label: str, raw: pl.LazyFrame, schema: dict[str, pl.DataType],
                  version: str) -> Prepared:
    """Build the normalised frame of one FOCUS file (``raw`` has ``x_SourceRow``)."""
    raw, cols, oddities = _read_columns(label, raw, schema)
    frame = clean_nulls(raw, cols.schema)
    checks, enums, numeric = _row_checks(cols)
    for name in numeric:
        oddities.append(Oddity("numeric_account_id", label, cols.label(name), 1, name,
                               "account ids stored as numbers; read as text"))
    oddities += _missing_column_oddities(label, cols)
    exprs = _focus_columns(cols, enums)
    frame = _instance_frame(frame, cols)
    exprs.update(_extension_columns(label, cols, enums))
    for expr in reject_rules(_rejection_rules(cols, enums["ChargeCategory"])):
        exprs[expr.meta.output_name()] = expr
    normalised = with_service_subcategory(finish(frame, exprs))
    return Prepared(label, version, f"{cols.label('BilledCost')} (billed cost)", raw,
                    normalised, checks, oddities)
