"""Every verb checks its arguments and its home before starting, and fails with one line and a meaningful code."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.cli_errors import describe
from leadgraph.errors import EXIT_BUSY, EXIT_USAGE


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_a_wrong_home_is_refused_and_nothing_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADGRAPH_HOME", str(tmp_path / "typo"))
    code, out = _invoke("models")
    assert code == EXIT_USAGE and "does not exist" in out and "Traceback" not in out
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("LEADGRAPH_HOME", str(tmp_path / "empty"))
    code, out = _invoke("ingest", "--as-of", "2025-01-01")
    assert code == EXIT_USAGE and "is not a leadgraph home" in out
    assert list((tmp_path / "empty").iterdir()) == []


def test_bad_arguments_fail_fast_in_one_line(home: Path) -> None:
    (home / "landing").mkdir()
    started = time.perf_counter()
    code, out = _invoke("backfill", "--start", "2025-02-01", "--end", "2025-01-01")
    assert code == EXIT_USAGE and "--end 2025-01-01 is before --start 2025-02-01" in out
    code, out = _invoke("run", "--as-of", "2025-01-01", "--model", "foo")
    assert code == EXIT_USAGE and "unknown model 'foo'" in out and "struchis" in out
    # Nothing started: no Prefect server, no warehouse.
    assert time.perf_counter() - started < 30 and not (home / "warehouse.duckdb").exists()
    assert all(len(line) < 300 for line in out.splitlines())


def test_debug_shows_the_traceback(home: Path) -> None:
    code, out = _invoke("--debug", "models")
    assert code == EXIT_USAGE and "Traceback" in out and "is not a leadgraph home" in out


def test_a_locked_warehouse_is_named_not_dumped(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    try:
        raise duckdb.IOException(f'IO Error: Could not set lock on file "{path}": Conflicting lock is held')
    except duckdb.IOException as err:
        code, text = describe(err)
    assert code == EXIT_BUSY and "in use by another leadgraph process" in text
