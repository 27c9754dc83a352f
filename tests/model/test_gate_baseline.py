"""The quality gate's baseline: trained on the final task alone, with the figures a baseline on every task gives."""

from __future__ import annotations

import dataclasses

import pytest

from leadgraph.config import Settings, TrainConfig
from models.training import fit
from tasks import train as train_task
from tasks.quality_gate import labelled, weighted_ap
from tests.model.test_struchis_training import toy_problem


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
