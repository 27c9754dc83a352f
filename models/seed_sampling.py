"""Which labelled seeds a mini-batch epoch (or a large-graph evaluation) visits, and with what weight.

At paper scale one anchor holds millions of labelled prospects, far more than an epoch can visit
on two cores. Each epoch therefore draws a sample within a budget: every task's positives share
half of it equally (so the rare contract positives are all kept, the plentiful high-interest ones
thinned), and negatives fill the rest. Each drawn seed carries the inverse of its inclusion
probability as its weight, so weighted losses and metrics estimate those over every seed.
"""

from __future__ import annotations

import torch
from torch import Tensor


def inclusion_probabilities(labels: dict[str, Tensor], budget: int) -> Tensor:
    """Per seed, its probability of being drawn; `labels` are one 0/1 (-1 unlabelled) vector per task, all over the same seeds."""
    ys = list(labels.values())
    n = ys[0].numel()
    if n <= budget:
        return torch.ones(n, dtype=torch.float64)
    prob = torch.zeros(n, dtype=torch.float64)
    positive = torch.zeros(n, dtype=torch.bool)
    share = budget / (2 * len(ys))
    for y in ys:
        pos = y == 1
        count = int(pos.sum())
        if count:
            prob[pos] = torch.clamp(prob[pos], min=min(1.0, share / count))
            positive |= pos
    negatives = int((~positive).sum())
    if negatives:
        room = max(budget - float(prob.sum()), 0.0)
        prob[~positive] = min(1.0, room / negatives)
    return prob


def draw(labels: dict[str, Tensor], budget: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(positions of the drawn seeds, their weights 1 / inclusion probability)."""
    prob = inclusion_probabilities(labels, budget)
    keep = torch.rand(prob.numel(), generator=generator, dtype=torch.float64) < prob
    positions = torch.nonzero(keep).squeeze(1)
    return positions, (1.0 / prob[positions]).to(torch.float32)
