"""Fetch a GPU price catalog from the AWS Pricing API and EC2 with boto3.

:func:`fetch_aws_catalog` builds one catalog row per instance type:

* on-demand $/h from ``pricing.get_products`` (Linux, shared tenancy, no pre-installed
  software, capacity status ``Used``), the ``OnDemand`` term's ``Hrs`` dimension;
* 1-yr and 3-yr *standard No Upfront* reserved effective rates from the ``Reserved`` terms,
  ``hourly + upfront / (8760 * years)``;
* GPU model, count and per-GPU memory, vCPUs and host memory from
  ``ec2.describe_instance_types`` (``GpuInfo``, or ``NeuronInfo`` for Trainium/Inferentia);
* spot $/h as the median over availability zones of each AZ's latest
  ``describe_spot_price_history`` price, ignoring AZs priced at or above on-demand;
* 1-yr and 3-yr Compute Savings Plans rates (No Upfront, Linux, shared tenancy) from
  ``savingsplans.describe_savings_plans_offering_rates``.  Many roles may read prices but not
  Savings Plans; access denied there leaves the two columns null and says so in the row's
  ``source`` instead of failing the whole refresh.

A price that cannot be found is ``None`` (a null cell), never 0.  Missing credentials, access
denied and throttling (after botocore's standard retries) raise
:class:`domain.errors.CatalogError`, whose message never holds a credential: the remote end's
text goes through :func:`costmodels.providers.redact.redact` with the session's own key id,
secret key and token.  The Pricing API is called in ``us-east-1`` (one of its
only endpoints), EC2 in ``region``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from costmodels.catalog import CATALOG_SCHEMA, PRICE_COLUMNS, PURCHASE_OPTIONS, PriceCatalog
from costmodels.providers.redact import redact, redacted_errors
from domain.errors import CatalogError
from domain.purchase import RESERVED, Purchase

LABEL = "AWS Pricing API"
PRICING_REGION = "us-east-1"
HOURS_PER_YEAR = 8760
RETRY_CONFIG_KWARGS: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 5}}
SPOT_PRODUCT_DESCRIPTIONS: tuple[str, ...] = ("Linux/UNIX",)

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)
_PERMISSIONS = {
    "pricing": "pricing:GetProducts",
    "ec2": "ec2:DescribeInstanceTypes and ec2:DescribeSpotPriceHistory",
    "savingsplans": "savingsplans:DescribeSavingsPlansOfferingRates",
}
SAVINGS_PLAN_TYPE = "Compute"
SAVINGS_PLAN_PAYMENT = "No Upfront"
_SP_YEARS = {31_536_000: 1, 94_608_000: 3}
"""``durationSeconds`` of a Savings Plans offering -> term in years."""


def pricing_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    """Return the ``get_products`` filters selecting one Linux shared-tenancy on-demand SKU."""
    fields = {
        "instanceType": instance_type,
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
    }
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in fields.items()]


def fetch_aws_catalog(
    instance_types: Sequence[str],
    *,
    region: str = "us-east-1",
    session: Any = None,
    endpoint_urls: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> PriceCatalog:
    """Fetch list prices and specs of AWS instance types into a :class:`PriceCatalog`.

    Parameters
    ----------
    instance_types : sequence of str
        EC2 instance types, e.g. ``["p5.48xlarge", "g5.xlarge"]``; duplicates are ignored.
    region : str
        Region whose prices and spot history are fetched (EC2 is called there).
    session : boto3.session.Session, optional
        Session supplying credentials; a default ``boto3.session.Session()`` when omitted.
    endpoint_urls : mapping, optional
        ``{"pricing": url, "ec2": url}`` overrides (tests point them at loopback servers).
    today : datetime.date, optional
        The ``as_of`` date of every row; defaults to today's UTC date.

    Returns
    -------
    PriceCatalog
        Labelled ``"AWS Pricing API"``; unknown prices and specs are null.

    Raises
    ------
    CatalogError
        No instance types, no credentials, access denied, throttling after retries, an
        unreachable endpoint or another API error.
    """
    types = list(dict.fromkeys(t.strip() for t in instance_types if t and t.strip()))
    if not types:
        raise CatalogError("fetch_aws_catalog needs at least one instance type, e.g. 'p5.48xlarge'")
    as_of = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    pricing, ec2, savingsplans, secrets = _clients(region, session, endpoint_urls or {})

    with redacted_errors(secrets):
        rows = [_catalog_row(pricing, ec2, savingsplans, instance_type, region, as_of)
                for instance_type in types]
    frame = pl.DataFrame(rows, schema=CATALOG_SCHEMA)
    return PriceCatalog.from_frame(frame, label=LABEL)


def _savings_plan_prices(savingsplans: Any, instance_type: str,
                         region: str) -> tuple[dict[int, float | None], str]:
    """1- and 3-year Compute Savings Plan rates and their source note (n/a when access is denied)."""
    try:
        sp = _call("savingsplans", functools.partial(
            _savings_plan_rates, savingsplans, instance_type, region))
        sp_note = (f"Savings Plans describe_savings_plans_offering_rates ({SAVINGS_PLAN_TYPE}, "
                   f"{SAVINGS_PLAN_PAYMENT})")
    except CatalogError as exc:
        if "denied" not in str(exc):
            raise
        sp = {1: None, 3: None}
        sp_note = f"Savings Plans n/a ({exc})"
    return sp, sp_note


def _catalog_row(pricing: Any, ec2: Any, savingsplans: Any, instance_type: str, region: str,
                 as_of: str) -> dict[str, Any]:
    """One catalog row: list, reserved, spot and Savings Plan prices, specs and provenance."""
    prices = _call(
        "pricing", functools.partial(_product_prices, pricing, instance_type, region)
    )
    specs = _call("ec2", functools.partial(_instance_specs, ec2, instance_type))
    on_demand = prices["on_demand"]
    history = _call("ec2", functools.partial(_spot_history, ec2, instance_type, as_of))
    spot, spot_note = summarize_spot(history, on_demand)
    sp, sp_note = _savings_plan_prices(savingsplans, instance_type, region)
    source = (
        f"AWS Pricing API get_products ({region}, Linux, Shared, OnDemand + Reserved "
        f"standard No Upfront); EC2 describe_instance_types; {sp_note}; spot: {spot_note}"
    )
    prices = {**prices, Purchase.SPOT.value: spot,
              Purchase.SAVINGS_PLAN_1YR.value: sp[1], Purchase.SAVINGS_PLAN_3YR.value: sp[3]}
    return {
        "provider": "aws",
        "region": region,
        "instance_type": instance_type,
        **specs,
        **{PRICE_COLUMNS[option]: prices[option] for option in PURCHASE_OPTIONS},
        "source": source,
        "as_of": as_of,
    }


# --------------------------------------------------------------------------------------------
# clients and errors


def _session_secrets(session: Any) -> tuple[str | None, ...]:
    """The session's access key id, secret key and token (to redact), or () without any."""
    from botocore.exceptions import BotoCoreError

    try:
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
    except BotoCoreError:  # a broken profile: the API call will say so
        return ()
    if frozen is None:
        return ()
    return frozen.access_key, frozen.secret_key, frozen.token


def _clients(region: str, session: Any, endpoint_urls: Mapping[str, str]
             ) -> tuple[Any, Any, Any, tuple[str | None, ...]]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - boto3 is a dependency
        raise CatalogError(
            "fetching AWS prices needs boto3; install it with `pip install 'boto3>=1.34,<2'`"
        ) from exc
    unknown = set(endpoint_urls) - {"pricing", "ec2", "savingsplans"}
    if unknown:
        raise CatalogError(
            f"endpoint_urls has unknown services {sorted(unknown)}; use the keys 'pricing', "
            "'ec2' and 'savingsplans'"
        )
    session = session if session is not None else boto3.session.Session()
    config = Config(**RETRY_CONFIG_KWARGS)
    pricing = session.client(
        "pricing",
        region_name=PRICING_REGION,
        endpoint_url=endpoint_urls.get("pricing"),
        config=config,
    )
    ec2 = session.client(
        "ec2", region_name=region, endpoint_url=endpoint_urls.get("ec2"), config=config
    )
    savingsplans = session.client(  # a global service, signed for us-east-1
        "savingsplans",
        region_name=PRICING_REGION,
        endpoint_url=endpoint_urls.get("savingsplans"),
        config=config,
    )
    return pricing, ec2, savingsplans, _session_secrets(session)


def _call(service: str, fn: Any) -> Any:
    """Run an API call, translating botocore errors into CatalogError (credentials never logged)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    try:
        return fn()
    except (NoCredentialsError, PartialCredentialsError):
        raise CatalogError(
            f"no AWS credentials found for the {service} API; configure them with "
            "`aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or use the built-in snapshot catalog instead"
        ) from None
    except EndpointConnectionError as exc:
        raise CatalogError(
            f"cannot reach the AWS {service} endpoint "
            f"({redact(str(exc.kwargs.get('endpoint_url')))}); "
            "check network access, or use the built-in snapshot catalog instead"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = redact(str(error.get("Code", "")))
        message = redact(str(error.get("Message", "")))
        operation = getattr(exc, "operation_name", "")
        if code in _ACCESS_CODES:
            raise CatalogError(
                f"AWS denied {service} {operation} ({code}: {message}); grant the caller "
                f"{_PERMISSIONS[service]} (IAM), or use the built-in snapshot catalog instead"
            ) from None
        if code in _THROTTLING_CODES:
            raise CatalogError(
                f"AWS throttled {service} {operation} ({code}) after 5 retries (standard retry "
                "mode); wait and retry, fetch fewer instance types, or use the built-in "
                "snapshot catalog"
            ) from None
        raise CatalogError(
            f"AWS {service} {operation} failed ({code}: {message}); check the region and "
            "instance types"
        ) from None
    except BotoCoreError as exc:
        raise CatalogError(f"AWS {service} call failed ({type(exc).__name__}: "
                           f"{redact(str(exc))})") from None


# --------------------------------------------------------------------------------------------
# Pricing API


def _product_prices(pricing: Any, instance_type: str, region: str) -> dict[str, float | None]:
    paginator = pricing.get_paginator("get_products")
    items: list[dict[str, Any]] = []
    for page in paginator.paginate(
        ServiceCode="AmazonEC2",
        Filters=pricing_filters(instance_type, region),
        FormatVersion="aws_v1",
    ):
        for raw in page.get("PriceList", []):
            items.append(json.loads(raw) if isinstance(raw, str) else raw)
    return parse_price_items(items)


def parse_price_items(items: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """Extract on-demand and reserved (standard, No Upfront) $/h from ``PriceList`` items.

    Terms may be spread over several items (pages); the first positive value of each kind wins.

    Returns
    -------
    dict
        ``{"on_demand": ..., "reserved_1yr": ..., "reserved_3yr": ...}``, None when unknown.
    """
    result: dict[str, float | None] = dict.fromkeys((Purchase.ON_DEMAND.value, *RESERVED))
    for item in items:
        terms = item.get("terms", {})
        if result["on_demand"] is None:
            for term in terms.get("OnDemand", {}).values():
                hourly = _dimension_total(term, "Hrs")
                if hourly is not None and hourly > 0:
                    result["on_demand"] = hourly
                    break
        for term in terms.get("Reserved", {}).values():
            attrs = term.get("termAttributes", {})
            if (
                attrs.get("OfferingClass") != "standard"
                or attrs.get("PurchaseOption") != "No Upfront"
            ):
                continue
            years = {"1yr": 1, "3yr": 3}.get(attrs.get("LeaseContractLength", ""))
            if years is None or result[f"reserved_{years}yr"] is not None:
                continue
            hourly = _dimension_total(term, "Hrs") or 0.0
            upfront = _dimension_total(term, "Quantity") or 0.0
            effective = hourly + upfront / (HOURS_PER_YEAR * years)
            if effective > 0:
                result[f"reserved_{years}yr"] = effective
    return result


def _dimension_total(term: Mapping[str, Any], unit: str) -> float | None:
    total = None
    for dim in term.get("priceDimensions", {}).values():
        if dim.get("unit") != unit:
            continue
        usd = dim.get("pricePerUnit", {}).get("USD")
        try:
            value = float(usd)
        except (TypeError, ValueError):
            continue
        total = value if total is None else total + value
    return total


# --------------------------------------------------------------------------------------------
# Savings Plans


def _savings_plan_rates(sp: Any, instance_type: str, region: str) -> dict[int, float | None]:
    """Page through ``describe_savings_plans_offering_rates`` for one instance type."""
    results: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "savingsPlanTypes": [SAVINGS_PLAN_TYPE],
            "savingsPlanPaymentOptions": [SAVINGS_PLAN_PAYMENT],
            "products": ["EC2"],
            "serviceCodes": ["AmazonEC2"],
            "filters": [
                {"name": "region", "values": [region]},
                {"name": "instanceType", "values": [instance_type]},
                {"name": "productDescription", "values": ["Linux/UNIX"]},
                {"name": "tenancy", "values": ["shared"]},
            ],
            "maxResults": 1000,
        }
        if token:
            kwargs["nextToken"] = token
        page = sp.describe_savings_plans_offering_rates(**kwargs)
        results.extend(page.get("searchResults", []))
        token = page.get("nextToken")
        if not token:
            break
    return parse_savings_plan_rates(results, instance_type, region)


def parse_savings_plan_rates(
    results: Iterable[Mapping[str, Any]], instance_type: str, region: str
) -> dict[int, float | None]:
    """Extract the 1-yr and 3-yr $/h of ``instance_type`` from Savings Plans ``searchResults``.

    Keeps results whose ``unit`` is ``Hrs``, whose usage type is a ``BoxUsage`` of the
    instance type, whose operation is ``RunInstances`` (Linux/UNIX), and whose ``properties``
    (when present) name the same instance type and region; the lowest positive rate per term
    wins (the same offering can be listed once per usage-type variant).

    Returns
    -------
    dict
        ``{1: usd_per_hour or None, 3: usd_per_hour or None}``.
    """
    rates: dict[int, float | None] = {1: None, 3: None}
    for r in results:
        offering = r.get("savingsPlanOffering", {})
        years = _SP_YEARS.get(int(offering.get("durationSeconds") or 0))
        if years is None or r.get("unit") != "Hrs" or r.get("operation") != "RunInstances":
            continue
        usage = str(r.get("usageType", ""))
        if not usage.endswith(f"BoxUsage:{instance_type}"):
            continue
        props = {p.get("name"): p.get("value") for p in r.get("properties", [])}
        if props.get("instanceType", instance_type) != instance_type:
            continue
        if props.get("region", region) != region:
            continue
        try:
            rate = float(r.get("rate"))
        except (TypeError, ValueError):
            continue
        if rate > 0 and (rates[years] is None or rate < rates[years]):
            rates[years] = rate
    return rates


# --------------------------------------------------------------------------------------------
# EC2


_EMPTY_SPECS: dict[str, Any] = {
    "gpu_model": None,
    "gpus": None,
    "gpu_memory_gib": None,
    "vcpus": None,
    "memory_gib": None,
}


def _instance_specs(ec2: Any, instance_type: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        response = ec2.describe_instance_types(InstanceTypes=[instance_type])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {
            "InvalidInstanceType",
            "InvalidParameterValue",
        }:
            return dict(_EMPTY_SPECS)
        raise
    found = response.get("InstanceTypes", [])
    if not found:
        return dict(_EMPTY_SPECS)
    return parse_instance_type(found[0])


def parse_instance_type(info: Mapping[str, Any]) -> dict[str, Any]:
    """Map one ``describe_instance_types`` entry to the catalog's spec columns."""
    specs = dict(_EMPTY_SPECS)
    specs["vcpus"] = info.get("VCpuInfo", {}).get("DefaultVCpus")
    mib = info.get("MemoryInfo", {}).get("SizeInMiB")
    specs["memory_gib"] = mib / 1024 if mib else None
    devices = info.get("GpuInfo", {}).get("Gpus") or info.get("NeuronInfo", {}).get("NeuronDevices")
    if devices:
        first = devices[0]
        manufacturer = first.get("Manufacturer")
        name = first.get("Name")
        specs["gpu_model"] = f"{manufacturer} {name}" if manufacturer and name else name
        count = sum(int(d.get("Count", 0)) for d in devices)
        specs["gpus"] = count or None
        per_device = first.get("MemoryInfo", {}).get("SizeInMiB")
        specs["gpu_memory_gib"] = round(per_device / 1024, 2) if per_device else None
    return specs


def _spot_history(ec2: Any, instance_type: str, as_of: str) -> list[dict[str, Any]]:
    start = dt.datetime.fromisoformat(as_of).replace(tzinfo=dt.UTC) - dt.timedelta(days=1)
    paginator = ec2.get_paginator("describe_spot_price_history")
    rows: list[dict[str, Any]] = []
    for page in paginator.paginate(
        InstanceTypes=[instance_type],
        ProductDescriptions=list(SPOT_PRODUCT_DESCRIPTIONS),
        StartTime=start,
    ):
        rows.extend(
            r for r in page.get("SpotPriceHistory", []) if r.get("InstanceType") == instance_type
        )
    return rows


def summarize_spot(
    history: Iterable[Mapping[str, Any]], on_demand: float | None
) -> tuple[float | None, str]:
    """Median over AZs of each AZ's latest spot price, ignoring AZs at or above on-demand.

    Parameters
    ----------
    history : iterable of mapping
        ``SpotPriceHistory`` rows (``AvailabilityZone``, ``SpotPrice`` string, ``Timestamp``).
    on_demand : float or None
        The on-demand $/h; when None no AZ is ignored.

    Returns
    -------
    (float or None, str)
        The median spot $/h (None when no AZ qualifies) and a note with the AZ count and spread.
    """
    latest: dict[str, tuple[str, float]] = {}
    for row in history:
        az = row.get("AvailabilityZone")
        try:
            price = float(row.get("SpotPrice"))
        except (TypeError, ValueError):
            continue
        if not az or price <= 0:
            continue
        stamp = row.get("Timestamp")
        key = (
            stamp.astimezone(dt.UTC).isoformat()
            if isinstance(stamp, dt.datetime)
            else str(stamp or "")
        )
        if az not in latest or key > latest[az][0]:
            latest[az] = (key, price)
    prices = {az: price for az, (_, price) in latest.items()}
    kept = sorted(p for p in prices.values() if on_demand is None or p < on_demand)
    ignored = len(prices) - len(kept)
    if not kept:
        if prices:
            return None, (f"no AZ below on-demand ({ignored} AZ(s) at or above on-demand ignored)")
        return None, "no spot price history"
    median = statistics.median(kept)
    return median, (
        f"median of latest per-AZ price over {len(kept)} AZ(s), spread "
        f"min ${kept[0]:.5g}/h max ${kept[-1]:.5g}/h; {ignored} AZ(s) at or above on-demand ignored"
    )
