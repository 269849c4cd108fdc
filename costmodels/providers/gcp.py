"""Fetch a GPU price catalog from the GCP Cloud Billing Catalog API (google-cloud-billing).

:func:`fetch_gcp_catalog` lists the Compute Engine SKUs (service ``services/6F81-5844-456A``,
USD) once and composes each machine type's $/h, per purchase option, from component SKUs::

    price = gpus * GPU SKU + vcpus * family vCPU SKU + memory_gib * family RAM SKU

The purchase option comes from the SKU's ``category.usage_type``: ``OnDemand`` -> on_demand,
``Preemptible`` -> spot, ``Commit1Yr`` -> reserved_1yr, ``Commit3Yr`` -> reserved_3yr (resource
based Commitment v1 prices).  A SKU counts only if ``region`` is in its ``service_regions``,
its resource group is ``GPU`` / ``CPU`` / ``RAM`` and its unit is ``h`` (GPU, vCPU) or
``GiBy.h`` (RAM).  The price of a SKU is its latest ``pricing_info`` entry's tier that starts at
usage 0 (``units + nanos / 1e9`` per usage unit; higher volume tiers are ignored).  When several
SKUs match one component, the first listed wins.  If any component of a machine type is missing
for a purchase option, that price is None (never 0).

Description patterns (case-insensitive regular expressions, equivalent to the Cyclenerd
``mapping.csv`` patterns for A2 / A3 / G2, A100 / A100 80GB / H100 / L4, but anchored so that
"Reserved A2 …", "A3 Mega …" and "A100 80GB" do not match the wrong component):

* vCPU / RAM: ``^(Spot Preemptible |Commitment v1: )?(A2|A3|G2) (Instance (Core|Ram)|Cpu|Ram)\\b``,
  e.g. "A2 Instance Core running in Americas", "Spot Preemptible A3 Instance Ram running in
  Americas", "Commitment v1: G2 Cpu in Americas for 1 Year";
* GPU: ``^(Commitment v1: )?Nvidia (Tesla )?(H100 80GB|A100 80GB|A100|L4) GPU\\b``, e.g.
  "Nvidia H100 80GB GPU running in Americas", "Nvidia L4 GPU attached to Spot Preemptible VMs
  running in Americas", "Commitment v1: Nvidia Tesla A100 GPU in Americas for 3 Years";
* descriptions mentioning DWS, Dynamic Workload, Calendar, Flex or Reserved are skipped.

Machine shapes (GPU count and model, vCPUs, RAM) come from the built-in snapshot's gcp rows
(:func:`costmodels.catalog.load_snapshot`), keyed by instance type; the family and GPU SKU by
machine-type prefix (:data:`MACHINE_FAMILIES`): ``a3-highgpu`` = A3 + H100 80GB, ``a2-highgpu`` /
``a2-megagpu`` = A2 + A100, ``a2-ultragpu`` = A2 + A100 80GB, ``g2-standard`` = G2 + L4.  Other
machine types (e.g. ``a3-megagpu-8g``) and types absent from the snapshot get a row with null
prices (and null specs when unknown).

Permission denied, unauthenticated, unavailable endpoints, missing credentials and other API
errors raise :class:`domain.errors.CatalogError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from costmodels.catalog import (
    CATALOG_SCHEMA,
    PRICE_COLUMNS,
    PURCHASE_OPTIONS,
    PriceCatalog,
    load_snapshot,
)
from costmodels.providers.redact import redact, redacted_errors
from domain.errors import CatalogError
from domain.purchase import Purchase

LABEL = "GCP Cloud Billing Catalog"
COMPUTE_ENGINE_SERVICE = "services/6F81-5844-456A"
PAGE_SIZE = 5000

USAGE_TYPES: dict[str, str] = {
    "OnDemand": Purchase.ON_DEMAND.value,
    "Preemptible": Purchase.SPOT.value,
    "Commit1Yr": Purchase.RESERVED_1YR.value,
    "Commit3Yr": Purchase.RESERVED_3YR.value,
}
"""SKU ``category.usage_type`` -> purchase option."""

MACHINE_FAMILIES: dict[str, tuple[str, str]] = {
    "a3-highgpu-": ("a3", "h100"),
    "a2-highgpu-": ("a2", "a100"),
    "a2-megagpu-": ("a2", "a100"),
    "a2-ultragpu-": ("a2", "a100_80gb"),
    "g2-standard-": ("g2", "l4"),
}
"""Machine-type prefix -> (vCPU/RAM SKU family, GPU SKU) priced by this module."""

_HOST_RE = re.compile(
    r"^(?:Spot Preemptible |Commitment v1: )?(A2|A3|G2) (?:Instance (Core|Ram)|(Cpu|Ram))\b",
    re.IGNORECASE,
)
_GPU_RE = re.compile(
    r"^(?:Commitment v1: )?Nvidia (?:Tesla )?(H100 80GB|A100 80GB|A100|L4) GPU\b", re.IGNORECASE
)
_SKIP_RE = re.compile(r"\b(?:DWS|Dynamic Workload|Calendar|Flex|Reserved)\b", re.IGNORECASE)
_GPU_KEYS = {"h100 80gb": "h100", "a100 80gb": "a100_80gb", "a100": "a100", "l4": "l4"}
_UNITS = {"gpu": "h", "cpu": "h", "ram": "GiBy.h"}


def fetch_gcp_catalog(
    machine_types: Sequence[str],
    *,
    region: str = "us-central1",
    client: Any = None,
    endpoint: str | None = None,
    today: dt.date | None = None,
) -> PriceCatalog:
    """Fetch list prices of GCP GPU machine types into a :class:`PriceCatalog`.

    Parameters
    ----------
    machine_types : sequence of str
        e.g. ``["a3-highgpu-8g", "g2-standard-4"]``; duplicates are ignored.
    region : str
        Region to price (matched against each SKU's ``service_regions``).
    client : google.cloud.billing_v1.CloudCatalogClient, optional
        A ready client; by default one with Application Default Credentials.
    endpoint : str, optional
        ``host:port`` of a plaintext gRPC Cloud Catalog endpoint (tests point it at a loopback
        fake); no credentials are used.  Ignored when ``client`` is given.
    today : datetime.date, optional
        The ``as_of`` date of every row; defaults to today's UTC date.

    Returns
    -------
    PriceCatalog
        Labelled ``"GCP Cloud Billing Catalog"``; unknown prices and specs are null.

    Raises
    ------
    CatalogError
        No machine types, no credentials, permission denied, an unreachable endpoint or another
        API error.
    """
    types = list(dict.fromkeys(t.strip() for t in machine_types if t and t.strip()))
    if not types:
        raise CatalogError("fetch_gcp_catalog needs at least one machine type, e.g. 'a3-highgpu-8g'")
    as_of = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    client = client if client is not None else _client(endpoint)
    with redacted_errors():
        skus = _list_skus(client)
    components = component_prices(skus, region)
    shapes = _snapshot_shapes()

    rows = []
    for machine_type in types:
        shape = shapes.get(machine_type, {})
        prices = compose_prices(machine_type, shape, components)
        rows.append(
            {
                "provider": "gcp",
                "region": region,
                "instance_type": machine_type,
                "gpu_model": shape.get("gpu_model"),
                "gpus": shape.get("gpus"),
                "gpu_memory_gib": shape.get("gpu_memory_gib"),
                "vcpus": shape.get("vcpus"),
                "memory_gib": shape.get("memory_gib"),
                **{PRICE_COLUMNS[option]: prices[option] for option in PURCHASE_OPTIONS},
                "source": (
                    f"GCP Cloud Billing Catalog list_skus ({COMPUTE_ENGINE_SERVICE}, {region}, "
                    "USD): GPU + vCPU + RAM SKUs; shapes from the built-in snapshot"
                ),
                "as_of": as_of,
            }
        )
    return PriceCatalog.from_frame(pl.DataFrame(rows, schema=CATALOG_SCHEMA), label=LABEL)


# --------------------------------------------------------------------------------------------
# client and errors


def _client(endpoint: str | None) -> Any:
    try:
        from google.cloud import billing_v1
    except ImportError as exc:  # pragma: no cover - google-cloud-billing is a dependency
        raise CatalogError(
            "fetching GCP prices needs google-cloud-billing; install it with "
            "`pip install 'google-cloud-billing>=1.12,<2'`"
        ) from exc
    if endpoint:
        import grpc
        from google.cloud.billing_v1.services.cloud_catalog.transports import (
            CloudCatalogGrpcTransport,
        )

        transport = CloudCatalogGrpcTransport(channel=grpc.insecure_channel(endpoint))
        return billing_v1.CloudCatalogClient(transport=transport)
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return billing_v1.CloudCatalogClient()
    except DefaultCredentialsError:
        raise CatalogError(
            "no GCP credentials found for the Cloud Billing Catalog API; run "
            "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS, "
            "or use the built-in snapshot catalog instead"
        ) from None


def _list_skus(client: Any) -> list[Any]:
    """All Compute Engine SKUs (every page), translating API errors into CatalogError."""
    from google.api_core import exceptions as gexc
    from google.auth.exceptions import GoogleAuthError

    request = {"parent": COMPUTE_ENGINE_SERVICE, "currency_code": "USD", "page_size": PAGE_SIZE}
    try:
        return list(client.list_skus(request=request))
    except (gexc.PermissionDenied, gexc.Unauthenticated, gexc.Forbidden) as exc:
        raise CatalogError(
            f"GCP denied Cloud Billing Catalog list_skus ({type(exc).__name__}: "
            f"{redact(str(exc.message))}); "
            "enable the Cloud Billing API (cloudbilling.googleapis.com) for the project and use "
            "valid credentials, or use the built-in snapshot catalog instead"
        ) from None
    except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.RetryError) as exc:
        raise CatalogError(
            f"the GCP Cloud Billing Catalog API is unavailable ({type(exc).__name__}: "
            f"{redact(str(exc))}); "
            "check network access and retry later, or use the built-in snapshot catalog instead"
        ) from None
    except gexc.GoogleAPIError as exc:
        raise CatalogError(
            f"GCP Cloud Billing Catalog list_skus failed ({type(exc).__name__}: "
            f"{redact(str(exc))})"
        ) from None
    except GoogleAuthError as exc:
        raise CatalogError(
            f"GCP credentials failed for the Cloud Billing Catalog API ({redact(str(exc))}); "
            "refresh them "
            "with `gcloud auth application-default login`, or use the built-in snapshot catalog"
        ) from None


# --------------------------------------------------------------------------------------------
# SKU parsing and composition


def classify_sku(description: str, resource_group: str) -> tuple[str, str] | None:
    """Map a SKU description to ``("gpu", "h100"|"a100"|"a100_80gb"|"l4")`` or
    ``("cpu"|"ram", "a2"|"a3"|"g2")``; None for SKUs this module does not use."""
    if _SKIP_RE.search(description):
        return None
    group = (resource_group or "").upper()
    if group == "GPU":
        match = _GPU_RE.match(description)
        return ("gpu", _GPU_KEYS[match[1].lower()]) if match else None
    if group in {"CPU", "RAM"}:
        match = _HOST_RE.match(description)
        if not match:
            return None
        noun = (match[2] or match[3]).lower()
        kind = "ram" if noun == "ram" else "cpu"
        return (kind, match[1].lower()) if kind == group.lower() else None
    return None


def sku_unit_price(sku: Any) -> float | None:
    """USD per usage unit of a SKU: the latest pricing_info's tier starting at 0, or None."""
    if not sku.pricing_info:
        return None
    expression = sku.pricing_info[-1].pricing_expression
    for tier in expression.tiered_rates:
        if tier.start_usage_amount == 0:
            money = tier.unit_price
            if money.currency_code and money.currency_code != "USD":
                return None
            return money.units + money.nanos / 1e9
    return None


def component_prices(skus: Iterable[Any], region: str) -> dict[tuple[str, str, str], float]:
    """``{(kind, name, purchase): usd per unit}`` of the SKUs offered in ``region``."""
    found: dict[tuple[str, str, str], float] = {}
    for sku in skus:
        purchase = USAGE_TYPES.get(sku.category.usage_type)
        if purchase is None or region not in sku.service_regions:
            continue
        component = classify_sku(sku.description, sku.category.resource_group)
        if component is None:
            continue
        if not sku.pricing_info or (
            sku.pricing_info[-1].pricing_expression.usage_unit != _UNITS[component[0]]
        ):
            continue
        price = sku_unit_price(sku)
        key = (*component, purchase)
        if price is not None and price > 0 and key not in found:
            found[key] = price
    return found


def compose_prices(
    machine_type: str, shape: dict[str, Any], components: dict[tuple[str, str, str], float]
) -> dict[str, float | None]:
    """Compose one machine type's $/h per purchase option; None where a component is missing."""
    result: dict[str, float | None] = dict.fromkeys(PURCHASE_OPTIONS)
    family = next((v for k, v in MACHINE_FAMILIES.items() if machine_type.startswith(k)), None)
    gpus, vcpus, ram = shape.get("gpus"), shape.get("vcpus"), shape.get("memory_gib")
    if family is None or not gpus or not vcpus or not ram:
        return result
    host, gpu = family
    for option in PURCHASE_OPTIONS:
        parts = (
            components.get(("gpu", gpu, option)),
            components.get(("cpu", host, option)),
            components.get(("ram", host, option)),
        )
        if None in parts:
            continue
        result[option] = gpus * parts[0] + vcpus * parts[1] + ram * parts[2]
    return result


def _snapshot_shapes() -> dict[str, dict[str, Any]]:
    frame = load_snapshot().frame.filter(pl.col("provider") == "gcp")
    columns = ("gpu_model", "gpus", "gpu_memory_gib", "vcpus", "memory_gib")
    return {row["instance_type"]: {c: row[c] for c in columns} for row in frame.iter_rows(named=True)}
