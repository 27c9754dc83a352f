"""The ingest-and-validate flow under a Prefect test harness: a clean day passes, a data failure stops it unretried."""

from __future__ import annotations

import duckdb
import pytest

from flows.ingest_validate import ingest_and_validate
from leadgraph.config import Settings
from tasks.validate import ValidationFailed
from tests.data.builders import day_frames, small_world, write_partition


def test_flow_loads_and_validates_then_fails_once_on_bad_data(prefect_harness: None, settings: Settings) -> None:
    days = small_world(settings, days=2)
    loaded, checked = ingest_and_validate(days[0], home=str(settings.paths.home))
    assert loaded.rows_loaded == 2 + 2 + 4 + 3 + 4 + 30 + 4
    assert checked.success and checked.initial
    assert (settings.paths.reports / str(days[0]) / "validation" / "index.html").exists()

    broken = day_frames(days[1], 1)["shipments"].assign(weight_kg=-1.0)
    write_partition(settings, "shipments", days[1], broken)
    with pytest.raises(ValidationFailed, match="shipments: rule bad_row_fraction: 30 of 30 rows quarantined"):
        ingest_and_validate(days[1], home=str(settings.paths.home))
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        runs = con.execute("SELECT as_of, success FROM meta.validation_results WHERE rule = 'run' ORDER BY checked_at").fetchall()
        loads = con.execute("SELECT count(*) FROM meta.ingest_log WHERE status = 'loaded' AND partition_dt = ?", [days[1]]).fetchall()
    assert runs == [(days[0], True), (days[1], False)]
    assert loads == [(3,)]
