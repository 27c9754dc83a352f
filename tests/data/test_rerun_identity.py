"""Ingesting a date again changes nothing the graph depends on: the data version follows the data, not ingest statuses."""

from __future__ import annotations

from leadgraph.config import Settings
from leadgraph.warehouse import connect
from tasks.graph import data_version
from tasks.ingest import ingest
from tests.data.builders import small_world


def test_a_second_ingest_of_the_same_day_keeps_the_data_version(settings: Settings) -> None:
    days = small_world(settings, days=2)
    ingest(settings, days[1])
    with connect(settings.paths.warehouse) as con:
        first = data_version(con, days[1], settings.graph)
    again = ingest(settings, days[1])
    assert again.with_status("skipped_same_checksum") and not again.with_status("loaded")
    with connect(settings.paths.warehouse) as con:
        assert data_version(con, days[1], settings.graph) == first
    (settings.paths.partition("shipments", days[1]) / "part-0.parquet").unlink()
    ingest(settings, days[1])
    with connect(settings.paths.warehouse) as con:
        assert data_version(con, days[1], settings.graph) != first
