"""The as-of table macros at day boundaries, with late deliveries, and without quarantined rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from leadgraph.config import Settings
from tasks.ingest import ingest
from tasks.validate import validate
from tests.data.builders import day_frames, small_world, write_partition

D = date(2025, 3, 1)
NEXT = D + timedelta(days=1)


def customer_version(name: str, updated_at: datetime) -> pd.DataFrame:
    """One change row of customer 100."""
    frame = day_frames(D, 0)["customers"].head(1)
    return frame.assign(name=name, updated_at=updated_at)


def asof(settings: Settings, statement: str, *params: object) -> list[tuple]:
    """Rows of an as-of query (the day first, then any other parameters)."""
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        return con.execute(statement, list(params)).fetchall()


def test_versions_and_events_switch_exactly_at_midnight_and_late_rows_wait_for_their_partition(settings: Settings) -> None:
    small_world(settings, days=3)
    late_day = D + timedelta(days=2)
    last_second = datetime(D.year, D.month, D.day, 23, 59, 59)
    midnight = datetime(NEXT.year, NEXT.month, NEXT.day)
    write_partition(settings, "customers", D, pd.concat([day_frames(D, 0)["customers"].iloc[1:], customer_version("before midnight", last_second)]))
    write_partition(settings, "customers", NEXT, customer_version("at midnight", midnight))
    write_partition(settings, "customers", late_day, customer_version("late delivery", last_second - timedelta(hours=1)))
    shipments = day_frames(D, 0)["shipments"]
    shipments.loc[0, "shipped_at"] = last_second
    write_partition(settings, "shipments", D, shipments)
    next_shipments = day_frames(NEXT, 1)["shipments"]
    next_shipments.loc[0, "shipped_at"] = midnight
    write_partition(settings, "shipments", NEXT, next_shipments)
    ingest(settings, late_day)

    name_of_100 = "SELECT name FROM asof_customers(?) WHERE customer_id = 100"
    assert asof(settings, name_of_100, D) == [("before midnight",)]
    assert asof(settings, name_of_100, NEXT) == [("at midnight",)]
    assert asof(settings, name_of_100, late_day) == [("at midnight",)]
    assert asof(settings, "SELECT count(*) FROM asof_customers(?)", D) == [(4,)]
    shipped = "SELECT max(shipped_at), count(*) FROM asof_shipments(?)"
    assert asof(settings, shipped, D) == [(last_second, 30)]
    assert asof(settings, shipped, NEXT)[0][1] == 60
    assert asof(settings, "SELECT count(*) FROM asof_shipments(?) WHERE shipped_at = ?", NEXT, midnight) == [(1,)]


def test_late_row_with_an_earlier_timestamp_is_out_as_of_the_earlier_date(settings: Settings) -> None:
    small_world(settings, days=2)
    write_partition(settings, "customers", NEXT, customer_version("arrived a day late", datetime(D.year, D.month, D.day, 12)))
    ingest(settings, NEXT)
    name_of_100 = "SELECT name FROM asof_customers(?) WHERE customer_id = 100"
    assert asof(settings, name_of_100, D) == [("Ann Shop",)]
    assert asof(settings, name_of_100, NEXT) == [("arrived a day late",)]


def test_quarantined_rows_are_left_out(settings: Settings) -> None:
    settings.validate_.data_docs = False
    small_world(settings, days=1)
    shipments = day_frames(D, 0)["shipments"]
    shipments.loc[4, "weight_kg"] = -1.0
    write_partition(settings, "shipments", D, shipments)
    ingest(settings, D)
    assert asof(settings, "SELECT count(*) FROM asof_shipments(?)", D) == [(30,)]
    validate(settings, D)
    assert asof(settings, "SELECT count(*), min(weight_kg) > 0 FROM asof_shipments(?)", D) == [(29, True)]
    assert asof(settings, "SELECT count(*) FROM asof_shipments(?) WHERE _row = 5", D) == [(0,)]
