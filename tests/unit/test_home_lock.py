"""One run per home: a second run fails naming the holder (or waits), and read-only verbs work while a run writes."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from leadgraph.config import Settings
from leadgraph.errors import EXIT_BUSY, HomeBusy
from tasks import runs
from tasks.home_lock import home_lock

ROOT = Path(__file__).resolve().parents[2]
HOLD_LOCK = """
import sys, time
from leadgraph.config import load_settings
from tasks.home_lock import home_lock
with home_lock(load_settings(), "run --as-of 2025-01-02"):
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
"""
HOLD_WAREHOUSE = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE IF NOT EXISTS busy (x INT)")
print("held", flush=True)
time.sleep(float(sys.argv[1]))
"""


def _holder(script: str, *args: str) -> subprocess.Popen:
    """A second process that holds something until it is told to stop; returns once it holds it."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_exits_naming_the_holder_or_waits(settings: Settings) -> None:
    (settings.paths.home / "landing").mkdir()
    proc = _holder(HOLD_LOCK, "60")
    try:
        result = CliRunner().invoke(app, ["ingest", "--as-of", "2025-01-02"])
        assert result.exit_code == EXIT_BUSY, result.output
        assert f"pid {proc.pid}" in result.output and "run --as-of 2025-01-02" in result.output
        assert not settings.paths.warehouse.exists()
    finally:
        proc.kill()
        proc.wait()
    short = _holder(HOLD_LOCK, "1.5")
    settings.lock.on_busy, settings.lock.wait_s, settings.lock.poll_s = "wait", 30.0, 0.2
    started = time.monotonic()
    with home_lock(settings, "ingest"):
        waited = time.monotonic() - started
    short.wait()
    assert waited > 0.5
    settings.lock.on_busy = "exit"
    with home_lock(settings, "run"), home_lock(settings, "run"):
        pass  # re-entrant within one process (a backfill's daily runs)


def test_models_and_status_answer_while_a_run_holds_the_warehouse(settings: Settings) -> None:
    with runs.recorded(settings, "daily-leads", date(2025, 1, 2)) as record:
        with runs.stage(settings, record.run_id, "validate"):
            pass
        with pytest.raises(HomeBusy), runs.stage(settings, record.run_id, "graph"):
            raise HomeBusy("stand-in for a stage that failed")
        record.status, record.detail = "published", "3 leads"
    settings.lock.read_retry_s = 0.5
    proc = _holder(HOLD_WAREHOUSE, "60", str(settings.paths.warehouse))
    try:
        status = CliRunner().invoke(app, ["status"])
        models = CliRunner().invoke(app, ["models"])
    finally:
        proc.kill()
        proc.wait()
    assert status.exit_code == 0, status.output
    assert "daily-leads" in status.output and "published" in status.output and "snapshot written at" in status.output
    assert "validate" in status.output and "done" in status.output and "graph" in status.output and "failed" in status.output
    assert models.exit_code == 0, models.output
    assert "snapshot written at" in models.output
