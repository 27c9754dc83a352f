"""Publish and drift at paper scale: time and peak memory of one day's lead lists and drift check.

Builds a synthetic warehouse (customers, stations, companies, contract signers) in a scratch home with
DuckDB set operations, scores every prospect, then times `publish` twice (first day, then a day with an
earlier list to rank against) and `run_drift` (reference day, then the measured day).

    python -m benchmarks.publish_drift --home /tmp/lg-bench --customers 3600000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from leadgraph.config import load_settings
from leadgraph.warehouse import connect
from tasks.drift import run_drift
from tasks.publish import publish

D = date(2025, 12, 31)


def build_world(home: Path, customers: int) -> None:
    """Raw stations, companies, customers and contract events for `customers` customers."""
    settings = load_settings(home)
    stations, companies = max(customers // 1300, 12), max(customers // 7, 1)
    with connect(settings.paths.warehouse) as con:
        con.execute(f"""
            INSERT INTO raw.stations SELECT i, 'city ' || i, 'region ' || (i % 12), 0, 0, 'depot',
                DATE '2024-01-01', TIMESTAMP '2024-01-01', DATE '2024-01-01', 'stations/x.csv', i
            FROM range({stations}) t(i)""")
        con.execute(f"""
            INSERT INTO raw.companies SELECT i, 'industry ' || (i % 20), 'small', 1e5, 'city', TIMESTAMP '2024-01-01',
                DATE '2024-01-01', 'companies/x.csv', i
            FROM range({companies}) t(i)""")
        con.execute(f"""
            INSERT INTO raw.customers SELECT i, 'Customer ' || i, 'business', NULL, hash(i) % {stations},
                CASE WHEN i % 3 = 0 THEN hash(i * 7) % {companies} END, TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01',
                DATE '2024-01-01', 'customers/x.csv', i
            FROM range({customers}) t(i)""")
        con.execute("""
            INSERT INTO raw.sales_events SELECT i, i, TIMESTAMP '2025-06-01', 'contract_signed', 'visit',
                DATE '2025-06-01', 'sales_events/x.csv', i
            FROM range(0, (SELECT count(*) FROM raw.customers), 20) t(i)""")


def scores_and_features(customers: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores of every prospect (every customer not divisible by 20) and 24 numeric features."""
    rng = np.random.default_rng(seed)
    ids = np.arange(customers, dtype=np.int64)
    ids = ids[ids % 20 != 0]
    p_hi = rng.beta(1, 40, ids.size)
    scores = pd.DataFrame({
        "customer_id": ids, "p_high_interest": p_hi, "p_contract": p_hi * rng.beta(1, 30, ids.size),
        "score": 100 * rng.beta(1, 6, ids.size), "reason_1": "ships to 12 customers (30d)",
        "reason_2": "company has a contract", "reason_3": "monthly account", "reason_codes": "SHIP;COMPANY;ACCOUNT",
    })
    features = pd.DataFrame(rng.lognormal(1.0, 1.0, (ids.size, 24)).astype(np.float32),
                            columns=[f"f{i}" for i in range(24)])
    features.insert(0, "customer_id", ids)
    return scores, features


def timed(label: str, fn, *args) -> object:
    start = time.perf_counter()
    out = fn(*args)
    print(f"{label}: {time.perf_counter() - start:.1f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=3_600_000)
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    settings = load_settings(args.home)
    timed("build synthetic warehouse", build_world, args.home, args.customers)
    scores1, features1 = scores_and_features(args.customers, 1)
    scores2, features2 = scores_and_features(args.customers, 2)
    print(f"scored prospects per day: {len(scores1):,}")
    status = {"validation": "passed", "drift": "ok"}
    timed("publish day 1", publish, settings, D - timedelta(days=1), scores1, "r1", "m1", "dv", status)
    result = timed("publish day 2", publish, settings, D, scores2, "r2", "m1", "dv", status)
    print(f"listed rows: {result.total_rows:,} in {len(result.files)} territories")
    timed("drift reference day", run_drift, settings, D - timedelta(days=1), "m1", features1, scores1)
    drift = timed("drift day 2", run_drift, settings, D, "m1", features2, scores2)
    print(f"drift: {drift.status}, share {drift.share_drifted:.2f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
