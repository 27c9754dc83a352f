"""Deliveries no simulator writes: each gets a clear message (file, row, rule), nothing is lost, other tables load."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
import pytest

from leadgraph.config import Settings, load_settings
from tasks.ingest import IngestReport, ingest
from tasks.validate import ValidationFailed, validate
from tests.data.builders import day_frames, landing_checksums, small_world, write_partition, write_text

FUTURE = date.today() + timedelta(days=400)


@pytest.fixture(scope="module")
def bad_delivery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, IngestReport, str, dict, dict]:
    """A clean two-day world whose second day carries one bad file per table, ingested and validated once."""
    settings = load_settings(tmp_path_factory.mktemp("bad_files") / "home")
    settings.validate_.data_docs = False
    days = small_world(settings, days=2)
    day = days[1]
    write_text(settings, "customers", day, b"", name="part-1")
    write_text(settings, "stations", day, b"station_id,city,region,lat,lon,kind,opened_at,updated_at\n")
    companies = day_frames(days[0], 0)["companies"].assign(updated_at=f"{day} 08:00:00")
    write_text(settings, "companies", day, companies.to_csv(index=False, sep=";").encode())
    accounts = (
        "account_id,account_type,payment_method,created_at,updated_at\n"
        f"600,corporate,transf\u00e9r,{day} 01:00:00,{day} 01:00:00\n"
        f"601,monthly,credit,{day} 02:00:00,{day} 02:00:00\n"
    )
    write_text(settings, "accounts", day, accounts.encode("latin-1"))
    links = day_frames(days[0], 0)["customer_accounts"].assign(account_id=[502, 502, 500, 501])
    good_links = write_partition(settings, "customer_accounts", day, links)
    write_text(settings, "customer_accounts", day, good_links.read_bytes()[:-40], name="part-1")
    long_name = day_frames(day, 1)["customers"].assign(customer_id=103, name="N" * 100_000)
    write_partition(settings, "customers", day, long_name, name="part-2")
    shutil.copy(settings.paths.partition("shipments", day) / "part-0.parquet", settings.paths.partition("shipments", day) / "part-copy.parquet")
    write_partition(settings, "sales_events", FUTURE, day_frames(day, 1)["sales_events"])
    before = landing_checksums(settings)
    report = ingest(settings, day)
    with pytest.raises(ValidationFailed) as failure:
        validate(settings, day)
    return settings, report, str(failure.value), before, landing_checksums(settings)


def outcome(report: IngestReport, file: str) -> tuple[str, str]:
    """Status and message of one file in an ingest report."""
    found = [(o.status, o.message) for o in report.outcomes if o.file == file]
    assert found, f"{file} not in the report"
    return found[0]


def rows(settings: Settings, statement: str) -> list[tuple]:
    """Rows of a read-only query."""
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        return con.execute(statement).fetchall()


def test_landing_files_are_never_modified(bad_delivery) -> None:
    _, _, _, before, after = bad_delivery
    assert before == after


def test_empty_file_is_rejected_and_stops_validation(bad_delivery) -> None:
    _, report, failure, _, _ = bad_delivery
    status, message = outcome(report, "customers/dt=2025-03-02/part-1.csv")
    assert status == "rejected" and "empty file (0 bytes)" in message
    assert "customers: rule file_rejected: customers/dt=2025-03-02/part-1.csv: empty file" in failure


def test_header_only_file_loads_zero_rows_with_a_note(bad_delivery) -> None:
    _, report, _, _, _ = bad_delivery
    status, message = outcome(report, "stations/dt=2025-03-02/part-0.csv")
    assert status == "loaded" and message == "header only: no data rows"


def test_wrong_delimiter_names_the_missing_columns_and_the_delimiter(bad_delivery) -> None:
    settings, report, failure, _, _ = bad_delivery
    status, message = outcome(report, "companies/dt=2025-03-02/part-0.csv")
    assert status == "rejected"
    assert "missing required column(s) company_id, industry, size_band, registered_capital, city, updated_at" in message
    assert "does not look ','-delimited" in message
    assert "companies: rule file_rejected: companies/dt=2025-03-02/part-0.csv: missing required column(s)" in failure
    assert rows(settings, "SELECT count(*) FROM raw.companies") == [(2,)]


def test_latin1_text_is_read_losslessly_and_named(bad_delivery) -> None:
    settings, report, _, _, _ = bad_delivery
    status, message = outcome(report, "accounts/dt=2025-03-02/part-0.csv")
    assert status == "loaded" and "rule encoding: not UTF-8 from byte" in message and "(line 2)" in message
    assert rows(settings, "SELECT payment_method FROM raw.accounts WHERE account_id = 600") == [("transfér",)]
    quarantined = rows(settings, "SELECT _row, rule FROM meta.quarantine WHERE table_name = 'accounts'")
    assert quarantined == [(1, "allowed_values:payment_method")]


def test_truncated_parquet_is_rejected_and_its_sibling_loads(bad_delivery) -> None:
    settings, report, failure, _, _ = bad_delivery
    status, message = outcome(report, "customer_accounts/dt=2025-03-02/part-1.parquet")
    assert status == "rejected" and "not a readable Parquet file" in message
    assert "customer_accounts: rule file_rejected: customer_accounts/dt=2025-03-02/part-1.parquet" in failure
    assert rows(settings, "SELECT count(*) FROM raw.customer_accounts WHERE _dt = DATE '2025-03-02'") == [(4,)]


def test_a_100k_character_field_loads_and_is_quarantined_by_row(bad_delivery) -> None:
    settings, report, _, _, _ = bad_delivery
    assert outcome(report, "customers/dt=2025-03-02/part-2.csv")[0] == "loaded"
    got = rows(settings, "SELECT _file, _row, rule, length(raw_values) > 100000 FROM meta.quarantine WHERE table_name = 'customers'")
    assert got == [("customers/dt=2025-03-02/part-2.csv", 1, "max_length:name", True)]


def test_the_same_file_under_two_names_loads_once(bad_delivery) -> None:
    settings, report, _, _, _ = bad_delivery
    status, message = outcome(report, "shipments/dt=2025-03-02/part-copy.parquet")
    assert status == "duplicate" and "as shipments/dt=2025-03-02/part-0.parquet: not loaded twice" in message
    assert rows(settings, "SELECT count(*), count(DISTINCT shipment_id) FROM raw.shipments") == [(60, 60)]


def test_a_partition_dated_in_the_future_is_named_and_not_loaded(bad_delivery) -> None:
    settings, report, _, _, _ = bad_delivery
    assert f"sales_events/dt={FUTURE}: partition dated after today" in report.render()
    assert rows(settings, f"SELECT count(*) FROM raw.sales_events WHERE _dt = DATE '{FUTURE}'") == [(0,)]


def test_other_tables_are_unaffected(bad_delivery) -> None:
    settings, report, failure, _, _ = bad_delivery
    assert rows(settings, "SELECT count(*) FROM raw.sales_events") == [(8,)]
    assert rows(settings, "SELECT count(*) FROM meta.quarantine WHERE table_name IN ('shipments', 'sales_events', 'stations')") == [(0,)]
    assert "shipments:" not in failure and "sales_events:" not in failure
