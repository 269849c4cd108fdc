"""The GCP Cloud Billing Catalog provider against a loopback gRPC fake of CloudCatalog.

The real ``google.cloud.billing_v1.CloudCatalogClient`` talks to the fake over a plaintext
channel on 127.0.0.1; expected prices are hand-computed from the fake's SKU prices
(``gpus * GPU + vcpus * vCPU + GiB * RAM``).
"""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("google.cloud.billing_v1")
grpc = pytest.importorskip("grpc")

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import billing_v1
from google.cloud.billing_v1.services.cloud_catalog.transports import CloudCatalogGrpcTransport
from typer.testing import CliRunner

from costmodels.providers.gcp import LABEL, classify_sku, fetch_gcp_catalog
from domain.errors import CatalogError
from planner.cli.main import app
from tests.costmodels.fakes import gcp_catalog as fake

TODAY = dt.date(2026, 11, 26)
TYPES = ["a2-highgpu-1g", "a3-highgpu-8g", "g2-standard-4"]

# a2-highgpu-1g: 1 x A100 + 12 vCPU + 85 GiB
A2_1G = {
    "on_demand": 2.933908 + 12 * 0.031611 + 85 * 0.004237,  # 3.673385
    "spot": 1.57 + 12 * 0.0171 + 85 * 0.0023,  # 1.9707
    "reserved_1yr": 1.84 + 12 * 0.0199 + 85 * 0.0027,  # 2.3083
    "reserved_3yr": 1.03 + 12 * 0.0142 + 85 * 0.0019,  # 1.3619
}
# a3-highgpu-8g: 8 x H100 + 208 vCPU + 1872 GiB
A3_8G = {
    "on_demand": 91.34056,  # 78.36968 + 5.876 + 7.09488
    "spot": 49.5552,  # 42.4 + 3.224 + 3.9312
    "reserved_1yr": 63.004,  # 54.06 + 4.0768 + 4.8672
    "reserved_3yr": 40.0016,  # 34.24 + 2.5792 + 3.1824
}
# g2-standard-4: 1 x L4 + 4 vCPU + 16 GiB (L4 on-demand: the tier starting at 0, 0.5603)
G2_4 = {
    "on_demand": 0.7071,  # 0.5603 + 0.099952 + 0.046848
    "spot": 0.3977,  # 0.3157 + 0.0564 + 0.0256
    "reserved_1yr": 0.4446,  # 0.353 + 0.0628 + 0.0288
    "reserved_3yr": 0.3177,  # 0.2521 + 0.0448 + 0.0208
}


@pytest.fixture()
def server():
    with fake.FakeCloudCatalogServer() as srv:
        yield srv


def _client(srv):
    """The real client wired to the fake: api_endpoint + insecure channel, anonymous creds."""
    channel = grpc.insecure_channel(srv.endpoint)
    transport = CloudCatalogGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return billing_v1.CloudCatalogClient(
        transport=transport, client_options=ClientOptions(api_endpoint=srv.endpoint)
    )


def _prices(catalog, instance_type):
    row = catalog.frame.filter(catalog.frame["instance_type"] == instance_type).row(0, named=True)
    return {o: row[f"{o}_usd_per_hour"] for o in A2_1G}, row


@pytest.mark.parametrize("instance_type,expected", [
    ("a2-highgpu-1g", A2_1G), ("a3-highgpu-8g", A3_8G), ("g2-standard-4", G2_4)])
def test_composed_prices_match_hand_computation(server, instance_type, expected):
    catalog = fetch_gcp_catalog(TYPES, client=_client(server), today=TODAY)
    prices, row = _prices(catalog, instance_type)
    assert prices == pytest.approx(expected, rel=1e-12)
    assert catalog.label == LABEL and row["as_of"] == "2026-11-26"
    assert row["region"] == "us-central1" and row["provider"] == "gcp"


def test_shapes_come_from_the_snapshot(server):
    catalog = fetch_gcp_catalog(TYPES, client=_client(server), today=TODAY)
    _, row = _prices(catalog, "a3-highgpu-8g")
    assert (row["gpus"], row["vcpus"], row["memory_gib"]) == (8, 208, 1872.0)
    assert "H100" in row["gpu_model"]


def test_endpoint_argument_builds_an_insecure_client(server):
    catalog = fetch_gcp_catalog(["g2-standard-4"], endpoint=server.endpoint, today=TODAY)
    assert _prices(catalog, "g2-standard-4")[0] == pytest.approx(G2_4, rel=1e-12)


def test_list_skus_is_paged(server):
    fetch_gcp_catalog(TYPES, client=_client(server), today=TODAY)
    n = len(server.skus)
    assert n > 4 and len(server.sku_requests) == (n + 1) // 2
    assert {r.parent for r in server.sku_requests} == {"services/6F81-5844-456A"}
    assert [r.page_token for r in server.sku_requests[:3]] == ["", "2", "4"]
    assert {r.currency_code for r in server.sku_requests} == {"USD"}


def test_sku_of_another_region_is_ignored(server):
    # the EMEA H100 SKU (europe-west4, 11.11 $/h) is listed first; us-central1 must not use it
    catalog = fetch_gcp_catalog(["a3-highgpu-8g"], client=_client(server), today=TODAY)
    assert _prices(catalog, "a3-highgpu-8g")[0]["on_demand"] == pytest.approx(91.34056)
    # in europe-west4 only the GPU SKU exists: no vCPU / RAM SKU, so nothing is priced
    emea = fetch_gcp_catalog(["a3-highgpu-8g"], client=_client(server), region="europe-west4",
                             today=TODAY)
    assert set(_prices(emea, "a3-highgpu-8g")[0].values()) == {None}


def test_missing_commit_3yr_sku_leaves_only_reserved_3yr_unknown():
    with fake.FakeCloudCatalogServer(fake.default_skus(omit={("l4", "Commit3Yr")})) as srv:
        catalog = fetch_gcp_catalog(TYPES, client=_client(srv), today=TODAY)
    g2, _ = _prices(catalog, "g2-standard-4")
    assert g2["reserved_3yr"] is None
    assert {k: g2[k] for k in ("on_demand", "spot", "reserved_1yr")} == pytest.approx(
        {k: G2_4[k] for k in ("on_demand", "spot", "reserved_1yr")})
    assert _prices(catalog, "a2-highgpu-1g")[0] == pytest.approx(A2_1G)


def test_unsupported_and_unknown_machine_types_have_no_prices(server):
    catalog = fetch_gcp_catalog(["a3-megagpu-8g", "n1-standard-4"], client=_client(server),
                                today=TODAY)
    for instance_type in ("a3-megagpu-8g", "n1-standard-4"):
        assert set(_prices(catalog, instance_type)[0].values()) == {None}


def test_permission_denied_is_a_catalog_error(server):
    server.error_code = grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(CatalogError, match="denied.*PermissionDenied.*Cloud Billing API"):
        fetch_gcp_catalog(TYPES, client=_client(server), today=TODAY)


def test_empty_machine_type_list_is_rejected():
    with pytest.raises(CatalogError, match="at least one machine type"):
        fetch_gcp_catalog([" ", ""])


@pytest.mark.parametrize("description,group,expected", [
    ("Nvidia Tesla A100 80GB GPU running in Americas", "GPU", ("gpu", "a100_80gb")),
    ("Commitment v1: Nvidia Tesla A100 GPU in Americas for 1 Year", "GPU", ("gpu", "a100")),
    ("Nvidia H100 80GB Mega GPU running in Americas", "GPU", None),
    ("Commitment v1: A3 Ram in Americas for 3 Years", "RAM", ("ram", "a3")),
    ("A3 Mega Instance Core running in Americas", "CPU", None),
    ("Reserved A2 Instance Core running in Americas", "CPU", None),
    ("A2 Instance Ram running in Americas", "CPU", None),  # group and description disagree
])
def test_classify_sku(description, group, expected):
    assert classify_sku(description, group) == expected


def test_cli_refresh_gcp_then_list_shows_the_refreshed_price(server, tmp_path, monkeypatch):
    monkeypatch.delenv("PLANNER_PRICE_CACHE", raising=False)
    cache = tmp_path / "prices"
    runner = CliRunner()
    result = runner.invoke(app, ["prices", "refresh", "--provider", "gcp", "--instances",
                                 "a3-highgpu-8g,g2-standard-4", "--endpoint", server.endpoint,
                                 "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    assert "refreshed gcp prices in us-central1: 2 instance types" in result.stdout
    files = list(cache.glob("gcp-*.parquet"))
    assert len(files) == 1
    listed = runner.invoke(app, ["prices", "list", "--provider", "gcp", "--instance",
                                 "a3-highgpu-8g", "--format", "json", "--cache-dir", str(cache)])
    assert listed.exit_code == 0, listed.output
    assert "91.34056" in listed.stdout and "88.49" not in listed.stdout  # snapshot: 88.49


def test_cli_refresh_gcp_permission_denied_exits_1(server, tmp_path):
    server.error_code = grpc.StatusCode.PERMISSION_DENIED
    cache = tmp_path / "prices"
    result = CliRunner().invoke(app, ["prices", "refresh", "--provider", "gcp", "--endpoint",
                                      server.endpoint, "--cache-dir", str(cache)])
    assert result.exit_code == 1
    assert "PermissionDenied" in result.stderr
    assert not cache.exists() or not any(cache.glob("*.parquet"))
