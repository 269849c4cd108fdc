"""Cost review and calibration logic: billing files in, typed results and plain dicts out.

The billing layer (:mod:`costmodels.billing.readers`, ``.review``, ``.rates``) is imported lazily;
when it is missing or broken every function here raises :class:`BillingUnavailable` with the
reason, and the pages show "billing support is not available: <reason>".

A page's billing *source* is the ``--data`` folder or one upload (a random folder name under the
work folder's ``uploads/``, carried in the URL as ``?upload=``). Messages never show a server
path: :func:`public_message` names files by their own name.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.scenario_logic import decode_upload, safe_filename
from dashboards.settings import BILLING_UPLOAD_LIMIT_BYTES, Settings
from domain.errors import PlannerError
from domain.purchase import RESERVED, SAVINGS_PLANS, Purchase

BILLING_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".parquet", ".gz", ".zip", ".json")
"""File names the data folder is scanned for and uploads may have (the readers decide what
each one is)."""


class BillingUnavailable(PlannerError):
    """The billing layer cannot be imported; the message is the reason."""


class NoMatchingRows(PlannerError):
    """The filters leave no billing rows: an empty selection, not a broken input."""


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


# ----------------------------------------------------------------------------- sources

@dataclass(frozen=True)
class Source:
    """Where a page's bills come from: ``label`` names it for people (never a server path)."""

    label: str
    paths: tuple[Path, ...]
    upload: str | None


def upload_files(settings: Settings, token: str | None) -> list[Path]:
    """Return the files of upload folder ``token`` (a hex name under ``uploads/``)."""
    if not token or not all(c in "0123456789abcdef" for c in token) or len(token) != 32:
        return []
    return data_files(settings.upload_dir / token)


def source(settings: Settings, token: str | None) -> Source:
    """Return the upload ``token``'s files when it has any, else the ``--data`` folder's."""
    uploaded = upload_files(settings, token)
    if uploaded:
        return Source(f"upload {', '.join(p.name for p in uploaded)}", tuple(uploaded), token)
    paths = tuple(data_files(settings.data_dir))
    if settings.data_dir is None:
        return Source("no billing data (start with --data DIR or upload an export)", (), None)
    return Source(f"--data folder {settings.data_dir.name} ({len(paths)} file"
                  f"{'' if len(paths) == 1 else 's'})", paths, None)


def public_message(text: str, settings: Settings) -> str:
    """Return ``text`` with every server path of the work and data folders cut to its last
    parts (an upload's file name; a path inside ``--data`` relative to it)."""
    uploads = str(settings.upload_dir)
    out = text
    if uploads in out:
        out = re.sub(re.escape(uploads) + r"/[0-9a-f]{32}/", "", out)
    for folder, name in ((settings.work_dir, "work folder"), (settings.data_dir, None)):
        if folder is not None and str(folder) in out:
            out = out.replace(str(folder) + "/", "").replace(str(folder), name or folder.name)
    return out


@dataclass(frozen=True)
class LoadedBills:
    """A read's rows held in memory (``frame``: a lazy frame over them) and its notes: the
    reconciliation line and the oddity count, as ``planner billing review`` reports them."""

    frame: Any
    notes: tuple[str, ...]
    n_rows: int


@functools.lru_cache(maxsize=8)
def _read(paths: tuple[str, ...], stamp: tuple[float, ...]) -> LoadedBills:
    from planner.reports.billing_read import read_notes

    read = billing_api()["read_billing"]([Path(p) for p in paths], compact=True)
    rows = read.frame.collect()
    return LoadedBills(rows.lazy(), tuple(read_notes(read)), rows.height)


def read(paths: Sequence[Path]) -> LoadedBills:
    """Return the bills of ``paths`` (cached while the files are unchanged)."""
    if not paths:
        raise PlannerError("no billing files; start with --data DIR or upload an export")
    billing_api()
    keys = tuple(str(p) for p in paths)
    return _read(keys, tuple(p.stat().st_mtime for p in paths))


def data_as_of(settings: Settings, token: str | None = None) -> str:
    """Return the header's "data as of" text of a source: the end of its latest single-day
    charge (not of the billing period), whether that month is still in progress, and the
    source when it is an upload."""
    src = source(settings, token)
    if not src.paths:
        return "n/a (no billing data; start with --data DIR)"
    reason = unavailable_reason()
    if reason is not None:
        return f"n/a (billing support is not available: {reason})"
    from costmodels.billing.review import data_freshness

    try:
        month, fresh = data_freshness(read(src.paths).frame)
    except PlannerError as exc:
        return f"n/a ({public_message(str(exc), settings)})"
    latest = fresh.latest_charge_period_end
    text = "n/a" if latest is None else latest.strftime("%Y-%m-%d %H:%M UTC")
    text += f" ({month} {'complete' if fresh.month_complete else 'in progress'})"
    return text + (f", {src.label}" if src.upload else "")


def save_upload(settings: Settings, contents: str, filename: str | None) -> tuple[Path, int]:
    """Save an uploaded billing export in a new private folder and read it once.

    The name keeps only ``[A-Za-z0-9._-]`` of its last component; the file lands in
    ``uploads/<random>/`` and nowhere else. Returns the file and its row count.

    Raises
    ------
    PlannerError
        Not a billing file name (e.g. ``.yaml``), larger than 50 MB, not a data URL, or not
        readable as a billing export; the folder is removed and the message names the file,
        never its server path.
    """
    name = safe_filename(filename, "billing.csv")
    if not name.lower().endswith(BILLING_SUFFIXES):
        raise PlannerError(f"{name} is not a billing export: upload an AWS CUR, GCP billing "
                           f"export or FOCUS file ({', '.join(BILLING_SUFFIXES)})")
    raw = decode_upload(contents, BILLING_UPLOAD_LIMIT_BYTES)
    folder = settings.upload_dir / uuid.uuid4().hex
    folder.mkdir(mode=0o700, parents=True)
    target = (folder / name).resolve()
    if target.parent != folder.resolve():  # pragma: no cover - safe_filename prevents it
        raise PlannerError(f"refused upload name {filename!r}")
    target.write_bytes(raw)
    try:
        loaded = read([target])
    except PlannerError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise PlannerError(f"{name} could not be read as billing data: "
                           f"{public_message(str(exc), settings)}") from None
    return target, loaded.n_rows


# ----------------------------------------------------------------------------- filters

def parse_tag(text: str | None) -> tuple[str, str] | None:
    """Return a ``key=value`` tag filter as ``(key, value)``; None for an empty filter.

    Raises
    ------
    PlannerError
        Without ``=`` or with an empty key.
    """
    if not text or not text.strip():
        return None
    key, eq, value = (part.strip() for part in text.partition("="))
    if not eq or not key:
        raise PlannerError(f"tag filter {text.strip()!r} is not key=value; write e.g. "
                           f"{(key or 'team')}=search (the filter is not applied)")
    return key, value


def filter_frame(frame, *, accounts: Sequence[str] = (), services: Sequence[str] = (),
                 tag: tuple[str, str] | None = None):
    """Return ``frame`` limited to sub-accounts, services and a ``(key, value)`` tag (lazy)."""
    import polars as pl

    if accounts:
        frame = frame.filter(pl.col("SubAccountId").is_in(list(accounts)))
    if services:
        frame = frame.filter(pl.col("ServiceName").is_in(list(services)))
    if tag is not None:
        key = tag[0].replace("\\", "\\\\").replace("'", "\\'")
        frame = frame.filter(pl.col("Tags").str.json_path_match(f"$['{key}']") == tag[1])
    return frame


def filter_options(frame) -> dict[str, list[Any]]:
    """Return the months, sub-accounts, services and tag keys present in ``frame``."""
    import polars as pl

    months = (frame.select(pl.col("BillingPeriodStart").dt.strftime("%Y-%m").alias("m"))
              .unique().drop_nulls().sort("m").collect()["m"].to_list())
    accounts = (frame.select("SubAccountId", "SubAccountName").unique()
                .drop_nulls("SubAccountId").sort("SubAccountId").collect())
    services = frame.select("ServiceName").unique().drop_nulls().sort("ServiceName").collect()
    keys: set[str] = set()
    for text in frame.select("Tags").unique().drop_nulls().collect()["Tags"].to_list():
        try:
            tags = json.loads(text)
        except ValueError:
            continue
        if isinstance(tags, dict):
            keys.update(str(k) for k in tags)
    return {
        "months": months,
        "accounts": [{"label": f"{r['SubAccountName']} ({r['SubAccountId']})"
                      if r["SubAccountName"] else r["SubAccountId"], "value": r["SubAccountId"]}
                     for r in accounts.iter_rows(named=True)],
        "services": [{"label": s, "value": s} for s in services["ServiceName"].to_list()],
        "tag_keys": sorted(keys),
    }


# ----------------------------------------------------------------------------- review

def review_of(paths: Sequence[Path], *, month: str | None = None, group_by: str = "service",
              accounts: Sequence[str] = (), services: Sequence[str] = (),
              tag: tuple[str, str] | None = None):
    """Return the :class:`~costmodels.billing.review_types.Review` of the filtered bills.

    Raises
    ------
    NoMatchingRows
        When filters are set and leave no rows (in the month, when one is given).
    PlannerError
        What :func:`~costmodels.billing.review.monthly_review` refuses.
    """
    import polars as pl

    api = billing_api()
    frame = filter_frame(read(paths).frame, accounts=accounts, services=services, tag=tag)
    if accounts or services or tag is not None:
        picked = frame
        if month:
            picked = frame.filter(pl.col("BillingPeriodStart").dt.strftime("%Y-%m") == month)
        if picked.select(pl.len()).collect().item() == 0:
            raise NoMatchingRows("no billing rows match the filters"
                                 + (f" in {month}" if month else ""))
    return api["monthly_review"](frame, month=month, group_by=group_by)


REPORT_FORMATS = {"json": ("json", "application/json"), "markdown": ("md", "text/markdown"),
                  "html": ("html", "text/html")}
"""Download formats of the review: ``planner billing review --format`` -> (suffix, type)."""


def review_report(paths: Sequence[Path], fmt: str, **filters: Any) -> tuple[str, str]:
    """Return ``(file name, text)`` of the filtered review in ``fmt`` (``json``,
    ``markdown`` or ``html``), rendered as ``planner billing review --format FMT`` renders it,
    the read's notes included."""
    from planner.reports.billing_review import render

    review = review_of(paths, **filters)
    suffix = REPORT_FORMATS[fmt][0]
    return (f"billing-review-{review.month}.{suffix}",
            render(review, fmt, list(read(paths).notes)))


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

    frame = read(paths).frame
    months = (frame.select(pl.col("BillingPeriodStart").dt.strftime("%Y-%m")
                           .alias("m")).unique().collect()["m"].drop_nulls().sort().to_list())
    try:
        table = effective_rates(frame, month=month)
    except PlannerError as exc:  # e.g. no compute usage rows at all: every rate is n/a
        return {"month": month or (months[-1] if months else None), "months": months,
                "rates": [], "note": str(exc)}
    chosen = month if month is not None else (
        str(table["billing_period"][0]) if table.height else (months[-1] if months else None))
    rates = [{"instance_type": r["instance_type"], "purchase_option": r["purchase_option"],
              "usage_hours": r["usage_hours"], "effective_cost": r["effective_cost"]}
             for r in table.iter_rows(named=True)]
    return {"month": chosen, "months": months, "rates": rates}


def _month_scale(result, design) -> float | None:
    """Return months per simulated horizon of ``design``: its cost's own scale when priced,
    else the scenario's ``hours_per_month`` (730 by default) over its horizon, as the cost
    model scales a priced design."""
    cost = design.cost
    if cost.usd_per_month is not None and cost.total_usd:
        return cost.usd_per_month / cost.total_usd
    scenario = result.scenario or {}
    horizon_s = float(scenario.get("horizon_s") or 0)
    hours = float((scenario.get("pricing") or {}).get("hours_per_month") or 730.0)
    return None if horizon_s <= 0 else hours * 3600.0 / horizon_s


def calibration_rows(result, rates: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Compare each design's simulated month with what the bills say, per purchase option.

    For every design and purchase option: the simulated node-hours per month, the catalog cost
    per month (None without a catalog price), the bills' node-hours and effective cost of the
    same instance type and purchase option that month, the bills' effective cost per
    instance-hour (``effective_cost / usage_hours`` over every compute usage row of the month,
    :func:`bill_rates`), the design re-priced at that rate, and the differences (bills minus
    simulation, and as a fraction of the simulation). A rate the bills do not have is None
    (n/a), never 0; a design without a catalog price is still re-priced at the bills' rate.
    """
    from planner.reports.sections import node_hours_by_purchase

    by_key: dict[tuple[str, str], list[float]] = {}
    for r in rates:
        if r.get("instance_type") and r.get("usage_hours") and r.get("effective_cost") is not None:
            acc = by_key.setdefault((str(r["instance_type"]), str(r.get("purchase_option"))),
                                    [0.0, 0.0])
            acc[0] += float(r["effective_cost"])
            acc[1] += float(r["usage_hours"])
    rows = []
    for d in result.designs:
        scale = _month_scale(result, d)
        instance = d.fleet.instance
        instance_type = instance.split(":", 1)[-1]
        for purchase, hours in node_hours_by_purchase(d).items():
            sim_usd = d.cost.by_purchase.get(purchase)
            bill_purchase = _PURCHASE_TO_BILL.get(purchase, purchase)
            billed_usd, billed_hours = by_key.get((instance_type, bill_purchase), (None, None))
            rate = None if not billed_hours else billed_usd / billed_hours
            month_hours = None if scale is None else hours * scale
            sim_month = None if scale is None or sim_usd is None else sim_usd * scale
            at_rate = None if rate is None or month_hours is None else rate * month_hours
            diff = None if at_rate is None or sim_month is None else at_rate - sim_month
            rows.append({
                "design": d.name, "instance": instance, "purchase": purchase,
                "bill_purchase": bill_purchase, "node_hours_per_month": month_hours,
                "billed_node_hours": billed_hours, "billed_usd": billed_usd,
                "simulated_usd_per_month": sim_month,
                "bill_usd_per_node_hour": rate, "bill_usd_per_month": at_rate,
                "difference_usd_per_month": diff,
                "difference_fraction": None if diff is None or not sim_month
                else diff / sim_month,
                "node_hours_fraction": None if not billed_hours or not month_hours
                else billed_hours / month_hours - 1.0,
            })
    return rows
