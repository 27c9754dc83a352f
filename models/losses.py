"""Per-task losses on the labelled rows of a task."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from models.problem import TaskSpec


def default_task_loss(task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None) -> Tensor:
    """Cross-entropy for multiclass; BCE-with-logits for binary, positives weighted by `pos_weight`."""
    if task.kind == "multiclass":
        return F.cross_entropy(logits, y.long())
    weight = None if pos_weight is None else torch.tensor(pos_weight, dtype=logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype), pos_weight=weight)


def probability_bce(task: TaskSpec, logits: Tensor, y: Tensor) -> Tensor:
    """The reference loss: BCE of softmax probabilities against one-hot targets, averaged over rows x classes.

    A binary task's logit is the difference of two class logits, so the two-column softmax is
    (1 - sigmoid, sigmoid) and its BCE equals the plain BCE of sigmoid(logit).
    """
    if task.kind == "multiclass":
        probs = torch.softmax(logits, -1)
        onehot = F.one_hot(y.long(), logits.shape[-1]).to(probs.dtype)
        return F.binary_cross_entropy(probs, onehot)
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
