"""Training stages: a model that trains in several phases (pre-training, then fine-tuning) lists them for `fit`.

A model with `training_stages(cfg) -> list[TrainingStage]` is trained stage by stage by the same epoch
loop as every other model: before a stage starts, `fit` calls `model.set_stage(name)`, builds a fresh
optimiser on the stage's parameter groups (each with its own learning rate), and runs the loop with
the stage's epoch cap, validation and patience, keeping the stage's best weights. Under a time budget
each stage may use its weight's share of what earlier stages left, so a long first stage cannot leave
the last one nothing to train with. A model without the method trains in a single stage "train" on all
its parameters at `cfg.lr`. A model may also define
`auxiliary_loss() -> Tensor | None`: an extra objective its last training forward computed (for
example link prediction on the graph it saw), which the loop adds to the weighted task losses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SINGLE_STAGE = "train"


@dataclass(frozen=True)
class TrainingStage:
    """One phase of training: its name, optimiser parameter groups (dicts with params and lr), epoch cap and weight
    in the time budget."""

    name: str
    param_groups: list[dict[str, Any]]
    max_epochs: int
    budget_weight: float = 1.0


def stage_deadline(now: float, deadline: float, weights_left: list[float]) -> float:
    """When the first of the remaining stages must stop: its weight's share of the time left before `deadline`."""
    total = sum(weights_left)
    return now + (deadline - now) * (weights_left[0] / total if total > 0 else 1.0)
