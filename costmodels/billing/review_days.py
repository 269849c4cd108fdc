"""The daily side of the monthly cost review: cost per UTC day, anomalous days, the forecast.

Part of :mod:`costmodels.billing.review`, whose module docstring states the rules (days,
anomalies, forecast).  Everything here reads the review's cube: one row per day (``day``; None
for a charge spanning more than a day, with ``long_start`` and ``long_end``) × group (``grp``) ×
charge attributes, with its ``effective`` cost.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from costmodels.billing.review_types import Anomaly, Driver, Forecast, MonthToDate

__all__ = ["ANOMALY_MIN_HISTORY_DAYS", "ANOMALY_RULE", "ANOMALY_THRESHOLD", "ANOMALY_WINDOW_DAYS",
           "FORECAST_LEVEL", "FORECAST_METHOD", "FORECAST_WINDOW_DAYS", "MAD_TO_SIGMA",
           "daily_costs", "find_anomalies", "floor_day", "forecast_month", "month_to_date"]

ANOMALY_WINDOW_DAYS = 14
"""Trailing days in each day's robust baseline."""
ANOMALY_MIN_HISTORY_DAYS = 7
"""Fewer trailing days than this and a day is not judged."""
ANOMALY_THRESHOLD = 3.5
"""Robust z (|x − median| / (1.4826 MAD)) at or above which a day is anomalous."""
MAD_TO_SIGMA = 1.4826
FORECAST_WINDOW_DAYS = 14
"""Trailing complete days whose mean daily cost projects the rest of the month."""
FORECAST_LEVEL = 0.90
"""Nominal coverage of the forecast's prediction interval."""
ANOMALY_RULE = (f"robust z = |day − median| / (1.4826 × MAD) over the trailing "
                f"{ANOMALY_WINDOW_DAYS} days (≥ {ANOMALY_MIN_HISTORY_DAYS} needed; scale "
                f"floored at 1% of the median and $0.01), anomalous at ≥ "
                f"{ANOMALY_THRESHOLD:g}")
"""How anomalous days are found (``Review.assumptions["anomaly_rule"]``)."""
FORECAST_METHOD = (f"known cost + days left × mean of the last {FORECAST_WINDOW_DAYS} "
                   f"complete days; {FORECAST_LEVEL:.0%} Student-t prediction interval for "
                   "the remaining days (independent, normal daily cost)")
"""How the forecast is made (``Forecast.method``)."""


def floor_day(ts: dt.datetime) -> dt.datetime:
    """Return midnight (UTC) of ``ts``'s day."""
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_after(start: dt.datetime) -> dt.datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1, day=1)


def _month_before(start: dt.datetime) -> dt.datetime:
    return (start.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def current_month_start(cube: pl.DataFrame) -> dt.datetime | None:
    """The reviewed month's UTC start, for a caller that does not pass it to
    :func:`daily_costs`: the calendar month holding most of the cube's current rows (by charge
    day; a multi-day charge by its middle), or the month after the one holding most of its
    previous-month rows when it has no current rows; None for an empty cube."""
    cur = cube.filter(pl.col("cur"))
    rows = cur if cur.height else cube
    if rows.height == 0:
        return None
    middle = pl.col("long_start") + (pl.col("long_end") - pl.col("long_start")) / 2
    months = (rows.select(pl.coalesce(pl.col("day"), middle.dt.date()).dt.truncate("1mo")
                          .alias("month"), pl.col("n"))
              .group_by("month").agg(pl.col("n").sum())
              .sort(["n", "month"], descending=[True, False]))
    first = months["month"][0]
    start = dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC)
    return start if cur.height else _month_after(start)


def daily_costs(cube: pl.DataFrame, *, group_by: bool,
                month_start: dt.datetime | None = None) -> pl.DataFrame:
    """Effective cost per UTC day (and group) of the reviewed month and the month before.

    Each row stays in its own billing month (``cur``: the month from ``month_start``, else the
    month before), so the days of a month add up to the month's total exactly: a single-day
    charge is placed on the UTC day of its start, moved to the first (last) day of its billing
    month when it starts before (after) it, e.g. GCP usage from the day before the invoice month;
    a multi-day charge is spread over the hours it covers within its billing month (all on the
    nearest day of the month when it covers none).  ``month_start`` defaults to
    :func:`current_month_start`.
    """
    keys = ["day", "grp"] if group_by else ["day"]
    if month_start is None:
        month_start = current_month_start(cube)
    if month_start is None:
        return cube.select(pl.col(keys), pl.col("effective")).clear()
    month_end = _month_after(month_start)
    prev_start = _month_before(month_start)
    cur = pl.col("cur")
    lo = pl.when(cur).then(pl.lit(month_start)).otherwise(pl.lit(prev_start))
    hi = pl.when(cur).then(pl.lit(month_end)).otherwise(pl.lit(month_start))
    first_day, last_day = lo.dt.date(), (hi - pl.duration(days=1)).dt.date()
    short = (cube.filter(pl.col("day").is_not_null())
             .with_columns(pl.col("day").clip(first_day, last_day))
             .group_by(keys).agg(pl.col("effective").sum()))
    long = cube.filter(pl.col("day").is_null())
    if long.height:
        clipped = long.select(
            "grp", "effective",
            pl.max_horizontal(pl.col("long_start"), lo).alias("s"),
            pl.min_horizontal(pl.col("long_end"), hi).alias("e"),
            pl.col("long_start").dt.date().clip(first_day, last_day).alias("nearest"))
        outside = (clipped.filter(pl.col("e") <= pl.col("s"))
                   .select(pl.col("nearest").alias("day"), "grp", "effective"))
        inside = clipped.filter(pl.col("e") > pl.col("s"))
        spread = (
            inside.with_columns(pl.date_ranges(pl.col("s").dt.date(),
                                               (pl.col("e") - pl.duration(microseconds=1))
                                               .dt.date()).alias("day"))
            .explode("day")
            .with_columns(pl.col("day").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
                          .alias("d0"))
            .with_columns(
                (pl.min_horizontal(pl.col("d0") + pl.duration(days=1), pl.col("e"))
                 - pl.max_horizontal(pl.col("d0"), pl.col("s"))).alias("overlap"))
            .with_columns((pl.col("effective") * pl.col("overlap").dt.total_microseconds()
                           / (pl.col("e") - pl.col("s")).dt.total_microseconds())
                          .alias("effective"))
            .select("day", "grp", "effective")
        )
        short = pl.concat([short, spread.group_by(keys).agg(pl.col("effective").sum()),
                           outside.group_by(keys).agg(pl.col("effective").sum())],
                          how="diagonal_relaxed").group_by(keys).agg(pl.col("effective").sum())
    return short.sort(keys, nulls_last=True)


def _series(daily: pl.DataFrame, first: dt.date, last: dt.date) -> np.ndarray:
    """Effective cost of each day in [first, last), $0 for a day without rows."""
    n = (last - first).days
    out = np.zeros(max(n, 0))
    for day, value in zip(daily["day"].to_list(), daily["effective"].to_list()):
        i = (day - first).days
        if 0 <= i < n:
            out[i] += value
    return out


def find_anomalies(total: pl.DataFrame, by_group: pl.DataFrame, month_start: dt.datetime,
                   cutoff: dt.datetime) -> tuple[Anomaly, ...]:
    """Return the month's anomalous days before ``cutoff``, each with its top three drivers.

    ``total`` and ``by_group`` are :func:`daily_costs` without and with groups.
    """
    if total.height == 0:
        return ()
    first = max(total["day"].min(), month_start.date() - dt.timedelta(days=ANOMALY_WINDOW_DAYS))
    last = cutoff.date()
    x = _series(total, first, last)
    groups = {g: _series(by_group.filter(pl.col("grp").eq_missing(g)), first, last)
              for g in by_group["grp"].unique().to_list()}
    out = []
    for i in range(len(x)):
        day = first + dt.timedelta(days=i)
        if day < month_start.date():
            continue
        hist = x[max(0, i - ANOMALY_WINDOW_DAYS):i]
        if len(hist) < ANOMALY_MIN_HISTORY_DAYS:
            continue
        med = float(np.median(hist))
        scale = max(MAD_TO_SIGMA * float(np.median(np.abs(hist - med))), 0.01 * abs(med), 0.01)
        z = (x[i] - med) / scale
        if abs(z) < ANOMALY_THRESHOLD:
            continue
        delta = float(x[i] - med)
        drivers = []
        for g, s in groups.items():
            g_med = float(np.median(s[max(0, i - ANOMALY_WINDOW_DAYS):i]))
            g_delta = float(s[i] - g_med)
            if g_delta * delta > 0:
                drivers.append(Driver(g, float(s[i]), g_med, g_delta, g_delta / delta))
        drivers.sort(key=lambda d: -abs(d.delta_usd))
        out.append(Anomaly(day, float(x[i]), med, delta, float(z), tuple(drivers[:3])))
    return tuple(out)


def forecast_month(cube: pl.DataFrame, known: float, month_start: dt.datetime,
                   month_end: dt.datetime, seen_end: dt.datetime | None) -> Forecast | None:
    """Return the month-end forecast of a month whose data ends at ``seen_end``, with
    ``known`` effective cost so far (None without a complete day to project from)."""
    from scipy.special import stdtrit  # the t quantile; scipy.stats costs ~1 s more to import

    if seen_end is None:
        return None
    short = cube.filter(pl.col("cur") & pl.col("day").is_not_null())
    complete_end = floor_day(seen_end)
    x = _series(short.group_by("day").agg(pl.col("effective").sum()), month_start.date(),
                complete_end.date())
    if len(x) == 0:
        return None
    window = x[-FORECAST_WINDOW_DAYS:]
    k = len(window)
    r = (month_end - max(seen_end, month_start)).total_seconds() / 86_400.0
    mean = float(window.mean())
    point = known + r * mean
    low = high = None
    if k >= 3:
        sd = float(window.std(ddof=1))
        half = float(stdtrit(k - 1, 0.5 + FORECAST_LEVEL / 2)) * sd * math.sqrt(r + r * r / k)
        low, high = point - half, point + half
    return Forecast(known, point, low, high, FORECAST_LEVEL, len(x), r, k, mean,
                    FORECAST_METHOD)


def month_to_date(total: pl.DataFrame, month_start: dt.datetime, cutoff: dt.datetime,
                  has_previous: bool) -> MonthToDate | None:
    """Return the effective cost of the month's complete days before ``cutoff`` against the
    same days of the month before (None without a complete day).

    ``total`` is :func:`daily_costs` without groups (both months' days); ``has_previous`` says
    whether the data has the month before at all (else its cost is unknown, not $0).
    """
    n_days = (cutoff.date() - month_start.date()).days
    if n_days <= 0:
        return None
    prev_start = _month_before(month_start).date()
    prev_days = min(n_days, (month_start.date() - prev_start).days)
    current = float(_series(total, month_start.date(), cutoff.date()).sum())
    previous = (float(_series(total, prev_start, prev_start + dt.timedelta(days=prev_days))
                      .sum()) if has_previous else None)
    change = None if previous is None else current - previous
    return MonthToDate(
        n_days=n_days, through=cutoff.date() - dt.timedelta(days=1), current_usd=current,
        previous_through=prev_start + dt.timedelta(days=prev_days - 1), previous_usd=previous,
        change_usd=change,
        change_pct=None if previous is None or previous == 0 else change / abs(previous))
