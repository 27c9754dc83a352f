"""What the model and runs pages show, from the desk snapshot of meta.*: versions with metrics, runs with checks."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

HELD_STATUSES = ("held", "failed")
RUN_COLUMNS = ("run_id", "flow", "as_of", "status", "detail", "started_at", "ended_at", "stages")


def _intervals(metrics: dict[str, Any]) -> dict[str, str]:
    """Confidence intervals stored beside a metric (`<m>_ci: [low, high]` or `<m>_low`/`<m>_high`), as text."""
    found = {}
    for key, value in metrics.items():
        if key.endswith("_ci") and isinstance(value, (list, tuple)) and len(value) == 2 and None not in value:
            found[key.removesuffix("_ci")] = f"[{value[0]:.4f}, {value[1]:.4f}]"
        elif key.endswith("_low") and isinstance(metrics.get(key.removesuffix("_low") + "_high"), (int, float)):
            name = key.removesuffix("_low")
            found[name] = f"[{value:.4f}, {metrics[name + '_high']:.4f}]"
    return found


def model_rows(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Versions for the model page: champion first, then challengers, then retired; metrics with intervals."""
    order = {"champion": 0, "challenger": 1}
    rows = []
    for model in sorted(models, key=lambda m: (order.get(m["status"], 2), m["created_at"]), reverse=False):
        metrics = []
        for split in ("test", "val", "train"):
            for task, values in (model["metrics"].get(split) or {}).items():
                if not isinstance(values, dict):
                    continue
                ci = _intervals(values)
                metrics.append({"split": split, "task": task, "ap": values.get("ap"), "auc": values.get("auc"),
                                "ap_ci": ci.get("ap"), "auc_ci": ci.get("auc"), "n": values.get("n"),
                                "positives": values.get("positives")})
        images = [f for f in model.get("report_files", []) if f.endswith(".png")]
        rows.append({**model, "metric_rows": metrics, "images": images,
                     "promotion": (model["metrics"].get("promotion") or {}).get("reason", ""),
                     "relations": model.get("relations")})
    return rows


def runs_rows(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Recent runs with their day's validation and drift (and links to their reports)."""
    validation = {v["as_of"]: v for v in meta.get("validation", [])}
    drift: dict[str, dict[str, Any]] = {}
    for d in meta.get("drift", []):
        drift.setdefault(d["as_of"], d)
    rows = []
    for run in meta.get("runs", []):
        seconds = None
        if run.get("started_at") and run.get("ended_at"):
            seconds = (pd.Timestamp(run["ended_at"]) - pd.Timestamp(run["started_at"])).total_seconds()
        stages = run.get("stages")
        if isinstance(stages, str):
            try:
                stages = json.loads(stages)
            except ValueError:
                stages = None
        if isinstance(stages, dict):
            stages = [{"stage": k, **(v if isinstance(v, dict) else {"status": v})} for k, v in stages.items()]
        stage_rows = [s for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []
        # Columns a newer meta.runs has beyond these are shown as they are, so nothing recorded is hidden.
        stage_rows += [{"stage": k, "status": v} for k, v in run.items() if k not in RUN_COLUMNS and v is not None]
        rows.append({**run, "seconds": seconds, "bad": run.get("status") in HELD_STATUSES,
                     "stage_rows": stage_rows,
                     "validation": validation.get(run.get("as_of")), "drift": drift.get(run.get("as_of"))})
    return rows
