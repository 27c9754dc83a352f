"""Budgeted seed draws: rare positives kept, weights that make sampled losses and metrics estimate the full ones."""

from __future__ import annotations

import numpy as np
import torch

from leadgraph.config import TrainConfig
from models import seed_sampling
from models.training import evaluate, fit, predict
from tests.model.test_struchis_training import toy_problem


def _labels(n: int, rates: dict[str, float], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {name: (torch.rand(n, generator=gen) < rate).float() for name, rate in rates.items()}


def test_small_populations_are_kept_whole() -> None:
    labels = _labels(500, {"a": 0.1})
    assert torch.equal(seed_sampling.inclusion_probabilities(labels, 500), torch.ones(500, dtype=torch.float64))


def test_rare_positives_are_all_kept_and_the_budget_holds_in_expectation() -> None:
    labels = _labels(200_000, {"common": 0.05, "rare": 0.001})
    prob = seed_sampling.inclusion_probabilities(labels, 10_000)
    rare, common = labels["rare"] == 1, (labels["common"] == 1) & (labels["rare"] == 0)
    assert torch.all(prob[rare] == 1.0)
    assert 0 < float(prob[common].max()) < 1.0  # 10k positives of the common task share a quarter of the budget
    assert abs(float(prob.sum()) - 10_000) < 1e-6
    negatives = ~(rare | (labels["common"] == 1))
    assert float(prob[negatives].max()) == float(prob[negatives].min()) < float(prob[common].min())


def test_weighted_draws_estimate_full_sums() -> None:
    labels = _labels(100_000, {"common": 0.05, "rare": 0.002})
    values = torch.rand(100_000, generator=torch.Generator().manual_seed(1000), dtype=torch.float64)
    estimates = []
    for seed in range(20):
        pos, w = seed_sampling.draw(labels, 5_000, torch.Generator().manual_seed(seed))
        assert 4_000 < pos.numel() < 6_000
        estimates.append(float((values[pos] * w.double()).sum()))
    assert abs(np.mean(estimates) / float(values.sum()) - 1) < 0.01


def test_draws_are_reproducible() -> None:
    labels = _labels(50_000, {"a": 0.02})
    a = seed_sampling.draw(labels, 1_000, torch.Generator().manual_seed(3))
    b = seed_sampling.draw(labels, 1_000, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_weighted_metrics_equal_metrics_on_repeated_rows() -> None:
    rng = np.random.default_rng(0)
    probs, y = rng.random(400), (rng.random(400) < 0.2).astype(int)
    w = rng.integers(1, 4, 400)
    weighted = evaluate(probs, y, "binary", w.astype(float))
    repeated = evaluate(np.repeat(probs, w), np.repeat(y, w), "binary")
    assert abs(weighted["auc"] - repeated["auc"]) < 1e-9
    assert abs(weighted["ap"] - repeated["ap"]) < 1e-9


def test_prediction_of_rows_equals_rows_of_full_prediction() -> None:
    problem = toy_problem()
    cfg = TrainConfig(hidden=16, layers=2, max_epochs=2, eval_every=1, full_batch_max_nodes=100, batch_size=64,
                      fanouts=(50, 50, 50), inference_fanouts=(1000,))
    for name in ("struchis", "shared-hgb"):
        model = fit(problem, name, cfg).model
        graph = problem.train.graphs[0]
        rows = torch.tensor([5, 17, 3, 200])
        full = predict(model, graph, cfg)
        some = predict(model, graph, cfg, {"customer": rows})
        for task, p in some.items():
            np.testing.assert_allclose(p, full[task][rows.numpy()], atol=1e-5)


def test_a_small_epoch_budget_still_learns() -> None:
    cfg = TrainConfig(hidden=16, layers=2, lr=1e-2, max_epochs=40, eval_every=5, patience=10, dropout=0.1,
                      attn_dropout=0.1, full_batch_max_nodes=100, batch_size=32, fanouts=(8, 8, 8),
                      max_seeds_per_epoch=60, max_eval_seeds=30)
    result = fit(toy_problem(), "struchis", cfg)
    assert result.metrics["test"]["zone"]["micro_f1"] > 0.5
    assert result.metrics["test"]["hot"]["auc"] > 0.7
