"""The lead desk's snapshot: what its pages need from the warehouse, written beside the published lists.

The desk never opens the warehouse: DuckDB lets one process write it at a time, and a page reading it
would either fail during a run or hold the run up. So a run ends by writing these files, each swapped
into place atomically (write a temporary file, then rename): `meta.json` (recent runs, published days,
model versions, validation and drift per day) and, for a published day, `as_of=D/leads.parquet` (the
profile and the reason facts of every listed customer) and `as_of=D/neighbours.parquet`.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NONE

from leadgraph.config import Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from tasks.drift import report_path as drift_report_path
from tasks.publish import PARQUET_NAME, export_folder

SNAPSHOT_VERSION = 1
META_NAME = "meta.json"
LEADS_NAME = "leads.parquet"
NEIGHBOURS_NAME = "neighbours.parquet"

log = logging.getLogger(__name__)


def day_folder(settings: Settings, as_of: date) -> Path:
    """The desk's files of one published day."""
    return settings.paths.desk / f"as_of={as_of.isoformat()}"


def _replace_atomically(path: Path, write: Any) -> None:
    """Call write(temporary path) beside `path`, then rename it over `path` (readers see old or new, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _records(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a query as JSON-ready dicts (dates and times as ISO text)."""
    cursor = con.execute(query, params or [])
    names = [d[0] for d in cursor.description]
    return [{n: (v.isoformat() if hasattr(v, "isoformat") else v) for n, v in zip(names, row)} for row in cursor.fetchall()]


def _report_files(settings: Settings, folder: Path) -> list[str]:
    """Files of a folder as paths relative to the artifacts folder (empty when it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(settings.paths.artifacts).as_posix() for p in folder.iterdir() if p.is_file())


def _relative_report(settings: Settings, path: Path) -> str | None:
    """A report's path relative to the reports folder, or None when it was not written."""
    return path.relative_to(settings.paths.reports).as_posix() if path.is_file() else None


def meta_document(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """Everything the runs and model pages show, read from `meta.*` in one go."""
    runs = _records(con, "SELECT * FROM meta.runs ORDER BY started_at DESC, run_id LIMIT ?", [settings.desk.recent_runs])
    published = _records(con, sql("desk/published_lists"))
    models = _records(con, sql("desk/model_versions"))
    for model in models:
        model["metrics"] = json.loads(model["metrics"])
        model["config"] = json.loads(model["config"])
        model["report_files"] = _report_files(settings, settings.paths.artifacts / model["path"] / "report")
        sharing = relations_file(settings, model["version"])
        model["relations"] = json.loads(sharing.read_text(encoding="utf-8"))["panels"] if sharing.is_file() else None
    validation = _records(con, sql("desk/validation"))
    for day in validation:
        folder = settings.paths.reports / day["as_of"] / "validation"
        day["data_docs"] = _relative_report(settings, folder / "index.html")
        day["summary"] = _relative_report(settings, folder / "summary.html")
    drift = _records(con, sql("desk/drift"))
    for day in drift:
        day["report"] = _relative_report(settings, drift_report_path(settings, date.fromisoformat(day["as_of"])))
        day["severe"] = day["share_drifted"] >= settings.drift.severe_share_drifted
    return {"snapshot_version": SNAPSHOT_VERSION, "runs": runs, "published": published, "models": models,
            "validation": validation, "drift": drift}


def write_meta(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Write meta.json for the desk; returns its path."""
    document = meta_document(con, settings)
    path = settings.paths.desk / META_NAME
    text = json.dumps(document, indent=1, sort_keys=True, default=str) + "\n"
    _replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def lead_details(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                 customer_ids: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(profile and reason facts, neighbours) of the listed customers of D, as of D."""
    con.register("listed", pd.DataFrame({"customer_id": customer_ids.astype("int64").unique()}))
    try:
        facts = con.execute(sql("explain/facts"), {"as_of": as_of, "window": settings.explain.growth_window_days}).df()
        profile = con.execute(sql("desk/profile"), {"as_of": as_of}).df()
        neighbours = con.execute(sql("desk/neighbours"),
                                 {"as_of": as_of, "per_kind": settings.desk.neighbours_per_kind}).df()
    finally:
        con.unregister("listed")
    return profile.merge(facts, on="customer_id", how="left"), neighbours


def write_day(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> Path | None:
    """Write the lead details of D's published lists; None when D has no published lists."""
    parquet = export_folder(settings, as_of) / PARQUET_NAME
    if not parquet.is_file():
        return None
    listed = pq.read_table(parquet, columns=["customer_id"]).to_pandas()["customer_id"]
    details, neighbours = lead_details(con, settings, as_of, listed)
    folder = day_folder(settings, as_of)
    for name, frame in ((LEADS_NAME, details), (NEIGHBOURS_NAME, neighbours)):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        _replace_atomically(folder / name, lambda tmp, table=table: pq.write_table(table, tmp))
    return folder


def relations_file(settings: Settings, version: str) -> Path:
    """Where a model version's learned-sharing heatmaps are kept for the model page."""
    return settings.paths.desk / "models" / f"{version}.relations.json"


def write_sharing(settings: Settings, as_of: date) -> Path | None:
    """Store the serving version's learned sharing (StrucHIS heatmaps) once per version, on D's listed customers."""
    from tasks import registry

    champion = registry.serving(settings)
    parquet = export_folder(settings, as_of) / PARQUET_NAME
    if (champion is None or not parquet.is_file() or relations_file(settings, champion.version).exists()
            or not (champion.folder(settings) / registry.MODEL_FILE).is_file()):
        return None
    from tasks.desk_relations import sharing_panels

    listed = pq.read_table(parquet, columns=["customer_id"]).column("customer_id").to_numpy()
    panels = sharing_panels(settings, champion.version, as_of, listed)
    if panels is None:
        return None
    path = relations_file(settings, champion.version)
    text = json.dumps({"version": champion.version, "as_of": as_of.isoformat(), "panels": panels}, indent=1)
    _replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def write_snapshot(settings: Settings, as_of: date | None = None) -> Path:
    """Refresh the desk's snapshot (and D's lead details when D is published); returns the desk folder.

    Run it only where the warehouse may be opened for writing: at the end of a run, or with no run going.
    """
    if as_of is not None:
        try:
            write_sharing(settings, as_of)
        except Exception:  # noqa: BLE001 - the heatmaps are an extra; the runs and lists must still reach the desk
            log.exception("the learned sharing of the champion could not be stored for the desk")
    with connect(settings.paths.warehouse) as con:
        if as_of is not None:
            write_day(con, settings, as_of)
        write_meta(con, settings)
    return settings.paths.desk


def refresh_after_run(settings: Settings, as_of: date) -> bool:
    """The end of a run: refresh the snapshot; a failure is logged, never raised, so it cannot fail the run."""
    try:
        write_snapshot(settings, as_of)
    except Exception:  # noqa: BLE001 - the desk is a reader of the run's results, never a reason to fail it
        log.exception("the lead desk snapshot for %s could not be written; the desk shows the previous one", as_of)
        return False
    return True


desk_snapshot_task = task(refresh_after_run, name="desk-snapshot", cache_policy=NONE,
                          task_run_name="desk-snapshot-{as_of}")
