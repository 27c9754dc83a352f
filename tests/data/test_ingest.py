"""Ingest: bulk first load, idempotent re-runs, lineage, one transaction, and the text of rows that do not parse."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pandas as pd
import pytest

import tasks.ingest as ingest_module
from leadgraph.config import RAW_TABLES, Settings
from tasks.ingest import ingest
from tests.data.builders import day_frames, small_world, write_partition, write_text


def snapshot(settings: Settings) -> dict[str, pd.DataFrame]:
    """Every raw table, sorted by lineage, plus the rejects table."""
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        frames = {t: con.execute(f"SELECT * FROM raw.{t} ORDER BY _file, _row").df() for t in RAW_TABLES}
        frames["rejects"] = con.execute("SELECT * FROM meta.ingest_rejects ORDER BY _file, _row").df()
    return frames


def query(settings: Settings, statement: str, params: list | None = None) -> list[tuple]:
    """Rows of a read-only query on the warehouse."""
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        return con.execute(statement, params or []).fetchall()


def test_first_run_loads_history_in_bulk_then_daily_runs_load_one_day(settings: Settings) -> None:
    days = small_world(settings)
    first = ingest(settings, days[1])
    assert {o.dt for o in first.with_status("loaded")} == {days[0], days[1]}
    assert query(settings, "SELECT count(*) FROM raw.shipments") == [(60,)]
    daily = ingest(settings, days[2])
    assert {o.dt for o in daily.with_status("loaded")} == {days[2]}
    assert daily.unchanged_files == len(first.with_status("loaded"))
    assert query(settings, "SELECT _dt, count(*) FROM raw.shipments GROUP BY _dt ORDER BY _dt") == [(d, 30) for d in days]


def test_lineage_names_partition_file_and_one_based_row(settings: Settings) -> None:
    days = small_world(settings, days=1)
    ingest(settings, days[0])
    rows = query(settings, "SELECT customer_id, _dt, _file, _row FROM raw.customers ORDER BY _row")
    assert rows[0] == (100, days[0], f"customers/dt={days[0]}/part-0.csv", 1)
    assert [r[3] for r in rows] == [1, 2, 3, 4]
    shipped = query(settings, "SELECT min(_row), max(_row), any_value(_file) FROM raw.shipments")
    assert shipped == [(1, 30, f"shipments/dt={days[0]}/part-0.parquet")]


def test_ingesting_a_day_twice_leaves_identical_tables(settings: Settings) -> None:
    days = small_world(settings)
    ingest(settings, days[2])
    before = snapshot(settings)
    again = ingest(settings, days[2])
    assert again.rows_loaded == 0
    assert {o.status for o in again.outcomes if o.file} == {"skipped_same_checksum"}
    after = snapshot(settings)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_a_changed_file_replaces_exactly_its_rows(settings: Settings) -> None:
    days = small_world(settings)
    ingest(settings, days[2])
    frame = day_frames(days[1], 1)["shipments"].head(10)
    write_partition(settings, "shipments", days[1], frame)
    report = ingest(settings, days[2])
    assert [(o.file, o.status, o.rows) for o in report.with_status("loaded")] == [(f"shipments/dt={days[1]}/part-0.parquet", "loaded", 10)]
    assert query(settings, "SELECT _dt, count(*) FROM raw.shipments GROUP BY _dt ORDER BY _dt") == [(days[0], 30), (days[1], 10), (days[2], 30)]
    assert query(settings, "SELECT count(*), count(DISTINCT shipment_id) FROM raw.shipments") == [(70, 70)]


def test_failure_inside_the_transaction_keeps_the_previous_state(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    days = small_world(settings)
    ingest(settings, days[1])
    before = snapshot(settings)
    log_before = query(settings, "SELECT count(*) FROM meta.ingest_log WHERE status = 'loaded'")
    real_load = ingest_module.load_parquet

    def load_then_die(con, group, contract):
        real_load(con, group, contract)
        raise RuntimeError("simulated crash after the first Parquet group was inserted")

    monkeypatch.setattr(ingest_module, "load_parquet", load_then_die)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest(settings, days[2])
    after = snapshot(settings)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])
    assert query(settings, "SELECT count(*) FROM meta.ingest_log WHERE status = 'loaded'") == log_before
    assert query(settings, "SELECT count(*) > 0 FROM meta.ingest_log WHERE status = 'failed' AND message LIKE '%simulated crash%'") == [(True,)]
    monkeypatch.undo()
    retry = ingest(settings, days[2])
    assert {o.dt for o in retry.with_status("loaded")} == {days[2]}
    assert query(settings, "SELECT count(*) FROM raw.shipments") == [(90,)]


def test_missing_partition_for_d_is_reported_not_a_crash(settings: Settings) -> None:
    days = small_world(settings)
    later = days[-1] + timedelta(days=3)
    report = ingest(settings, later)
    no_data = report.with_status("no_data")
    assert sorted(o.table for o in no_data) == sorted(RAW_TABLES)
    assert all(f"no data for {later}" in o.message for o in no_data)
    assert f"no data for {later}" in report.render()
    assert query(settings, "SELECT count(*) FROM meta.ingest_log WHERE status = 'no_data' AND partition_dt = ?", [later]) == [(len(RAW_TABLES),)]


def test_missing_column_is_rejected_by_name_and_extra_column_ignored_with_warning(settings: Settings) -> None:
    days = small_world(settings, days=1)
    customers = day_frames(days[0], 0)["customers"].drop(columns=["station_id"])
    write_partition(settings, "customers", days[0], customers)
    events = day_frames(days[0], 0)["sales_events"].assign(note="free text")
    write_partition(settings, "sales_events", days[0], events)
    report = ingest(settings, days[0])
    rejected = report.with_status("rejected")
    assert [(o.file, o.status) for o in rejected] == [(f"customers/dt={days[0]}/part-0.csv", "rejected")]
    assert "missing required column(s) station_id" in rejected[0].message
    loaded_events = [o for o in report.with_status("loaded") if o.table == "sales_events"][0]
    assert "unexpected column(s) note ignored" in loaded_events.message and loaded_events.rows == 4
    assert query(settings, "SELECT count(*) FROM raw.customers") == [(0,)]


def test_unparseable_csv_rows_keep_their_text_and_their_row_number(settings: Settings) -> None:
    days = small_world(settings, days=1)
    header = "event_id,customer_id,event_at,outcome,channel\n"
    body = (
        "1,100,2025-03-01 10:00:00,contacted,phone\n"
        '2,101,2025-03-01 10:05:00,"contacted",visit\n'
        "3,oops,2025-03-01 10:10:00,contacted,email\n"
        "4,102,2025-03-01 10:15:00,contacted,web,surplus\n"
        "5,103,not-a-time,contacted,web\n"
        '6,100,2025-03-01 10:20:00,"high_interest\nacross lines",phone\n'
        "7,101\n"
        "8,102,2025-03-01 10:30:00,contacted,visit\n"
    )
    write_text(settings, "sales_events", days[0], (header + body).encode())
    report = ingest(settings, days[0])
    assert [o.rows for o in report.outcomes if o.table == "sales_events"] == [8]
    rows = query(settings, "SELECT _row, event_id, customer_id, outcome FROM raw.sales_events ORDER BY _row")
    assert [r[0] for r in rows] == list(range(1, 9))
    assert rows[7] == (8, 8, 102, "contacted")
    assert rows[5] == (6, 6, 100, "high_interest\nacross lines")
    rejects = {r[0]: (r[1], json.loads(r[2])) for r in query(settings, "SELECT _row, error, raw_values FROM meta.ingest_rejects ORDER BY _row")}
    assert sorted(rejects) == [3, 4, 5, 7]
    assert rejects[3][0] == "cast failed: customer_id" and rejects[3][1]["customer_id"] == "oops"
    assert rejects[4][0].startswith("malformed line (TOO MANY COLUMNS") and rejects[4][1]["line"].endswith("web,surplus")
    assert rejects[5][0] == "cast failed: event_at" and rejects[5][1]["event_at"] == "not-a-time"
    assert "MISSING COLUMNS" in rejects[7][0] and rejects[7][1]["line"] == "7,101"
    assert query(settings, "SELECT count(*) FROM raw.sales_events WHERE _row IN (4, 7) AND event_id IS NULL") == [(2,)]


def test_a_file_gone_from_landing_takes_its_rows_with_it(settings: Settings) -> None:
    days = small_world(settings)
    ingest(settings, days[2])
    (settings.paths.partition("sales_events", days[1]) / "part-0.csv").unlink()
    report = ingest(settings, days[2])
    assert [(o.file, o.status) for o in report.with_status("removed")] == [(f"sales_events/dt={days[1]}/part-0.csv", "removed")]
    assert query(settings, "SELECT _dt, count(*) FROM raw.sales_events GROUP BY _dt ORDER BY _dt") == [(days[0], 4), (days[2], 4)]
