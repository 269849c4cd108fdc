"""A loopback fake of the AWS Pricing API (JSON 1.1 protocol) for offline tests.

Serves ``POST /`` with ``X-Amz-Target: AWSPriceListService.GetProducts``: applies TERM_MATCH
filters to its items' product attributes, returns ``page_size`` items per page as JSON strings
with a ``NextToken`` while more remain.  ``error_mode`` makes it answer ``"access_denied"``
(HTTP 400 AccessDeniedException) or ``"throttle"`` (HTTP 400 ThrottlingException) to every
request, and ``throttle_first`` throttles only that many requests before answering normally.

It also serves the Savings Plans REST-JSON operation ``POST /DescribeSavingsPlansOfferingRates``
(botocore's ``savingsplans`` client): it applies ``savingsPlanTypes``,
``savingsPlanPaymentOptions`` and ``filters`` (region, instanceType, productDescription,
tenancy) to its rate records and pages them ``page_size`` at a time with ``nextToken``.

Items are realistic aws_v1 offer-format products for p5.48xlarge and g5.xlarge in us-east-1
(prices are illustrative constants exported below, so tests can hand-compute expectations).
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

P5_ON_DEMAND = 55.04
P5_RI_1YR_NO_UPFRONT_HOURLY = 38.5280
P5_RI_3YR_NO_UPFRONT_HOURLY = 27.5200
P5_RI_1YR_ALL_UPFRONT_FEE = 312000.0  # distractor: All Upfront, must be ignored
P5_RI_1YR_CONVERTIBLE_HOURLY = 44.0320  # distractor: convertible, must be ignored
G5_ON_DEMAND = 1.006
G5_RI_1YR_NO_UPFRONT_HOURLY = 0.6340
G5_RI_3YR_NO_UPFRONT_HOURLY = 0.4360
# Compute Savings Plans, No Upfront, Linux/UNIX shared (illustrative constants)
P5_SP_1YR = 41.2800
P5_SP_3YR = 30.2720
G5_SP_1YR = 0.7343
G5_SP_3YR = 0.5030
_SP_YEAR_S = 31_536_000

_ON_DEMAND_CODE = "JRTCKXETXF"
_HOURLY_RATE_CODE = "6YS6EN2CT7"


def _dimension(sku: str, term: str, rate: str, unit: str, usd: float, description: str) -> dict:
    return {
        f"{sku}.{term}.{rate}": {
            "rateCode": f"{sku}.{term}.{rate}",
            "description": description,
            "unit": unit,
            "beginRange": "0",
            "endRange": "Inf",
            "appliesTo": [],
            "pricePerUnit": {"USD": f"{usd:.10f}"},
        }
    }


def _on_demand_term(sku: str, instance_type: str, hourly: float) -> dict:
    return {
        f"{sku}.{_ON_DEMAND_CODE}": {
            "offerTermCode": _ON_DEMAND_CODE,
            "sku": sku,
            "effectiveDate": "2026-11-01T00:00:00Z",
            "termAttributes": {},
            "priceDimensions": _dimension(
                sku,
                _ON_DEMAND_CODE,
                _HOURLY_RATE_CODE,
                "Hrs",
                hourly,
                f"${hourly:.3f} per On Demand Linux {instance_type} Instance Hour",
            ),
        }
    }


def _reserved_term(
    sku: str, code: str, length: str, offering: str, option: str, hourly: float, upfront: float
) -> dict:
    dims = _dimension(
        sku, code, "6YS6EN2CT7", "Hrs", hourly, "Linux/UNIX (Amazon VPC), reserved hour"
    )
    if option != "No Upfront" or upfront:
        dims |= _dimension(sku, code, "2TG2D8R56U", "Quantity", upfront, "Upfront Fee")
    return {
        f"{sku}.{code}": {
            "offerTermCode": code,
            "sku": sku,
            "effectiveDate": "2026-11-01T00:00:00Z",
            "termAttributes": {
                "LeaseContractLength": length,
                "OfferingClass": offering,
                "PurchaseOption": option,
            },
            "priceDimensions": dims,
        }
    }


def _product(
    sku: str, instance_type: str, vcpu: str, memory: str, gpu: str, **overrides: str
) -> dict:
    attributes = {
        "servicecode": "AmazonEC2",
        "instanceType": instance_type,
        "instanceFamily": "GPU instance",
        "vcpu": vcpu,
        "memory": memory,
        "gpu": gpu,
        "gpuMemory": "NA",
        "regionCode": "us-east-1",
        "location": "US East (N. Virginia)",
        "locationType": "AWS Region",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "licenseModel": "No License required",
        "capacitystatus": "Used",
        "usagetype": f"BoxUsage:{instance_type}",
        "operation": "RunInstances",
    }
    attributes.update(overrides)
    return {"productFamily": "Compute Instance", "sku": sku, "attributes": attributes}


def _item(product: dict, terms: dict) -> dict:
    return {
        "product": product,
        "serviceCode": "AmazonEC2",
        "terms": terms,
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }


def default_items() -> list[dict[str, Any]]:
    """Offer-format items: p5.48xlarge (its terms split over two items) and g5.xlarge.

    The p5 OnDemand term and 1-yr reserved terms come in one item and its 3-yr reserved term in
    a second item with the same attributes, so a client that stops after the first page (one
    item per page) misses the 3-yr rate.  Windows and reservation-capacity SKUs must be filtered
    out by the request filters.
    """
    p5 = "P5SKU0000001"
    p5_terms = {
        "OnDemand": _on_demand_term(p5, "p5.48xlarge", P5_ON_DEMAND),
        "Reserved": (
            _reserved_term(
                p5, "4NA7Y494T4", "1yr", "standard", "No Upfront", P5_RI_1YR_NO_UPFRONT_HOURLY, 0.0
            )
            | _reserved_term(
                p5, "6QCMYABX3D", "1yr", "standard", "All Upfront", 0.0, P5_RI_1YR_ALL_UPFRONT_FEE
            )
            | _reserved_term(
                p5,
                "7NE97W5U4E",
                "1yr",
                "convertible",
                "No Upfront",
                P5_RI_1YR_CONVERTIBLE_HOURLY,
                0.0,
            )
        ),
    }
    p5_3yr_terms = {
        "Reserved": _reserved_term(
            p5, "BPH4J8HBKS", "3yr", "standard", "No Upfront", P5_RI_3YR_NO_UPFRONT_HOURLY, 0.0
        )
    }
    g5 = "G5SKU0000001"
    g5_terms = {
        "OnDemand": _on_demand_term(g5, "g5.xlarge", G5_ON_DEMAND),
        "Reserved": (
            _reserved_term(
                g5, "4NA7Y494T4", "1yr", "standard", "No Upfront", G5_RI_1YR_NO_UPFRONT_HOURLY, 0.0
            )
            | _reserved_term(
                g5, "BPH4J8HBKS", "3yr", "standard", "No Upfront", G5_RI_3YR_NO_UPFRONT_HOURLY, 0.0
            )
        ),
    }
    p5_product = _product(p5, "p5.48xlarge", "192", "2048 GiB", "8")
    return [
        _item(p5_product, p5_terms),
        _item(p5_product, p5_3yr_terms),
        _item(
            _product(
                "P5SKUWIN0001", "p5.48xlarge", "192", "2048 GiB", "8", operatingSystem="Windows"
            ),
            {"OnDemand": _on_demand_term("P5SKUWIN0001", "p5.48xlarge", 99.0)},
        ),
        _item(
            _product(
                "P5SKURES0001",
                "p5.48xlarge",
                "192",
                "2048 GiB",
                "8",
                capacitystatus="UnusedCapacityReservation",
            ),
            {"OnDemand": _on_demand_term("P5SKURES0001", "p5.48xlarge", 77.0)},
        ),
        _item(_product(g5, "g5.xlarge", "4", "16 GiB", "1"), g5_terms),
    ]


def _sp_rate(instance_type: str, years: int, rate: float, *, plan: str = "Compute",
             payment: str = "No Upfront", region: str = "us-east-1",
             operation: str = "RunInstances", product: str = "Linux/UNIX",
             usage_prefix: str = "") -> dict[str, Any]:
    return {
        "savingsPlanOffering": {
            "offeringId": f"{plan}-{payment}-{years}y".replace(" ", ""),
            "paymentOption": payment,
            "planType": plan,
            "durationSeconds": _SP_YEAR_S * years,
            "currency": "USD",
            "planDescription": f"{years} year {payment} {plan} Savings Plan",
        },
        "rate": f"{rate:.6f}",
        "unit": "Hrs",
        "productType": "EC2",
        "serviceCode": "AmazonEC2",
        "usageType": f"{usage_prefix}BoxUsage:{instance_type}",
        "operation": operation,
        "properties": [
            {"name": "region", "value": region},
            {"name": "instanceType", "value": instance_type},
            {"name": "instanceFamily", "value": instance_type.split(".")[0]},
            {"name": "productDescription", "value": product},
            {"name": "tenancy", "value": "shared"},
        ],
    }


def default_savings_plan_rates() -> list[dict[str, Any]]:
    """Compute SP No Upfront rates of p5.48xlarge and g5.xlarge in us-east-1, with distractors
    (EC2 Instance plans, All Upfront, Windows, another region) the request filters must drop."""
    return [
        _sp_rate("p5.48xlarge", 1, P5_SP_1YR),
        _sp_rate("p5.48xlarge", 1, 35.0, plan="EC2Instance"),
        _sp_rate("p5.48xlarge", 1, 38.0, payment="All Upfront"),
        _sp_rate("p5.48xlarge", 1, 60.0, operation="RunInstances:0002", product="Windows"),
        _sp_rate("p5.48xlarge", 1, 42.5, region="us-west-2", usage_prefix="USW2-"),
        _sp_rate("p5.48xlarge", 3, P5_SP_3YR),
        _sp_rate("g5.xlarge", 1, G5_SP_1YR),
        _sp_rate("g5.xlarge", 3, G5_SP_3YR),
    ]


@dataclass
class FakePricingServer:
    """Threaded loopback Pricing API fake; use as a context manager or start()/stop()."""

    items: list[dict[str, Any]] = field(default_factory=default_items)
    savings_plan_rates: list[dict[str, Any]] = field(default_factory=default_savings_plan_rates)
    savings_plans_error: str | None = None
    page_size: int = 1
    error_mode: str | None = None
    throttle_first: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                if self.path.rstrip("/") == "/DescribeSavingsPlansOfferingRates":
                    status, payload = fake._handle_savings_plans(body)
                else:
                    status, payload = fake._handle(target, body, dict(self.headers))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", "fake-request-id")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, target: str, body: dict, headers: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(
                {"target": target, "body": body, "authorization": headers.get("Authorization", "")}
            )
            throttled = self.error_mode == "throttle" or (
                self.throttle_first > 0 and self._consume_throttle()
            )
        if self.error_mode == "access_denied":
            return 400, {
                "__type": "AccessDeniedException",
                "message": "User: arn:aws:iam::123456789012:user/test is not authorized to "
                "perform: pricing:GetProducts",
            }
        if throttled:
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        if target != "AWSPriceListService.GetProducts":
            return 400, {"__type": "InvalidParameterException", "message": f"unsupported {target}"}
        matched = [item for item in self.items if self._matches(item, body)]
        start = int(body.get("NextToken") or 0)
        size = min(self.page_size, int(body.get("MaxResults") or self.page_size))
        page = matched[start : start + size]
        payload: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [json.dumps(item) for item in page],
        }
        if start + size < len(matched):
            payload["NextToken"] = str(start + size)
        return 200, payload

    def _handle_savings_plans(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append({"target": "savingsplans.DescribeSavingsPlansOfferingRates",
                                  "body": body, "authorization": ""})
        if self.savings_plans_error == "access_denied":
            return 403, {"__type": "AccessDeniedException",
                         "message": "User is not authorized to perform: "
                                    "savingsplans:DescribeSavingsPlansOfferingRates"}
        if self.savings_plans_error == "validation":
            return 400, {"__type": "ValidationException", "message": "Invalid filter name"}
        wanted = {f["name"]: set(f["values"]) for f in body.get("filters", [])}
        types = set(body.get("savingsPlanTypes") or [])
        payments = set(body.get("savingsPlanPaymentOptions") or [])
        matched = []
        for rate in self.savings_plan_rates:
            offering = rate["savingsPlanOffering"]
            if types and offering["planType"] not in types:
                continue
            if payments and offering["paymentOption"] not in payments:
                continue
            props = {p["name"]: p["value"] for p in rate["properties"]}
            if all(props.get(name) in values for name, values in wanted.items()):
                matched.append(rate)
        start = int(body.get("nextToken") or 0)
        page = matched[start : start + self.page_size]
        payload: dict[str, Any] = {"searchResults": page}
        if start + self.page_size < len(matched):
            payload["nextToken"] = str(start + self.page_size)
        return 200, payload

    def savings_plans_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests
                if r["target"] == "savingsplans.DescribeSavingsPlansOfferingRates"]

    def _consume_throttle(self) -> bool:
        self.throttle_first -= 1
        return True

    @staticmethod
    def _matches(item: dict, body: dict) -> bool:
        if body.get("ServiceCode") != item["serviceCode"]:
            return False
        attributes = item["product"]["attributes"]
        for flt in body.get("Filters", []):
            if flt.get("Type") != "TERM_MATCH":
                return False
            if attributes.get(flt["Field"]) != flt["Value"]:
                return False
        return True

    def get_products_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["target"] == "AWSPriceListService.GetProducts"]


@contextlib.contextmanager
def moto_server():
    """Run moto's EC2-capable server on a free loopback port; yield its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


AWS_ENV_CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                   "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_PRICING",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                   "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


def isolate_aws_env(monkeypatch: Any, tmp_path: Any, *, key_id: str = "testing",
                    secret: str = "testing", token: str | None = None) -> None:
    """Give boto3 exactly these credentials: no profile, config file, metadata service or
    endpoint override from the machine running the tests."""
    for name in AWS_ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    if token is not None:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
