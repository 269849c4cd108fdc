"""Scale benchmark of the monthly cost review (issue 6): a generated CUR-like normalised frame
of 10 million rows in Parquet, reviewed with :func:`costmodels.billing.review.monthly_review`
on ``pl.scan_parquet``; the same totals computed by DuckDB in the same run, for a ratio.

Target: <= 10 s and <= 2 GB peak memory on 2 cores.  Each measurement runs in a fresh
subprocess (``POLARS_MAX_THREADS`` / DuckDB ``threads`` set to ``--threads``) so that its peak
resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own.  Prints one JSON
line per engine and a summary line.

    .venv/bin/python benchmarks/bench_billing_review.py [--rows 10000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MONTHS = ("2026-09", "2026-10")
CHUNK_ROWS = 1_000_000


def generate(folder: Path, n_rows: int) -> float:
    """Write ``n_rows`` generated rows over :data:`MONTHS` as Parquet files of 1M rows."""
    from tests.costmodels.billing.test_review_data import generate_focus

    t0 = time.perf_counter()
    done, part = 0, 0
    while done < n_rows:
        n = min(CHUNK_ROWS, n_rows - done)
        df = generate_focus(n, MONTHS, seed=part, source_file=f"cur-{part:05d}.parquet",
                            row_offset=done)
        df.write_parquet(folder / f"cur-{part:05d}.parquet", row_group_size=250_000)
        done += n
        part += 1
    return time.perf_counter() - t0


def _polars_child(folder: str, repeats: int) -> dict:
    import polars as pl

    from costmodels.billing.review import monthly_review

    times, review = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        review = monthly_review(pl.scan_parquet(f"{folder}/*.parquet"), month="2026-10")
        times.append(time.perf_counter() - t0)
    return {"times_s": times, "effective_usd": review.current.effective_usd,
            "billed_usd": review.current.billed_usd,
            "previous_effective_usd": review.previous.effective_usd,
            "n_rows": review.current.n_rows + review.previous.n_rows,
            "n_anomalies": len(review.anomalies), "polars": pl.__version__}


def _duckdb_child(folder: str, repeats: int, threads: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    sql = f"""
        SELECT strftime(BillingPeriodStart, '%Y-%m') AS month, ServiceName,
               sum(BilledCost) AS billed, sum(EffectiveCost) AS effective,
               sum(ListCost) AS list, count(*) AS n
        FROM read_parquet('{folder}/*.parquet')
        WHERE BillingPeriodStart >= TIMESTAMPTZ '2026-09-01 00:00:00+00'
          AND BillingPeriodStart < TIMESTAMPTZ '2026-11-01 00:00:00+00'
        GROUP BY ALL"""
    times, rows = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    oct_rows = [r for r in rows if r[0] == "2026-10"]
    return {"times_s": times, "effective_usd": sum(r[3] for r in oct_rows),
            "billed_usd": sum(r[2] for r in oct_rows), "n_rows": sum(r[5] for r in rows),
            "duckdb": duckdb.__version__}


def child(engine: str, folder: str, repeats: int, threads: int) -> None:
    out = (_polars_child(folder, repeats) if engine == "polars"
           else _duckdb_child(folder, repeats, threads))
    # the parent stays small (generation runs in its own process): ru_maxrss survives exec
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(out))


def run_child(engine: str, folder: Path, repeats: int, threads: int) -> dict:
    env = dict(os.environ, POLARS_MAX_THREADS=str(threads), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--folder", str(folder),
         "--repeats", str(repeats), "--threads", str(threads)],
        env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["polars", "duckdb", "generate"])
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child == "generate":  # its own process: Linux keeps ru_maxrss across exec
        print(json.dumps({"generate_s": generate(Path(args.folder), args.rows)}))
        return
    if args.child:
        child(args.child, args.folder, args.repeats, args.threads)
        return
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        folder = Path(tmp)
        gen = subprocess.run([sys.executable, __file__, "--child", "generate", "--folder",
                              str(folder), "--rows", str(args.rows)], capture_output=True,
                             text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        gen_s = json.loads(gen.stdout.strip().splitlines()[-1])["generate_s"]
        size_mib = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20
        res = {e: run_child(e, folder, args.repeats, args.threads) for e in ("polars", "duckdb")}
    for engine, r in res.items():
        t = r["times_s"]
        print(json.dumps({"engine": engine, "rows": args.rows, "threads": args.threads,
                          "min_s": round(min(t), 3), "median_s": round(statistics.median(t), 3),
                          "max_s": round(max(t), 3), "peak_rss_mib": round(r["peak_rss_mib"]),
                          **{k: v for k, v in r.items() if k not in ("times_s", "peak_rss_mib")}}))
    p, d = res["polars"], res["duckdb"]
    agree = abs(p["effective_usd"] - d["effective_usd"]) <= 1e-6 * abs(d["effective_usd"])
    print(json.dumps({
        "summary": "monthly_review vs DuckDB totals", "rows": args.rows,
        "parquet_mib": round(size_mib, 1), "generate_s": round(gen_s, 1),
        "review_median_s": round(statistics.median(p["times_s"]), 3),
        "duckdb_totals_median_s": round(statistics.median(d["times_s"]), 3),
        "ratio_review_over_duckdb": round(statistics.median(p["times_s"])
                                          / statistics.median(d["times_s"]), 2),
        "totals_agree": agree, "target": "<= 10 s, <= 2048 MiB",
        "meets_target": statistics.median(p["times_s"]) <= 10 and p["peak_rss_mib"] <= 2048,
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
