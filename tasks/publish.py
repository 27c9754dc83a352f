"""Publish the day's lead lists: one CSV per territory, one Parquet, a manifest, moved into place atomically."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
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
from tasks import calibration, original_ids
from tasks.offer_reasons import add_offer_reason
from tasks.registry import ModelVersion, json_safe, model_quality
from tasks.territory import territory_sql

SCHEMA_VERSION = 2

# The lead-list contract (schema_version 2: version 1 plus the next best offers after reason_codes): column
# names, order and types of every CSV and the Parquet.
LEAD_SCHEMA = pa.schema(
    [
        ("as_of_date", pa.date32()),
        ("territory", pa.string()),
        ("station_id", pa.int64()),
        ("rank_in_territory", pa.int64()),
        ("rank_global", pa.int64()),
        ("customer_id", pa.int64()),
        ("customer_name", pa.string()),
        ("company_id", pa.int64()),
        ("industry", pa.string()),
        ("score", pa.float64()),
        ("score_band", pa.string()),
        ("p_contract", pa.float64()),
        ("p_high_interest", pa.float64()),
        ("reason_1", pa.string()),
        ("reason_2", pa.string()),
        ("reason_3", pa.string()),
        ("reason_codes", pa.string()),
        ("offer_1", pa.string()),
        ("offer_2", pa.string()),
        ("offer_3", pa.string()),
        ("offer_score_1", pa.float64()),
        ("offer_score_2", pa.float64()),
        ("offer_score_3", pa.float64()),
        ("previous_rank", pa.int64()),
        ("first_seen_date", pa.date32()),
        ("model_version", pa.string()),
        ("run_id", pa.string()),
    ]
)
LEAD_COLUMNS: tuple[str, ...] = tuple(LEAD_SCHEMA.names)
SCORED_COLUMNS = (
    "customer_id", "p_high_interest", "p_contract", "score", "reason_1", "reason_2", "reason_3", "reason_codes",
)
TEXT_COLUMNS = tuple(f.name for f in LEAD_SCHEMA if f.type == pa.string())
PARQUET_NAME = "leads.parquet"
MANIFEST_NAME = "manifest.json"
# Published folders live here; exports/leads/as_of=D is a symlink to one, swapped atomically on re-publish.
VERSIONS_DIR = ".versions"
# Spreadsheets evaluate a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = r"^[=+\-@\t\r]"


class PublishError(RuntimeError):
    """The lead list cannot be published; nothing was changed."""


@dataclass(frozen=True)
class PublishResult:
    """Where one day's lead lists went and what they hold."""

    as_of: date
    folder: Path
    run_id: str
    model_version: str
    rows_per_territory: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)  # territory -> CSV file name

    @property
    def total_rows(self) -> int:
        return sum(self.rows_per_territory.values())

    @property
    def parquet_path(self) -> Path:
        return self.folder / PARQUET_NAME

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def render(self) -> str:
        """A short human summary."""
        lines = [f"published {self.total_rows} leads for {self.as_of} in {len(self.files)} territories -> {self.folder}"]
        lines += [f"  {t}: {n}" for t, n in sorted(self.rows_per_territory.items())]
        return "\n".join(lines)


def export_folder(settings: Settings, as_of: date) -> Path:
    """The published folder of one business day."""
    return settings.paths.exports / f"as_of={as_of.isoformat()}"


def territory_file_name(territory: str, taken: set[str]) -> str:
    """A portable CSV file name for a territory, unique among `taken`."""
    slug = re.sub(r"[^a-z0-9]+", "-", territory.lower()).strip("-") or "territory"
    name = f"leads_{slug}.csv"
    if name in taken:
        name = f"leads_{slug}-{hashlib.sha1(territory.encode('utf-8')).hexdigest()[:8]}.csv"
    return name


def spreadsheet_safe(values: pd.Series) -> pd.Series:
    """Text cells a spreadsheet would run as a formula get a leading single quote."""
    text = values.astype("string")
    risky = text.str.contains(_FORMULA_START, regex=True, na=False)
    return text.where(~risky, "'" + text)


def _register_scored(con: duckdb.DuckDBPyConnection, leads: str | pd.DataFrame, as_of: date) -> None:
    """Copy the scored prospects of D into the temp table `scored`, whatever form they came in."""
    if isinstance(leads, pd.DataFrame):
        missing = [c for c in SCORED_COLUMNS if c not in leads.columns]
        if missing:
            raise PublishError(f"scored leads frame lacks columns {missing}")
        con.register("scored_input", leads)
        source = "scored_input"
    else:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", leads):
            raise PublishError(f"not a warehouse table name: {leads!r}")
        source = leads
    columns = [row[0] for row in con.execute(f"DESCRIBE {source}").fetchall()]
    missing = [c for c in SCORED_COLUMNS if c not in columns]
    if missing:
        raise PublishError(f"scored leads table {source} lacks columns {missing}")
    day_filter = "WHERE as_of = $as_of" if "as_of" in columns else ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE scored AS SELECT * FROM {source} {day_filter}",
                {"as_of": as_of} if day_filter else None)


def _check_scored(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Refuse contract customers, duplicates, scores outside 0-100 and customers the warehouse does not know."""
    contract = [r[0] for r in con.execute(sql("publish/contract_customers"), {"as_of": as_of}).fetchall()]
    if contract:
        raise PublishError(
            f"{len(contract)} scored leads for {as_of} already signed a contract (customer_id {contract[:10]}); "
            "contract customers are never listed: fix the prospect filter of the scoring stage"
        )
    duplicated = [r[0] for r in con.execute(sql("publish/duplicated_customers")).fetchall()]
    if duplicated:
        raise PublishError(f"{len(duplicated)} customers are scored more than once for {as_of} (customer_id {duplicated[:10]})")
    out_of_range = [r[0] for r in con.execute(sql("publish/scores_out_of_range")).fetchall()]
    if out_of_range:
        raise PublishError(
            f"{len(out_of_range)} scores for {as_of} are missing or outside 0-100 (customer_id {out_of_range[:10]})")
    unknown = [r[0] for r in con.execute(sql("publish/unknown_customers"), {"as_of": as_of}).fetchall()]
    if unknown:
        raise PublishError(
            f"{len(unknown)} scored leads for {as_of} are not customers as of that day (customer_id {unknown[:10]})"
        )


def _register_earlier_lists(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    """Expose every list published before D (per meta.published_lists) into the temp table `earlier_lists`."""
    days = [r[0] for r in con.execute(
        "SELECT DISTINCT as_of FROM meta.published_lists WHERE as_of < ? ORDER BY as_of", [as_of]).fetchall()]
    paths = [str(p) for p in (export_folder(settings, d) / PARQUET_NAME for d in days) if p.exists()]
    if paths:
        con.execute(sql("publish/earlier_lists"), {"paths": paths})
    else:
        con.execute(sql("publish/no_earlier_lists"))


def model_quality_doc(settings: Settings, version: ModelVersion) -> dict[str, Any]:
    """What the manifest says about the model: proven or unproven, its final task's base rate and calibration figures."""
    folder = version.folder(settings)
    calibrators = calibration.load(folder / calibration.FILE)
    final = version.config.get("labels", {}).get("tasks", [{}])[-1].get("key", "contract")
    doc: dict[str, Any] = {"model_quality": model_quality(version),
                           "calibration": calibration.load_figures(folder / calibration.FILE)}
    if final in calibrators and calibrators[final].method != "constant":
        doc["base_rate"] = calibrators[final].base_rate
    return doc


def band_cutoffs(settings: Settings, quality: Mapping[str, Any] | None) -> dict[str, Any]:
    """Band cut-offs: lifts over the final task's base rate on calibrated p_contract, else fixed score cut-offs."""
    cfg = settings.publish
    base = (quality or {}).get("base_rate")
    if base is not None and base > 0:
        return {"band_by_p_contract": True, "band_a_min": cfg.band_a_lift * base, "band_b_min": cfg.band_b_lift * base}
    return {"band_by_p_contract": False, "band_a_min": cfg.band_a_min, "band_b_min": cfg.band_b_min}


def assemble(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, leads: str | pd.DataFrame,
             run_id: str, model_version: str, quality: Mapping[str, Any] | None = None) -> pa.Table:
    """The full lead list of D (all territories) as an Arrow table in the contract's schema, sorted by rank."""
    _register_scored(con, leads, as_of)
    _check_scored(con, as_of)
    _register_earlier_lists(con, settings, as_of)
    # A home without offers (no catalogue, or before the first recommend stage) lists leads with empty offers.
    con.execute(sql("offers/recommendations_schema"))
    cfg = settings.publish
    frame = con.execute(sql("publish/lead_list").format(territory=territory_sql(cfg)), {
        "as_of": as_of, **band_cutoffs(settings, quality), "top_per_territory": cfg.top_per_territory,
    }).df()
    frame = add_offer_reason(frame)
    frame["model_version"] = model_version
    frame["run_id"] = run_id
    for column in TEXT_COLUMNS:
        frame[column] = spreadsheet_safe(frame[column])
    frame, schema = original_ids.restore(con, frame, LEAD_SCHEMA)
    for column in set(original_ids.LIST_ID_COLUMNS) - set(TEXT_COLUMNS):
        if schema.field(column).type == pa.string():
            frame[column] = spreadsheet_safe(frame[column])
    return pa.Table.from_pandas(frame[list(LEAD_COLUMNS)], schema=schema, preserve_index=False) \
        .replace_schema_metadata(None)


def _csv_cells(table: pa.Table, settings: Settings) -> pd.DataFrame:
    """Every cell as its final text: ISO dates, fixed decimals, empty for missing."""
    frame = table.to_pandas()
    score_fmt = f"{{:.{settings.publish.score_decimals}f}}".format
    prob_fmt = f"{{:.{settings.publish.probability_decimals}f}}".format
    out = pd.DataFrame(index=frame.index)
    for f in table.schema:
        col = frame[f.name]
        if f.type == pa.date32():
            cells = col.map(lambda d: d.isoformat() if pd.notna(d) else "")
        elif f.type == pa.float64():
            fmt = score_fmt if f.name == "score" else prob_fmt
            cells = col.map(lambda v, fmt=fmt: fmt(v) if pd.notna(v) else "")
        elif f.type == pa.int64():
            cells = col.astype("Int64").astype("string").fillna("")
        else:
            cells = col.astype("string").fillna("")
        out[f.name] = cells.astype(str)
    return out


def _write_csv(path: Path, cells: pd.DataFrame) -> None:
    """UTF-8 CSV with a header and \\n line ends: the same rows give the same bytes."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(LEAD_COLUMNS)
        writer.writerows(cells.itertuples(index=False, name=None))


def _write_parquet(path: Path, table: pa.Table) -> None:
    """All territories in one Parquet file, sorted by global rank."""
    pq.write_table(table, path, compression="zstd")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_staging(settings: Settings, staging: Path, table: pa.Table, *, as_of: date, run_id: str,
                  model_version: str, data_version: str, status: Mapping[str, Any],
                  quality: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Write the CSVs, the Parquet and the manifest into `staging`; returns the per-territory file entries."""
    staging.mkdir(parents=True)
    cells = _csv_cells(table, settings)
    entries: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    # The table is in global rank order, which is also rank order within every territory.
    for territory in sorted(cells["territory"].unique()):
        rows = cells[cells["territory"] == territory]
        name = territory_file_name(territory, taken)
        taken.add(name)
        _write_csv(staging / name, rows)
        entries[territory] = {"file": name, "rows": len(rows), "sha256": _sha256(staging / name)}
    _write_parquet(staging / PARQUET_NAME, table)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "as_of_date": as_of.isoformat(),
        "run_id": run_id,
        "model_version": model_version,
        "data_version": data_version,
        "validation_status": str(status.get("validation", "unknown")),
        "drift_status": str(status.get("drift", "unknown")),
        "status": {k: status[k] for k in sorted(status)},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "columns": list(LEAD_COLUMNS),
        "total_rows": table.num_rows,
        "territories": [{"territory": t, **entries[t]} for t in sorted(entries)],
        "parquet": {"file": PARQUET_NAME, "rows": table.num_rows, "sha256": _sha256(staging / PARQUET_NAME)},
        "model_quality": (quality or {}).get("model_quality", "unknown"),
        "calibration": _manifest_calibration(settings, quality),
    }
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return entries


def _manifest_calibration(settings: Settings, quality: Mapping[str, Any] | None) -> dict[str, Any]:
    """Calibration figures per task (held-out Brier, ECE, mean predicted vs observed, reliability curve) and the bands."""
    bands = band_cutoffs(settings, quality)
    return {"tasks": json_safe(dict((quality or {}).get("calibration", {}))),
            "bands": {"by": "p_contract lift over the base rate" if bands["band_by_p_contract"] else "score",
                      "base_rate": (quality or {}).get("base_rate"), "a_min": bands["band_a_min"],
                      "b_min": bands["band_b_min"]}}


def _recover(settings: Settings, as_of: date) -> None:
    """Undo what a publish of D that died part way left behind: restore a parked folder, drop staging and stale versions."""
    target = export_folder(settings, as_of)
    for backup in sorted((settings.paths.exports / ".previous").glob(f"{target.name}.*")):
        if not target.exists():
            os.replace(backup, target)
        else:
            shutil.rmtree(backup)
    for stale in (settings.paths.exports / ".staging").glob(f"{target.name}.*"):
        shutil.rmtree(stale)
    current = target.resolve() if target.is_symlink() else None
    for version in (settings.paths.exports / VERSIONS_DIR).glob(f"{target.name}.*"):
        if version.resolve() != current:
            shutil.rmtree(version)
    for link in settings.paths.exports.glob(f".{target.name}.*.link"):
        link.unlink()


def _point(link: Path, folder: Path) -> None:
    """Make `link` a relative symlink to `folder` with one atomic rename, so readers always find one or the other."""
    staged = link.parent / f".{link.name}.{uuid.uuid4().hex}.link"
    os.symlink(os.path.relpath(folder, link.parent), staged)
    os.replace(staged, link)


def _swap_into_place(staging: Path, target: Path, versions: Path) -> tuple[Path, Path | None]:
    """Move `staging` under `versions` and point the `target` link at it; returns (new, previous) version folders."""
    versions.mkdir(parents=True, exist_ok=True)
    version = versions / staging.name
    os.replace(staging, version)
    previous = None
    if target.is_symlink():
        previous = target.resolve()
    elif target.exists():
        # A folder published before lists were links: parked as a version (the only moment D is absent).
        previous = versions / f"{target.name}.{uuid.uuid4().hex}"
        os.replace(target, previous)
    try:
        _point(target, version)
    except BaseException:
        if previous is not None:
            _point(target, previous)
        os.replace(version, staging)
        raise
    return version, previous


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if a failed COMMIT has not already ended it."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


def publish(settings: Settings, as_of: date, leads: str | pd.DataFrame, run_id: str, model_version: str,
            data_version: str, status: Mapping[str, Any], quality: Mapping[str, Any] | None = None) -> PublishResult:
    """Publish D's lead lists: assemble, write to staging, swap the folder in, record meta.published_lists.

    `leads` is a warehouse table (rows of D if it has an `as_of` column) or a frame of scored, explained
    prospects: customer_id, p_high_interest, p_contract, score (0-100), reason_1..3, reason_codes.
    `status` carries at least `validation` and `drift` (free text) for the manifest. `quality`
    (`model_quality_doc`) gives the manifest its model_quality and calibration figures and the bands their
    base rate; without it the bands fall back to fixed score cut-offs and model_quality reads `unknown`.
    """
    _recover(settings, as_of)
    target = export_folder(settings, as_of)
    staging = settings.paths.exports / ".staging" / f"{target.name}.{uuid.uuid4().hex}"
    with connect(settings.paths.warehouse) as con:
        table = assemble(con, settings, as_of, leads, run_id, model_version, quality)
        version: Path | None = None
        backup: Path | None = None
        began = False
        try:
            entries = write_staging(settings, staging, table, as_of=as_of, run_id=run_id,
                                    model_version=model_version, data_version=data_version, status=status,
                                    quality=quality)
            con.execute("BEGIN TRANSACTION")
            began = True
            con.execute("DELETE FROM meta.published_lists WHERE as_of = ?", [as_of])
            published_at = datetime.now(timezone.utc).replace(tzinfo=None)
            con.executemany(
                "INSERT INTO meta.published_lists VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[as_of, t, e["rows"], e["sha256"], model_version, run_id, f"{target.name}/{e['file']}", published_at]
                 for t, e in sorted(entries.items())],
            )
            version, backup = _swap_into_place(staging, target, settings.paths.exports / VERSIONS_DIR)
            con.execute("COMMIT")
        except BaseException:
            # The folder and its meta rows change together or not at all.
            if version is not None:
                if backup is not None:
                    _point(target, backup)
                else:
                    target.unlink()
                shutil.rmtree(version)
            if began:
                _rollback(con)
            shutil.rmtree(staging, ignore_errors=True)
            raise
    # The version D pointed at before stays until D's next publish (`_recover`): a reader that followed the
    # link a moment before the swap still finds every file it was about to open.
    return PublishResult(
        as_of=as_of, folder=target, run_id=run_id, model_version=model_version,
        rows_per_territory={t: e["rows"] for t, e in entries.items()},
        files={t: e["file"] for t, e in entries.items()},
    )


publish_task = task(publish, name="publish", cache_policy=NONE, task_run_name="publish-{as_of}")


ARTIFACT_COLUMNS = ("rank_global", "territory", "rank_in_territory", "customer_id", "customer_name", "score",
                    "score_band", "reason_1")


def run_summary_markdown(result: PublishResult, summary: Mapping[str, Any]) -> str:
    """The run summary as markdown: one section per stage in `summary` (e.g. validation, training, drift)."""
    lines = [f"# Lead lists for {result.as_of.isoformat()}", "",
             f"run `{result.run_id}`, model `{result.model_version}`, {result.total_rows} leads", ""]
    for section, body in summary.items():
        lines += [f"## {str(section).capitalize()}", ""]
        if isinstance(body, Mapping):
            lines += [f"- {key}: {value}" for key, value in body.items()]
        else:
            lines.append(str(body))
        lines.append("")
    lines += ["## Published", ""] + [f"- {t}: {n} leads" for t, n in sorted(result.rows_per_territory.items())]
    return "\n".join(lines) + "\n"


def publish_artifacts(settings: Settings, result: PublishResult, summary: Mapping[str, Any]) -> bool:
    """Inside a flow run: a table artifact of the top leads, a markdown run summary and a link to the files.

    Returns False (and creates nothing) outside a flow run.
    """
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return False
    top = pq.read_table(result.parquet_path, columns=list(ARTIFACT_COLUMNS)).slice(0, settings.publish.artifact_top_leads)
    create_table_artifact(top.to_pylist(), key="top-leads",
                          description=f"Top {top.num_rows} leads of {result.as_of.isoformat()} across territories")
    create_markdown_artifact(run_summary_markdown(result, summary), key="run-summary",
                             description=f"Daily run {result.run_id} for {result.as_of.isoformat()}")
    create_link_artifact(result.folder.resolve().as_uri(), link_text=f"lead lists {result.as_of.isoformat()}",
                         key="lead-lists", description="Folder with the CSVs, the Parquet and manifest.json")
    return True
