"""What `leadgraph status` and `leadgraph models` show, also while a run is writing the warehouse.

DuckDB lets one process hold a database file that is being written; a reader in another process retries
briefly, then falls back to the snapshot the run writes at every stage boundary (tasks.runs.write_snapshot).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

from leadgraph.config import Settings
from leadgraph.errors import HomeBusy
from leadgraph.warehouse import connect
from tasks.home_lock import holder
from tasks.runs import SNAPSHOT_QUERIES

T = TypeVar("T")


def _locked(err: duckdb.Error) -> bool:
    """True when DuckDB refused the file because another process holds it."""
    return "lock" in str(err).lower()


def retrying(settings: Settings, read: Callable[[], T]) -> T | None:
    """`read()` retried while the warehouse is locked by a writer; None when it stays locked."""
    deadline = time.monotonic() + settings.lock.read_retry_s
    while True:
        try:
            return read()
        except duckdb.Error as err:
            if not _locked(err):
                raise
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)


def snapshot(settings: Settings) -> dict[str, Any]:
    """The snapshot a running flow wrote, or HomeBusy naming the holder when there is none."""
    try:
        return json.loads(settings.paths.meta_snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise HomeBusy(f"the warehouse is in use by {holder(settings.paths.run_lock)} and no snapshot exists yet",
                       "try again in a moment") from err


def _meta_tables(settings: Settings) -> dict[str, Any]:
    """Recent runs, their stages and the model registry, live (read-only) or from the snapshot."""
    def read() -> dict[str, Any]:
        with connect(settings.paths.warehouse, read_only=True) as con:
            doc: dict[str, Any] = {"written_at": None}
            for name, query in SNAPSHOT_QUERIES.items():
                result = con.execute(query)
                columns = [d[0] for d in result.description]
                doc[name] = [dict(zip(columns, (str(v) if v is not None else None for v in row))) for row in result.fetchall()]
            return doc

    live = retrying(settings, read)
    return live if live is not None else snapshot(settings)


def _source(doc: dict[str, Any]) -> str:
    """Where the figures come from, when not from the live warehouse."""
    return "" if doc.get("written_at") is None else f"\n(a run holds the warehouse: snapshot written at {doc['written_at']})"


def render_status(settings: Settings, last: int = 10) -> str:
    """The last runs from meta.runs, each with its stages' state and time."""
    if not settings.paths.warehouse.exists():
        return f"no runs yet in {settings.paths.home}"
    doc = _meta_tables(settings)
    stages: dict[str, list[dict]] = {}
    for row in sorted(doc["run_stages"], key=lambda r: str(r["started_at"])):
        stages.setdefault(row["run_id"], []).append(row)
    lines = []
    for run in doc["runs"][:last]:
        lines.append(f"{str(run['started_at'])[:19]}  {run['flow']:<16} as of {run['as_of']}  {run['status']:<10} "
                     f"{(run['detail'] or '')[:120]}")
        for st in stages.get(run["run_id"], []):
            seconds = f"{float(st['seconds']):.1f}s" if st["seconds"] is not None else "..."
            lines.append(f"    {st['stage']:<10} {st['state']:<8} {seconds:>9}  {(st['detail'] or '')[:100]}")
    return ("\n".join(lines) if lines else "no runs recorded yet") + _source(doc)


def render_models(settings: Settings, render_live: Callable[[Settings], str]) -> str:
    """The model versions: `render_live` on the warehouse, or a plain table from the snapshot during a run."""
    live = retrying(settings, lambda: render_live(settings))
    if live is not None:
        return live
    doc = snapshot(settings)
    lines = [f"{'':2}{'version':<28} {'model':<22} {'trained as of':<13} status"]
    for v in reversed(doc["model_registry"]):
        mark = "* " if v["status"] == "champion" else "  "
        lines.append(f"{mark}{v['version']:<28} {v['model_name']:<22} {str(v['trained_as_of']):<13} {v['status']}")
    return "\n".join(lines) + _source(doc)
