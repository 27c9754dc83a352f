"""A file that cannot be decoded is rejected by name while the day's other files load, and the day is held naming it."""

from __future__ import annotations

import gzip

import duckdb
import pyarrow.parquet as pq
import pytest

from leadgraph.config import Settings
from tasks.ingest import ingest
from tasks.validate import ValidationFailed, validate
from tests.data.builders import landing_checksums, small_world


def _damage_a_data_page(path) -> None:
    """Flip the bytes of one column chunk's pages, leaving the footer intact."""
    column = pq.read_metadata(path).row_group(0).column(5)
    data = bytearray(path.read_bytes())
    for i in range(column.data_page_offset + 20, column.data_page_offset + column.total_compressed_size - 2):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_undecodable_files_are_named_and_the_rest_of_the_day_loads(settings: Settings) -> None:
    settings.validate_.data_docs = False
    days = small_world(settings, days=2)
    shipments = settings.paths.partition("shipments", days[1]) / "part-0.parquet"
    _damage_a_data_page(shipments)
    customers = settings.paths.partition("customers", days[1]) / "part-0.csv"
    customers.write_bytes(gzip.compress(customers.read_bytes()))
    undated = settings.paths.landing / "stations" / "dt=20250302"
    undated.mkdir()
    (undated / "part-0.csv").write_text("station_id,city\n")
    before = landing_checksums(settings)

    report = ingest(settings, days[1])
    by_file = {o.file: o for o in report.outcomes}
    assert by_file["shipments/dt=2025-03-02/part-0.parquet"].status == "rejected"
    assert "cannot be decoded" in by_file["shipments/dt=2025-03-02/part-0.parquet"].message
    assert by_file["customers/dt=2025-03-02/part-0.csv"].status == "rejected"
    assert "gzip-compressed data" in by_file["customers/dt=2025-03-02/part-0.csv"].message
    assert any("stations/dt=20250302: not a dt=YYYY-MM-DD partition folder" in n for n in report.notes)
    loaded_today = [o for o in report.outcomes if o.status == "loaded" and o.dt == days[1]]
    assert loaded_today and all(o.rows > 0 for o in loaded_today)
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        logged = con.execute("SELECT file, status FROM meta.ingest_log WHERE status IN ('rejected', 'failed') ORDER BY file").fetchall()
        events = con.execute("SELECT count(*) FROM raw.sales_events WHERE _dt = ?", [days[1]]).fetchall()[0][0]
    assert logged == [("customers/dt=2025-03-02/part-0.csv", "rejected"), ("shipments/dt=2025-03-02/part-0.parquet", "rejected")]
    assert events > 0

    with pytest.raises(ValidationFailed) as failure:
        validate(settings, days[1])
    assert "shipments/dt=2025-03-02/part-0.parquet" in str(failure.value)
    assert "customers/dt=2025-03-02/part-0.csv" in str(failure.value)
    assert landing_checksums(settings) == before
