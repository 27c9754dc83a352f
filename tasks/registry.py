"""Model versions: files under artifacts/models/<version>/, rows in meta.model_registry, champion and challengers.

A version folder holds the weights (`model.pt`, models.training.save_model), the feature normaliser
(`normalizer.json`), `config.json`, `metrics.json`, `data_version.json` and the training report
(`report/`). At most one version is `champion`; a promoted version retires the previous champion
in the same transaction.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from leadgraph.config import Settings
from leadgraph.warehouse import connect

MODEL_FILE = "model.pt"
NORMALIZER_FILE = "normalizer.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
DATA_VERSION_FILE = "data_version.json"
REPORT_DIR = "report"

CHAMPION, CHALLENGER, RETIRED = "champion", "challenger", "retired"
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
    with connect(settings.paths.warehouse) as con:
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
