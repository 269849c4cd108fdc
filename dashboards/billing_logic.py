"""Cost review and calibration logic: billing files in, plain dicts and figures out.

The billing layer (:mod:`costmodels.billing.readers`, ``.review``, ``.rates``) is imported lazily;
when it is missing or broken every function here raises :class:`BillingUnavailable` with the
reason, and the pages show "billing support is not available: <reason>".
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dashboards.scenario_logic import decode_upload, safe_filename
from dashboards.settings import BILLING_UPLOAD_LIMIT_BYTES, Settings
from domain.errors import PlannerError
from domain.purchase import RESERVED, SAVINGS_PLANS, Purchase

BILLING_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".parquet", ".gz", ".zip", ".json")
"""File names the data folder is scanned for (the readers decide what each one is)."""


class BillingUnavailable(PlannerError):
    """The billing layer cannot be imported; the message is the reason."""


def billing_api() -> dict[str, Any]:
    """Return ``read_billing``, ``monthly_review`` and ``effective_rates``, imported now."""
    try:
        from costmodels.billing.rates import effective_rates
        from costmodels.billing.readers import read_billing
        from costmodels.billing.review import monthly_review
    except Exception as exc:  # noqa: BLE001 - any import failure is shown as the reason
        raise BillingUnavailable(f"{type(exc).__name__}: {exc}") from None
    return {"read_billing": read_billing, "monthly_review": monthly_review,
            "effective_rates": effective_rates}


def unavailable_reason() -> str | None:
    """Return why billing support is not available, or None when it is."""
    try:
        billing_api()
    except BillingUnavailable as exc:
        return str(exc)
    return None


def data_files(folder: Path | None) -> list[Path]:
    """Return the billing files under ``folder`` (recursively), sorted; [] without a folder."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.name.lower().endswith(BILLING_SUFFIXES))


@functools.lru_cache(maxsize=8)
def _read(paths: tuple[str, ...], stamp: tuple[float, ...]):
    return billing_api()["read_billing"]([Path(p) for p in paths], compact=True)


def read(paths: Sequence[Path]):
    """Return the ``BillingRead`` of ``paths`` (cached while the files are unchanged)."""
    if not paths:
        raise PlannerError("no billing files; start with --data DIR or upload an export")
    billing_api()
    keys = tuple(str(p) for p in paths)
    return _read(keys, tuple(p.stat().st_mtime for p in paths))


def data_as_of(settings: Settings) -> str:
    """Return the latest billing charge period end of the ``--data`` folder, for the header."""
    if settings.data_dir is None:
        return "n/a (no billing data; start with --data DIR)"
    reason = unavailable_reason()
    if reason is not None:
        return f"n/a (billing support is not available: {reason})"
    try:
        latest = read(data_files(settings.data_dir)).latest_charge_period_end
    except PlannerError as exc:
        return f"n/a ({exc})"
    return "n/a" if latest is None else str(latest)[:19].replace("T", " ")


def save_upload(settings: Settings, contents: str, filename: str | None) -> Path:
    """Save an uploaded billing export in a new private folder under the work folder.

    The name keeps only ``[A-Za-z0-9._-]`` of its last component; the file lands in
    ``uploads/<random>/`` and nowhere else.

    Raises
    ------
    PlannerError
        Larger than 50 MB, or not a data URL.
    """
    raw = decode_upload(contents, BILLING_UPLOAD_LIMIT_BYTES)
    folder = settings.upload_dir / uuid.uuid4().hex
    folder.mkdir(mode=0o700, parents=True)
    target = (folder / safe_filename(filename, "billing.csv")).resolve()
    if target.parent != folder.resolve():  # pragma: no cover - safe_filename prevents it
        raise PlannerError(f"refused upload name {filename!r}")
    target.write_bytes(raw)
    return target


def upload_files(settings: Settings, token: str | None) -> list[Path]:
    """Return the files of upload folder ``token`` (a hex name under ``uploads/``)."""
    if not token or not all(c in "0123456789abcdef" for c in token) or len(token) != 32:
        return []
    return data_files(settings.upload_dir / token)


# ----------------------------------------------------------------------------- filters

def filter_frame(frame, *, accounts: Sequence[str] = (), services: Sequence[str] = (),
                 tag: str | None = None):
    """Return ``frame`` limited to sub-accounts, services and a ``key=value`` tag (lazy)."""
    import polars as pl

    if accounts:
        frame = frame.filter(pl.col("SubAccountId").is_in(list(accounts)))
    if services:
        frame = frame.filter(pl.col("ServiceName").is_in(list(services)))
    if tag and "=" in tag:
        key, value = (part.strip() for part in tag.split("=", 1))
        key = key.replace("\\", "\\\\").replace("'", "\\'")
        frame = frame.filter(pl.col("Tags").str.json_path_match(f"$['{key}']") == value)
    return frame


def filter_options(frame) -> dict[str, list[dict[str, str]]]:
    """Return dropdown options of the sub-accounts and services present in ``frame``."""
    accounts = (frame.select("SubAccountId", "SubAccountName").unique()
                .drop_nulls("SubAccountId").sort("SubAccountId").collect())
    services = frame.select("ServiceName").unique().drop_nulls().sort("ServiceName").collect()
    return {
        "accounts": [{"label": f"{r['SubAccountName']} ({r['SubAccountId']})"
                      if r["SubAccountName"] else r["SubAccountId"], "value": r["SubAccountId"]}
                     for r in accounts.iter_rows(named=True)],
        "services": [{"label": s, "value": s} for s in services["ServiceName"].to_list()],
    }


# ----------------------------------------------------------------------------- review

def review_dict(paths: Sequence[Path], *, month: str | None = None, group_by: str = "service",
                accounts: Sequence[str] = (), services: Sequence[str] = (),
                tag: str | None = None) -> dict[str, Any]:
    """Return ``monthly_review(...).to_dict()`` of the filtered files, plus the read's notes."""
    api = billing_api()
    billing = read(paths)
    frame = filter_frame(billing.frame, accounts=accounts, services=services, tag=tag)
    review = api["monthly_review"](frame, month=month, group_by=group_by).to_dict()
    review["oddities"] = [str(o) for o in (getattr(billing, "oddities", None) or [])][:20]
    return review


def review_figure(review: Mapping[str, Any]):
    """Return daily effective cost stacked by group, anomalies marked, the forecast noted."""
    import plotly.graph_objects as go

    fig = go.Figure()
    groups: dict[str, tuple[list[str], list[float]]] = {}
    for point in review.get("daily_by_group") or []:
        days, costs = groups.setdefault(str(point.get("group") or "(none)"), ([], []))
        days.append(point["day"])
        costs.append(point["effective_usd"])
    for name, (days, costs) in groups.items():
        fig.add_trace(go.Bar(x=days, y=costs, name=name))
    anomalies = review.get("anomalies") or []
    if anomalies:
        fig.add_trace(go.Scatter(
            x=[a["day"] for a in anomalies], y=[a["cost_usd"] for a in anomalies],
            mode="markers", name="anomaly", marker={"symbol": "x", "size": 13, "color": "#b42318"},
            hovertext=[f"{a['day']}: ${a['cost_usd']:,.2f} vs baseline ${a['baseline_usd']:,.2f}"
                       for a in anomalies], hoverinfo="text"))
    title = f"Daily effective cost by {review.get('group_by', 'group')}, {review.get('month')}"
    forecast = review.get("forecast")
    if forecast:
        title += f" (month-end forecast ${forecast['point_usd']:,.0f})"
    fig.update_layout(barmode="stack", title=title, yaxis_title="USD (effective)",
                      template="plotly_white", height=440)
    return fig


def _money(value: Any) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _rate(value: Any) -> str:
    """A $/GPU-hour rate to 4 decimals, as the CLI review prints it."""
    return "n/a" if value is None else f"${value:,.4f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:,.1f}%"


def movers_rows(review: Mapping[str, Any]) -> list[list[str]]:
    """Return the month-over-month movers as table rows (group, previous, current, change)."""
    return [[str(m.get("group") or "(none)"), _money(m.get("previous_usd")),
             _money(m.get("current_usd")), _money(m.get("change_usd")),
             "n/a" if m.get("change_pct") is None else f"{m['change_pct']:+,.1f}%"]
            for m in review.get("movers") or []]


def gpu_rows(review: Mapping[str, Any]) -> list[list[str]]:
    """Return effective $/GPU-hour by instance type and purchase option as table rows."""
    gpu = review.get("gpu") or {}
    return [[str(r.get("instance_type") or "n/a"), str(r.get("purchase_option") or "n/a"),
             str(r.get("gpu_model") or "n/a"),
             "n/a" if r.get("gpu_hours") is None else f"{r['gpu_hours']:,.1f}",
             _money(r.get("used_usd")), _money(r.get("unused_commitment_usd")),
             _money(r.get("effective_usd")), _rate(r.get("used_usd_per_gpu_hour")),
             _rate(r.get("effective_usd_per_gpu_hour")),
             _rate(r.get("list_usd_per_gpu_hour"))]
            for r in gpu.get("rates") or []]


def commitment_rows(review: Mapping[str, Any]) -> list[list[str]]:
    """Return commitment coverage and utilisation (total, then by type) as table rows."""
    c = review.get("commitments")
    if not c:
        return []
    lines = [("total", c.get("total") or {})] + [
        (str(x.get("commitment_type") or "n/a"), x) for x in c.get("by_type") or []]
    return [[name, _pct(x.get("coverage_hours")), _pct(x.get("coverage_cost")),
             _pct(x.get("utilisation")), _money(x.get("unused_usd")), _money(x.get("savings_usd"))]
            for name, x in lines]


# ----------------------------------------------------------------------------- calibration

_PURCHASE_TO_BILL = {Purchase.ON_DEMAND.value: "on_demand", Purchase.SPOT.value: "spot",
                     **dict.fromkeys(RESERVED, "reserved"),
                     **dict.fromkeys(SAVINGS_PLANS, "savings_plan"),
                     "on_demand_fallback": "on_demand", "base": "on_demand"}
"""A simulated purchase option -> the bills' purchase category (``x_PurchaseOption``)."""


def bill_rates(paths: Sequence[Path], month: str | None = None) -> dict[str, Any]:
    """Return the bills' effective rates of ``month`` (default: the latest with compute usage):
    ``{"month": ..., "months": [...], "rates": [{instance_type, purchase_option, usage_hours,
    effective_cost}, ...]}`` from :func:`costmodels.billing.rates.effective_rates`, every
    compute instance type (GPU or not)."""
    import polars as pl

    from costmodels.billing.rates import effective_rates

    billing = read(paths)
    months = (billing.frame.select(pl.col("BillingPeriodStart").dt.strftime("%Y-%m")
                                   .alias("m")).unique().collect()["m"].drop_nulls().sort()
              .to_list())
    try:
        table = effective_rates(billing.frame, month=month)
    except PlannerError as exc:  # e.g. no compute usage rows at all: every rate is n/a
        return {"month": month or (months[-1] if months else None), "months": months,
                "rates": [], "note": str(exc)}
    chosen = month if month is not None else (
        str(table["billing_period"][0]) if table.height else (months[-1] if months else None))
    rates = [{"instance_type": r["instance_type"], "purchase_option": r["purchase_option"],
              "usage_hours": r["usage_hours"], "effective_cost": r["effective_cost"]}
             for r in table.iter_rows(named=True)]
    return {"month": chosen, "months": months, "rates": rates}


def calibration_rows(result, rates: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Compare each design's simulated monthly cost with the bills' rates for its instance type.

    For every design and purchase option: the simulated node-hours per month (the horizon's
    node-hours scaled like its cost), the catalog cost per month, the bills' effective cost per
    instance-hour of the same instance type and purchase option (``effective_cost /
    usage_hours`` over every compute usage row of that month, :func:`bill_rates`), what the
    design would cost at that rate, and the difference. A rate the bills do not have is None
    (n/a), never 0.
    """
    from planner.reports.sections import node_hours_by_purchase

    by_key: dict[tuple[str, str], list[float]] = {}
    for r in rates:
        if r.get("instance_type") and r.get("usage_hours") and r.get("effective_cost") is not None:
            acc = by_key.setdefault((str(r["instance_type"]), str(r.get("purchase_option"))),
                                    [0.0, 0.0])
            acc[0] += float(r["effective_cost"])
            acc[1] += float(r["usage_hours"])
    rate_of = {k: cost / hours for k, (cost, hours) in by_key.items() if hours > 0}
    rows = []
    for d in result.designs:
        cost = d.cost
        scale = (cost.usd_per_month / cost.total_usd
                 if cost.usd_per_month is not None and cost.total_usd else None)
        instance = d.fleet.instance
        instance_type = instance.split(":", 1)[-1]
        for purchase, hours in node_hours_by_purchase(d).items():
            sim_usd = cost.by_purchase.get(purchase)
            bill_purchase = _PURCHASE_TO_BILL.get(purchase, purchase)
            rate = rate_of.get((instance_type, bill_purchase))
            month_hours = None if scale is None else hours * scale
            sim_month = None if scale is None or sim_usd is None else sim_usd * scale
            bill_month = None if rate is None or month_hours is None else rate * month_hours
            rows.append({
                "design": d.name, "instance": instance, "purchase": purchase,
                "bill_purchase": bill_purchase, "node_hours_per_month": month_hours,
                "simulated_usd_per_month": sim_month,
                "bill_usd_per_node_hour": rate, "bill_usd_per_month": bill_month,
                "difference_usd_per_month": (None if bill_month is None or sim_month is None
                                             else bill_month - sim_month),
            })
    return rows
