"""A small CRM-and-shipping dataset in a company's own shape, for the worked example of README "Your own tables".

Other table and column names than the contract, text ids, its own outcome values and date format, a
product column with values the simulator never uses, and no companies or accounts at all. Deterministic
for a seed. `python -m tests.own_data FOLDER` writes the files; `--sqlite` writes one SQLite database instead.
"""

from __future__ import annotations

import csv
import sqlite3
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START, END = date(2025, 1, 1), date(2025, 8, 31)
AREAS = ("North", "Coast", "Valley")
SEGMENTS = ("retail", "pharma", "robotics", "wine", "ecommerce", "machinery")
PRODUCTS = ("standard", "express", "same-day")
STAMP = "%d/%m/%Y %H:%M"


@dataclass
class CrmWorld:
    """The example's tables as rows of text (the shape a CRM export has)."""

    depots: list[dict]
    leads: list[dict]
    activities: list[dict]
    consignments: list[dict]


def _stamp(day: date, rng: np.random.Generator) -> datetime:
    """A working-hours time on a day."""
    return datetime(day.year, day.month, day.day, int(rng.integers(8, 18)), int(rng.integers(0, 60)))


def build(leads: int = 300, seed: int = 3) -> CrmWorld:
    """The example world: leads that ship with growing or fading volume, and a sales team that calls them."""
    rng = np.random.default_rng(seed)
    days = (END - START).days + 1
    depots = [
        {"depot_code": f"DEP-{i:02d}", "town": f"Town {i}", "sales_area": AREAS[i % len(AREAS)],
         "depot_type": "HUB" if i == 0 else "DEPOT", "opened": "2019-03-01", "changed": "01/01/2025 00:00"}
        for i in range(6)
    ]
    refs = sorted({f"{v:08x}" for v in rng.integers(1 << 28, 1 << 32, size=leads * 2)})[:leads]
    rng.shuffle(refs)
    first = START - timedelta(days=60)
    rows, acts, ships = [], [], []
    for n, ref in enumerate(refs):
        joined = first + timedelta(days=int(rng.integers(0, 150)))
        home = depots[int(rng.integers(0, len(depots)))]["depot_code"]
        contact = _stamp(joined, rng)
        rows.append({"lead_ref": ref, "company_name": f"Lead {n:04d} Ltd", "segment": SEGMENTS[int(rng.integers(0, len(SEGMENTS)))],
                     "home_depot": home, "first_contact": contact.strftime(STAMP)})
        acts.append({"activity_id": f"A{len(acts):06d}", "lead_ref": ref, "happened_at": contact.isoformat(" "),
                     "result": "call", "via": "phone"})
        base = float(rng.lognormal(-2.0, 0.8))
        trend = float(rng.normal(0.0, 0.012))
        interested = won = False
        for d in range(max(0, (joined - START).days), days):
            day = START + timedelta(days=d)
            rate = min(base * float(np.exp(trend * (d - 60))), 3.0)
            for _ in range(int(rng.poisson(rate))):
                partner = refs[int(rng.integers(0, leads))]
                ships.append({"consignment_no": f"C{len(ships):07d}", "shipper": ref, "consignee": partner, "from_depot": home,
                              "booked_at": _stamp(day, rng), "kg": round(float(rng.lognormal(1.5, 0.7)), 2),
                              "charge": round(float(rng.lognormal(2.5, 0.4)), 2), "product": PRODUCTS[int(rng.integers(0, 3))]})
            if not interested and rng.random() < 0.0015 * (1 + 40 * max(trend, 0.0)) * (1 + rate):
                interested = True
                acts.append({"activity_id": f"A{len(acts):06d}", "lead_ref": ref, "happened_at": _stamp(day, rng).isoformat(" "),
                             "result": "mql", "via": ("email", "meeting")[int(rng.integers(0, 2))]})
            elif interested and not won and rng.random() < 0.01:
                won = True
                acts.append({"activity_id": f"A{len(acts):06d}", "lead_ref": ref, "happened_at": _stamp(day, rng).isoformat(" "),
                             "result": "won", "via": "meeting"})
    for row in rows:
        row["last_update"] = row["first_contact"]
    return CrmWorld(depots, rows, acts, ships)


def write_csv(path: Path, rows: list[dict]) -> None:
    """One CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_files(folder: Path, world: CrmWorld | None = None) -> Path:
    """CRM exports as CSV under crm/, consignments as daily Parquet deliveries under shipping/consignments/dt=.../."""
    world = world or build()
    write_csv(folder / "crm" / "depots.csv", world.depots)
    write_csv(folder / "crm" / "leads.csv", world.leads)
    write_csv(folder / "crm" / "activities.csv", world.activities)
    by_day: dict[date, list[dict]] = {}
    for row in world.consignments:
        by_day.setdefault(row["booked_at"].date(), []).append(row)
    for day, rows in sorted(by_day.items()):
        part = folder / "shipping" / "consignments" / f"dt={day.isoformat()}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), part / "part-0.parquet")
    return folder


def write_sqlite(path: Path, world: CrmWorld | None = None) -> Path:
    """The same world as one SQLite database: tables depots, leads, activities, consignments."""
    world = world or build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for name, rows in (("depots", world.depots), ("leads", world.leads), ("activities", world.activities),
                           ("consignments", world.consignments)):
            cols = list(rows[0])
            db.execute(f"CREATE TABLE {name} ({', '.join(cols)})")
            values = [tuple(r[c].isoformat(" ") if isinstance(r[c], datetime) else r[c] for c in cols) for r in rows]
            db.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in cols)})", values)
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1])
    if "--sqlite" in sys.argv:
        print(write_sqlite(target / "crm.sqlite"))
    else:
        print(write_files(target))
