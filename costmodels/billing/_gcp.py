"""GCP Cloud Billing export (standard and detailed usage cost tables) -> the normalised frame.

Three physical shapes of the same BigQuery table are read:

* CSV, flattened: nested fields as dotted names (``service.description``, ``invoice.month``),
  repeated records (``labels``, ``system_labels``, ``project.labels``, ``credits``) as JSON text,
  timestamps as BigQuery writes them (``2026-10-05 00:00:00 UTC``); ``credits`` may also be a
  Python literal (``[{'name': 'FreeTrial', 'amount': -0.5, ...}]``, as koku-nise writes it),
  parsed and checked, never evaluated; a ``credits`` value that is neither is refused with its
  row and the reason (``CREDIT_ERRORS``);
* JSON lines and Parquet: nested structs and lists of structs, as BigQuery exports them.

Structs are first flattened onto the dotted names, and the repeated records are brought to one
canonical list of structs (labels: ``k``/``v`` holding JSON-escaped text; credits:
``amount`` as text, ``type``, ``name``), so a single mapping serves all shapes.  The mapping
follows the billing-formats reference, section 3.4 and its recommendation:

* ``BilledCost`` = net cost = ``cost + Σ credits.amount`` (credits are netted into their row,
  not emitted as separate Credit rows, so the sum per ``invoice.month`` is the invoice);
  the credit types applied are kept in ``x_CreditTypes``.
* ``EffectiveCost`` = ``BilledCost``, except committed use discounts: the commitment fee rows
  (SKU description starting with "Commitment") are ``Purchase`` rows whose fee is spread over the
  usage rows that carry CUD credits, in proportion to those credits, per commitment
  (``subscription.instance_id``, else billing account and region) and billing period.  A fee
  with no credited usage in the same file stays on its own row (unused).  Σ EffectiveCost =
  Σ BilledCost per file and period.
* ``BillingPeriodStart``/``End`` = ``invoice.month`` at 00:00 America/Los_Angeles, in UTC
  (exclusive end = next month's start).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from costmodels.billing._categories import GCP_CATEGORIES, GCP_CATEGORY_ADDITIONS
from costmodels.billing._common import (
    MONEY_EXACT,
    MONEY_IN,
    ROW,
    Cols,
    Oddity,
    OddityCheck,
    Prepared,
    clean_nulls,
    finish,
    is_stringy,
    join_gpus,
    json_fragment,
    json_object,
    missing_column,
    null_literal_checks,
    reject_rules,
    time_zone_checks,
)
from costmodels.billing._gcp_nested import (
    CREDIT_ERRORS,
    CREDITS_PARSED,
    _bad_key_values,
    _credit_sum,
    _credits,
    _flatten,
    _get,
    _key_values,
    parsed_credits,
)
from costmodels.billing.schema import UTC_TIME

KNOWN_COLUMNS = frozenset({
    "billing_account_id", "invoice.month", "invoice.publisher_type", "cost_type",
    "service.id", "service.description", "sku.id", "sku.description", "usage_start_time",
    "usage_end_time", "project.id", "project.number", "project.name", "project.labels",
    "project.ancestry_numbers", "project.ancestors", "labels", "system_labels", "tags",
    "location.location", "location.country", "location.region", "location.zone",
    "resource.name", "resource.global_name", "cost", "currency", "currency_conversion_rate",
    "usage.amount", "usage.unit", "usage.amount_in_pricing_units", "usage.pricing_unit",
    "credits", "adjustment_info.id", "adjustment_info.description", "adjustment_info.mode",
    "adjustment_info.type", "export_time", "cost_at_list", "cost_at_effective_price_default",
    "cost_at_list_consumption_model", "transaction_type", "seller_name",
    "subscription.instance_id", "consumption_model.id", "consumption_model.description",
    "price.effective_price", "price.tier_start_amount", "price.unit",
    "price.pricing_unit_quantity", "price.list_price", "price.effective_price_default",
    "price.list_price_consumption_model",
})
"""Columns of the standard and detailed export tables (flattened names)."""

REQUIRED = ("cost", "invoice.month", "usage_start_time", "usage_end_time")

COST_TYPES = ("regular", "tax", "adjustment", "rounding_error")

CUD_CREDITS = ("COMMITTED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE")
NEGOTIATED_CREDITS = ("DISCOUNT",)

SUBCATEGORIES = {"Compute Engine": "Virtual Machines", "Cloud Storage": "Object Storage",
                 "BigQuery": "Data Warehouses", "Kubernetes Engine": "Containers",
                 "Cloud Run": "Serverless Compute", "Cloud Functions": "Serverless Compute",
                 "Cloud SQL": "Relational Databases", "Vertex AI": "Machine Learning",
                 "Cloud TPU": "Machine Learning", "Cloud Logging": "Observability",
                 "Cloud Monitoring": "Observability", "Networking": "Network Infrastructure",
                 "Cloud Bigtable": "NoSQL Databases", "Cloud Spanner": "Relational Databases",
                 "Cloud Pub/Sub": "Messaging", "Cloud Filestore": "File Storage",
                 "Cloud Memorystore for Redis": "Caching", "Cloud Dataflow": "Data Processing"}
"""Service descriptions whose FOCUS ServiceSubcategory is known; others ``Other (<category>)``.

Each subcategory's parent is the service's category in :data:`CATEGORIES`."""

CATEGORIES = {**GCP_CATEGORIES, **GCP_CATEGORY_ADDITIONS}
"""Service description -> FOCUS ServiceCategory (others ``Other``)."""

UNITS = {"seconds": "Seconds", "second": "Seconds", "hour": "Hours", "hours": "Hours",
         "byte-seconds": "Byte-Seconds", "bytes": "Bytes", "gibibyte month": "GiB-Months",
         "gibibyte": "GiB", "gibibyte hour": "GiB-Hours", "tebibyte": "TiB",
         "requests": "Requests", "count": "Count", "month": "Months"}
"""GCP usage / pricing units -> FOCUS unit format; others pass through unchanged."""

MACHINE_SPEC_KEYS = ("compute.googleapis.com/machine_spec",)
MACHINE_LABEL_KEYS = ("machine_type", "goog-gke-node-machine-type", "cloud.google.com/machine-type")

_GPU_SKU = r"(?i)\bnvidia\s+(?:tesla\s+)?([a-z]*\d+[a-z]*(?:\s+\d+\s*gb)?)\s+gpu\b"
_SPOT_SKU = r"(?i)\b(spot|preemptible)\b"
_COMMITMENT_SKU = r"(?i)^\s*commitment\b"
_HOURS_UNITS = {"seconds": 1 / 3600, "second": 1 / 3600, "s": 1 / 3600, "hour": 1.0,
                "hours": 1.0, "h": 1.0}
_SEC_PER_HOUR = 3600.0
SHOWN_CHARS = 200
"""Characters of a rejected ``credits`` value kept in the rejection list."""


def detect_gcp(columns: list[str]) -> str | None:
    """``"gcp-standard"``, ``"gcp-detailed"`` or None when the header is not a GCP export."""
    names = set(columns)
    account = bool(names & {"billing_account_id", "invoice.month", "invoice"})
    service = bool(names & {"service.description", "service.id", "service", "sku.id", "sku",
                            "cost_type"})
    if not (account and service):
        return None
    detailed = bool(names & {"resource.name", "resource.global_name", "resource"})
    return "gcp-detailed" if detailed else "gcp-standard"


@dataclass(frozen=True, eq=False)
class _Row:
    """The base expressions of one GCP export row, shared by the FOCUS columns and the rules."""

    cols: Cols
    credits: pl.Expr
    credits_error: pl.Expr
    """Why ``credits`` was refused (a key of ``CREDIT_ERRORS``), null when it was read."""
    credits_bad: pl.Expr
    labels: pl.Expr
    system_labels: pl.Expr
    cost: pl.Expr
    billed: pl.Expr
    sku: pl.Expr
    service: pl.Expr
    cost_type_raw: pl.Expr
    cost_type: pl.Expr
    project_id: pl.Expr
    account: pl.Expr
    region: pl.Expr
    period_start: pl.Expr
    period_end: pl.Expr
    charge_start: pl.Expr
    charge_end: pl.Expr


@dataclass(frozen=True, eq=False)
class _Commitment:
    """Charge category, pricing category and committed use discount expressions of a row."""

    fee: pl.Expr
    """The row is a commitment fee (a ``Purchase``)."""
    cud_credit: pl.Expr
    has_cud: pl.Expr
    spend_cud: pl.Expr
    category: pl.Expr
    spot: pl.Expr
    key: pl.Expr
    commitment_id: pl.Expr
    pricing_category: pl.Expr


def _read_flat(label: str, raw: pl.LazyFrame, schema: dict[str, pl.DataType]) -> tuple[
        pl.LazyFrame, dict[str, pl.DataType], Cols]:
    """Flatten the export, make its timestamps parseable and check the required columns."""
    raw, fschema = _flatten(raw, schema)
    # BigQuery writes TIMESTAMPs as "2026-10-05 00:00:00 UTC" in CSV and JSON
    stamp = [pl.col(c).str.replace(r"\s*UTC$", "Z") for c in
             ("usage_start_time", "usage_end_time", "export_time")
             if c in fschema and is_stringy(fschema[c])]
    if stamp:
        raw = raw.with_columns(stamp)
    original = {name: name for name in fschema}
    cols = Cols(fschema, original)
    for name in REQUIRED:
        if not cols.has(name):
            raise missing_column(
                label, name, f"GCP billing export column {name}",
                "export the standard or detailed usage cost table with all its columns")
    return raw, fschema, cols


def _file_oddities(label: str, fschema: dict[str, pl.DataType], cols: Cols) -> list[Oddity]:
    """Column-level oddities: columns outside the export schema, ids stored as numbers."""
    oddities: list[Oddity] = []
    columns = [c for c in fschema if c != ROW]
    extra = [c for c in columns if c not in KNOWN_COLUMNS
             and not any(c.startswith(p + ".") for p in ("labels", "system_labels", "tags",
                                                         "project.labels"))]
    if extra:
        oddities.append(Oddity("extra_columns", label, None, len(extra), ", ".join(extra[:10]),
                               "columns that are not in the GCP billing export schema; ignored"))
    for name in ("project.id", "project.number", "billing_account_id"):
        if cols.has(name) and not is_stringy(fschema[name]) and \
                not isinstance(fschema[name], (pl.List, pl.Struct, pl.Null)):
            oddities.append(Oddity("numeric_account_id", label, name, 1, name,
                                   "ids stored as numbers; read as text"))
    return oddities


def _row(cols: Cols) -> _Row:
    """Credits, labels, costs, invoice month (period), usage times, account and region."""
    credits, credits_error = _credits()
    cost = cols.money("cost")
    cost_type_raw = cols.text("cost_type").str.strip_chars()
    invoice = cols.text("invoice.month").str.strip_chars()
    month = (invoice.str.replace(r"^(\d{4})-?(\d{2})$", "$1-$2-01")
             .str.strptime(pl.Datetime("us"), "%Y-%m-%d", strict=False))
    period_start = (month.dt.replace_time_zone("America/Los_Angeles")
                    .dt.convert_time_zone("UTC").cast(UTC_TIME))
    period_end = (month.dt.offset_by("1mo").dt.replace_time_zone("America/Los_Angeles")
                  .dt.convert_time_zone("UTC").cast(UTC_TIME))
    return _Row(
        cols=cols, credits=credits, credits_error=credits_error,
        credits_bad=credits_error.is_not_null(),
        labels=_key_values(cols, "labels"), system_labels=_key_values(cols, "system_labels"),
        cost=cost, billed=cost + _credit_sum(credits),
        sku=cols.text("sku.description"), service=cols.text("service.description"),
        cost_type_raw=cost_type_raw, cost_type=cost_type_raw.str.to_lowercase(),
        project_id=cols.text("project.id").str.strip_chars(),
        account=cols.text("billing_account_id").str.strip_chars(),
        region=pl.coalesce(cols.text("location.region"), cols.text("location.location")),
        period_start=period_start, period_end=period_end,
        charge_start=cols.time("usage_start_time"), charge_end=cols.time("usage_end_time"))


def _row_checks(fschema: dict[str, pl.DataType], row: _Row) -> list[OddityCheck]:
    """Row-level oddities: literal nulls, time zones, all-digit project ids, cost types."""
    cols, project_id = row.cols, row.project_id
    cost_type_raw, cost_type = row.cost_type_raw, row.cost_type
    checks: list[OddityCheck] = null_literal_checks(fschema, cols.original)
    checks += time_zone_checks(cols, ["usage_start_time", "usage_end_time"])
    checks.append(OddityCheck(
        "numeric_project_id", "project.id", project_id.str.contains(r"^\d+$").fill_null(False),
        project_id, "all-digit project id (a project number, or an id that lost its letters "
                    "upstream); kept as text"))
    checks.append(OddityCheck(
        "unknown_cost_type", "cost_type",
        cost_type.is_not_null() & ~cost_type.is_in(list(COST_TYPES)), cost_type_raw,
        "cost_type not in the GCP documentation (regular, tax, adjustment, rounding_error); "
        "read as an Adjustment"))
    checks.append(OddityCheck(
        "wrong_case_enum", "cost_type",
        cost_type.is_in(list(COST_TYPES)) & (cost_type != cost_type_raw), cost_type_raw,
        "cost_type in the wrong case; read in lower case"))
    return checks


def _credits_shown(cols: Cols) -> pl.Expr:
    """A rejected ``credits`` text as listed: its first :data:`SHOWN_CHARS` characters (a
    nested credits column is not text: nothing to list)."""
    if not cols.has("credits") or not is_stringy(cols.schema["credits"]):
        return pl.lit(None, pl.String)
    text = cols.text("credits")
    return pl.when(text.str.len_chars() > SHOWN_CHARS) \
        .then(text.str.slice(0, SHOWN_CHARS) + "…").otherwise(text)


def _rejection_rules(row: _Row) -> list[tuple[pl.Expr, str, str, pl.Expr]]:
    """The rules that reject a row, in the order they are checked."""
    cols = row.cols
    return [
        (cols.bad_number("cost"), "cost is not a number", "cost", cols.text("cost")),
        (row.cost.is_null(), "cost is missing", "cost", pl.lit(None, pl.String)),
        *[(row.credits_error == kind, why, "credits", _credits_shown(cols))
          for kind, why in CREDIT_ERRORS.items()],
        (row.period_start.is_null(), "invoice month is missing or not YYYYMM", "invoice.month",
         cols.text("invoice.month")),
        (row.charge_start.is_null(), "usage start time is missing or not a date/time",
         "usage_start_time", cols.text("usage_start_time")),
        (row.charge_end.is_null(), "usage end time is missing or not a date/time",
         "usage_end_time", cols.text("usage_end_time")),
        (row.account.is_null() & pl.lit(cols.has("billing_account_id")),
         "billing account id is missing", "billing_account_id", pl.lit(None, pl.String)),
        (cols.bad_number("usage.amount"), "usage amount is not a number", "usage.amount",
         cols.text("usage.amount")),
        (_bad_key_values(cols, "labels"), "labels is not a JSON list or object", "labels",
         cols.text("labels")),
    ]


def _commitment(row: _Row) -> _Commitment:
    """Commitment fees, CUD-credited usage, the charge and pricing categories, commitment ids."""
    cost_type, sku, credits = row.cost_type, row.sku, row.credits
    fee = sku.str.contains(_COMMITMENT_SKU).fill_null(False) & \
        (cost_type.fill_null("regular") == "regular")
    cud_credit = _credit_sum(credits, CUD_CREDITS)
    has_cud = (cud_credit != 0) & ~fee
    spend_cud = _credit_sum(credits, ("COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE",)) != 0
    category = (pl.when(fee).then(pl.lit("Purchase"))
                .when(cost_type.is_null() | (cost_type == "regular")).then(pl.lit("Usage"))
                .when(cost_type == "tax").then(pl.lit("Tax"))
                .when((cost_type == "adjustment") & (row.billed < 0)).then(pl.lit("Credit"))
                .otherwise(pl.lit("Adjustment")))
    spot = sku.str.contains(_SPOT_SKU).fill_null(False)
    committed = fee | has_cud
    pricing_category = (pl.when(~category.is_in(["Usage", "Purchase"])).then(None)
                        .when(committed).then(pl.lit("Committed"))
                        .when(spot).then(pl.lit("Dynamic"))
                        .otherwise(pl.lit("Standard")))
    key = pl.coalesce(row.cols.text("subscription.instance_id"),
                      pl.concat_str([pl.lit("gcp-cud:"), row.account.fill_null("?"), pl.lit(":"),
                                     row.region.fill_null("global")]))
    return _Commitment(fee=fee, cud_credit=cud_credit, has_cud=has_cud, spend_cud=spend_cud,
                       category=category, spot=spot, key=key,
                       commitment_id=pl.when(committed).then(key),
                       pricing_category=pricing_category)


def _amortisation_frame(frame: pl.LazyFrame, row: _Row, commit: _Commitment,
                        ok: pl.Expr) -> pl.LazyFrame:
    """Add the instance type, the per-commitment and period CUD fee and credit totals, GPUs."""
    instance = pl.coalesce(_get(row.system_labels, MACHINE_SPEC_KEYS),
                           _get(row.labels, MACHINE_LABEL_KEYS))
    # amortisation of CUD fees onto the usage they cover (see the module docstring)
    group = [pl.col("_cud_key"), pl.col("_period")]
    frame = frame.with_columns(
        instance.alias("_instance"),
        row.billed.alias("_billed"),
        commit.key.alias("_cud_key"),
        row.period_start.alias("_period"),
        pl.when(ok & commit.fee).then(row.billed).otherwise(0.0).fill_null(0.0).alias("_fee"),
        pl.when(ok & commit.has_cud).then(-commit.cud_credit).otherwise(0.0).fill_null(0.0)
        .alias("_cud"),
    )
    frame = frame.with_columns(pl.col("_fee").sum().over(group).alias("_grp_fee"),
                               pl.col("_cud").sum().over(group).alias("_grp_cud"))
    return join_gpus(frame, "gcp", "_instance")


def _effective_cost(commit: _Commitment) -> pl.Expr:
    """BilledCost with each group's commitment fees spread over its CUD-credited usage."""
    grp_fee, grp_cud = pl.col("_grp_fee"), pl.col("_grp_cud")
    return (pl.when(commit.fee & (grp_cud > 0)).then(0.0)
            .when(commit.has_cud & (grp_cud > 0))
            .then(pl.col("_billed") + grp_fee * pl.col("_cud") / grp_cud)
            .otherwise(pl.col("_billed")))


def _cost_columns(row: _Row, commit: _Commitment) -> dict[str, pl.Expr]:
    """Billed, effective, list and contracted cost, the credit types and the money in."""
    cols, credits = row.cols, row.credits
    type_list = credits.list.eval(pl.element().struct.field("type")).list.drop_nulls() \
        .list.unique().list.sort().list.join(",")
    money_in = cols.exact("cost").fill_null(pl.lit(0, MONEY_EXACT)) + \
        pl.when(row.credits_bad).then(pl.lit(0, MONEY_EXACT)).otherwise(
            _credit_sum(credits, exact=True))
    return {
        "BilledCost": pl.col("_billed"),
        "ContractedCost": row.cost + _credit_sum(credits, NEGOTIATED_CREDITS),
        "EffectiveCost": _effective_cost(commit),
        "ListCost": pl.coalesce(cols.money("cost_at_list"), row.cost),
        "x_CreditTypes": pl.when(type_list.str.len_chars() > 0).then(type_list),
        MONEY_IN: money_in,
    }


def _commitment_columns(row: _Row, commit: _Commitment) -> dict[str, pl.Expr]:
    """The charge and pricing categories and the CommitmentDiscount* columns."""
    category, commitment_id, sku = commit.category, commit.commitment_id, row.sku
    cud_name = row.credits.list.eval(pl.element().filter(
        pl.element().struct.field("type").is_in(list(CUD_CREDITS))).struct.field("name")) \
        .list.first()
    return {
        "ChargeCategory": category,
        "ChargeClass": pl.when((row.cost_type == "adjustment")
                               & row.cols.text("adjustment_info.id").is_not_null())
        .then(pl.lit("Correction")),
        "ChargeFrequency": pl.when(category == "Usage").then(pl.lit("Usage-Based"))
        .when(category == "Purchase").then(pl.lit("Recurring")).otherwise(pl.lit("One-Time")),
        "CommitmentDiscountCategory": pl.when(commitment_id.is_not_null()).then(
            pl.when(commit.spend_cud | sku.str.contains(r"(?i)dollar|spend").fill_null(False))
            .then(pl.lit("Spend")).otherwise(pl.lit("Usage"))),
        "CommitmentDiscountId": commitment_id,
        "CommitmentDiscountName": pl.when(commitment_id.is_not_null())
        .then(pl.when(commit.fee).then(sku).otherwise(cud_name)),
        "CommitmentDiscountStatus": pl.when(commitment_id.is_not_null() & (category == "Usage"))
        .then(pl.lit("Used")),
        "CommitmentDiscountType": pl.when(commitment_id.is_not_null())
        .then(pl.lit("Committed Use Discount")),
        "PricingCategory": commit.pricing_category,
    }


def _quantity_columns(row: _Row, category: pl.Expr) -> dict[str, pl.Expr]:
    """Consumed and pricing quantities and units, list and contracted unit prices."""
    cols = row.cols
    unit = cols.text("usage.unit").str.strip_chars()
    pricing_unit = cols.text("usage.pricing_unit").str.strip_chars()
    return {
        "ConsumedQuantity": pl.when(category == "Usage").then(cols.money("usage.amount")),
        "ConsumedUnit": pl.when((category == "Usage") & (unit.str.strip_chars() != ""))
        .then(unit.replace(UNITS)),
        "ContractedUnitPrice": pl.when(category.is_in(["Usage", "Purchase"]))
        .then(cols.money("price.effective_price")),
        "ListUnitPrice": pl.when(category.is_in(["Usage", "Purchase"]))
        .then(cols.money("price.list_price")),
        # FOCUS: a PricingQuantity needs its PricingUnit (rounding rows carry neither)
        "PricingQuantity": pl.when((category != "Tax") & (pricing_unit.str.strip_chars() != ""))
        .then(cols.money("usage.amount_in_pricing_units")),
        "PricingUnit": pl.when((category != "Tax") & (pricing_unit.str.strip_chars() != ""))
        .then(pricing_unit.replace(UNITS)),
    }


def _gpu_columns(row: _Row, commit: _Commitment) -> dict[str, pl.Expr]:
    """Instance type, GPU model and count, purchase option and instance (or GPU) hours."""
    cols, sku = row.cols, row.sku
    gpu_sku = sku.str.extract(_GPU_SKU, 1)
    sku_gpu_model = pl.when(gpu_sku.is_not_null()).then(
        "NVIDIA " + gpu_sku.str.to_uppercase().str.replace(r"(\d+)\s*GB$", "${1}GB"))
    unit = cols.text("usage.unit").str.strip_chars()
    hours_factor = unit.str.to_lowercase().replace_strict(_HOURS_UNITS, default=None,
                                                          return_dtype=pl.Float64)
    compute_engine = row.service.is_in(["Compute Engine", "Kubernetes Engine"]).fill_null(False)
    is_gpu_sku = gpu_sku.is_not_null()
    gpus = pl.when(is_gpu_sku).then(pl.coalesce(pl.col("_cat_gpus"), pl.lit(1))) \
        .otherwise(pl.col("_cat_gpus"))
    compute_usage = compute_engine & (commit.category == "Usage") & \
        (pl.col("_instance").is_not_null() | is_gpu_sku)
    per_core = sku.str.contains(r"(?i)\b(core|vcpu|ram|memory)\b").fill_null(False)
    hours = cols.money("usage.amount") * hours_factor
    usage_hours = (pl.when(compute_usage & is_gpu_sku).then(hours / gpus)
                   .when(compute_usage & ~per_core).then(hours))
    purchase_option = (pl.when(commit.fee).then(pl.lit("committed_use"))
                       .when(compute_usage & commit.has_cud).then(pl.lit("committed_use"))
                       .when(compute_usage & commit.spot).then(pl.lit("spot"))
                       .when(compute_usage).then(pl.lit("on_demand")))
    return {
        "SkuPriceDetails": json_object([json_fragment("InstanceType", pl.col("_instance"))]),
        "x_InstanceType": pl.col("_instance"),
        "x_GpuModel": pl.coalesce(pl.col("_cat_gpu_model"), sku_gpu_model),
        "x_GpuCount": gpus,
        "x_PurchaseOption": purchase_option,
        "x_UsageHours": usage_hours,
    }


def _tags(row: _Row) -> pl.Expr:
    """Resource and system labels as FOCUS Tags JSON text."""
    fragments = pl.concat_list([row.labels.fill_null([]), row.system_labels.fill_null([])]) \
        .list.eval(pl.concat_str([pl.lit('"'), pl.element().struct.field("k"), pl.lit('":"'),
                                  pl.element().struct.field("v"), pl.lit('"')]))
    joined = fragments.list.join(",")
    return pl.when(joined.str.len_chars() > 0).then("{" + joined + "}")


def _source_columns(label: str, row: _Row) -> dict[str, pl.Expr]:
    """Account, period, charge period, provider, region, resource, service, SKU and tags."""
    cols, service, project_id = row.cols, row.service, row.project_id
    service_category = service.replace_strict(CATEGORIES, default="Other",
                                              return_dtype=pl.String).fill_null("Other")
    subcategory = service.replace_strict(SUBCATEGORIES, default=None, return_dtype=pl.String)
    return {
        "AvailabilityZone": cols.text("location.zone"),
        "BillingAccountId": row.account,
        "BillingCurrency": cols.text("currency").fill_null("USD"),
        "BillingPeriodEnd": row.period_end,
        "BillingPeriodStart": row.period_start,
        "ChargeDescription": row.sku,
        "ChargePeriodEnd": row.charge_end,
        "ChargePeriodStart": row.charge_start,
        "InvoiceIssuerName": pl.lit("Google Cloud"),
        "ProviderName": pl.lit("Google Cloud"),
        "PublisherName": cols.text("seller_name").fill_null("Google Cloud"),
        "RegionId": row.region,
        "ResourceId": cols.text("resource.global_name"),
        "ResourceName": cols.text("resource.name"),
        "ServiceCategory": service_category,
        "ServiceName": service.fill_null("Unknown"),
        "ServiceSubcategory": pl.coalesce(subcategory, "Other (" + service_category + ")"),
        "SkuId": cols.text("sku.id"),
        "SkuPriceId": cols.text("sku.id"),
        "SubAccountId": project_id,
        "SubAccountName": cols.text("project.name"),
        "SubAccountType": pl.when(project_id.is_not_null()).then(pl.lit("Project")),
        # project.labels stay out of Tags: their keys would clash with the resource labels
        "Tags": _tags(row),
        "x_Provider": pl.lit("gcp"),
        "x_SourceFile": pl.lit(label),
        "x_SourceRow": pl.col(ROW),
    }


def prepare_gcp(label: str, raw: pl.LazyFrame, schema: dict[str, pl.DataType],
                shape: str) -> Prepared:
    """Build the normalised frame of one GCP export file (``raw`` has ``x_SourceRow``)."""
    raw, fschema, cols = _read_flat(label, raw, schema)
    # credits are parsed once, into a column (JSON or Python-literal text, never evaluated)
    frame = clean_nulls(raw, fschema).with_columns(parsed_credits(cols).alias(CREDITS_PARSED))
    oddities = _file_oddities(label, fschema, cols)
    row = _row(cols)
    checks = _row_checks(fschema, row)
    rules = _rejection_rules(row)
    ok = ~pl.any_horizontal([r[0].fill_null(False) for r in rules])
    commit = _commitment(row)
    frame = _amortisation_frame(frame, row, commit, ok)
    exprs = {**_source_columns(label, row), **_cost_columns(row, commit),
             **_commitment_columns(row, commit), **_quantity_columns(row, commit.category),
             **_gpu_columns(row, commit)}
    for expr in reject_rules(rules):
        exprs[expr.meta.output_name()] = expr
    return Prepared(label, shape, "cost + credits (net cost)", raw, finish(frame, exprs),
                    checks, oddities)
