"""The ingest-and-validate flow under a Prefect test harness: a clean day passes, a data failure stops it unretried."""

from __future__ import annotations

import duckdb
import pytest

from flows.ingest_validate import ingest_and_validate
from leadgraph.config import Settings, load_settings
from tasks.validate import ValidationFailed
from tests.data.builders import day_frames, small_world, write_partition


def test_flow_loads_and_validates_then_fails_once_on_bad_data(prefect_harness: None, settings: Settings) -> None:
    days = small_world(settings, days=2)
    loaded, checked = ingest_and_validate(days[0], settings)
    assert loaded.rows_loaded == 2 + 2 + 4 + 3 + 4 + 30 + 4
    assert checked.success and checked.initial
    assert (settings.paths.reports / str(days[0]) / "validation" / "index.html").exists()

    broken = day_frames(days[1], 1)["shipments"].assign(weight_kg=-1.0)
    write_partition(settings, "shipments", days[1], broken)
    with pytest.raises(ValidationFailed, match="shipments: rule bad_row_fraction: 30 of 30 rows quarantined"):
        ingest_and_validate(days[1], settings)
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        runs = con.execute("SELECT as_of, success FROM meta.validation_results WHERE rule = 'run' ORDER BY checked_at").fetchall()
        loads = con.execute("SELECT count(*) FROM meta.ingest_log WHERE status = 'loaded' AND partition_dt = ?", [days[1]]).fetchall()
    assert runs == [(days[0], True), (days[1], False)]
    assert loads == [(3,)]


def test_flow_uses_the_ingest_and_validate_sections_it_is_given(prefect_harness: None, settings: Settings) -> None:
    """Settings from --set reach both stages of the flow: nothing reloads them behind the caller's back."""
    days = small_world(settings, days=2)
    home = settings.paths.home
    # One bad shipment of 30 (3%) passes the default 5% threshold ...
    broken = day_frames(days[0], 0)["shipments"]
    broken.loc[0, "weight_kg"] = -1.0
    write_partition(settings, "shipments", days[0], broken)
    _, checked = ingest_and_validate(days[0], load_settings(home))
    assert checked.success
    # ... and holds the day when validate.max_bad_row_fraction says 1%.
    strict = load_settings(home, sets=["validate.max_bad_row_fraction=0.01"])
    with pytest.raises(ValidationFailed, match="shipments: rule bad_row_fraction"):
        ingest_and_validate(days[0], strict)
    # The ingest section too: a line limit below every CSV line's length stops ingest, without retries.
    tight = load_settings(home, sets=["ingest.max_line_bytes=8", "ingest.retries=0"])
    with pytest.raises(Exception, match="(?i)line"):
        ingest_and_validate(days[1], tight)
