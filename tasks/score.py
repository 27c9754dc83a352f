"""The champion scores every prospect of D on the as-of-D graph; D's rows of the warehouse table `scores` are replaced."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from leadgraph import allocator
from leadgraph.config import Settings
from leadgraph.errors import ModelStoreError
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from models.training import load_model, predict
from tasks import calibration, registry
from tasks.dataset import FeatureNormalizer, prospects
from tasks.evaluate import inference_cfg
from tasks.graph import build_snapshot, load_snapshot

SCORES_TABLE = "scores"


class ScoringError(RuntimeError):
    """The champion cannot score D's prospects; nothing was written."""


@dataclass(frozen=True)
class ScoreRef:
    """Where D's scores are: a warehouse table, the model version, the snapshot they were computed on."""

    as_of: date
    table: str
    model_version: str
    rows: int
    snapshot_path: Path
    data_version: str

    def render(self) -> str:
        return (f"scored {self.rows:,} prospects as of {self.as_of} with {self.model_version} "
                f"-> warehouse table {self.table}")


def load_version(settings: Settings, version: str) -> tuple[Any, FeatureNormalizer, Any]:
    """(model, normaliser, inference config) of a registered version."""
    entry = registry.verified(settings, version)
    folder = entry.folder(settings)
    try:
        model, _, cfg = load_model(folder / registry.MODEL_FILE)
    except (pickle.UnpicklingError, RuntimeError, ValueError, KeyError, OSError) as err:
        # Intact checksums but unreadable files: a version saved by an older leadgraph (a pickle) or a bug.
        raise ModelStoreError(f"model version {version}: cannot load {entry.path}/{registry.MODEL_FILE}: "
                              f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                              "retrain with `leadgraph train`, or restore the version's folder") from err
    return model, FeatureNormalizer.load(folder / registry.NORMALIZER_FILE), inference_cfg(cfg, settings)


def rows_of(node_id: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    """Row positions of raw customer ids in a snapshot; every id must be there."""
    found = pd.Series(np.arange(len(node_id), dtype=np.int64), index=node_id).reindex(ids)
    missing = ids[found.isna().to_numpy()]
    if len(missing):
        raise ScoringError(f"{len(missing)} {what} are not customers of the graph snapshot (customer_id {missing[:10].tolist()}): "
                           "the snapshot and the warehouse disagree on the as-of state; rebuild the snapshot")
    return found.to_numpy(np.int64)


def published_tasks(task_names: list[str]) -> tuple[str | None, str]:
    """(task behind p_high_interest, task behind p_contract): the funnel's first stage (when there are two or more) and its last."""
    return (task_names[0] if len(task_names) > 1 else None), task_names[-1]


def score(settings: Settings, as_of: date, model_version: str) -> ScoreRef:
    """Score every prospect of D with `model_version`; replaces D's rows of the scores table in one transaction."""
    allocator.tune(settings.allocator)
    model, normalizer, cfg = load_version(settings, model_version)
    snapshot = build_snapshot(settings, as_of)
    graph = normalizer.transform(load_snapshot(snapshot.path))
    probs = predict(model, graph, cfg)
    # Read before the warehouse is opened for writing: the registry opens its own read-only connection.
    calibrators = calibration.load(registry.get_version(settings, model_version).folder(settings) / calibration.FILE)
    with connect(settings.paths.warehouse) as con:
        ids = prospects(con, as_of, settings.labels)["customer_id"].to_numpy(np.int64)
        rows = rows_of(graph["customer"].node_id.numpy(), ids, f"prospects of {as_of}")
        interest, final = published_tasks([t.name for t in model.tasks])

        def column(task: str | None) -> tuple[np.ndarray, np.ndarray]:
            """(raw, calibrated) probabilities of a task on the prospects' rows (NaN without the task)."""
            if task is None:
                return np.full(len(ids), np.nan), np.full(len(ids), np.nan)
            raw = probs[task][rows].astype(np.float64)
            return raw, (calibrators[task].apply(raw) if task in calibrators else raw)

        (raw_hi, p_hi), (raw_contract, p_contract) = column(interest), column(final)
        frame = pd.DataFrame({"customer_id": ids, "p_high_interest": p_hi, "p_contract": p_contract,
                              "rank_high_interest": raw_hi, "rank_contract": raw_contract})
        con.execute(sql("score/schema"))
        con.register("probabilities", frame)
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {SCORES_TABLE} WHERE as_of = ?", [as_of])
        cfg_s = settings.score
        con.execute(sql("score/insert"), {"as_of": as_of, "model_version": model_version,
                                          "w_hi": cfg_s.weight_high_interest if interest else 0.0,
                                          "w_contract": cfg_s.weight_contract})
        con.execute("COMMIT")
        con.unregister("probabilities")
    return ScoreRef(as_of, SCORES_TABLE, model_version, len(frame), snapshot.path, snapshot.data_version)


@task(name="score", cache_policy=NONE, task_run_name="score-{as_of}")
def score_task(settings: Settings, as_of: date, model_version: str) -> ScoreRef:
    """Prefect task: score D's prospects with the given version."""
    return score(settings, as_of, model_version)
