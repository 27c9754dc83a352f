"""Model versions: files under artifacts/models/<version>/, rows in meta.model_registry, champion and challengers.

A version folder holds the weights (`model.pt`, models.training.save_model), the feature normaliser
(`normalizer.json`), `config.json`, `metrics.json`, `data_version.json` and the training report
(`report/`). At most one version is `champion`; a promoted version retires the previous champion
in the same transaction. meta.model_files holds a sha256 per file; a version whose files are missing or
do not match is demoted to `corrupt` by name and the latest healthy earlier version takes over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from leadgraph.config import Settings
from leadgraph.errors import ModelStoreError
from leadgraph.warehouse import connect

log = logging.getLogger(__name__)

MODEL_FILE = "model.pt"
NORMALIZER_FILE = "normalizer.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
DATA_VERSION_FILE = "data_version.json"
REPORT_DIR = "report"

CHAMPION, CHALLENGER, RETIRED, CORRUPT = "champion", "challenger", "retired", "corrupt"
_COLUMNS = "version, model_name, trained_as_of, data_version, metrics, config, path, status, created_at"


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version, as meta.model_registry records it."""

    version: str
    model_name: str
    trained_as_of: date
    data_version: str
    metrics: dict[str, Any]
    config: dict[str, Any]
    path: str  # relative to the artifacts folder
    status: str
    created_at: datetime

    def folder(self, settings: Settings) -> Path:
        """The version's folder."""
        return settings.paths.artifacts / self.path

    def test_ap(self, task: str = "contract") -> float:
        """Average precision of `task` on the version's own temporal hold-out (NaN when undefined)."""
        value = self.metrics.get("test", {}).get(task, {}).get("ap")
        return float("nan") if value is None else float(value)

    def render(self) -> str:
        """What was trained, how it scored and whether it became champion."""
        promotion = self.metrics.get("promotion", {})
        lines = [
            f"model version {self.version} ({self.model_name}), trained as of {self.trained_as_of}, status {self.status}",
            f"  hold-out AP  contract {_fmt(self.test_ap('contract'))}  high_interest {_fmt(self.test_ap('high_interest'))}",
            f"  data version {self.data_version[:16]}",
        ]
        if promotion:
            lines.append(f"  promotion    {promotion.get('reason', '')}")
        lines.append(f"  folder       {self.path}")
        return "\n".join(lines)


def _fmt(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"


def json_safe(value: Any) -> Any:
    """NaN and infinities become None so the document is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _row_to_version(row: tuple) -> ModelVersion:
    version, name, as_of, data_version, metrics, config, path, status, created_at = row
    return ModelVersion(version, name, as_of, data_version, json.loads(metrics), json.loads(config), path, status, created_at)


def list_versions(settings: Settings) -> list[ModelVersion]:
    """Every registered version, oldest first (none when the warehouse does not exist yet)."""
    if not settings.paths.warehouse.exists():
        return []
    with connect(settings.paths.warehouse, read_only=True) as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM meta.model_registry ORDER BY created_at, version").fetchall()
    return [_row_to_version(r) for r in rows]


def champion(settings: Settings) -> ModelVersion | None:
    """The current champion, or None."""
    found = [v for v in list_versions(settings) if v.status == CHAMPION]
    return found[-1] if found else None


def serving(settings: Settings) -> ModelVersion | None:
    """The version that scores today: the champion, else (none passed the quality gate yet) the latest version."""
    versions = list_versions(settings)
    found = [v for v in versions if v.status == CHAMPION]
    if found:
        return found[-1]
    return versions[-1] if versions else None


def model_quality(version: ModelVersion) -> str:
    """`proven` for a champion (it passed the quality gate), `unproven` for a version serving without one."""
    return "proven" if version.status == CHAMPION else "unproven"


def get_version(settings: Settings, version: str) -> ModelVersion:
    """A registered version by id; a clear error when it is unknown."""
    for v in list_versions(settings):
        if v.version == version:
            return v
    raise KeyError(f"model version {version!r} is not in meta.model_registry of {settings.paths.warehouse}")


def next_version_id(settings: Settings, model_name: str) -> str:
    """v<sequence>-<model name>: the sequence counts every version ever registered."""
    return f"v{len(list_versions(settings)) + 1:04d}-{model_name}"


def staging_folder(settings: Settings, version: str) -> Path:
    """A fresh folder where a version's files are written before it is registered."""
    folder = settings.paths.models / f".{version}.tmp"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def write_json(path: Path, doc: Any) -> None:
    """Strict, sorted, indented JSON."""
    path.write_text(json.dumps(json_safe(doc), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def register(settings: Settings, staged: Path, *, version: str, model_name: str, trained_as_of: date,
             data_version: str, metrics: dict[str, Any], config: dict[str, Any], promote: bool) -> ModelVersion:
    """Move a staged folder into place and record it; when promoted it becomes champion and the old one retires."""
    folder = settings.paths.models / version
    if folder.exists():
        # Files of a version whose registration never committed (no row refers to them).
        shutil.rmtree(folder)
    staged.rename(folder)
    files = _file_digests(folder)
    status = CHAMPION if promote else CHALLENGER
    created_at = datetime.now(timezone.utc).replace(tzinfo=None)
    rel = folder.relative_to(settings.paths.artifacts).as_posix()
    with connect(settings.paths.warehouse) as con:
        con.execute("BEGIN TRANSACTION")
        if promote:
            con.execute("UPDATE meta.model_registry SET status = ? WHERE status = ?", [RETIRED, CHAMPION])
        con.execute(
            f"INSERT INTO meta.model_registry ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [version, model_name, trained_as_of, data_version, json.dumps(json_safe(metrics), sort_keys=True),
             json.dumps(json_safe(config), sort_keys=True), rel, status, created_at],
        )
        con.execute("DELETE FROM meta.model_files WHERE version = ?", [version])
        con.executemany("INSERT INTO meta.model_files VALUES (?, ?, ?, ?)", [[version, f, n, h] for f, (n, h) in files.items()])
        con.execute("COMMIT")
    return ModelVersion(version, model_name, trained_as_of, data_version, json_safe(metrics), json_safe(config), rel,
                        status, created_at)


def render_versions(settings: Settings) -> str:
    """A table of every version: model, trained as of, hold-out AP per task, status (champion marked)."""
    versions = list_versions(settings)
    if not versions:
        return f"no model versions registered yet in {settings.paths.warehouse} (run `leadgraph train` or `leadgraph run`)"
    header = f"{'':2}{'version':<28} {'model':<22} {'trained as of':<13} {'AP contract':>11} {'AP interest':>11}  status"
    lines = [header]
    for v in reversed(versions):
        mark = "* " if v.status == CHAMPION else "  "
        lines.append(f"{mark}{v.version:<28} {v.model_name:<22} {v.trained_as_of.isoformat():<13} "
                     f"{_fmt(v.test_ap('contract')):>11} {_fmt(v.test_ap('high_interest')):>11}  {v.status}")
    lines.append("(* = champion; AP on each version's own temporal hold-out)")
    return "\n".join(lines)


def _sha256(path: Path) -> str:
    """sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_digests(folder: Path) -> dict[str, tuple[int, str]]:
    """(bytes, sha256) of every file under a version folder, by relative path."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, _sha256(p)) for p in sorted(folder.rglob("*")) if p.is_file()}


def check_files(settings: Settings, version: ModelVersion) -> str | None:
    """What is wrong with a version's files against meta.model_files (missing, changed), or None when intact."""
    with connect(settings.paths.warehouse, read_only=True) as con:
        recorded = con.execute("SELECT file, sha256 FROM meta.model_files WHERE version = ? ORDER BY file", [version.version]).fetchall()
    if not recorded:
        return f"no checksums recorded for {version.version} (saved before the model store kept them): retrain it"
    folder = version.folder(settings)
    for file, sha in recorded:
        path = folder / file
        if not path.is_file():
            return f"{version.path}/{file} is missing"
        if _sha256(path) != sha:
            return f"{version.path}/{file} does not match its recorded sha256 {sha[:12]} (corrupted or replaced)"
    return None


def verified(settings: Settings, version: str) -> ModelVersion:
    """A registered version whose files match their checksums; ModelStoreError naming the version and file otherwise."""
    entry = get_version(settings, version)
    problem = check_files(settings, entry)
    if problem is not None:
        raise ModelStoreError(f"model version {version}: {problem}",
                              "the next `leadgraph run` demotes it and falls back to the previous healthy version")
    return entry


def demote_broken(settings: Settings) -> list[str]:
    """Demote a champion whose files are missing or corrupt; the latest healthy earlier version takes over.

    Returns one line per demotion; with no healthy version left there is no champion and the run trains one.
    """
    notes = []
    while (current := champion(settings)) is not None and (problem := check_files(settings, current)) is not None:
        earlier = [v for v in list_versions(settings) if v.status == RETIRED and v.created_at < current.created_at]
        fallback = next((v for v in reversed(earlier) if check_files(settings, v) is None), None)
        with connect(settings.paths.warehouse) as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("UPDATE meta.model_registry SET status = ? WHERE version = ?", [CORRUPT, current.version])
            if fallback is not None:
                con.execute("UPDATE meta.model_registry SET status = ? WHERE version = ?", [CHAMPION, fallback.version])
            con.execute("COMMIT")
        after = f"{fallback.version} is champion again" if fallback else "no healthy version left, a new one is trained"
        notes.append(f"model version {current.version} demoted to {CORRUPT}: {problem}; {after}")
        log.warning(notes[-1])
    return notes
