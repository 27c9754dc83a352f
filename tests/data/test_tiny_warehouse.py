"""The clean tiny world loads completely and passes validation with nothing quarantined."""

from __future__ import annotations

import duckdb

from leadgraph.config import RAW_TABLES, Settings


def test_clean_world_loads_every_row_and_passes(tiny_warehouse: Settings) -> None:
    with duckdb.connect(str(tiny_warehouse.paths.warehouse), read_only=True) as con:
        logged = dict(con.execute("SELECT table_name, sum(rows) FROM meta.ingest_log WHERE status = 'loaded' GROUP BY 1").fetchall())
        for table in RAW_TABLES:
            assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0] == logged[table] > 0
            assert con.execute(f"SELECT count(*) FROM asof_{table}(DATE '2025-08-31')").fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM meta.quarantine").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM meta.ingest_rejects").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM meta.ingest_log WHERE status NOT IN ('loaded', 'no_data')").fetchall() == [(0,)]
        assert con.execute("SELECT success FROM meta.validation_results WHERE rule = 'run'").fetchall() == [(True,)]
