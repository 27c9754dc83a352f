"""What model selection and the quality gate spend on large graphs: a sampled validation draw, a final-task baseline."""

from __future__ import annotations

import dataclasses

import pytest

from leadgraph.config import Settings, TrainConfig
from models.training import evaluate_split, fit
from tasks import train as train_task
from tasks.quality_gate import labelled, weighted_ap
from tests.model.test_struchis_training import toy_problem

VAL_ROWS = 48  # toy_problem's validation customers, all labelled on both tasks
MINIBATCH = dict(hidden=8, layers=2, max_epochs=3, eval_every=1, patience=5, full_batch_max_nodes=100, batch_size=64,
                 fanouts=(8, 8, 8))


def test_selection_on_a_large_graph_compares_epochs_on_one_draw_and_scores_the_kept_weights_whole() -> None:
    problem = toy_problem()
    cfg = TrainConfig(**MINIBATCH, selection_sample_min_nodes=100, selection_eval_seeds=20)
    result = fit(problem, "struchis", cfg)
    evaluated = [h for h in result.history if "val" in h]
    assert len(evaluated) == 3 and all(h["val_sampled"] for h in evaluated)
    drawn = {h["val"]["hot"]["n"] for h in evaluated}
    # The same rows at every evaluation, fewer than the split holds, so epochs are compared on equal terms.
    assert len(drawn) == 1 and drawn.pop() < VAL_ROWS
    # The kept weights are scored on the whole validation split: metrics, and the predictions calibration reuses.
    assert result.metrics["val"]["hot"]["n"] == VAL_ROWS and len(result.val_predictions["hot"].y) == VAL_ROWS
    whole = evaluate_split(result.model, problem.val, problem.tasks, cfg)
    assert result.metrics["val"]["hot"]["ap"] == pytest.approx(whole["hot"]["ap"])
    assert [p["phase"] for p in result.phases] == ["training", "test scoring", "train scoring", "val scoring"]


def test_selection_below_the_threshold_scores_the_whole_split_and_reuses_the_kept_evaluation() -> None:
    cfg = TrainConfig(**MINIBATCH, selection_eval_seeds=20)
    result = fit(toy_problem(), "struchis", cfg)
    evaluated = [h for h in result.history if "val" in h]
    assert not any(h["val_sampled"] for h in evaluated) and all(h["val"]["hot"]["n"] == VAL_ROWS for h in evaluated)
    kept = next(h for h in evaluated if h["epoch"] == result.best_epoch)
    assert result.metrics["val"] == kept["val"]
    assert "val scoring" not in [p["phase"] for p in result.phases]


def test_the_gate_trains_its_baseline_on_the_final_task_alone_with_the_same_figures(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The binary task last: the gate judges the final task's AP.
    problem = toy_problem()
    problem = dataclasses.replace(problem, tasks=list(reversed(problem.tasks)))
    settings.train = TrainConfig(hidden=8, layers=1, max_epochs=2)
    settings.quality = settings.quality.model_copy(update={"bootstrap_samples": 50})
    version = fit(problem, "struchis", settings.train)
    fitted: list[tuple[str, list[str], list[str]]] = []

    def recording_fit(prob, name, cfg, **kwargs):
        result = fit(prob, name, cfg, **kwargs)
        fitted.append((name, [t.name for t in prob.tasks], sorted(result.metrics)))
        return result

    monkeypatch.setattr(train_task, "fit", recording_fit)
    gate = train_task.quality_gate(problem, version, version.val_predictions, settings)
    assert fitted == [("lightgbm", ["hot"], ["test", "val"])]
    # Its booster for the final task is the one a baseline trained on every task would have.
    everything = fit(problem, "lightgbm", settings.train)
    p, y, w = labelled(everything.test_predictions["hot"])
    assert gate.figures["test"]["baseline_ap"] == pytest.approx(float(weighted_ap(p, y, w[None, :])[0]))
