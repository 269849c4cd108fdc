"""A loopback gRPC fake of the GCP Cloud Billing Catalog service for offline tests.

``google-cloud-billing`` ships no servicer classes, so the fake registers a generic handler for
``google.cloud.billing.v1.CloudCatalog`` with the proto-plus messages' ``serialize`` /
``deserialize``.  It answers ``ListServices`` (Compute Engine only) and ``ListSkus`` (the SKUs
of :func:`default_skus`, at most ``page_size`` per page, with ``next_page_token`` while more
remain), records every ``ListSkus`` request in ``sku_requests`` and, when ``error_code`` is a
``grpc.StatusCode``, aborts every call with it.

SKUs are realistic Compute Engine SKUs (descriptions, categories, usage types, service regions,
units + nanos prices) for the A2 / A3 / G2 vCPU and RAM and the NVIDIA A100 40GB / H100 80GB /
L4 GPUs in us-central1, for OnDemand, Preemptible (spot), Commit1Yr and Commit3Yr.  The prices
are illustrative constants exported in :data:`PRICES` so tests can hand-compute compositions.
Distractors that a correct parser must ignore: an EMEA H100 SKU (europe-west4, listed first), an
A3 Mega core SKU, a "Reserved A2" SKU and a monthly-unit A2 RAM SKU.  The L4 OnDemand SKU has a
tiered rate whose tier starting at 0 is not listed first.
"""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any, Self

import grpc
from google.cloud import billing_v1

T = billing_v1.types
SERVICE = "services/6F81-5844-456A"
_US = ["us-central1", "us-east1", "us-east4", "us-west1"]

# (component, usage_type) -> USD per unit (GPU / vCPU: per hour; RAM: per GiB-hour)
PRICES: dict[tuple[str, str], float] = {
    ("h100", "OnDemand"): 9.79621, ("h100", "Preemptible"): 5.30, ("h100", "Commit1Yr"): 6.7575,
    ("h100", "Commit3Yr"): 4.28,
    ("a100", "OnDemand"): 2.933908, ("a100", "Preemptible"): 1.57, ("a100", "Commit1Yr"): 1.84,
    ("a100", "Commit3Yr"): 1.03,
    ("l4", "OnDemand"): 0.5603, ("l4", "Preemptible"): 0.3157, ("l4", "Commit1Yr"): 0.353,
    ("l4", "Commit3Yr"): 0.2521,
    ("a3_cpu", "OnDemand"): 0.02825, ("a3_cpu", "Preemptible"): 0.0155,
    ("a3_cpu", "Commit1Yr"): 0.0196, ("a3_cpu", "Commit3Yr"): 0.0124,
    ("a3_ram", "OnDemand"): 0.00379, ("a3_ram", "Preemptible"): 0.0021,
    ("a3_ram", "Commit1Yr"): 0.0026, ("a3_ram", "Commit3Yr"): 0.0017,
    ("a2_cpu", "OnDemand"): 0.031611, ("a2_cpu", "Preemptible"): 0.0171,
    ("a2_cpu", "Commit1Yr"): 0.0199, ("a2_cpu", "Commit3Yr"): 0.0142,
    ("a2_ram", "OnDemand"): 0.004237, ("a2_ram", "Preemptible"): 0.0023,
    ("a2_ram", "Commit1Yr"): 0.0027, ("a2_ram", "Commit3Yr"): 0.0019,
    ("g2_cpu", "OnDemand"): 0.024988, ("g2_cpu", "Preemptible"): 0.0141,
    ("g2_cpu", "Commit1Yr"): 0.0157, ("g2_cpu", "Commit3Yr"): 0.0112,
    ("g2_ram", "OnDemand"): 0.002928, ("g2_ram", "Preemptible"): 0.0016,
    ("g2_ram", "Commit1Yr"): 0.0018, ("g2_ram", "Commit3Yr"): 0.0013,
}
EMEA_H100_ON_DEMAND = 11.11  # europe-west4 distractor
RESERVED_A2_CPU = 0.001  # "Reserved A2" distractor
A3_MEGA_CPU = 0.5  # A3 Mega distractor
L4_HIGH_TIER = 0.45  # tier starting at 1000 h (must be ignored)

_GPU_NAMES = {"h100": "Nvidia H100 80GB", "a100": "Nvidia Tesla A100", "l4": "Nvidia L4"}
_COMMIT_WORD = {"Commit1Yr": "1 Year", "Commit3Yr": "3 Years"}


def _money(usd: float) -> dict[str, Any]:
    units = int(usd)
    return {"currency_code": "USD", "units": units, "nanos": round((usd - units) * 1e9)}


def _sku(sku_id: str, description: str, group: str, usage: str, regions: list[str],
         unit: str, tiers: list[tuple[float, float]]) -> T.Sku:
    factor = {"h": 3600, "GiBy.h": 3600 * 2**30, "GiBy.mo": 2592000 * 2**30}[unit]
    return T.Sku(
        name=f"{SERVICE}/skus/{sku_id}",
        sku_id=sku_id,
        description=description,
        category=T.Category(service_display_name="Compute Engine", resource_family="Compute",
                            resource_group=group, usage_type=usage),
        service_regions=regions,
        service_provider_name="Google",
        pricing_info=[T.PricingInfo(
            summary="",
            pricing_expression=T.PricingExpression(
                usage_unit=unit, display_quantity=1, base_unit="s" if unit == "h" else "By.s",
                base_unit_conversion_factor=factor,
                tiered_rates=[T.PricingExpression.TierRate(start_usage_amount=start,
                                                           unit_price=_money(usd))
                              for start, usd in tiers]),
            currency_conversion_rate=1.0)],
    )


def _description(component: str, usage: str) -> tuple[str, str]:
    """Return (description, resource_group) in the style of real Compute Engine SKUs."""
    if component in _GPU_NAMES:
        gpu = _GPU_NAMES[component]
        if usage == "OnDemand":
            return f"{gpu} GPU running in Americas", "GPU"
        if usage == "Preemptible":
            return f"{gpu} GPU attached to Spot Preemptible VMs running in Americas", "GPU"
        return f"Commitment v1: {gpu} GPU in Americas for {_COMMIT_WORD[usage]}", "GPU"
    family, kind = component.split("_")
    fam = family.upper()
    group = "CPU" if kind == "cpu" else "RAM"
    noun = "Core" if kind == "cpu" else "Ram"
    if usage == "OnDemand":
        return f"{fam} Instance {noun} running in Americas", group
    if usage == "Preemptible":
        return f"Spot Preemptible {fam} Instance {noun} running in Americas", group
    commit_noun = "Cpu" if kind == "cpu" else "Ram"
    return f"Commitment v1: {fam} {commit_noun} in Americas for {_COMMIT_WORD[usage]}", group


def default_skus(omit: set[tuple[str, str]] = frozenset()) -> list[T.Sku]:
    """All SKUs of the fake (distractors included), minus the ``(component, usage)`` in omit."""
    skus = [_sku("EMEA-H100-OD", "Nvidia H100 80GB GPU running in EMEA", "GPU", "OnDemand",
                 ["europe-west4"], "h", [(0, EMEA_H100_ON_DEMAND)])]
    for n, ((component, usage), usd) in enumerate(PRICES.items()):
        if (component, usage) in omit:
            continue
        description, group = _description(component, usage)
        unit = "GiBy.h" if component.endswith("_ram") else "h"
        tiers = [(0, usd)]
        if (component, usage) == ("l4", "OnDemand"):
            tiers = [(1000, L4_HIGH_TIER), (0, usd)]
        skus.append(_sku(f"{n:04X}-{component.upper()}-{usage.upper()}", description, group,
                         usage, _US, unit, tiers))
    skus += [
        _sku("A3MEGA-CPU", "A3 Mega Instance Core running in Americas", "CPU", "OnDemand", _US,
             "h", [(0, A3_MEGA_CPU)]),
        _sku("RES-A2-CPU", "Reserved A2 Instance Core running in Americas", "CPU", "OnDemand",
             _US, "h", [(0, RESERVED_A2_CPU)]),
        _sku("A2-RAM-MO", "A2 Instance Ram running in Americas", "RAM", "OnDemand", ["us-west1"],
             "GiBy.mo", [(0, 3.0)]),
    ]
    return skus


class FakeCloudCatalogServer:
    """Local gRPC server for ``CloudCatalog`` (use as a context manager; binds 127.0.0.1:0)."""

    def __init__(self, skus: list[T.Sku] | None = None, *, page_size: int = 2) -> None:
        self.skus = list(default_skus() if skus is None else skus)
        self.page_size = page_size
        self.error_code: grpc.StatusCode | None = None
        self.sku_requests: list[T.ListSkusRequest] = []
        self._lock = threading.Lock()
        handler = grpc.method_handlers_generic_handler(
            "google.cloud.billing.v1.CloudCatalog",
            {
                "ListServices": grpc.unary_unary_rpc_method_handler(
                    self._list_services,
                    request_deserializer=T.ListServicesRequest.deserialize,
                    response_serializer=T.ListServicesResponse.serialize),
                "ListSkus": grpc.unary_unary_rpc_method_handler(
                    self._list_skus,
                    request_deserializer=T.ListSkusRequest.deserialize,
                    response_serializer=T.ListSkusResponse.serialize),
            },
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None).wait(5)

    def _abort_if_failing(self, context: grpc.ServicerContext) -> None:
        if self.error_code is not None:
            context.abort(self.error_code, f"fake: {self.error_code.name} for this caller")

    def _list_services(self, request: T.ListServicesRequest, context: grpc.ServicerContext):
        self._abort_if_failing(context)
        return T.ListServicesResponse(services=[T.Service(
            name=SERVICE, service_id="6F81-5844-456A", display_name="Compute Engine",
            business_entity_name="businessEntities/GCP")])

    def _list_skus(self, request: T.ListSkusRequest, context: grpc.ServicerContext):
        with self._lock:
            self.sku_requests.append(request)
        self._abort_if_failing(context)
        if request.parent != SERVICE:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.parent}")
        start = int(request.page_token or 0)
        size = min(request.page_size or 5000, self.page_size)
        page = self.skus[start:start + size]
        more = start + size < len(self.skus)
        return T.ListSkusResponse(skus=page, next_page_token=str(start + size) if more else "")
