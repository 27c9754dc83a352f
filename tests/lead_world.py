"""A small hand-made warehouse for lead-list tests: three territories, hostile names, two contract signers."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from leadgraph.config import Settings
from leadgraph.warehouse import connect

SIGNED = 5  # signed a contract before D: never listed
SIGNS_LATER = 6  # signs after D: still a prospect on D
HOSTILE_NAMES = {1: "=HYPERLINK(\"http://x\")", 2: "+49 call me", 3: "@SUM(A1)", 4: "-minus, with comma", 7: "Zoë Ünïcode"}


def _lineage(frame: pd.DataFrame, table: str, day: date) -> pd.DataFrame:
    frame = frame.copy()
    frame["_dt"] = day
    frame["_file"] = f"{table}/dt={day.isoformat()}/part-0.csv"
    frame["_row"] = np.arange(1, len(frame) + 1)
    return frame


def make_world(settings: Settings, n_customers: int = 30) -> None:
    """Three territories, a few companies, customers with hostile names, and two contract signers."""
    day0 = date(2025, 1, 1)
    t0 = datetime(2025, 1, 1, 8)
    stations = pd.DataFrame({
        "station_id": [10, 11, 12], "city": ["Aa", "Bb", "Cc"], "region": ["North", "Süd West", "-East"],
        "lat": [1.0, 2.0, 3.0], "lon": [1.0, 2.0, 3.0], "kind": ["hub", "depot", "depot"],
        "opened_at": [day0] * 3, "updated_at": [t0] * 3,
    })
    companies = pd.DataFrame({
        "company_id": [100, 101], "industry": ["retail", "chemicals"], "size_band": ["small", "large"],
        "registered_capital": [1e5, 1e7], "city": ["Aa", "Bb"], "updated_at": [t0, t0],
    })
    ids = np.arange(1, n_customers + 1)
    customers = pd.DataFrame({
        "customer_id": ids,
        "name": [HOSTILE_NAMES.get(int(i), f"Customer {i}") for i in ids],
        "customer_type": ["business"] * n_customers,
        "industry": [None if i % 4 == 0 else "logistics" for i in ids],
        "station_id": [10 + int(i) % 3 for i in ids],
        "company_id": [100 + int(i) % 2 if i % 3 else None for i in ids],
        "created_at": [t0] * n_customers,
        "updated_at": [t0] * n_customers,
    })
    events = pd.DataFrame({
        "event_id": [1, 2, 3],
        "customer_id": [SIGNED, SIGNS_LATER, 8],
        "event_at": [datetime(2025, 6, 20, 10), datetime(2025, 7, 5, 10), datetime(2025, 6, 1, 9)],
        "outcome": ["contract_signed", "contract_signed", "high_interest"],
        "channel": ["visit", "visit", "phone"],
    })
    with connect(settings.paths.warehouse) as con:
        for table, frame in (("stations", stations), ("companies", companies), ("customers", customers),
                             ("sales_events", events)):
            con.register("incoming", _lineage(frame, table, day0))
            con.execute(f"INSERT INTO raw.{table} SELECT * FROM incoming")
            con.unregister("incoming")


def make_scores(seed: int, n_customers: int = 30, exclude: tuple[int, ...] = (SIGNED,)) -> pd.DataFrame:
    """Scored, explained prospects of the world (reasons include formula-like text); signers excluded by default."""
    rng = np.random.default_rng(seed)
    ids = np.array([i for i in range(1, n_customers + 1) if i not in exclude])
    p_hi = rng.uniform(0, 1, len(ids))
    p_c = p_hi * rng.uniform(0, 0.01, len(ids))
    return pd.DataFrame({
        "customer_id": ids,
        "p_high_interest": p_hi,
        "p_contract": p_c,
        "score": 100 * (0.3 * p_hi + 0.7 * p_c / p_c.max()),
        "reason_1": ["=1+1 shipments up" if i == 2 else f"ships to {i % 7} customers" for i in ids],
        "reason_2": ["@risk" if i == 3 else "company has a contract" for i in ids],
        "reason_3": [None if i % 5 == 0 else "monthly account" for i in ids],
        "reason_codes": ["SHIP_UP;COMPANY" for _ in ids],
    })
