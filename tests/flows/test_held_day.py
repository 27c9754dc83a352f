"""A held day is loud: its Prefect flow run ends Failed with the reason, and `leadgraph run` exits with the held code."""

from __future__ import annotations

import duckdb
from typer.testing import CliRunner

from flows.cli import app
from flows.daily import daily_leads
from leadgraph.config import Settings
from leadgraph.errors import EXIT_HELD
from tests.data.builders import day_frames, small_world, write_partition


def test_held_day_fails_its_flow_run_and_exits_with_the_held_code(prefect_harness: None, settings: Settings) -> None:
    days = small_world(settings, days=2)
    write_partition(settings, "shipments", days[1], day_frames(days[1], 1)["shipments"].assign(weight_kg=-1.0))

    state = daily_leads(as_of=days[1], settings=settings, return_state=True)
    assert state.is_failed()
    assert "held: validation failed" in state.message and "shipments" in state.message

    result = CliRunner().invoke(app, ["run", "--as-of", str(days[1])])
    assert result.exit_code == EXIT_HELD, result.output
    assert "error: " in result.output and "held: validation failed" in result.output
    assert "Traceback" not in result.output
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        statuses = [r[0] for r in con.execute("SELECT status FROM meta.runs WHERE flow = 'daily-leads'").fetchall()]
    assert statuses == ["held", "held"]
