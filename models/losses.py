"""Per-task losses on the labelled rows of a task.

`weight` (optional, one per row) makes a loss the weighted mean sum_i w_i l_i / n: mini-batch training
on a sample of the seeds passes inverse inclusion probabilities, so the sampled loss estimates the
loss over every seed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from models.problem import TaskSpec


def _weighted_mean(losses: Tensor, weight: Tensor | None) -> Tensor:
    """Mean of per-row losses, each row scaled by its weight."""
    return losses.mean() if weight is None else (losses * weight.to(losses.dtype)).mean()


def default_task_loss(
    task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None, weight: Tensor | None = None
) -> Tensor:
    """Cross-entropy for multiclass; BCE-with-logits for binary, positives weighted by `pos_weight`."""
    if task.kind == "multiclass":
        return _weighted_mean(F.cross_entropy(logits, y.long(), reduction="none"), weight)
    pos = None if pos_weight is None else torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    losses = F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype), pos_weight=pos, reduction="none")
    return _weighted_mean(losses, weight)


def probability_bce(task: TaskSpec, logits: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
    """The reference loss: BCE of softmax probabilities against one-hot targets, averaged over rows x classes.

    A binary task's logit is the difference of two class logits, so the two-column softmax is
    (1 - sigmoid, sigmoid) and its BCE equals the plain BCE of sigmoid(logit).
    """
    if task.kind == "multiclass":
        probs = torch.softmax(logits, -1)
        onehot = F.one_hot(y.long(), logits.shape[-1]).to(probs.dtype)
        return _weighted_mean(F.binary_cross_entropy(probs, onehot, reduction="none").mean(-1), weight)
    return _weighted_mean(F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype), reduction="none"), weight)


def mode_loss(
    faithful: bool, task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None, weight: Tensor | None = None
) -> Tensor:
    """Faithful mode: the reference's BCE on probabilities; product mode: weighted BCE-with-logits / cross-entropy."""
    if faithful:
        return probability_bce(task, logits, y, weight)
    return default_task_loss(task, logits, y, pos_weight, weight)
