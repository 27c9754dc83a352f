"""Validation: each hand-made defect lands in quarantine under its rule; table-level failures stop the run."""

from __future__ import annotations

import gc
import json
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest

from leadgraph.config import Settings
from tasks.ingest import ingest
from tasks.validate import ValidationFailed, validate
from tests.data.builders import day_frames, small_world, write_partition, write_text


def query(settings: Settings, statement: str, params: list | None = None) -> list[tuple]:
    """Rows of a read-only query on the warehouse."""
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        return con.execute(statement, params or []).fetchall()


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """Settings for tests that do not look at Data Docs (building them costs about a second)."""
    settings.validate_.data_docs = False
    return settings


def quarantined(settings: Settings, table: str) -> dict[tuple[str, int], set[str]]:
    """Quarantine rules per (file, row) of one table."""
    out: dict[tuple[str, int], set[str]] = {}
    for f, r, rule in query(settings, "SELECT _file, _row, rule FROM meta.quarantine WHERE table_name = ?", [table]):
        out.setdefault((f, r), set()).add(rule)
    return out


def test_every_row_defect_is_quarantined_under_its_rule(settings: Settings) -> None:
    days = small_world(settings, days=2)
    day = days[1]
    shipments = day_frames(day, 1)["shipments"]
    end_of_day = datetime(day.year, day.month, day.day) + timedelta(days=1)
    shipments.loc[0, "weight_kg"] = -3.0
    shipments.loc[1, "shipped_at"] = end_of_day
    shipments.loc[2, "service_level"] = "teleport"
    shipments.loc[3, "shipment_id"] = 1005  # delivered the day before
    shipments.loc[4, "sender_customer_id"] = 999
    shipments.loc[5, "shipped_at"] = datetime(1970, 1, 1)
    shipments.loc[6:7, "shipment_id"] = 2099  # the same key twice in one file: the first copy stays
    write_partition(settings, "shipments", day, shipments)
    events = (
        "event_id,customer_id,event_at,outcome,channel\n"
        "201,100,2025-03-02 10:00:00,contacted,phone\n"
        "202,,2025-03-02 10:05:00,contacted,phone\n"
        "203,abc,2025-03-02 10:10:00,contacted,phone\n"
        "204,101,2025-03-02 10:15:00,contacted,phone,extra\n"
        "205,102,2025-03-02 10:20:00," + "x" * 2000 + ",phone\n"
    )
    write_text(settings, "sales_events", day, events.encode())
    customers = day_frames(day, 1)["customers"]
    customers.loc[0, "created_at"] = datetime(day.year, day.month, day.day, 23)
    write_partition(settings, "customers", day, customers)
    settings.validate_.max_bad_row_fraction = 0.9
    ingest(settings, day)
    report = validate(settings, day)

    ship_file = f"shipments/dt={day}/part-0.parquet"
    got = quarantined(settings, "shipments")
    assert got == {
        (ship_file, 1): {"positive:weight_kg"},
        (ship_file, 2): {"not_after_partition:shipped_at"},
        (ship_file, 3): {"allowed_values:service_level"},
        (ship_file, 4): {"unique_key"},
        (ship_file, 5): {"orphan:sender_customer_id->customers"},
        (ship_file, 6): {"plausible_date:shipped_at"},
        (ship_file, 8): {"unique_key"},
    }
    event_file = f"sales_events/dt={day}/part-0.csv"
    events_q = quarantined(settings, "sales_events")
    assert events_q[(event_file, 2)] == {"not_null:customer_id"}
    assert {"parsed_and_typed", "not_null:customer_id"} <= events_q[(event_file, 3)]
    assert "parsed_and_typed" in events_q[(event_file, 4)]
    assert events_q[(event_file, 5)] == {"allowed_values:outcome"}
    assert (event_file, 1) not in events_q
    assert quarantined(settings, "customers") == {(f"customers/dt={day}/part-0.csv", 1): {"ordered:created_at<=updated_at"}}

    raw = dict(query(settings, "SELECT _row, raw_values FROM meta.quarantine WHERE _file = ? AND rule = 'parsed_and_typed'", [event_file]))
    assert json.loads(raw[3])["customer_id"] == "abc"
    assert json.loads(raw[4])["line"].endswith("phone,extra")
    kept = query(settings, "SELECT count(*), count(DISTINCT shipment_id) FROM asof_shipments(?)", [day])
    assert kept == [(30 + 30 - 7, 30 + 30 - 7)]
    assert report.quarantined["shipments"] == 7
    results = query(settings, "SELECT rule, success, failed FROM meta.validation_results WHERE table_name = 'shipments' AND rule = 'positive:weight_kg'")
    assert results == [("positive:weight_kg", False, 1)]
    assert (settings.paths.reports / str(day) / "validation" / "index.html").exists()


def test_validating_twice_gives_the_same_quarantine(quick: Settings) -> None:
    settings = quick
    days = small_world(settings, days=2)
    shipments = day_frames(days[1], 1)["shipments"]
    shipments.loc[0, "weight_kg"] = 0.0
    write_partition(settings, "shipments", days[1], shipments)
    ingest(settings, days[1])
    validate(settings, days[1])
    first = query(settings, "SELECT table_name, _file, _row, rule, raw_values FROM meta.quarantine ORDER BY ALL")
    validate(settings, days[1])
    assert query(settings, "SELECT table_name, _file, _row, rule, raw_values FROM meta.quarantine ORDER BY ALL") == first
    assert len(first) == 1


def test_too_many_bad_rows_stop_the_run_naming_table_rule_counts_and_rows(quick: Settings) -> None:
    settings = quick
    days = small_world(settings, days=2)
    shipments = day_frames(days[1], 1)["shipments"]
    shipments.loc[:9, "weight_kg"] = -1.0
    write_partition(settings, "shipments", days[1], shipments)
    ingest(settings, days[1])
    with pytest.raises(ValidationFailed) as failure:
        validate(settings, days[1])
    message = str(failure.value)
    assert "shipments: rule bad_row_fraction: 10 of 60 rows quarantined (16.7% > 5.0%)" in message
    assert "positive:weight_kg 10" in message
    assert f"e.g. shipments/dt={days[1]}/part-0.parquet row 1 (positive:weight_kg)" in message
    assert query(settings, "SELECT success FROM meta.validation_results WHERE rule = 'run'") == [(False,)]


def batches_alive() -> int:
    """Data frames not yet freed that carry row lineage, as every batch handed to the suites does."""
    return sum(1 for o in gc.get_objects() if type(o) is pd.DataFrame and "_row" in o.columns)


@pytest.fixture
def no_automatic_gc():
    """Only explicit collections run, so a batch held in a reference cycle stays visible."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_validation_frees_its_batches_when_it_returns_or_fails(settings: Settings, no_automatic_gc: None) -> None:
    days = small_world(settings, days=2)
    ingest(settings, days[0])
    before = batches_alive()
    validate(settings, days[0])
    assert batches_alive() <= before
    shipments = day_frames(days[1], 1)["shipments"]
    shipments.loc[:9, "weight_kg"] = -1.0
    write_partition(settings, "shipments", days[1], shipments)
    ingest(settings, days[1])
    with pytest.raises(ValidationFailed):
        validate(settings, days[1])
    assert batches_alive() <= before


def test_a_partition_far_below_its_trailing_median_stops_the_run(quick: Settings) -> None:
    settings = quick
    days = small_world(settings, days=9)
    write_partition(settings, "shipments", days[-1], day_frames(days[-1], 8)["shipments"].head(3))
    ingest(settings, days[-1])
    with pytest.raises(ValidationFailed) as failure:
        validate(settings, days[-1])
    assert f"shipments: rule row_count_vs_trailing_median: partition dt={days[-1]} has 3 rows, below 20% of the trailing median 30" in str(failure.value)


def test_a_missing_table_and_a_stale_one_stop_the_run(quick: Settings) -> None:
    settings = quick
    days = small_world(settings, days=2)
    for path in sorted((settings.paths.landing / "stations").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (settings.paths.landing / "stations").rmdir()
    late = days[-1] + timedelta(days=5)
    ingest(settings, late)
    with pytest.raises(ValidationFailed) as failure:
        validate(settings, late)
    message = str(failure.value)
    assert f"stations: rule missing_table: no rows delivered for stations up to {late}" in message
    assert f"shipments: rule freshness: latest partition dt={days[-1]} is 5 days before {late}" in message


def test_daily_run_validates_only_what_is_new(quick: Settings) -> None:
    settings = quick
    days = small_world(settings, days=3)
    ingest(settings, days[1])
    first = validate(settings, days[1])
    assert first.initial and first.covered["shipments"] == 60
    ingest(settings, days[2])
    second = validate(settings, days[2])
    assert not second.initial and second.covered["shipments"] == 30 and second.covered["stations"] == 0
    frame = pd.DataFrame(query(settings, "SELECT as_of, count(*) FROM meta.validation_results WHERE rule = 'run' GROUP BY 1 ORDER BY 1"))
    assert frame[1].tolist() == [1, 1]
