"""Paired bootstrap of test metrics: every run draws the same resamples of the same test rows, so the replicates of two
models pair up, and a difference's interval reflects the test set's sampling, not only the seeds'."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

REPLICATES = 500
SEED = 20251231
METRICS = ("auc", "ap")


def replicates(probs: np.ndarray, y: np.ndarray, count: int = REPLICATES, seed: int = SEED) -> dict[str, list[float]]:
    """AUC and AP of one run's test predictions on each of `count` resamples of its rows (NaN where a resample holds
    one class only); the resamples depend only on the row count and `seed`, the same for every run."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(count):
        rows = rng.integers(0, len(y), len(y))
        ys, ps = y[rows], probs[rows]
        single = ys.min() == ys.max()
        out["auc"].append(float("nan") if single else round(float(roc_auc_score(ys, ps)), 6))
        out["ap"].append(float("nan") if single else round(float(average_precision_score(ys, ps)), 6))
    return out


def difference_interval(mine: list[list[float]], theirs: list[list[float]], confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of (mean over my seeds - mean over their seeds) across paired replicates."""
    diff = np.nanmean(np.array(mine, dtype=float), 0) - np.nanmean(np.array(theirs, dtype=float), 0)
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(diff, [tail, 100 - tail])
    return float(low), float(high)
