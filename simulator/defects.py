"""Inject documented defects into landing partitions and record each one for truth/defects.parquet.

With `--defects RATE`, each partition file gets Binomial(rows, RATE) defective rows, each a distinct
clean row turned into one defect of a kind its table and format allow:

| defect | what the row becomes | tables |
|---|---|---|
| duplicate_key | a second copy of a row, right after it (the copy is listed) | all |
| orphan_fk | a foreign key pointing at no row (id >= 9e12) | customers, customer_accounts, shipments, sales_events, service_events |
| null_required | a key or required column left empty | all |
| unparseable_number | text such as `12kg` in a numeric column | CSV tables only |
| unparseable_date | text such as `2025-13-45 25:61:00` in a date/timestamp column | CSV tables only |
| negative_weight | weight_kg below zero | shipments |
| future_event | the event time set 30-400 days after its partition day | shipments, sales_events, customer_accounts, service_events |
| malformed_line | the physical line loses its last field or gains two more | CSV tables only |
| unknown_category | a value outside the column's categories | all but customer_accounts and services |

The service catalogue gets none: it has a few dozen rows, so one broken row is already a table-level
failure (tests/data/test_offers_validation.py breaks it on purpose).

Parquet files keep their typed schema, so they get only defects a typed column can carry (no
unparseable text, no malformed lines). Every defect is listed with table_name, file (relative to
landing/), row (1-based data row in the file as written; for malformed lines the physical data
line, which is the same number because no value spans lines), key (the row's original key, `|`
between parts of a composite key), defect and column. The defect draws come from their own random
stream per (seed, table, day), so the clean rows of a defective world are those of the clean world.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pyarrow as pa

from simulator.world_write import as_text

KEYS: dict[str, tuple[str, ...]] = {
    "stations": ("station_id",),
    "companies": ("company_id",),
    "customers": ("customer_id",),
    "accounts": ("account_id",),
    "customer_accounts": ("customer_id", "account_id"),
    "shipments": ("shipment_id",),
    "sales_events": ("event_id",),
    "services": ("service_id",),
    "service_events": ("event_id",),
}
CATALOGUE: dict[str, dict[str, tuple[str, ...]]] = {
    "stations": {
        "duplicate_key": ("station_id",), "null_required": ("station_id", "region"),
        "unparseable_number": ("lat", "lon"), "unparseable_date": ("opened_at", "updated_at"),
        "malformed_line": ("",), "unknown_category": ("kind",),
    },
    "companies": {
        "duplicate_key": ("company_id",), "null_required": ("company_id", "updated_at"),
        "unparseable_number": ("registered_capital",), "unparseable_date": ("updated_at",),
        "malformed_line": ("",), "unknown_category": ("size_band",),
    },
    "customers": {
        "duplicate_key": ("customer_id",), "orphan_fk": ("station_id", "company_id"),
        "null_required": ("customer_id", "station_id", "created_at"), "unparseable_number": ("station_id",),
        "unparseable_date": ("created_at", "updated_at"), "malformed_line": ("",),
        "unknown_category": ("customer_type",),
    },
    "accounts": {
        "duplicate_key": ("account_id",), "null_required": ("account_id",), "unparseable_date": ("created_at",),
        "malformed_line": ("",), "unknown_category": ("account_type", "payment_method"),
    },
    "customer_accounts": {
        "duplicate_key": ("customer_id",), "orphan_fk": ("customer_id", "account_id"),
        "null_required": ("customer_id", "account_id", "linked_at"), "future_event": ("linked_at",),
    },
    "shipments": {
        "duplicate_key": ("shipment_id",),
        "orphan_fk": ("sender_customer_id", "receiver_customer_id", "origin_station_id"),
        "null_required": ("shipment_id", "sender_customer_id", "shipped_at"), "negative_weight": ("weight_kg",),
        "future_event": ("shipped_at",), "unknown_category": ("service_level",),
    },
    "sales_events": {
        "duplicate_key": ("event_id",), "orphan_fk": ("customer_id",),
        "null_required": ("event_id", "customer_id", "event_at"), "unparseable_number": ("customer_id",),
        "unparseable_date": ("event_at",), "future_event": ("event_at",), "malformed_line": ("",),
        "unknown_category": ("outcome", "channel"),
    },
    "service_events": {
        "duplicate_key": ("event_id",), "orphan_fk": ("customer_id", "service_id"),
        "null_required": ("event_id", "customer_id", "service_id"), "future_event": ("event_at",),
        "unknown_category": ("behaviour",),
    },
}
TEXT_ONLY = {"unparseable_number", "unparseable_date", "malformed_line"}
TYPED = {"orphan_fk", "null_required", "negative_weight", "future_event", "unknown_category"}
UNKNOWN = {
    "kind": "warehouse", "size_band": "huge", "customer_type": "government", "account_type": "barter",
    "payment_method": "voucher", "service_level": "overnight", "outcome": "maybe_later", "channel": "fax",
    "behaviour": "wishlist",
}
BAD_NUMBERS = ("12kg", "1.2.3", "#VALUE!", "one")
BAD_DATES = ("2025-13-45 25:61:00", "31/12/2025", "yesterday", "2025-02-30")
ORPHAN_ID0 = 9_000_000_000_000
DEFECT_COLUMNS = ("table_name", "file", "row", "key", "defect", "column")


def _keys(table: pa.Table, name: str, rows: np.ndarray) -> list[str]:
    """The original key of each chosen row as text."""
    parts = [table.column(c).take(pa.array(rows)).to_pylist() for c in KEYS[name]]
    return ["|".join(str(v) for v in values) for values in zip(*parts)]


def _modify(name: str, column: pa.ChunkedArray, rows: list[int], kinds: list[str], day: date,
            rng: np.random.Generator) -> pa.Array:
    """A column with the chosen rows broken in place."""
    values = column.to_pylist()
    for row, kind in zip(rows, kinds):
        value = values[row]
        if kind == "orphan_fk":
            values[row] = ORPHAN_ID0 + int(rng.integers(0, 1_000_000_000))
        elif kind == "null_required":
            values[row] = None
        elif kind == "negative_weight":
            values[row] = -abs(value or 1.0)
        elif kind == "future_event":
            moved = day + timedelta(days=int(rng.integers(30, 401)))
            values[row] = datetime.combine(moved, value.time() if value is not None else time(12))
        elif kind == "unknown_category":
            values[row] = UNKNOWN[name]
        elif kind == "unparseable_number":
            values[row] = BAD_NUMBERS[int(rng.integers(0, len(BAD_NUMBERS)))]
        elif kind == "unparseable_date":
            values[row] = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
    return pa.array(values, type=column.type)


def _apply(table: pa.Table, plan: list[tuple[int, str, str]], kinds: set[str], day: date,
           rng: np.random.Generator) -> pa.Table:
    """Apply the planned defects of some kinds, column by column."""
    by_column: dict[str, list[tuple[int, str]]] = {}
    for row, kind, column in plan:
        if kind in kinds:
            by_column.setdefault(column, []).append((row, kind))
    for column in sorted(by_column):
        rows = [r for r, _ in by_column[column]]
        ks = [k for _, k in by_column[column]]
        i = table.column_names.index(column)
        table = table.set_column(i, column, _modify(column, table.column(column), rows, ks, day, rng))
    return table


def corrupt_lines(data: bytes, rows: list[int], rng: np.random.Generator) -> bytes:
    """Break the given 0-based data lines of a CSV: drop the last field or append two extra ones."""
    lines = data.split(b"\n")
    for row in sorted(rows):
        line = lines[row + 1]
        if rng.random() < 0.5:
            lines[row + 1] = line.rsplit(b",", 1)[0]
        else:
            lines[row + 1] = line + b",??,??"
    return b"\n".join(lines)


def inject(name: str, fmt: str, table: pa.Table, rate: float, rel: str, day: date,
           rng: np.random.Generator) -> tuple[pa.Table, list[int], list[dict]]:
    """Break some rows of one partition; returns the table to write (text for CSV), malformed lines, and records."""
    n = table.num_rows
    k = int(rng.binomial(n, rate)) if rate > 0 and n and name in CATALOGUE else 0
    if k == 0:
        return (as_text(table) if fmt == "csv" else table), [], []
    allowed = [kind for kind in CATALOGUE[name] if fmt == "csv" or kind not in TEXT_ONLY]
    rows = np.sort(rng.choice(n, size=k, replace=False))
    kinds = [allowed[i] for i in rng.integers(0, len(allowed), k)]
    columns = [CATALOGUE[name][kind][int(rng.integers(0, len(CATALOGUE[name][kind])))] for kind in kinds]
    plan = list(zip(rows.tolist(), kinds, columns))
    keys = _keys(table, name, rows)

    table = _apply(table, plan, TYPED, day, rng)
    if fmt == "csv":
        table = _apply(as_text(table), plan, {"unparseable_number", "unparseable_date"}, day, rng)
    duplicated = {row for row, kind, _ in plan if kind == "duplicate_key"}
    repeats = np.ones(n, dtype=np.int64)
    repeats[sorted(duplicated)] = 2
    order = np.repeat(np.arange(n), repeats)
    position = np.searchsorted(order, np.arange(n), side="left")
    if duplicated:
        table = table.take(pa.array(order))

    malformed: list[int] = []
    records: list[dict] = []
    for (row, kind, column), key in zip(plan, keys):
        final = int(position[row]) + (1 if kind == "duplicate_key" else 0)
        if kind == "malformed_line":
            malformed.append(final)
        records.append({"table_name": name, "file": rel, "row": final + 1, "key": key, "defect": kind,
                        "column": column or None})
    return table, malformed, records
