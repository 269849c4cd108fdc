"""AWS Cost and Usage Report (legacy CSV, Athena/Parquet, CUR 2.0) -> the normalised frame.

The three shapes are first renamed onto the CUR 2.0 snake_case names (``lineItem/UnblendedCost``
-> ``line_item_unblended_cost``), ignoring case and punctuation (``savingsPlan/SavingsPlanArn``
and ``…ARN`` are both ``savings_plan_savings_plan_a_r_n``); one mapping then serves all three.
The mapping follows the FinOps Foundation converter's rules and the CUR amortisation rules
(billing-formats reference, section 2.3), with FOCUS 1.2's commitment rows:

* ``DiscountedUsage`` costs ``reservation/EffectiveCost`` (else its parts
  ``AmortizedUpfrontCostForUsage + RecurringFeeForUsage``; unknown, never $0, when the report has
  neither) and ``SavingsPlanCoveredUsage`` costs ``savingsPlan/SavingsPlanEffectiveCost``: both
  are ``Used`` commitment.
* The commitment fees (``RIFee``, ``SavingsPlanRecurringFee``, ``SavingsPlanUpfrontFee`` and an
  RI's upfront ``Fee``) are ``Purchase`` rows with ``EffectiveCost`` 0.  The unused part of a
  fee becomes a row of its own (:func:`prepare_aws`'s ``derived`` rows): ``ChargeCategory``
  Usage, ``CommitmentDiscountStatus`` Unused, ``BilledCost`` 0, ``EffectiveCost`` =
  ``reservation/UnusedAmortizedUpfrontFeeForBillingPeriod + reservation/UnusedRecurringFee``
  (``RIFee``) or ``savingsPlan/TotalCommitmentToDate - savingsPlan/UsedCommitment``
  (``SavingsPlanRecurringFee``), net variants where the report has net costs.
* A column rejects a row only where it applies to the row's line item type: text in
  ``savingsPlan/SavingsPlanEffectiveCost`` of a data-transfer ``Usage`` row is an oddity, not a
  rejection; a bad value where the column applies is rejected naming that column.
* ServiceName is the product code's (``AWS_SERVICE_NAMES``: ``AmazonEC2`` is "Amazon Elastic
  Compute Cloud" whatever AMI its product name shows), else the product name (Marketplace);
  ServiceCategory the name's, else the code's, one per name (the first, alphabetically, that is
  not Other).  AWS invoices Marketplace charges; their seller (``lineItem/LegalEntity``) is
  PublisherName and ServiceProviderName, hosted by AWS.
* Split cost allocation (``splitLineItem/ParentResourceId`` set: a task's or pod's share of an
  EC2 instance) keeps the instance as ResourceId; the task or pod (``lineItem/ResourceId``) is
  AllocatedResourceId and -Name, AllocatedMethodDetails the split usage ratio and quantity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from costmodels.billing import _categories as tables
from costmodels.billing._aws_amortisation import (
    amortisation_rules,
    billed_cost,
    commitment_checks,
    effective_cost,
    unused_rows,
)
from costmodels.billing._common import (
    MONEY_IN,
    ROW,
    Cols,
    OddityCheck,
    Prepared,
    clean_nulls,
    finish,
    join_gpus,
    json_fragment,
    json_object,
    missing_column,
    null_literal_checks,
    parse_utc,
    reject_rules,
    short_account_checks,
    time_zone_checks,
)
from costmodels.billing._compact import DayPeriod, compact_rows, plan_compaction
from costmodels.billing._subcategories import fits_category

USAGE_TYPES, DISCOUNT_TYPES = tables.AWS_USAGE_TYPES, tables.AWS_DISCOUNT_TYPES
PURCHASE_TYPES, KNOWN_TYPES = tables.AWS_PURCHASE_TYPES, tables.AWS_KNOWN_TYPES
COMMITMENT_FEE_TYPES = tables.AWS_COMMITMENT_FEE_TYPES
AMORTISATION_COLUMNS, _NET = tables.AWS_AMORTISATION_COLUMNS, tables.AWS_NET_COLUMNS


def snake(name: str) -> str:
    """CUR legacy CSV name -> Athena / CUR 2.0 name (``lineItem/UsageAmount`` -> ``line_item_usage_amount``)."""
    parts = []
    for part in name.split("/"):
        part = re.sub(r"[^0-9A-Za-z]+", "_", part)
        parts.append(re.sub(r"(?<!^)(?<!_)([A-Z])", r"_\1", part).lower())
    return "_".join(parts)


def name_key(name: str) -> str:
    """A column name reduced to lower-case letters and digits, for matching AWS names."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


_KNOWN = {name_key(name): name for name in tables.AWS_CUR_COLUMNS}


def detect_shape(columns: list[str]) -> str | None:
    """``"aws-cur-csv"``, ``"aws-cur-athena"``, ``"aws-cur2"`` or None when not a CUR file."""
    if any(c.lower().startswith("lineitem/") for c in columns):
        return "aws-cur-csv"
    keys = {name_key(c) for c in columns}
    if name_key("line_item_unblended_cost") in keys or name_key("line_item_line_item_type") in keys:
        if keys & {"product", "resourcetags", name_key("bill_payer_account_name")}:
            return "aws-cur2"
        return "aws-cur-athena"
    return None


def _tag_key(canonical: str) -> str:
    key = canonical[len("resource_tags_"):]
    if key.startswith("user_"):
        return key[len("user_"):]
    if key.startswith("aws_"):
        return "aws:" + key[len("aws_"):]
    return key


def _legacy_tag_key(original: str) -> str:
    key = original[len("resourceTags/"):]
    return key.removeprefix("user:")


def _map_get(cols: Cols, column: str, key: str) -> pl.Expr:
    """``column[key]`` of a CUR 2.0 map column (Parquet map or JSON text)."""
    if not cols.has(column):
        return pl.lit(None, pl.String)
    dtype = cols.schema[column]
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        return (cols.col(column).list.filter(pl.element().struct.field("key") == key)
                .list.first().struct.field("value").cast(pl.String))
    if isinstance(dtype, pl.Struct):
        names = [f.name for f in dtype.fields]
        return (cols.col(column).struct.field(key).cast(pl.String) if key in names
                else pl.lit(None, pl.String))
    return cols.col(column).cast(pl.String).str.json_path_match(f'$["{key}"]')


def _map_tags(cols: Cols, column: str) -> pl.Expr | None:
    """A CUR 2.0 ``resource_tags`` map as FOCUS Tags JSON text (user_ prefix dropped)."""
    if not cols.has(column):
        return None
    dtype = cols.schema[column]
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        key = pl.element().struct.field("key")
        value = pl.element().struct.field("value")
        clean_key = (pl.when(key.str.starts_with("user_")).then(key.str.strip_prefix("user_"))
                     .when(key.str.starts_with("aws_"))
                     .then("aws:" + key.str.strip_prefix("aws_")).otherwise(key))
        pair = pl.struct(clean_key.alias("k"), value.alias("v"))
        fragments = cols.col(column).list.eval(
            pl.when(value.is_not_null()).then(
                pl.concat_str([pl.lit('"'), pair.struct.field("k").str.replace_all('"', r'\"'),
                               pl.lit('":"'), pair.struct.field("v").str.replace_all(r'\\', r'\\\\')
                               .str.replace_all('"', r'\"'), pl.lit('"')])
            )).list.drop_nulls()
        joined = fragments.list.join(",")
        return pl.when(joined.str.len_chars() > 0).then("{" + joined + "}")
    text = cols.col(column).cast(pl.String)
    return pl.when(text.is_in(["{}", ""]).not_()).then(
        text.str.replace_all(r'"user_', '"').str.replace_all(r'"aws_', '"aws:'))


def _canonical(raw: pl.LazyFrame, schema: dict[str, pl.DataType],
               shape: str) -> tuple[pl.LazyFrame, Cols]:
    """Rename the columns onto the CUR 2.0 names; typed access keeps the original spelling.

    A column whose name matches one of ``tables.AWS_CUR_COLUMNS`` ignoring case and punctuation
    takes that name (the first such column, if a file had two); the others keep their
    snake_case (legacy CSV) or own (Athena, CUR 2.0) name.
    """
    canonical: dict[str, str] = {}
    taken: set[str] = set()
    for name in schema:
        if name == ROW:
            canonical[name] = name
            continue
        plain = snake(name) if shape == "aws-cur-csv" else name
        known = _KNOWN.get(name_key(name))
        target = known if known is not None and known not in taken else plain
        taken.add(target)
        canonical[name] = target
    original = {v: k for k, v in canonical.items()}
    raw = raw.rename({k: v for k, v in canonical.items() if k != v})
    cschema = {canonical[k]: v for k, v in schema.items()}
    return raw, Cols(cschema, original)


def _row_checks(cols: Cols) -> list[OddityCheck]:
    """Row-level oddities: time zones, short account ids, unknown line item types, stray
    amortisation values; then literal nulls in every column read so far."""
    checks: list[OddityCheck] = time_zone_checks(cols, ["line_item_usage_start_date", "line_item_usage_end_date",
                                      "bill_billing_period_start_date",
                                      "bill_billing_period_end_date"])
    acct_checks, _ = short_account_checks(cols, ["bill_payer_account_id",
                                                 "line_item_usage_account_id"])
    checks += acct_checks
    lit_type = cols.text("line_item_line_item_type")
    checks.append(OddityCheck("unknown_line_item_type", cols.label("line_item_line_item_type"),
                              lit_type.is_not_null() & ~lit_type.is_in(list(KNOWN_TYPES)),
                              lit_type, "line item type not in the AWS documentation; "
                              "read as an Adjustment at its unblended cost"))
    checks += commitment_checks(cols, lit_type)
    return checks + null_literal_checks(cols.schema, cols.original, sorted(cols.used))


def _category(lit_type: pl.Expr) -> pl.Expr:
    """Line item type -> FOCUS ChargeCategory."""
    return (pl.when(lit_type.is_in([*USAGE_TYPES, *DISCOUNT_TYPES])).then(pl.lit("Usage"))
            .when(lit_type.is_in([*PURCHASE_TYPES, "FlatRateSubscription"]))
            .then(pl.lit("Purchase"))
            .when(lit_type == "Tax").then(pl.lit("Tax"))
            .when(lit_type.is_in(["Credit", "Refund"])).then(pl.lit("Credit"))
            .otherwise(pl.lit("Adjustment")))


def _charge_period(cols: Cols) -> tuple[pl.Expr, pl.Expr]:
    """Usage start and end, else the two halves of ``identity_time_interval``."""
    return (pl.coalesce(cols.time("line_item_usage_start_date"), pl.col("_iv_start")),
            pl.coalesce(cols.time("line_item_usage_end_date"), pl.col("_iv_end")))


def _billing_period(cols: Cols) -> tuple[pl.Expr, pl.Expr]:
    """Billing period start and end (a month after the start when the end is missing)."""
    period_start = cols.time("bill_billing_period_start_date")
    return period_start, pl.coalesce(cols.time("bill_billing_period_end_date"),
                                     period_start.dt.offset_by("1mo"))


def _spot(cols: Cols) -> pl.Expr:
    return (cols.text("pricing_term") == "Spot").fill_null(False) | \
        cols.text("line_item_usage_type").str.contains("SpotUsage").fill_null(False)


def _cost_columns(cols: Cols) -> dict[str, pl.Expr]:
    """Billed, effective, list and contracted costs, unit prices, quantities and units."""
    lit_type = cols.text("line_item_line_item_type")
    category = _category(lit_type)
    billed = billed_cost(cols)
    amount = cols.money("line_item_usage_amount")
    unit_focus = cols.text("pricing_unit").replace(tables.AWS_UNITS)
    list_rate = cols.money("pricing_public_on_demand_rate")
    list_cost = (pl.when(lit_type == "SavingsPlanNegation").then(0.0)
                 .otherwise(pl.coalesce(cols.money("pricing_public_on_demand_cost"),
                                        list_rate * amount, billed)))
    return {
        "BilledCost": billed,
        "ConsumedQuantity": pl.when(category == "Usage").then(amount),
        "ConsumedUnit": pl.when(category == "Usage").then(unit_focus),
        "ContractedCost": (pl.when(lit_type == "SavingsPlanNegation").then(0.0)
                           .when(lit_type == "DiscountedUsage").then(list_cost)
                           .otherwise(billed)),
        "ContractedUnitPrice": pl.when(lit_type == "DiscountedUsage").then(list_rate)
        .when(category == "Usage").then(cols.money("line_item_unblended_rate")),
        "EffectiveCost": effective_cost(cols),
        "ListCost": list_cost,
        "ListUnitPrice": list_rate,
        "PricingQuantity": pl.when(category != "Tax").then(amount),
        "PricingUnit": pl.when(category != "Tax").then(unit_focus),
    }


def _charge_columns(cols: Cols) -> dict[str, pl.Expr]:
    """Charge category, class, frequency and periods, billing period and pricing category."""
    lit_type = cols.text("line_item_line_item_type")
    category = _category(lit_type)
    charge_start, charge_end = _charge_period(cols)
    period_start, period_end = _billing_period(cols)
    committed_usage = lit_type.is_in(["DiscountedUsage", "SavingsPlanCoveredUsage",
                                      "SavingsPlanNegation"])
    return {
        "BillingPeriodEnd": period_end,
        "BillingPeriodStart": period_start,
        "ChargeCategory": category,
        "ChargeClass": pl.when((lit_type == "Refund") & (charge_start < period_start))
        .then(pl.lit("Correction")),
        "ChargeDescription": cols.text("line_item_line_item_description"),
        "ChargeFrequency": (pl.when(category == "Usage").then(pl.lit("Usage-Based"))
                            .when(lit_type.is_in(["RIFee", "SavingsPlanRecurringFee"]))
                            .then(pl.lit("Recurring"))
                            .otherwise(pl.lit("One-Time"))),
        "ChargePeriodEnd": charge_end,
        "ChargePeriodStart": charge_start,
        "PricingCategory": (pl.when(category == "Tax").then(None)
                            .when(committed_usage).then(pl.lit("Committed"))
                            .when(lit_type.is_in(DISCOUNT_TYPES)).then(pl.lit("Other"))
                            .when(_spot(cols) & (category == "Usage")).then(pl.lit("Dynamic"))
                            .when(category.is_in(["Usage", "Purchase"]))
                            .then(pl.lit("Standard"))),
    }


def _commitment_columns(cols: Cols) -> dict[str, pl.Expr]:
    """The CommitmentDiscount* (Savings Plan or Reserved Instance) and CapacityReservation* columns."""
    lit_type = cols.text("line_item_line_item_type")
    category = _category(lit_type)
    sp_arn = cols.text("savings_plan_savings_plan_a_r_n")
    commitment_rows = lit_type.is_in(["DiscountedUsage", "SavingsPlanCoveredUsage",
                                      "SavingsPlanNegation", *PURCHASE_TYPES])
    commitment_id = pl.when(commitment_rows).then(
        pl.coalesce(sp_arn, cols.text("reservation_reservation_a_r_n")))
    is_sp = sp_arn.is_not_null() | lit_type.str.starts_with("SavingsPlan").fill_null(False)
    return {
        "CapacityReservationId": cols.text("capacity_reservation_capacity_reservation_arn"),
        "CapacityReservationStatus": cols.text("capacity_reservation_capacity_reservation_status")
        .replace_strict({"Used": "Used", "Unused": "Unused", "USED": "Used", "UNUSED": "Unused"},
                        default=None, return_dtype=pl.String),
        "CommitmentDiscountCategory": pl.when(commitment_id.is_not_null())
        .then(pl.when(is_sp).then(pl.lit("Spend")).otherwise(pl.lit("Usage"))),
        "CommitmentDiscountId": commitment_id,
        "CommitmentDiscountStatus": pl.when(commitment_id.is_not_null() & (category == "Usage"))
        .then(pl.lit("Used")),
        "CommitmentDiscountType": pl.when(commitment_id.is_not_null())
        .then(pl.when(is_sp).then(pl.lit("Savings Plan")).otherwise(pl.lit("Reserved Instance"))),
    }


def _tags(cols: Cols, shape: str) -> pl.Expr:
    """FOCUS Tags JSON text from the CUR 2.0 map or the legacy ``resourceTags/...`` columns."""
    if shape == "aws-cur2":
        tags = _map_tags(cols, "resource_tags")
    else:
        fragments = []
        for name in cols.schema:
            if name.startswith("resource_tags_"):
                key = (_legacy_tag_key(cols.original[name]) if shape == "aws-cur-csv"
                       else _tag_key(name))
                fragments.append(json_fragment(key, cols.text(name)))
        tags = json_object(fragments)
    return tags if tags is not None else pl.lit(None, pl.String)


def _source_columns(label: str, cols: Cols, shape: str) -> dict[str, pl.Expr]:
    """Accounts, invoice, providers and publisher, region, service, SKU and tags (AWS invoices
    Marketplace charges too; their seller is PublisherName and ServiceProviderName)."""
    service_category = pl.col("_category")
    subcategory = cols.text("line_item_product_code").replace_strict(
        tables.AWS_SUBCATEGORIES, default=None, return_dtype=pl.String)
    entity = cols.text("bill_billing_entity")
    marketplace = (entity == "AWS Marketplace").fill_null(False)
    not_tax = _category(cols.text("line_item_line_item_type")) != "Tax"
    return {
        "AvailabilityZone": cols.text("line_item_availability_zone"),
        "BillingAccountId": cols.account_id("bill_payer_account_id"),
        "BillingAccountName": cols.text("bill_payer_account_name"),
        "BillingCurrency": cols.text("line_item_currency_code").fill_null("USD"),
        "InvoiceId": cols.text("bill_invoice_id"),
        "HostProviderName": pl.when(marketplace & not_tax).then(pl.lit("AWS")),
        "InvoiceIssuerName": pl.when(entity.is_in(tables.AWS_BILLING_ENTITIES).fill_null(True))
        .then(pl.lit("AWS")).otherwise(pl.coalesce(cols.text("bill_invoicing_entity"), entity)),
        "ProviderName": pl.lit("AWS"),
        "PublisherName": cols.text("line_item_legal_entity").fill_null("Amazon Web Services"),
        "RegionId": pl.coalesce(cols.text("product_region_code"), cols.text("product_region")),
        "RegionName": cols.text("product_location"),
        "ServiceCategory": service_category,
        "ServiceName": pl.col("_service"),
        "ServiceProviderName": pl.when(marketplace).then(cols.text("line_item_legal_entity")),
        "ServiceSubcategory": pl.when(fits_category(subcategory, service_category))
        .then(subcategory).otherwise("Other (" + service_category + ")"),
        "SkuId": cols.text("product_sku"),
        "SkuPriceId": pl.coalesce(cols.text("pricing_rate_code"), cols.text("pricing_rate_id")),
        "SubAccountId": cols.account_id("line_item_usage_account_id"),
        "SubAccountName": cols.text("line_item_usage_account_name"),
        "Tags": _tags(cols, shape),
        "x_Provider": pl.lit("aws"),
        "x_SourceFile": pl.lit(label),
        "x_SourceRow": pl.col(ROW),
    }


def _allocation_columns(cols: Cols) -> dict[str, pl.Expr]:
    """ResourceId and the allocation columns (see the module docstring)."""
    parent = cols.text("split_line_item_parent_resource_id")
    split = parent.is_not_null()
    allocated = pl.when(split).then(cols.text("line_item_resource_id"))
    ratio = cols.money("split_line_item_split_usage_ratio")
    usage = cols.money("split_line_item_split_usage")
    unit = cols.text("pricing_unit").replace(tables.AWS_UNITS)
    element = pl.struct(ratio.alias("AllocatedRatio"), unit.alias("UsageUnit"),
                        usage.alias("UsageQuantity")).struct.json_encode()
    return {
        "AllocatedMethodDetails": pl.when(split & ratio.is_not_null() & unit.is_not_null()
                                          & usage.is_not_null())
        .then('{"Elements":[' + element + "]}"),
        "AllocatedMethodId": pl.when(split).then(pl.lit(tables.AWS_SPLIT_METHOD)),
        "AllocatedResourceId": allocated,
        "AllocatedResourceName": allocated,
        "ResourceId": pl.coalesce(parent, cols.text("line_item_resource_id")),
    }


def _rejection_rules(cols: Cols, money_col: str) -> list[tuple[pl.Expr, str, str, pl.Expr]]:
    """The rules that reject a row, in the order they are checked."""
    charge_start, charge_end = _charge_period(cols)
    return [
        (cols.bad_number("line_item_unblended_cost"), "cost is not a number",
         cols.label("line_item_unblended_cost"), cols.text("line_item_unblended_cost")),
        (cols.bad_number("line_item_net_unblended_cost"), "net cost is not a number",
         cols.label("line_item_net_unblended_cost"), cols.text("line_item_net_unblended_cost")),
        (billed_cost(cols).is_null(), "cost is missing", cols.label(money_col),
         pl.lit(None, pl.String)),
        (charge_start.is_null(), "usage start date is missing or not a date/time",
         cols.label("line_item_usage_start_date"), cols.text("line_item_usage_start_date")),
        (charge_end.is_null(), "usage end date is missing or not a date/time",
         cols.label("line_item_usage_end_date"), cols.text("line_item_usage_end_date")),
        (_billing_period(cols)[0].is_null(), "billing period start is missing or not a date/time",
         cols.label("bill_billing_period_start_date"),
         cols.text("bill_billing_period_start_date")),
        (cols.text("bill_payer_account_id").is_null(), "payer account id is missing",
         cols.label("bill_payer_account_id"), pl.lit(None, pl.String)),
        (cols.money("line_item_usage_amount").is_null()
         & cols.bad_number("line_item_usage_amount"),
         "usage amount is not a number", cols.label("line_item_usage_amount"),
         cols.text("line_item_usage_amount")),
        *amortisation_rules(cols),
    ]


def _instance_frame(frame: pl.LazyFrame, cols: Cols) -> pl.LazyFrame:
    """Add the time interval's halves, the instance type, the ServiceName and ServiceCategory
    (``_service``, ``_category``: see the module docstring) and join the catalog's GPUs."""
    usage_type = cols.text("line_item_usage_type")
    instance = pl.coalesce(cols.text("product_instance_type"),
                           _map_get(cols, "product", "instance_type"),
                           pl.when(usage_type.str.contains(tables.AWS_INSTANCE_USAGE))
                           .then(usage_type.str.extract(tables.AWS_INSTANCE_USAGE, 2)))
    interval = cols.text("identity_time_interval")
    code = cols.text("line_item_product_code")
    name = pl.coalesce(code.replace_strict(tables.AWS_SERVICE_NAMES, default=None),
                       cols.text("product_product_name"),
                       _map_get(cols, "product", "product_name"), code).fill_null("Unknown")
    category = pl.coalesce(name.replace_strict(tables.AWS_NAME_CATEGORIES, default=None),
                           code.replace_strict(tables.AWS_CATEGORIES, default=None))
    frame = frame.with_columns(
        interval.str.split("/").list.get(0, null_on_oob=True).pipe(parse_utc).alias("_iv_start"),
        interval.str.split("/").list.get(1, null_on_oob=True).pipe(parse_utc).alias("_iv_end"),
        instance.alias("_instance"), name.alias("_service"), category.alias("_category"),
    )
    known = pl.col("_category").filter(pl.col("_category") != "Other")
    frame = frame.with_columns(known.min().over("_service").fill_null("Other").alias("_category"))
    return join_gpus(frame, "aws", "_instance")


def _gpu_columns(cols: Cols) -> dict[str, pl.Expr]:
    """Instance type, GPU model and count, purchase option and instance hours."""
    lit_type = cols.text("line_item_line_item_type")
    gpu_col = pl.coalesce(cols.text("product_gpu"), _map_get(cols, "product", "gpu"))
    compute_usage = pl.col("_instance").is_not_null() & (_category(lit_type) == "Usage") & \
        ~lit_type.is_in(DISCOUNT_TYPES)
    purchase_option = (
        pl.when(lit_type.is_in(["SavingsPlanCoveredUsage", "SavingsPlanNegation",
                                "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee"]))
        .then(pl.lit("savings_plan"))
        .when(lit_type.is_in(["DiscountedUsage", "RIFee"]) |
              ((lit_type == "Fee") & cols.text("reservation_reservation_a_r_n").is_not_null()))
        .then(pl.lit("reserved"))
        .when(compute_usage & _spot(cols)).then(pl.lit("spot"))
        .when(compute_usage & (cols.text("pricing_term") == "OnDemand").fill_null(True))
        .then(pl.lit("on_demand"))
        .when(compute_usage).then(pl.lit("other")))
    hours_unit = cols.text("pricing_unit").is_in(["Hrs", "Hours", "hours", "Hour"]) \
        .fill_null(False)
    return {
        "SkuPriceDetails": json_object([json_fragment("InstanceType", pl.col("_instance"))]),
        "x_InstanceType": pl.col("_instance"),
        "x_GpuModel": pl.col("_cat_gpu_model"),
        "x_GpuCount": pl.coalesce(pl.col("_cat_gpus"),
                                  gpu_col.str.strip_chars().cast(pl.Int64, strict=False)),
        "x_PurchaseOption": purchase_option,
        "x_UsageHours": pl.when(compute_usage & hours_unit & (lit_type != "SavingsPlanNegation"))
        .then(cols.money("line_item_usage_amount")),
    }


@dataclass
class AwsPrepared(Prepared):
    """A prepared CUR file plus ``derived``: the unused commitment rows of its accepted fee
    lines (normalised columns only).  They have no source row of their own (``x_SourceRow`` is
    the fee line's) and no billed cost, so they are outside the row and money reconciliation;
    the reader appends them to the file's accepted rows."""

    derived: pl.LazyFrame | None = None


ADDITIVE_COLUMNS = frozenset({
    "line_item_unblended_cost", "line_item_net_unblended_cost", "line_item_usage_amount",
    "pricing_public_on_demand_cost", "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment", "reservation_unused_quantity", *AMORTISATION_COLUMNS})
"""Amounts a compact read sums (:mod:`costmodels.billing._compact`): every normalised figure is
linear in them; rates and prices are not among them."""

IDENTITY_COLUMNS = frozenset({"line_item_resource_id", "split_line_item_parent_resource_id",
                              "identity_time_interval"})
"""Per-row columns a compact read drops: the resource ids (ResourceId and Allocated* are then
null) and the hour's interval, read only where a usage date is missing (a row the compact read
then rejects, so the file is read again row by row)."""

OWN_ROW_TYPES = (*COMMITMENT_FEE_TYPES, "Fee", "Refund")
"""Line item types a compact read keeps as rows of their own: a fee's unused part is a row only
where it is not 0, and a refund's class depends on its own start."""


def prepare_aws(label: str, raw: pl.LazyFrame, schema: dict[str, pl.DataType],
                shape: str, *, compact: bool = False) -> AwsPrepared:
    """Build the normalised frame of one CUR file (``raw`` has string cells and ``x_SourceRow``).

    ``compact``: sum the rows first where the file allows it (:mod:`_compact`).
    """
    raw, cols = _canonical(raw, schema, shape)
    _require(cols, label)
    prepared = _build(label, shape, raw, cols)
    plan = plan_compaction(cols, ADDITIVE_COLUMNS, IDENTITY_COLUMNS) if compact else None
    if plan is None:
        return prepared
    own = cols.text("line_item_line_item_type").is_in(list(OWN_ROW_TYPES))
    start, end = "line_item_usage_start_date", "line_item_usage_end_date"
    types = [cols.schema.get(start), cols.schema.get(end)]
    period = (DayPeriod(start, end, types[0].time_zone)
              if all(isinstance(t, pl.Datetime) for t in types)
              and types[0].time_zone == types[1].time_zone else None)
    small = compact_rows(raw, plan, own_row=own, period=period)
    if small is None:
        return prepared
    out = _build(label, shape, small, Cols(dict(small.collect_schema()), cols.original))
    out.rows = raw
    out.row_checks = null_literal_checks(cols.schema, cols.original, plan.identity)
    return out


def _build(label: str, shape: str, raw: pl.LazyFrame, cols: Cols) -> AwsPrepared:
    frame = clean_nulls(raw, cols.schema)
    has_net = cols.has("line_item_net_unblended_cost")
    money_col = "line_item_net_unblended_cost" if has_net else "line_item_unblended_cost"
    money_in = (pl.coalesce(cols.exact("line_item_net_unblended_cost"),
                            cols.exact("line_item_unblended_cost")) if has_net
                else cols.exact("line_item_unblended_cost"))
    frame = _instance_frame(frame, cols)
    exprs = {**_source_columns(label, cols, shape), **_charge_columns(cols),
             **_cost_columns(cols), **_commitment_columns(cols), **_gpu_columns(cols),
             **_allocation_columns(cols), MONEY_IN: money_in}
    for expr in reject_rules(_rejection_rules(cols, money_col)):
        exprs[expr.meta.output_name()] = expr
    derived = unused_rows(frame, cols, exprs)
    checks = _row_checks(cols)
    basis = "net unblended cost" if has_net else "unblended cost"
    return AwsPrepared(label, shape, f"{cols.label(money_col)} ({basis})", raw,
                       finish(frame, exprs), checks, derived=derived)


def _require(cols: Cols, label: str) -> None:
    fix = "export the report with its default columns"
    for name in ("line_item_unblended_cost", "line_item_line_item_type",
                 "bill_billing_period_start_date", "bill_payer_account_id"):
        if not cols.has(name):
            shown = cols.label(name) if name in cols.original else name
            legacy = tables.AWS_LEGACY_NAMES.get(name, name)
            raise missing_column(label, legacy, f"CUR column {shown} (legacy name {legacy})", fix)
    if not (cols.has("line_item_usage_start_date") or cols.has("identity_time_interval")):
        raise missing_column(label, "lineItem/UsageStartDate",
                             "CUR column lineItem/UsageStartDate (line_item_usage_start_date)",
                             fix)
