"""The monthly cost review of a normalised billing frame (FOCUS 1.2 + ``x_`` extras).

:func:`monthly_review` reads a :data:`costmodels.billing.schema.NORMALISED_SCHEMA` lazy frame
and answers a FinOps analyst's monthly questions: what the month cost (billed, effective, list)
against the month before, which groups moved, what a GPU-hour really costs, how well the
commitments are covered and used, which days were anomalous, where the month will land, and how
fresh the data is.

The frame is scanned twice: a small metadata query (billing periods, latest charge period), and
one aggregation of the month and the month before into a compact cube (one row per day × group
× charge attributes) from which every figure is derived.  Both run on the streaming engine.

The result types are in :mod:`costmodels.billing.review_types`; the daily series, the anomalies
and the forecast, with their constants, in :mod:`costmodels.billing.review_days`.

Rules (also in :data:`ASSUMPTIONS`):

* **Cost basis**: ``EffectiveCost`` (amortised: commitment purchases spread over the usage they
  cover) for movers, GPU rates, anomalies and the forecast; ``BilledCost`` and ``ListCost`` are
  shown beside it in the totals.  The month is ``BillingPeriodStart``'s month.
* **Days**: a charge is placed on the UTC day of ``ChargePeriodStart`` within its billing month
  (moved to the month's first or last day when it starts outside it, e.g. GCP usage from the
  day before the invoice month), so the days add up to the month exactly; a charge whose period
  spans more than a day (monthly fees, taxes, credits) is spread over the hours it covers within
  the month.
* **Anomalies**: for each complete day of the month, the baseline is the median of the
  :data:`ANOMALY_WINDOW_DAYS` days before it (days with no rows count as $0 once the data has
  started; at least :data:`ANOMALY_MIN_HISTORY_DAYS` days needed); the scale is
  1.4826 × MAD (the normal-consistent median absolute deviation), floored at 1 % of the
  baseline and at $0.01; a day is anomalous when ``|cost − median| / scale ≥``
  :data:`ANOMALY_THRESHOLD` (Iglewicz and Hoaglin's 3.5).  Drivers: the groups whose own cost
  departs most from their own trailing median in the anomaly's direction.
* **Forecast** (a month in progress, i.e. the data ends before the billing period does):
  ``known + r × mean``, where ``known`` is the month's effective cost so far, ``r`` the days
  left (fractional) and ``mean`` the mean daily cost of the last :data:`FORECAST_WINDOW_DAYS`
  complete days (single-day charges only; multi-day charges are already in ``known``).  The
  interval is a Student-t prediction interval for the sum of ``r`` further days, independent
  and normal around the window's mean: ``± t(1 − α/2, k − 1) · s · sqrt(r + r² / k)``.
* **Coverage**: share of eligible compute usage (``Usage`` rows with ``x_UsageHours > 0``,
  not spot, not an ``Unused`` commitment row) covered by a commitment discount
  (``CommitmentDiscountStatus = Used``), in hours and in ``ContractedCost`` (the
  on-demand-equivalent cost, before commitment discounts); per ``CommitmentDiscountType`` over
  the same eligible total, so the types add up to the whole.
* **Utilisation**: ``Used`` / (``Used`` + ``Unused``) commitment ``EffectiveCost`` per
  ``CommitmentDiscountType``; realised (net) savings = ``ContractedCost`` of the used rows (what
  the covered usage would have cost without the commitment) − the whole commitment's
  ``EffectiveCost``, used and unused (AWS Cost Explorer's net savings: unused commitment is a
  loss).
* **GPU** (:mod:`costmodels.billing.review_gpu`): rows with ``x_GpuCount > 0`` or a
  ``x_GpuModel``, by instance type and purchase option; GPU-hours = ``x_UsageHours ×
  x_GpuCount`` of the used usage rows; the cost is split into used and unused commitment
  (``Unused`` rows and commitment fee rows) and every rate is a cost over the same row's
  GPU-hours: effective $/GPU-hour = (used + unused) / GPU-hours, so cost / GPU-hours = rate on
  every row; unknown GPU-hours give no rate.
* Unknown values are ``None``; a group with no rows is absent, never $0.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

import polars as pl

from costmodels.billing.review_days import (
    ANOMALY_RULE,
    FORECAST_METHOD,
    daily_costs,
    find_anomalies,
    floor_day,
    forecast_month,
    month_to_date,
)
from costmodels.billing.review_gpu import GPU_RATE_RULE, gpu_spend
from costmodels.billing.review_types import (
    Change,
    CommitmentLine,
    Commitments,
    DailyPoint,
    Freshness,
    Mover,
    Review,
    Totals,
)
from domain.errors import PlannerError

__all__ = ["ASSUMPTIONS", "OTHER_GROUPS", "Review", "data_freshness", "days_in_month",
           "group_expr", "month_bounds", "monthly_review", "previous_month"]

TOP_MOVERS = 10
"""Movers listed one by one; the rest are summed into one ``(other groups)`` row."""
CHART_GROUPS = 8
"""Groups drawn one by one in the daily stacked series; the rest are ``(other)``."""
OTHER_GROUPS = "(other groups)"

ASSUMPTIONS: dict[str, str] = {
    "cost_basis": "EffectiveCost (amortised: commitment purchases spread over the usage they "
                  "cover); BilledCost (cash basis) and ListCost shown in the totals",
    "month": "BillingPeriodStart's month; a charge is placed on the UTC day of "
             "ChargePeriodStart within its billing month (moved to the month's first or last "
             "day when it starts outside it), so the days add up to the month; a multi-day "
             "charge is spread over the hours it covers within the month",
    "anomaly_rule": ANOMALY_RULE,
    "forecast_method": FORECAST_METHOD,
    "coverage": "covered (CommitmentDiscountStatus Used) / eligible compute usage (Usage rows "
                "with x_UsageHours > 0, not spot, not Unused), in hours and in ContractedCost",
    "utilisation": "Used / (Used + Unused) commitment EffectiveCost per CommitmentDiscountType; "
                   "savings = ContractedCost of the Used rows - EffectiveCost of the Used and "
                   "Unused rows (net of the unused commitment)",
    "gpu_rate": GPU_RATE_RULE,
    "month_to_date": "effective cost of the month's complete days (as the daily series) vs "
                     "days 1 to N of the month before (at most its length)",
}


# ----------------------------------------------------------------------------- helpers

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC start and exclusive end of ``month`` ("YYYY-MM")."""
    m = _MONTH.match(month)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise PlannerError(f"month {month!r} is not YYYY-MM; write e.g. --month 2026-10")
    year, mon = int(m.group(1)), int(m.group(2))
    if (year, mon) >= (9999, 12) or year < 1:
        raise PlannerError(f"month {month!r} is outside the months a date can bound (0001-01 to "
                           f"9999-11); check the billing period and charge dates of the export")
    start = dt.datetime(year, mon, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def previous_month(month: str) -> str:
    """Return the month before ``month`` ("YYYY-MM")."""
    start, _ = month_bounds(month)
    if start.year == 1 and start.month == 1:
        raise PlannerError(f"month {month!r} has no month before it; check the billing period "
                           f"and charge dates of the export")
    prev = start - dt.timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def group_expr(group_by: str) -> pl.Expr:
    """Return the grouping expression for ``service``, ``account`` or ``tag:<key>``."""
    if group_by == "service":
        return pl.col("ServiceName")
    if group_by == "account":
        sub_id, name = pl.col("SubAccountId"), pl.col("SubAccountName")
        return (pl.when(name.is_not_null() & sub_id.is_not_null())
                .then(name + pl.lit(" (") + sub_id + pl.lit(")"))
                .otherwise(pl.coalesce(sub_id, name)))
    if group_by.startswith("tag:") and len(group_by) > 4:
        key = group_by[4:].replace("\\", "\\\\").replace("'", "\\'")
        return pl.col("Tags").str.json_path_match(f"$['{key}']").fill_null("untagged")
    raise PlannerError(f"group_by {group_by!r} is not service, account or tag:<key>; "
                       "write e.g. --group-by tag:team")


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


def _pct(new: float, old: float | None) -> float | None:
    if old is None or old == 0:
        return None
    return (new - old) / abs(old)


def _month_of(ts: dt.datetime) -> str:
    return f"{ts.year:04d}-{ts.month:02d}"


def _as_utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _collect(lf: pl.LazyFrame) -> pl.DataFrame:
    return lf.collect(engine="streaming")


# ----------------------------------------------------------------------------- the cube

_DAY = dt.timedelta(days=1)
_MEASURES = ("billed", "effective", "list", "contracted", "hours", "gpu_hours")


def _cube(frame: pl.LazyFrame, start: dt.datetime, end: dt.datetime,
          month_start: dt.datetime, group_by: str) -> pl.LazyFrame:
    """Aggregate [start, end) billing periods into day × group × charge-attribute rows."""
    cps, cpe = pl.col("ChargePeriodStart"), pl.col("ChargePeriodEnd")
    hours = pl.col("x_UsageHours")
    gpus = pl.col("x_GpuCount")
    is_long = (cpe - cps) > pl.duration(days=1)
    gpu_hours = pl.when((hours > 0) & (gpus > 0)).then(hours * gpus.cast(pl.Float64))
    return (
        frame.filter((pl.col("BillingPeriodStart") >= start) & (pl.col("BillingPeriodStart") < end))
        .group_by(
            (pl.col("BillingPeriodStart") >= month_start).alias("cur"),
            pl.when(is_long).then(None).otherwise(cps.dt.date()).alias("day"),
            pl.when(is_long).then(cps).alias("long_start"),
            pl.when(is_long).then(cpe).alias("long_end"),
            group_expr(group_by).alias("grp"),
            pl.col("ChargeCategory").alias("cat"),
            pl.col("BillingCurrency").alias("currency"),
            pl.col("x_InstanceType").alias("inst"),
            pl.col("x_PurchaseOption").alias("purch"),
            pl.col("x_GpuModel").alias("gpu_model"),
            ((gpus > 0) | pl.col("x_GpuModel").is_not_null()).fill_null(False).alias("is_gpu"),
            (hours > 0).fill_null(False).alias("is_compute"),
            ((hours > 0) & (gpus > 0)).fill_null(False).alias("gpu_known"),
            pl.col("CommitmentDiscountType").alias("ctype"),
            pl.col("CommitmentDiscountStatus").alias("cstatus"),
            pl.col("CommitmentDiscountId").is_not_null().alias("has_commit"),
        )
        .agg(
            pl.col("BilledCost").sum().alias("billed"),
            pl.col("EffectiveCost").sum().alias("effective"),
            pl.col("ListCost").sum().alias("list"),
            pl.col("ContractedCost").sum().alias("contracted"),
            pl.when(hours > 0).then(hours).sum().alias("hours"),
            gpu_hours.sum().alias("gpu_hours"),
            cpe.max().alias("max_end"),
            pl.col("x_SourceRows").sum().alias("n"),
        )
    )


def _meta(frame: pl.LazyFrame) -> pl.DataFrame:
    cpe = pl.col("ChargePeriodEnd")
    short = (cpe - pl.col("ChargePeriodStart")) <= pl.duration(days=1)
    return _collect(frame.select(
        pl.col("BillingPeriodStart").unique().sort().implode().alias("periods"),
        pl.coalesce(cpe.filter(short).max(), cpe.max()).alias("latest_end"),
    ))


# ----------------------------------------------------------------------------- the review

def monthly_review(frame: pl.LazyFrame, *, month: str | None = None, group_by: str = "service",
                   today: dt.date | dt.datetime | None = None) -> Review:
    """Return the monthly cost review of ``frame`` for ``month``.

    Parameters
    ----------
    frame : polars.LazyFrame
        A normalised billing frame (:data:`costmodels.billing.schema.NORMALISED_SCHEMA`).
    month : str, optional
        "YYYY-MM" of ``BillingPeriodStart``; default the latest month in the data.
    group_by : str
        ``service`` (ServiceName), ``account`` (SubAccountName and SubAccountId) or
        ``tag:<key>`` (the key of ``Tags``; rows without it are ``untagged``).
    today : date or datetime, optional
        The as-of date of the freshness line (its lag); it does not change any figure.

    Raises
    ------
    PlannerError
        For a bad ``month`` or ``group_by``, a month with no rows, or several currencies.
    """
    group_expr(group_by)  # validate before scanning
    meta = _meta(frame)
    month, months_available = _chosen_month(meta, month)
    month_start, month_end = month_bounds(month)
    prev = previous_month(month)
    prev_start, _ = month_bounds(prev)

    cube = _collect(_cube(frame, prev_start, month_end, month_start, group_by))
    currencies = sorted(c for c in cube["currency"].unique().to_list() if c is not None)
    if len(currencies) > 1:
        raise PlannerError(f"the billing data for {prev} and {month} mixes currencies "
                           f"{', '.join(currencies)}; review one currency's files at a time")
    cur = cube.filter(pl.col("cur"))
    old = cube.filter(~pl.col("cur"))
    has_prev = prev in months_available and old.height > 0
    current = _totals(month, cur)
    previous = _totals(prev, old) if has_prev else None
    freshness = _freshness(meta, cur, month_end, today)
    daily_group = daily_costs(cube, group_by=True, month_start=month_start)
    daily_total = (daily_group.group_by("day").agg(pl.col("effective").sum()).sort("day"))
    seen = freshness.month_latest_charge_period_end
    cutoff = month_end if freshness.month_complete else floor_day(seen)
    in_month = (pl.col("day") >= month_start.date()) & (pl.col("day") < month_end.date())
    return Review(
        month=month, previous_month=prev, group_by=group_by,
        currency=currencies[0] if currencies else None,
        current=current, previous=previous, change=_change(current, previous),
        month_to_date=month_to_date(daily_total, month_start, cutoff, has_prev),
        movers=_movers(cur, old) if has_prev else None,
        gpu=gpu_spend(cur), commitments=_commitments(cur),
        anomalies=find_anomalies(daily_total, daily_group, month_start, cutoff),
        forecast=None if freshness.month_complete else forecast_month(
            cube, current.effective_usd, month_start, month_end, seen),
        freshness=freshness,
        daily=tuple(DailyPoint(r["day"], None, r["effective"])
                    for r in daily_total.filter(in_month).iter_rows(named=True)),
        daily_by_group=_chart_groups(daily_group.filter(in_month), cur),
        months_available=months_available, assumptions=dict(ASSUMPTIONS),
    )


def data_freshness(frame: pl.LazyFrame, *,
                   today: dt.date | dt.datetime | None = None) -> tuple[str, Freshness]:
    """Return the latest month in ``frame`` and how fresh its data is, from one metadata scan.

    The latest charge period end is that of the single-day charges (a monthly fee or tax spans
    its whole billing period from the first day on), as in :func:`monthly_review`; the month is
    complete when that end reaches the month's end.

    Raises
    ------
    PlannerError
        When the frame has no rows.
    """
    meta = _meta(frame)
    month, _ = _chosen_month(meta, None)
    _, month_end = month_bounds(month)
    latest = _as_utc(meta["latest_end"][0])
    today_d = today.date() if isinstance(today, dt.datetime) else today
    lag = (None if today is None or latest is None
           else (_as_utc(today) - latest).total_seconds() / 86_400.0)
    return month, Freshness(latest, latest, latest is not None and latest >= month_end,
                            today_d, lag)


def _chosen_month(meta: pl.DataFrame, month: str | None) -> tuple[str, tuple[str, ...]]:
    """Return the month to review (default the latest) and every month in the data."""
    periods = [_as_utc(p) for p in meta["periods"][0] if p is not None]
    months_available = tuple(sorted({_month_of(p) for p in periods}))
    if not months_available:
        raise PlannerError("the billing data has no rows; check the input files")
    if month is None:
        month = months_available[-1]
    month_bounds(month)  # a malformed month is refused before "has no rows"
    if month not in months_available:
        raise PlannerError(f"--month {month} has no billing rows; the data covers "
                           f"{', '.join(months_available)}")
    return month, months_available


def _change(current: Totals, previous: Totals | None) -> Change | None:
    if previous is None:
        return None
    return Change(
        effective_usd=current.effective_usd - previous.effective_usd,
        effective_pct=_pct(current.effective_usd, previous.effective_usd),
        billed_usd=current.billed_usd - previous.billed_usd,
        billed_pct=_pct(current.billed_usd, previous.billed_usd),
    )


def _freshness(meta: pl.DataFrame, cur: pl.DataFrame, month_end: dt.datetime,
               today: dt.date | dt.datetime | None) -> Freshness:
    """The latest charge period overall and in the month, whether the month is complete, and
    the lag behind ``today``."""
    # from single-day charges: monthly fees and taxes span the whole month early on
    short_cur = cur.filter(pl.col("day").is_not_null())
    month_end_seen = _as_utc((short_cur if short_cur.height else cur)["max_end"].max())
    latest_end = _as_utc(meta["latest_end"][0])
    complete = month_end_seen is not None and month_end_seen >= month_end
    today_d = today.date() if isinstance(today, dt.datetime) else today
    lag = None
    if today is not None and latest_end is not None:
        lag = (_as_utc(today) - latest_end).total_seconds() / 86_400.0
    return Freshness(latest_end, month_end_seen, complete, today_d, lag)


def _totals(month: str, part: pl.DataFrame) -> Totals:
    return Totals(month, float(part["billed"].sum()), float(part["effective"].sum()),
                  float(part["list"].sum()), int(part["n"].sum()))


def _by_group(part: pl.DataFrame) -> dict[str | None, float]:
    agg = part.group_by("grp").agg(pl.col("effective").sum())
    return dict(zip(agg["grp"].to_list(), agg["effective"].to_list()))


def _movers(cur: pl.DataFrame, old: pl.DataFrame) -> tuple[Mover, ...]:
    now, before = _by_group(cur), _by_group(old)
    total_change = sum(now.values()) - sum(before.values())
    rows = []
    for g in set(now) | set(before):
        c, p = now.get(g), before.get(g)
        delta = (c or 0.0) - (p or 0.0)
        rows.append(Mover(g, c, p, delta, _pct(c or 0.0, p) if c is not None else (
            -1.0 if p else None), _ratio(delta, total_change)))
    rows.sort(key=lambda m: (-abs(m.change_usd), "" if m.group is None else m.group))
    top, rest = rows[:TOP_MOVERS], rows[TOP_MOVERS:]
    if rest:
        c = sum(m.current_usd or 0.0 for m in rest)
        p = sum(m.previous_usd or 0.0 for m in rest)
        delta = sum(m.change_usd for m in rest)
        top.append(Mover(OTHER_GROUPS, c, p, delta, _pct(c, p), _ratio(delta, total_change),
                         n_groups=len(rest)))
    return tuple(top)


def _commitment_line(ctype: str | None, covered: pl.DataFrame, used: pl.DataFrame,
                     unused: pl.DataFrame, elig_h: float, elig_c: float) -> CommitmentLine:
    cov_h = float(covered["hours"].sum())
    cov_c = float(covered["contracted"].sum())
    u, n = float(used["effective"].sum()), float(unused["effective"].sum())
    return CommitmentLine(
        commitment_type=ctype, covered_hours=cov_h, eligible_hours=elig_h or None,
        coverage_hours=_ratio(cov_h, elig_h), covered_contracted_usd=cov_c,
        eligible_contracted_usd=elig_c or None, coverage_cost=_ratio(cov_c, elig_c),
        used_usd=u, unused_usd=n, utilisation=_ratio(u, u + n),
        savings_usd=float(used["contracted"].sum()) - u - n,
    )


def _commitments(cur: pl.DataFrame) -> Commitments | None:
    usage = cur.filter(pl.col("cat") == "Usage")
    commit = usage.filter(pl.col("cstatus").is_in(["Used", "Unused"]))
    eligible = usage.filter(pl.col("is_compute") & (pl.col("purch").fill_null("") != "spot")
                            & (pl.col("cstatus").fill_null("") != "Unused"))
    if commit.height == 0 and eligible.height == 0:
        return None
    elig_h = float(eligible["hours"].sum())
    elig_c = float(eligible["contracted"].sum())
    covered = eligible.filter(pl.col("cstatus") == "Used")

    def line(ctype: str | None, only: pl.Expr) -> CommitmentLine:
        return _commitment_line(ctype, covered.filter(only),
                                commit.filter(only & (pl.col("cstatus") == "Used")),
                                commit.filter(only & (pl.col("cstatus") == "Unused")),
                                elig_h, elig_c)

    types = sorted({t for t in commit["ctype"].to_list()}, key=lambda t: (t is None, t or ""))
    by_type = tuple(line(t, pl.col("ctype").eq_missing(t)) for t in types)
    return Commitments(total=line(None, pl.lit(True)), by_type=by_type)


def _chart_groups(daily_group: pl.DataFrame, cur: pl.DataFrame) -> tuple[DailyPoint, ...]:
    ranking = sorted(_by_group(cur).items(), key=lambda kv: (-kv[1], kv[0] or ""))
    keep = {g for g, _ in ranking[:CHART_GROUPS]}
    if len(ranking) > CHART_GROUPS:
        daily_group = daily_group.with_columns(
            pl.when(pl.col("grp").is_in([k for k in keep if k is not None])
                    | (pl.col("grp").is_null() & pl.lit(None in keep)))
            .then(pl.col("grp")).otherwise(pl.lit("(other)")).alias("grp"))
        daily_group = daily_group.group_by("day", "grp").agg(pl.col("effective").sum())
    daily_group = daily_group.sort("day", "grp", nulls_last=True)
    return tuple(DailyPoint(r["day"], r["grp"], r["effective"])
                 for r in daily_group.iter_rows(named=True))


def days_in_month(month: str) -> int:
    """Return the number of days of ``month`` ("YYYY-MM")."""
    start, _ = month_bounds(month)
    return calendar.monthrange(start.year, start.month)[1]
