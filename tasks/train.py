"""Train a model as of D, register the version, and promote it only if it beats the champion on the same hold-out."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date

from prefect import task
from prefect.cache_policies import NONE

from leadgraph.config import Settings
from models.training import fit, save_model
from tasks import registry
from tasks.dataset import build_problem
from tasks.evaluate import champion_on_holdout, decide, write_report

log = logging.getLogger(__name__)


def is_training_due(settings: Settings, as_of: date, drift_severe: bool) -> tuple[bool, str]:
    """(due, why): no champion yet, a champion older than train.retrain_every_days, or severe drift under policy retrain."""
    current = registry.champion(settings)
    if current is None:
        return True, "no champion yet"
    age = (as_of - current.trained_as_of).days
    if age >= settings.train.retrain_every_days:
        return True, f"champion {current.version} was trained as of {current.trained_as_of}, {age} days before {as_of}"
    if drift_severe and settings.drift.on_severe == "retrain":
        return True, "severe drift and drift.on_severe = retrain"
    return False, f"champion {current.version} is {age} days old (retrain every {settings.train.retrain_every_days})"


def combined_data_version(per_anchor: dict[str, str]) -> str:
    """One id for the snapshots a version was trained on."""
    return hashlib.sha256(json.dumps(per_anchor, sort_keys=True).encode("utf-8")).hexdigest()


def train_and_register(settings: Settings, as_of: date, model_name: str | None = None) -> registry.ModelVersion:
    """Build the problem as of D, fit, compare with the champion on the challenger's hold-out, register."""
    name = model_name or settings.train.model
    problem = build_problem(settings, as_of)
    log.info("training %s as of %s on anchors %s; positives per anchor %s", name, as_of,
             ", ".join(a.isoformat() for a in problem.meta["anchors"].all), problem.meta["positives"])
    result = fit(problem, name, settings.train)
    registry.demote_broken(settings)
    current = registry.champion(settings)
    champ_metrics = None
    if current is not None:
        folder = current.folder(settings)
        champ_metrics = champion_on_holdout(settings, folder / registry.MODEL_FILE, folder / registry.NORMALIZER_FILE, problem)
    promotion = decide(settings, result, current.version if current else None, champ_metrics)

    version = registry.next_version_id(settings, name)
    staged = registry.staging_folder(settings, version)
    save_model(result, staged / registry.MODEL_FILE)
    problem.meta["normalizer"].save(staged / registry.NORMALIZER_FILE)
    anchors = problem.meta["anchors"]
    config = {
        "model_name": name,
        "train": result.cfg.model_dump(mode="json"),
        "labels": settings.labels.model_dump(mode="json"),
        "anchors": {"train": [a.isoformat() for a in anchors.train], "val": anchors.val.isoformat(),
                    "test": anchors.test.isoformat()},
    }
    metrics = {**result.metrics, "best_epoch": result.best_epoch, "seconds": result.seconds,
               "positives": problem.meta["positives"], "promotion": promotion.as_dict(),
               "champion_on_holdout": champ_metrics}
    per_anchor = problem.meta["data_versions"]
    registry.write_json(staged / registry.CONFIG_FILE, config)
    registry.write_json(staged / registry.METRICS_FILE, metrics)
    registry.write_json(staged / registry.DATA_VERSION_FILE, {"anchors": per_anchor})
    write_report(staged / registry.REPORT_DIR, result, problem, promotion)
    return registry.register(settings, staged, version=version, model_name=name, trained_as_of=as_of,
                             data_version=combined_data_version(per_anchor), metrics=metrics, config=config,
                             promote=promotion.promote)


@task(name="train", cache_policy=NONE, task_run_name="train-{as_of}")
def train_task(settings: Settings, as_of: date, model_name: str | None = None) -> registry.ModelVersion:
    """Prefect task: train, register, promote or not."""
    return train_and_register(settings, as_of, model_name)
