"""A small hand-written warehouse for graph, label and leakage tests: rows go straight into raw tables.

Every row carries lineage like ingest would give it: `_dt` = the day of its event or change time,
`_file` = `<table>/dt=<day>/part-0.csv`, `_row` = its 1-based position in that day's file.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from leadgraph.config import Settings
from leadgraph.warehouse import connect

D = date(2025, 4, 30)
START = datetime(2025, 1, 1, 8)
END = datetime(2025, 7, 31, 18)
TIME_COLUMN = {
    "stations": "updated_at", "companies": "updated_at", "customers": "updated_at", "accounts": "updated_at",
    "customer_accounts": "linked_at", "shipments": "shipped_at", "sales_events": "event_at",
}
SIGNED_EARLY = 7  # signed 2025-02-15: not a prospect at D
SIGNS_LATER = 2  # signs 2025-05-10: a prospect at D, a positive afterwards
INTEREST_EARLY = 3  # high_interest 2025-03-10, before D


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, dt: date | None = None) -> None:
    """Append rows to raw.<table> with lineage (partition = the row's time unless `dt` is given)."""
    frame = frame.reset_index(drop=True).copy()
    frame["_dt"] = pd.to_datetime(frame[TIME_COLUMN[table]]).dt.date if dt is None else dt
    frame["_file"] = [f"{table}/dt={d.isoformat()}/part-0.csv" for d in frame["_dt"]]
    offset = con.execute(f"SELECT count(*) FROM raw.{table} WHERE _dt IN (SELECT unnest($d))", {"d": sorted(set(frame["_dt"]))}).fetchall()[0][0]
    frame["_row"] = frame.groupby("_dt").cumcount() + 1 + offset
    con.register("incoming", frame)
    con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


def world_frames(n_shipments: int = 600, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Every table's rows: 12 customers at 3 stations, 2 companies, 3 accounts, half a year of shipments."""
    t0 = START
    frames = {
        "stations": pd.DataFrame({
            "station_id": [10, 11, 12], "city": ["Aa", "Bb", "Cc"], "region": ["north", "north", "south"],
            "lat": [30.0, 31.0, 23.0], "lon": [120.0, 121.0, 113.0], "kind": ["hub", "depot", "depot"],
            "opened_at": [date(2020, 1, 1)] * 3, "updated_at": [t0] * 3,
        }),
        "companies": pd.DataFrame({
            "company_id": [100, 101], "industry": ["retail", "pharma"], "size_band": ["small", "large"],
            "registered_capital": [1e6, 5e7], "city": ["Aa", "Bb"], "updated_at": [t0] * 2,
        }),
        "customers": pd.DataFrame({
            "customer_id": list(range(1, 13)),
            "name": [f"C{i}" for i in range(1, 13)],
            "customer_type": ["business"] * 8 + ["individual"] * 4,
            "industry": ["retail", "retail", "retail", "pharma", "pharma", "food", "toys", None, None, None, None, None],
            "station_id": [10, 10, 11, 11, 11, 12, 12, 10, 11, 12, 10, 12],
            "company_id": pd.array([100, 100, 100, 101, 101] + [None] * 7, dtype="Int64"),
            "created_at": [t0] * 11 + [datetime(2025, 3, 20, 9)],
            "updated_at": [t0] * 11 + [datetime(2025, 3, 20, 9)],
        }),
        "accounts": pd.DataFrame({
            "account_id": [500, 501, 502], "account_type": ["corporate", "monthly", "personal"],
            "payment_method": ["transfer", "credit", "card"], "created_at": [t0] * 3, "updated_at": [t0] * 3,
        }),
        "customer_accounts": pd.DataFrame({
            "customer_id": [1, 2, 4, 6], "account_id": [500, 500, 501, 502], "linked_at": [t0 + timedelta(hours=1)] * 4,
        }),
        "sales_events": pd.DataFrame({
            "event_id": [1, 2, 3, 4, 5, 6],
            "customer_id": [1, SIGNED_EARLY, INTEREST_EARLY, 4, SIGNS_LATER, 5],
            "event_at": [datetime(2025, 2, 1, 10), datetime(2025, 2, 15, 10), datetime(2025, 3, 10, 11),
                         datetime(2025, 4, 2, 9), datetime(2025, 5, 10, 15), datetime(2025, 5, 12, 16)],
            "outcome": ["contacted", "contract_signed", "high_interest", "contacted", "contract_signed", "high_interest"],
            "channel": ["phone", "visit", "phone", "email", "visit", "web"],
        }),
    }
    rng = np.random.default_rng(seed)
    span = (END - START).total_seconds()
    sender = rng.integers(1, 12, n_shipments)
    receiver = (sender + rng.integers(1, 11, n_shipments) - 1) % 11 + 1
    frames["shipments"] = pd.DataFrame({
        "shipment_id": np.arange(1, n_shipments + 1),
        "sender_customer_id": sender,
        "receiver_customer_id": receiver,
        "origin_station_id": rng.choice([10, 11, 12], n_shipments),
        "shipped_at": [START + timedelta(seconds=int(s)) for s in np.sort(rng.uniform(0, span, n_shipments))],
        "weight_kg": np.round(rng.lognormal(2, 1, n_shipments), 3),
        "fee": np.round(rng.lognormal(3, 0.5, n_shipments), 2),
        "service_level": rng.choice(["standard", "express", "freight"], n_shipments),
    })
    return frames


def build_world(settings: Settings) -> None:
    """Write the small world into the settings' warehouse."""
    with connect(settings.paths.warehouse) as con:
        for table, frame in world_frames().items():
            insert(con, table, frame)
