"""``planner prices``: browse the built-in dated GPU price catalog."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from costmodels.catalog import PROVIDERS, load_snapshot
from planner.cli import options
from planner.cli.common import emit, user_errors
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


@app.command("list")
def list_prices(
    provider: Provider | None = PROVIDER,
    gpu: str | None = GPU,
    region: str | None = REGION,
    instance: str | None = INSTANCE,
    fmt: PricesFormat = FORMAT,
    output: Path | None = options.OUTPUT,
    sort: SortKey | None = SORT,
    debug: bool = options.DEBUG,
) -> None:
    """List the built-in catalog's GPU instance list prices (USD per hour), filtered."""
    with user_errors(debug):
        catalog = load_snapshot()
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
            text = render_table(frame, catalog)
        emit(text, output)
