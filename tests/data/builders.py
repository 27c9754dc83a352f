"""Hand-made landing files for ingest and validation tests: a small consistent world, and ways to break it."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from leadgraph.config import LANDING_FORMAT, Settings

START = date(2025, 3, 1)
DAYS = 3


def write_partition(settings: Settings, table: str, day: date, frame: pd.DataFrame, name: str = "part-0") -> Path:
    """Write one table's partition file in its landing format."""
    folder = settings.paths.partition(table, day)
    folder.mkdir(parents=True, exist_ok=True)
    fmt = LANDING_FORMAT[table]
    path = folder / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    else:
        frame.to_parquet(path, index=False)
    return path


def write_text(settings: Settings, table: str, day: date, content: bytes, name: str = "part-0") -> Path:
    """Write raw bytes as a partition file, for deliveries no writer would produce."""
    folder = settings.paths.partition(table, day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{LANDING_FORMAT[table]}"
    path.write_bytes(content)
    return path


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A timestamp on a given day."""
    return datetime(day.year, day.month, day.day, hour, minute)


def day_frames(day: date, index: int) -> dict[str, pd.DataFrame]:
    """Every table's rows for one day of the small world; dimensions arrive on the first day, changes later."""
    frames: dict[str, pd.DataFrame] = {}
    if index == 0:
        frames["stations"] = pd.DataFrame(
            {
                "station_id": [1, 2],
                "city": ["Hangzhou", "Ningbo"],
                "region": ["east", "east"],
                "lat": [30.2, 29.8],
                "lon": [120.1, 121.5],
                "kind": ["hub", "depot"],
                "opened_at": [date(2020, 1, 1), date(2021, 5, 1)],
                "updated_at": [_at(day, 1), _at(day, 1)],
            }
        )
        frames["companies"] = pd.DataFrame(
            {
                "company_id": [10, 11],
                "industry": ["retail", "electronics"],
                "size_band": ["small", "large"],
                "registered_capital": [1e6, 5e7],
                "city": ["Hangzhou", "Ningbo"],
                "updated_at": [_at(day, 2), _at(day, 2)],
            }
        )
        frames["customers"] = pd.DataFrame(
            {
                "customer_id": [100, 101, 102, 103],
                "name": ["Ann Shop", "Bo Trade", "Cai", "Du Parts"],
                "customer_type": ["business", "business", "individual", "business"],
                "industry": ["retail", "electronics", "retail", "electronics"],
                "station_id": [1, 2, 1, 2],
                "company_id": pd.array([10, 11, None, 11], dtype="Int64"),
                "created_at": [_at(day, 3)] * 4,
                "updated_at": [_at(day, 3)] * 4,
            }
        )
        frames["accounts"] = pd.DataFrame(
            {
                "account_id": [500, 501, 502],
                "account_type": ["corporate", "monthly", "personal"],
                "payment_method": ["transfer", "credit", "card"],
                "created_at": [_at(day, 4)] * 3,
                "updated_at": [_at(day, 4)] * 3,
            }
        )
        frames["customer_accounts"] = pd.DataFrame(
            {"customer_id": [100, 101, 103, 102], "account_id": [500, 501, 501, 502], "linked_at": [_at(day, 5)] * 4}
        )
    else:
        frames["customers"] = pd.DataFrame(
            {
                "customer_id": [100 + index % 4],
                "name": [f"Renamed {index}"],
                "customer_type": ["business"],
                "industry": ["retail"],
                "station_id": [1],
                "company_id": pd.array([10], dtype="Int64"),
                "created_at": [_at(START, 3)],
                "updated_at": [_at(day, 9)],
            }
        )
    n = 30
    frames["shipments"] = pd.DataFrame(
        {
            "shipment_id": [(index + 1) * 1000 + i for i in range(n)],
            "sender_customer_id": [100 + i % 4 for i in range(n)],
            "receiver_customer_id": [100 + (i + 1) % 4 for i in range(n)],
            "origin_station_id": [1 + i % 2 for i in range(n)],
            "shipped_at": [_at(day, 6) + timedelta(minutes=17 * i) for i in range(n)],
            "weight_kg": [1.5 + i for i in range(n)],
            "fee": [10.0 + i for i in range(n)],
            "service_level": ["standard", "express", "freight"] * (n // 3),
        }
    )
    frames["sales_events"] = pd.DataFrame(
        {
            "event_id": [(index + 1) * 100 + i for i in range(4)],
            "customer_id": [100, 101, 102, 103],
            "event_at": [_at(day, 10 + i) for i in range(4)],
            "outcome": ["contacted", "high_interest", "contacted", "contacted"],
            "channel": ["phone", "visit", "email", "web"],
        }
    )
    return frames


def small_world(settings: Settings, days: int = DAYS, start: date = START) -> list[date]:
    """Write the small world's partitions for `days` days; returns the dates."""
    dates = [start + timedelta(days=i) for i in range(days)]
    for index, day in enumerate(dates):
        for table, frame in day_frames(day, index).items():
            write_partition(settings, table, day, frame)
    return dates


def landing_checksums(settings: Settings) -> dict[str, str]:
    """SHA-256 of every landing file, to prove nothing was modified."""
    root = settings.paths.landing
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}
