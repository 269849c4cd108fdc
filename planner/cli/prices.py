"""``planner prices``: browse GPU list prices and refresh the local price cache.

``prices list`` shows the newest local cache merged with the built-in dated snapshot (or the
snapshot alone with ``--snapshot``); ``prices refresh`` fetches a provider's prices and writes a
cache file (see :mod:`costmodels.price_cache`)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from costmodels.catalog import PROVIDERS, load_snapshot
from costmodels.price_cache import default_catalog, write_cache
from costmodels.providers.redact import redacted_errors, redacted_logging
from domain.errors import CatalogError
from planner.cli import options
from planner.cli.common import emit, stderr_console, user_errors
from planner.reports.prices import render_csv, render_json, render_table, select_prices

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

Provider = Enum("Provider", {name: name for name in PROVIDERS}, type=str)
"""Providers ``--provider`` accepts (case-insensitive), from :data:`costmodels.catalog.PROVIDERS`."""


class PricesFormat(str, Enum):
    """Formats ``planner prices list`` renders in."""

    table = "table"
    json = "json"
    csv = "csv"


class SortKey(str, Enum):
    """Orders ``planner prices list`` sorts by, cheapest first."""

    on_demand = "on_demand"
    spot = "spot"
    gpu_price = "gpu_price"


PROVIDER = typer.Option(None, "--provider", case_sensitive=False, help="Only this provider.")
GPU = typer.Option(None, "--gpu", help="GPU model contains this text (case-insensitive), e.g. H100.")
REGION = typer.Option(None, "--region", help="Only this region, e.g. us-east-1.")
INSTANCE = typer.Option(None, "--instance", help="Instance type contains this text "
                        "(case-insensitive), e.g. p5.")
FORMAT = typer.Option(PricesFormat.table, "--format", "-f", case_sensitive=False,
                      help="Output format.")
SORT = typer.Option(None, "--sort", case_sensitive=False, help="Sort cheapest first by on-demand, "
                    "spot or on-demand per GPU-hour; unknown prices last.")

SNAPSHOT = typer.Option(False, "--snapshot", help="Use the built-in snapshot even when a local "
                        "price cache exists.")
CACHE_DIR = typer.Option(None, "--cache-dir", help="Price cache folder (default "
                         "$PLANNER_PRICE_CACHE, else $XDG_CACHE_HOME/gpu-planner/prices).")


@app.command("list")
def list_prices(
    provider: Provider | None = PROVIDER,
    gpu: str | None = GPU,
    region: str | None = REGION,
    instance: str | None = INSTANCE,
    fmt: PricesFormat = FORMAT,
    output: Path | None = options.OUTPUT,
    sort: SortKey | None = SORT,
    snapshot: bool = SNAPSHOT,
    cache_dir: Path | None = CACHE_DIR,
    wide: bool = options.WIDE,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """List GPU instance list prices (USD per hour), filtered.

    Uses the newest local price cache (from 'planner prices refresh') merged with the built-in
    snapshot, or the built-in snapshot alone when there is no cache or with --snapshot.
    """
    with user_errors(debug):
        catalog = load_snapshot() if snapshot else default_catalog(cache_dir)
        frame = select_prices(
            catalog,
            provider=provider.value if provider is not None else None,
            gpu=gpu,
            region=region,
            instance=instance,
            sort=sort.value if sort is not None else None,
        )
        if fmt == PricesFormat.json:
            text = render_json(frame, catalog)
        elif fmt == PricesFormat.csv:
            text = render_csv(frame)
        else:
            text = render_table(frame, catalog, wide=wide)
        emit(text, output)


REFRESH_PROVIDER = typer.Option(..., "--provider", case_sensitive=False,
                                help="Provider to fetch (aws or gcp).")
INSTANCES = typer.Option(None, "--instances", help="Comma-separated instance types, e.g. "
                         "p5.48xlarge,g5.xlarge (default: the provider's instance types in the "
                         "built-in snapshot).")
REFRESH_REGION = typer.Option(None, "--region", help="Region to price (default us-east-1 for "
                              "aws, us-central1 for gcp).")
DEFAULT_REFRESH_REGIONS = {"aws": "us-east-1", "gcp": "us-central1"}
ENDPOINT_PRICING = typer.Option(None, "--endpoint-url-pricing",
                                help="Override the AWS Pricing API endpoint.")
ENDPOINT_EC2 = typer.Option(None, "--endpoint-url-ec2", help="Override the EC2 endpoint.")
ENDPOINT_SP = typer.Option(None, "--endpoint-url-savingsplans",
                           help="Override the Savings Plans endpoint.")
ENDPOINT_GCP = typer.Option(None, "--endpoint", help="gcp only: host:port of a plaintext gRPC "
                            "Cloud Billing Catalog endpoint (for tests; no credentials used).")


@app.command("refresh")
def refresh_prices(
    provider: Provider = REFRESH_PROVIDER,
    instances: str | None = INSTANCES,
    region: str | None = REFRESH_REGION,
    endpoint_url_pricing: str | None = ENDPOINT_PRICING,
    endpoint_url_ec2: str | None = ENDPOINT_EC2,
    endpoint_url_savingsplans: str | None = ENDPOINT_SP,
    endpoint: str | None = ENDPOINT_GCP,
    cache_dir: Path | None = CACHE_DIR,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Fetch current list prices from a provider's API (the AWS Pricing API or the GCP Cloud
    Billing Catalog API) into the local price cache."""
    with user_errors(debug):
        name = provider.value
        region = region or DEFAULT_REFRESH_REGIONS[name]
        if name == "aws" and endpoint:
            raise CatalogError("--endpoint is for --provider gcp; for aws use "
                               "--endpoint-url-pricing, --endpoint-url-ec2 and "
                              "--endpoint-url-savingsplans")
        if instances is not None:
            types = [t.strip() for t in instances.split(",") if t.strip()]
            if not types:
                raise CatalogError("--instances lists no instance type; write e.g. "
                                   "--instances p5.48xlarge,g5.xlarge or leave it out")
        else:
            frame = load_snapshot().frame
            frame = frame.filter(frame["provider"] == name)
            if name == "gcp" and (frame["region"] == region).any():
                frame = frame.filter(frame["region"] == region)  # e.g. a3-megagpu is us-east4 only
            types = sorted(set(frame["instance_type"]))
        # a remote error's text may echo the request's credentials, and the clients log them at
        # DEBUG when a user turns logging on
        with redacted_logging(), redacted_errors():
            if name == "gcp":
                from costmodels.providers.gcp import fetch_gcp_catalog  # google-cloud-billing

                catalog = fetch_gcp_catalog(types, region=region, endpoint=endpoint)
            else:
                from costmodels.providers.aws import fetch_aws_catalog  # boto3 only here

                endpoints = {key: url for key, url in
                             (("pricing", endpoint_url_pricing), ("ec2", endpoint_url_ec2),
                              ("savingsplans", endpoint_url_savingsplans)) if url}
                catalog = fetch_aws_catalog(types, region=region,
                                            endpoint_urls=endpoints or None)
        path = write_cache(catalog, name, cache_dir=cache_dir)
        rows = catalog.frame.height
        priced = catalog.frame["on_demand_usd_per_hour"].drop_nulls().len()
        if not quiet:
            stderr_console().print(f"wrote {rows} rows to {path}", markup=False,
                                   soft_wrap=True)
        emit(f"refreshed {name} prices in {region}: {rows} instance types, {priced} with an "
             f"on-demand price, as of {catalog.as_of} ({catalog.label}); cache {path}", None)
