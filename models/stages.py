"""Training stages: a model that trains in several phases (pre-training, then fine-tuning) lists them for `fit`.

A model with `training_stages(cfg) -> list[TrainingStage]` is trained stage by stage by the same epoch
loop as every other model: before a stage starts, `fit` calls `model.set_stage(name)`, builds a fresh
optimiser on the stage's parameter groups (each with its own learning rate), and runs the loop with
the stage's epoch cap, validation and patience, keeping the stage's best weights. A model without the
method trains in a single stage "train" on all its parameters at `cfg.lr`. A model may also define
`auxiliary_loss() -> Tensor | None`: an extra objective its last training forward computed (for
example link prediction on the graph it saw), which the loop adds to the weighted task losses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SINGLE_STAGE = "train"


@dataclass(frozen=True)
class TrainingStage:
    """One phase of training: its name, optimiser parameter groups (dicts with params and lr) and epoch cap."""

    name: str
    param_groups: list[dict[str, Any]]
    max_epochs: int
