"""Train a model as of D: fit and select, calibrate, pass the quality gate, refit, register, promote or not."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from leadgraph import allocator
from leadgraph.config import Settings
from leadgraph.phases import Phases
from models.problem import Problem
from models.registry import is_graph_model
from models.budget import cut_by_budget
from models.training import FitResult, Predictions, fit, kept_epochs_seconds, save_model, split_predictions
from tasks import calibration, registry
from tasks.dataset import build_problem, refit_problem, release_spill
from tasks.evaluate import champion_on_holdout, decide, validation_curves, write_report
from tasks.quality_gate import GateResult, ap_interval, judge, labelled

log = logging.getLogger(__name__)

# Models that share what they learn across tasks: with a single task there is nothing to share.
MULTI_TASK_MODELS = frozenset({"struchis", "struchis-no-relation", "struchis-output-only", "shared-hgt", "shared-hgb",
                               "mmoe", "ple", "dual-branch", "dual-branch-gcn", "dual-branch-hgt",
                               "dual-branch-concat", "dual-branch-one-way", "dual-branch-no-pretrain"})


def is_training_due(settings: Settings, as_of: date, drift_severe: bool) -> tuple[bool, str]:
    """(due, why): nothing to serve yet, a serving version older than train.retrain_every_days, or severe drift
    under policy retrain. Without a champion the latest (unproven) version serves until its retrain is due."""
    current = registry.serving(settings)
    if current is None:
        return True, "no model version yet"
    age = (as_of - current.trained_as_of).days
    role = "champion" if current.status == registry.CHAMPION else "unproven version"
    if age >= settings.train.retrain_every_days:
        return True, f"{role} {current.version} was trained as of {current.trained_as_of}, {age} days before {as_of}"
    if drift_severe and settings.drift.on_severe == "retrain":
        return True, "severe drift and drift.on_severe = retrain"
    return False, f"{role} {current.version} is {age} days old (retrain every {settings.train.retrain_every_days})"


def combined_data_version(per_anchor: dict[str, str]) -> str:
    """One id for the snapshots a version was trained on."""
    return hashlib.sha256(json.dumps(per_anchor, sort_keys=True).encode("utf-8")).hexdigest()


def model_for_tasks(settings: Settings, name: str) -> tuple[str, str | None]:
    """(model to train, why it differs from the one asked for): a multi-task model needs two tasks or more."""
    tasks = settings.labels.tasks
    if len(tasks) == 1 and name in MULTI_TASK_MODELS:
        why = (f"{name} is a multi-task model and labels.tasks holds one task ({tasks[0].name}): skipped, "
               f"training train.single_task_model = {settings.train.single_task_model} instead")
        return settings.train.single_task_model, why
    return name, None


def calibrate(result: FitResult, val: dict[str, Predictions], settings: Settings
              ) -> tuple[dict[str, calibration.Calibrator], dict[str, dict]]:
    """Per task, a calibrator fitted on validation and its figures on the hold-out (which it has not seen)."""
    cfg = settings.quality.calibration
    calibrators, figures = {}, {}
    for name, pred in val.items():
        p, y, _ = labelled(pred)
        cal = calibration.fit(p, y, cfg)
        tp, ty, _ = labelled(result.test_predictions[name])
        calibrators[name] = cal
        figures[name] = {"method": cal.method, "base_rate": cal.base_rate, "fitted_on": "val", "judged_on": "test",
                         **calibration.figures(cal.apply(tp), ty, cfg.reliability_bins)}
    return calibrators, figures


def quality_gate(problem: Problem, result: FitResult, val: dict[str, Predictions], settings: Settings) -> GateResult:
    """The final task against the prevalence and the baseline model trained on the same split."""
    final = problem.tasks[-1].name
    cfg = settings.quality
    base_test = base_val = None
    if result.model_name != cfg.baseline_model:
        # Only the final task is judged: a baseline that learns its tasks apart is trained on that one alone, and
        # not scored on the train split.
        judged = (problem if cfg.baseline_model in MULTI_TASK_MODELS
                  else dataclasses.replace(problem, tasks=[problem.tasks[-1]]))
        try:
            baseline = fit(judged, cfg.baseline_model, settings.train, score_train=False)
        except ValueError as error:
            return GateResult(False, f"{final}: the baseline {cfg.baseline_model} cannot be trained on this split "
                                     f"({error}), so nothing shows the version beats it", {"task": final})
        base_test = baseline.test_predictions[final]
        base_val = (baseline.val_predictions or split_predictions(baseline.model, judged.val, judged.tasks,
                                                                  baseline.cfg))[final]
    return judge(final, result.test_predictions[final], val[final], base_test, base_val, cfg.baseline_model, cfg)


def refit(settings: Settings, as_of: date, result: FitResult) -> tuple[FitResult | None, Problem | None, dict[str, Any]]:
    """The selected model trained again, for its kept epoch count, on each task's most recent closed anchors, in what
    the training budget has left after selection; no refit (None, with the reason) when that is too little."""
    epochs = max(result.best_epoch + 1, 1)
    budget = result.cfg.max_train_seconds
    left = None if budget is None else budget - result.seconds
    if left is not None and left <= 0:
        return None, None, {"epochs": epochs, "skipped": f"selection spent the training budget of {budget:.0f}s"}
    # Its anchors' snapshots and its epochs would be spent for nothing when the kept epochs cannot finish.
    need = kept_epochs_seconds(result.history, result.stage_epochs)
    if left is not None and left < need:
        return None, None, {"epochs": epochs, "skipped": f"the {left:.0f}s left of the training budget cannot fit "
                                                         f"the {epochs} epoch(s) that took {need:.0f}s in selection"}
    problem = refit_problem(settings, as_of)
    anchors = {k: [a.isoformat() for a in v] for k, v in problem.meta["anchors"].refit.items()}
    refitted = fit(problem, result.model_name, result.cfg.model_copy(update={"max_epochs": epochs, "max_train_seconds": left}),
                   select=False, stage_epochs=result.stage_epochs)
    if cut_by_budget(refitted.history):
        # A refit cut short is a model trained for fewer epochs than were selected: the selected one is stored.
        return None, None, {"epochs": epochs, "anchors": anchors,
                            "skipped": f"the {left:.0f}s left of the training budget ended it after "
                                       f"{len(refitted.history)} epoch(s)"}
    staged = {"stage_epochs": result.stage_epochs} if len(result.stage_epochs) > 1 else {}
    return refitted, problem, {"epochs": epochs, **staged, "seconds": refitted.seconds, "anchors": anchors}


def train_and_register(settings: Settings, as_of: date, model_name: str | None = None) -> registry.ModelVersion:
    """Build the problem as of D, fit, calibrate, gate, compare with the champion on the challenger's hold-out,
    refit, register; each phase timed and metered for the version's metrics."""
    name, substituted = model_for_tasks(settings, model_name or settings.train.model)
    if substituted:
        log.warning(substituted)
    timed = Phases(f"train {name}")
    with timed.phase("problem"):
        problem = build_problem(settings, as_of)
    # Tuned only now: under the raised thresholds each anchor's snapshot build left gigabytes of free heap behind
    # for the next one to add its own peak to; the fit's steps are what the thresholds are for.
    allocator.tune(settings.allocator)
    plan = problem.meta["anchors"]
    log.info("training %s as of %s on anchors %s; positives %s", name, as_of,
             ", ".join(a.isoformat() for a in plan.all), problem.meta["positives"])
    with timed.phase("fit"):
        result = fit(problem, name, settings.train)
    timed.done[-1]["within"] = result.phases
    registry.demote_broken(settings)
    with timed.phase("calibration"):
        val = result.val_predictions or split_predictions(result.model, problem.val, problem.tasks, result.cfg)
        calibrators, cal_figures = calibrate(result, val, settings)
    with timed.phase("quality gate"):
        gate = quality_gate(problem, result, val, settings)
    final = problem.tasks[-1].name
    current = registry.champion(settings)
    champ_metrics = None
    if current is not None:
        folder = current.folder(settings)
        with timed.phase("champion on the hold-out"):
            champ_metrics = champion_on_holdout(settings, folder / registry.MODEL_FILE, folder / registry.NORMALIZER_FILE,
                                                problem)
    promotion = decide(settings, result, final, gate, current.version if current else None, champ_metrics)

    stored, normalizer, per_anchor = result, problem.meta["normalizer"], dict(problem.meta["data_versions"])
    refit_info = None
    if settings.train.refit and is_graph_model(result.model):
        # Selection's snapshots are read no more: its spill goes before the refit's is written.
        release_spill(problem)
        with timed.phase("refit"):
            refitted, refit_prob, refit_info = refit(settings, as_of, result)
        if refitted is not None and refit_prob is not None:
            stored, normalizer = refitted, refit_prob.meta["normalizer"]
            per_anchor.update(refit_prob.meta["data_versions"])
    selection = {"selected_on": "val", "evaluated_on": "test", "anchors": plan.as_json(), "refit": refit_info,
                 "substituted": substituted}

    with timed.phase("register"):
        version = registry.next_version_id(settings, name)
        staged = registry.staging_folder(settings, version)
        save_model(stored, staged / registry.MODEL_FILE)
        normalizer.save(staged / registry.NORMALIZER_FILE)
        calibration.save(staged / calibration.FILE, calibrators, cal_figures)
        config = {"model_name": name, "train": result.cfg.model_dump(mode="json"),
                  "labels": settings.labels.model_dump(mode="json"), "selection": selection}
        metrics = {**result.metrics, "best_epoch": result.best_epoch, "seconds": result.seconds,
                   "positives": problem.meta["positives"], "promotion": promotion.as_dict(), "gate": gate.as_dict(),
                   "calibration": {k: {m: v for m, v in f.items() if m != "curve"} for k, f in cal_figures.items()},
                   "champion_on_holdout": champ_metrics, "validation_curves": validation_curves(result.history),
                   "phases": list(timed.done)}
        for task, pred in result.test_predictions.items():
            interval = ap_interval(pred, settings.quality)
            if interval is not None and task in metrics.get("test", {}):
                metrics["test"][task]["ap_ci"] = interval
        registry.write_json(staged / registry.CONFIG_FILE, config)
        registry.write_json(staged / registry.METRICS_FILE, metrics)
        registry.write_json(staged / registry.DATA_VERSION_FILE, {"anchors": per_anchor})
        write_report(staged / registry.REPORT_DIR, result, problem, promotion, gate, cal_figures, selection,
                     timed.done)
    return registry.register(settings, staged, version=version, model_name=name, trained_as_of=as_of,
                             data_version=combined_data_version(per_anchor), metrics=metrics, config=config,
                             promote=promotion.promote)


@task(name="train", cache_policy=NONE, task_run_name="train-{as_of}")
def train_task(settings: Settings, as_of: date, model_name: str | None = None) -> registry.ModelVersion:
    """Prefect task: train, register, promote or not."""
    return train_and_register(settings, as_of, model_name)
