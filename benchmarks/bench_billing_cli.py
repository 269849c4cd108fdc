"""Scale benchmark of the billing commands a user runs (issue 16): ``planner billing review`` and
``planner billing convert`` on a generated 10-million-row AWS CUR (Athena Parquet shape), against
DuckDB computing the same monthly totals by service and instance type from the same files, in
the same run.

Each command runs as the user runs it, in its own process, under ``/usr/bin/time`` (wall time and
peak resident memory of the whole process: reading, normalising, reconciling, the oddity scan,
the review or the FOCUS file). ``POLARS_MAX_THREADS`` and DuckDB's ``threads`` are ``--threads``.
Targets (issue 16): review <= 2x DuckDB's time and <= 1.5 GB peak; convert <= 2 GB peak.
A second DuckDB reference does the review's own first step (:data:`DUCKDB_GROUPING_CHILD`), so
the like-for-like ratio is printed too.
Prints one JSON line per measurement and a summary line; the review's totals are checked
against DuckDB's (to the cent).

    .venv/bin/python benchmarks/bench_billing_cli.py [--rows 10000000] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLANNER = Path(sys.executable).with_name("planner")
MONTHS = ((2026, 9), (2026, 10))
CHUNK_ROWS = 1_000_000
SERVICES = (("AmazonEC2", 0.55), ("AmazonS3", 0.15), ("AmazonSageMaker", 0.1),
            ("AmazonCloudWatch", 0.1), ("AWSDataTransfer", 0.1))
INSTANCES = (("g5.xlarge", 1.006), ("g5.12xlarge", 5.672), ("p4d.24xlarge", 21.9576),
             ("p5.48xlarge", 55.04), ("m5.large", 0.096), ("c5.2xlarge", 0.34))
TERMS = ("OnDemand", "OnDemand", "OnDemand", "Spot")
RATE_CARD = (0.0004, 0.005, 0.023, 0.0125, 0.09, 0.01)
"""$/unit of the non-EC2 usage types (tiers ``Tier0``..``Tier5``): a CUR line item's rate is
its SKU's price, so rates repeat (the first version drew a random rate per row, which no bill
has)."""


def generate(folder: Path, n_rows: int, seed: int = 7) -> float:
    """Write ``n_rows`` CUR line items (Athena Parquet shape), half in each month of
    :data:`MONTHS`, as files of 1M rows; return the seconds it took."""
    import polars as pl

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    done, part = 0, 0
    chunk = min(CHUNK_ROWS, -(-n_rows // len(MONTHS)))
    while done < n_rows:
        n = min(chunk, n_rows - done)
        year, month = MONTHS[part % len(MONTHS)]
        start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
        hours = int((end - start).total_seconds() // 3600)
        hour = rng.integers(0, hours, n)
        service = rng.choice(len(SERVICES), n, p=[p for _, p in SERVICES])
        instance = rng.integers(0, len(INSTANCES), n)
        is_ec2 = service == 0
        term = np.array(TERMS)[rng.integers(0, len(TERMS), n)]
        rate = np.array([r for _, r in INSTANCES])[instance]
        usage = np.where(is_ec2, 1.0, np.round(rng.exponential(20.0, n), 6))
        tier = rng.integers(0, len(RATE_CARD), n)
        unit_rate = np.where(is_ec2, np.where(term == "Spot", rate * 0.35, rate),
                             np.array(RATE_CARD)[tier])
        cost = np.round(usage * unit_rate, 8)
        usage_start = (np.datetime64(start.replace(tzinfo=None), "us")
                       + hour * np.timedelta64(3600, "s")).astype("datetime64[us]")
        names = np.array([s for s, _ in SERVICES])[service]
        itype = np.where(is_ec2, np.array([i for i, _ in INSTANCES])[instance], None)
        frame = pl.DataFrame({
            "identity_line_item_id": [f"li-{part}-{i}" for i in range(n)],
            "bill_invoice_id": "INV-1",
            "bill_billing_entity": "AWS",
            "bill_billing_period_start_date": start.replace(tzinfo=None),
            "bill_billing_period_end_date": end.replace(tzinfo=None),
            "bill_payer_account_id": "111122223333",
            "line_item_usage_account_id": np.array(["111122223333", "444455556666"])[
                rng.integers(0, 2, n)],
            "line_item_line_item_type": "Usage",
            "line_item_usage_start_date": usage_start,
            "line_item_usage_end_date": (usage_start + np.timedelta64(3600, "s"))
            .astype("datetime64[us]"),
            "line_item_product_code": names,
            "line_item_usage_type": np.where(
                is_ec2, np.char.add(np.where(term == "Spot", "USE1-SpotUsage:", "USE1-BoxUsage:"),
                                    np.where(itype == None, "", itype).astype(str)),
                np.char.add("USE1-Requests-Tier", tier.astype(str))),
            "line_item_usage_amount": usage,
            "line_item_currency_code": "USD",
            "line_item_unblended_rate": unit_rate,
            "line_item_unblended_cost": cost,
            "line_item_line_item_description": "generated",
            "line_item_resource_id": np.char.add("i-", rng.integers(0, 50_000, n).astype(str)),
            "line_item_availability_zone": "us-east-1a",
            "product_instance_type": pl.Series(itype.tolist(), dtype=pl.String),
            "product_region": "us-east-1",
            "product_product_name": names,
            "pricing_unit": np.where(is_ec2, "Hrs", "Requests"),
            "pricing_term": np.where(is_ec2, term, "OnDemand"),
            "pricing_public_on_demand_cost": np.round(usage * np.where(is_ec2, rate, unit_rate), 8),
            "pricing_public_on_demand_rate": np.where(is_ec2, rate, unit_rate),
            "resource_tags_user_team": pl.Series(np.array(["ml", "search", "ads", None])[
                rng.integers(0, 4, n)].tolist(), dtype=pl.String),
        })
        frame.write_parquet(folder / f"cur-{part:05d}.parquet", row_group_size=250_000)
        done += n
        part += 1
    return time.perf_counter() - t0


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd`` under /usr/bin/time; return wall seconds, peak RSS (MiB) and stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", stats.name, *cmd],
                              env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        _, max_kib = stats.read().split()[-2:]
    return {"wall_s": wall, "peak_rss_mib": int(max_kib) / 1024, "stdout": proc.stdout}


DUCKDB_CHILD = """
import duckdb, json, sys, time
folder, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
t0 = time.perf_counter()
rows = con.execute(f'''
    SELECT strftime(bill_billing_period_start_date, '%Y-%m') AS month, line_item_product_code,
           product_instance_type, sum(line_item_unblended_cost), count(*)
    FROM read_parquet('{folder}/*.parquet') GROUP BY ALL''').fetchall()
by_month = {}
for m, _, _, usd, n in rows:
    tot = by_month.setdefault(m, [0.0, 0])
    tot[0] += usd
    tot[1] += n
print(json.dumps({"query_s": time.perf_counter() - t0, "months": by_month, "groups": len(rows)}))
"""


DUCKDB_GROUPING_CHILD = """
import duckdb, json, sys, time
folder, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
cols = [r[0] for r in con.execute(
    f"DESCRIBE SELECT * FROM read_parquet('{folder}/*.parquet')").fetchall()]
amounts = ["line_item_unblended_cost", "line_item_usage_amount", "pricing_public_on_demand_cost"]
dropped = ["identity_line_item_id", "line_item_resource_id", "line_item_usage_start_date",
           "line_item_usage_end_date", *amounts]
keys = ", ".join(c for c in cols if c not in dropped)
t0 = time.perf_counter()
groups = con.execute(f'''
    SELECT count(*) FROM (
      SELECT filename, {keys}, date_trunc('day', line_item_usage_start_date) AS day,
             min(line_item_usage_start_date), max(line_item_usage_end_date),
             sum(line_item_unblended_cost::DECIMAL(38, 12)), sum(line_item_usage_amount),
             sum(pricing_public_on_demand_cost), count(*)
      FROM read_parquet('{folder}/*.parquet', filename = true) GROUP BY ALL)''').fetchone()[0]
print(json.dumps({"query_s": time.perf_counter() - t0, "groups": groups}))
"""
"""The like-for-like reference: DuckDB doing the compact read's grouping (every column the
normaliser reads, by file and UTC day, the cost summed exactly), which the review does before
it normalises, reconciles and scans for oddities."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="generate into (or reuse) this folder")
    args = parser.parse_args()
    env = dict(os.environ, POLARS_MAX_THREADS=str(args.threads), PYTHONPATH=str(ROOT))
    tmp = tempfile.mkdtemp(prefix="bench-billing-cli-")
    folder = Path(args.keep) if args.keep else Path(tmp) / "cur"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        gen_s = 0.0 if any(folder.glob("*.parquet")) else generate(folder, args.rows)
        size = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20
        print(json.dumps({"generated_rows": args.rows, "parquet_mib": round(size, 1),
                          "generate_s": round(gen_s, 1)}), flush=True)
        cold = timed([str(PLANNER), "--help"], env)["wall_s"]
        runs: dict[str, list[dict]] = {"duckdb": [], "duckdb_grouping": [], "review": [],
                                       "convert": []}
        for _ in range(args.repeats):
            runs["duckdb"].append(timed([sys.executable, "-c", DUCKDB_CHILD, str(folder),
                                         str(args.threads)], env))
            runs["duckdb_grouping"].append(timed([sys.executable, "-c", DUCKDB_GROUPING_CHILD,
                                                  str(folder), str(args.threads)], env))
            runs["review"].append(timed([str(PLANNER), "billing", "review", str(folder),
                                         "--month", "2026-10", "--format", "json"], env))
            out = Path(tmp) / "focus.parquet"
            runs["convert"].append(timed([str(PLANNER), "billing", "convert", str(folder),
                                          "--to", "focus", "--output", str(out), "-q"]
                                         if "-q" in _help(["billing", "convert"], env)
                                         else [str(PLANNER), "billing", "convert", str(folder),
                                               "--to", "focus", "--output", str(out)], env))
            out.unlink(missing_ok=True)
        for name, rs in runs.items():
            walls = [r["wall_s"] for r in rs]
            print(json.dumps({"command": name, "rows": args.rows, "threads": args.threads,
                              "min_s": round(min(walls), 2),
                              "median_s": round(statistics.median(walls), 2),
                              "max_s": round(max(walls), 2),
                              "peak_rss_mib": round(max(r["peak_rss_mib"] for r in rs))}),
                  flush=True)
        duck = json.loads(runs["duckdb"][-1]["stdout"])
        review = json.loads(runs["review"][-1]["stdout"])
        truth = duck["months"]["2026-10"][0]
        shown = review["current"]["billed_usd"]
        med = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
        peak = {k: max(r["peak_rss_mib"] for r in v) for k, v in runs.items()}
        print(json.dumps({
            "summary": "planner billing review/convert (whole CLI process) vs DuckDB totals",
            "rows": args.rows, "planner_help_cold_s": round(cold, 2),
            "review_over_duckdb": round(med["review"] / med["duckdb"], 1),
            "review_over_duckdb_same_grouping": round(med["review"] / med["duckdb_grouping"], 1),
            "convert_over_duckdb": round(med["convert"] / med["duckdb"], 1),
            "review_peak_mib": round(peak["review"]), "convert_peak_mib": round(peak["convert"]),
            "october_billed_usd_review": round(shown, 2), "october_usd_duckdb": round(truth, 2),
            "totals_agree_to_the_cent": abs(shown - truth) < 0.005,
            "targets": "review <= 2x DuckDB and <= 1536 MiB; convert <= 2048 MiB",
            "meets_targets": med["review"] <= 2 * med["duckdb"] and peak["review"] <= 1536
            and peak["convert"] <= 2048}), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _help(sub: list[str], env: dict[str, str]) -> str:
    return subprocess.run([str(PLANNER), *sub, "--help"], env=env, capture_output=True, check=False,
                          text=True).stdout


if __name__ == "__main__":
    main()
