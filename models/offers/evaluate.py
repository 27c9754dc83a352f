"""Offer ranking metrics: HR@k / NDCG@k against sampled negatives (MODELS.md 4.4) and over the whole catalogue."""

from __future__ import annotations

import numpy as np


def sample_negatives(n_items: int, excluded: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n distinct items drawn uniformly without replacement from those not in `excluded`."""
    pool = np.setdiff1d(np.arange(n_items), excluded, assume_unique=False)
    return rng.choice(pool, size=min(n, len(pool)), replace=False)


def _rank_metrics(rank: np.ndarray, k: int) -> tuple[float, float]:
    """HR@k and NDCG@k from 0-based ranks of the positives."""
    hit = rank < k
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())


def sampled_metrics(scores: np.ndarray, positives: np.ndarray, train_items: list[np.ndarray], n_neg: int, k: int,
                    seed: int, exclude_train: bool = True) -> dict[str, float]:
    """Each test user's positive against n_neg sampled negatives (never the positive; never a training positive when
    exclude_train), fixed seed; ties count against the positive."""
    rng = np.random.default_rng(seed)
    n_items = scores.shape[1]
    rank = np.empty(len(positives), dtype=np.int64)
    for row, (pos, seen) in enumerate(zip(positives, train_items)):
        excluded = np.append(seen, pos) if exclude_train else np.array([pos])
        neg = sample_negatives(n_items, excluded, n_neg, rng)
        rank[row] = int((scores[row, neg] >= scores[row, pos]).sum())
    hr, ndcg = _rank_metrics(rank, k)
    return {"hr": hr, "ndcg": ndcg}


def full_metrics(scores: np.ndarray, positives: np.ndarray, train_items: list[np.ndarray], k: int) -> dict[str, float]:
    """Recall@k and NDCG@k of the held-out item over every catalogue offer the user has not adopted in training."""
    masked = scores.astype(np.float64, copy=True)
    for row, seen in enumerate(train_items):
        masked[row, seen] = -np.inf
    pos_score = masked[np.arange(len(positives)), positives]
    rank = (masked > pos_score[:, None]).sum(1) + ((masked == pos_score[:, None]).sum(1) - 1)
    recall, ndcg = _rank_metrics(rank, k)
    return {"recall": recall, "ndcg": ndcg}
