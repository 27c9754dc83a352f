"""Bookkeeping of flow runs in meta.runs, and what has already been published (for re-runs and backfills)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone

from leadgraph.config import Settings
from leadgraph.errors import RunHeld
from leadgraph.warehouse import connect
from tasks.publish import MANIFEST_NAME, export_folder

log = logging.getLogger(__name__)
SNAPSHOT_QUERIES = {
    "runs": "SELECT * FROM meta.runs ORDER BY started_at DESC LIMIT 50",
    "run_stages": "SELECT * FROM meta.run_stages WHERE run_id IN (SELECT run_id FROM meta.runs ORDER BY started_at DESC LIMIT 50)",
    "model_registry": "SELECT * FROM meta.model_registry ORDER BY created_at",
}


@dataclass
class RunRecord:
    """What a run reports when it ends: its id, status (published | held | done) and a one-line detail."""

    run_id: str
    status: str = "done"
    detail: str = ""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def current_run_id() -> str:
    """The Prefect flow run's id inside a flow run, else a fresh uuid."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return str(ctx.flow_run.id) if ctx is not None and ctx.flow_run is not None else uuid.uuid4().hex


def _start_run(settings: Settings, run_id: str, flow: str, as_of: date) -> None:
    """Record a started run."""
    with connect(settings.paths.warehouse) as con:
        con.execute("INSERT INTO meta.runs VALUES (?, ?, ?, 'running', NULL, ?, NULL)", [run_id, flow, as_of, _now()])


def _finish_run(settings: Settings, run_id: str, status: str, detail: str) -> None:
    """Close a run with its status (published | held | failed | done) and a one-line detail."""
    with connect(settings.paths.warehouse) as con:
        con.execute("UPDATE meta.runs SET status = ?, detail = ?, ended_at = ? WHERE run_id = ? AND ended_at IS NULL",
                    [status, detail, _now(), run_id])


@contextmanager
def recorded(settings: Settings, flow: str, as_of: date) -> Iterator[RunRecord]:
    """A run in meta.runs: started on entry, closed with the record's status and detail, or as failed on an error."""
    record = RunRecord(current_run_id())
    _start_run(settings, record.run_id, flow, as_of)
    try:
        yield record
    except BaseException as err:
        _finish_run(settings, record.run_id, "failed", f"{type(err).__name__}: {err}"[:2000])
        write_snapshot(settings)
        raise
    _finish_run(settings, record.run_id, record.status, record.detail)
    write_snapshot(settings)


@contextmanager
def stage(settings: Settings, run_id: str, name: str) -> Iterator[None]:
    """One stage of a run in meta.run_stages (running, then done or failed with its time), logged as it goes."""
    started = _now()
    clock = time.perf_counter()
    with connect(settings.paths.warehouse) as con:
        con.execute("INSERT INTO meta.run_stages VALUES (?, ?, 'running', NULL, ?, NULL, NULL)", [run_id, name, started])
    write_snapshot(settings)
    log.info("stage %s started", name)
    state, detail = "done", None
    try:
        yield
    except BaseException as err:
        state = "held" if isinstance(err, RunHeld) else "failed"
        detail = f"{type(err).__name__}: {err}"[:2000]
        raise
    finally:
        seconds = time.perf_counter() - clock
        with connect(settings.paths.warehouse) as con:
            con.execute("UPDATE meta.run_stages SET state = ?, detail = ?, ended_at = ?, seconds = ? "
                        "WHERE run_id = ? AND stage = ? AND started_at = ?", [state, detail, _now(), seconds, run_id, name, started])
        write_snapshot(settings)
        log.info("stage %s %s in %.1fs", name, state, seconds)


def write_snapshot(settings: Settings) -> None:
    """Copy the recent runs, their stages and the model registry to a JSON file read-only verbs use during a run."""
    with connect(settings.paths.warehouse) as con:
        doc = {"written_at": _now().isoformat(timespec="seconds")}
        for name, query in SNAPSHOT_QUERIES.items():
            result = con.execute(query)
            columns = [d[0] for d in result.description]
            doc[name] = [dict(zip(columns, row)) for row in result.fetchall()]
    staged = settings.paths.meta_snapshot.with_suffix(".json.tmp")
    staged.write_text(json.dumps(doc, default=str, indent=1), encoding="utf-8")
    staged.replace(settings.paths.meta_snapshot)


def published_dates(settings: Settings) -> set[date]:
    """Business days with lists recorded in meta.published_lists."""
    if not settings.paths.warehouse.exists():
        return set()
    with connect(settings.paths.warehouse) as con:
        return {r[0] for r in con.execute("SELECT DISTINCT as_of FROM meta.published_lists").fetchall()}


def list_run_id(settings: Settings, as_of: date, model_version: str, data_version: str, run_id: str) -> str:
    """The run id the lists of D carry: the original run's when D is re-published from the same model and data.

    That keeps a re-publication byte-identical and its rows pointing at the run that first produced them.
    """
    manifest = export_folder(settings, as_of) / MANIFEST_NAME
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return run_id
    same = doc.get("model_version") == model_version and doc.get("data_version") == data_version
    return str(doc["run_id"]) if same and doc.get("run_id") else run_id
