"""Funnel first: the offers a customer already went furthest with lead, as a sales team pitches them; a trained
model orders the offers within each funnel stage and every offer the customer never touched.

On the simulated world most next adoptions are offers the customer had touched (benchmarks/results/offers.md),
where the funnel stage alone recalls them all, while a model's ranking of the untouched offers can beat
popularity, the funnel stage's tie-break. This ranking keeps the first and takes the second.
"""

from __future__ import annotations

import torch
from torch import nn

from models.offers.baselines import funnel_stages
from models.offers.data import Interactions, Subgraph


class FunnelFirst(nn.Module):
    """Trains exactly as `inner`; on the target behaviour, scores are the funnel stage (0-3) plus the inner model's
    rank of the item among the user's items, scaled into [0, 1), so a stage is never overtaken."""

    def __init__(self, inner: nn.Module, data: Interactions):
        super().__init__()
        self.inner, self.data = inner, data
        self.trainable = getattr(inner, "trainable", True)
        self.reference_setting = getattr(inner, "reference_setting", True)
        self.tasks = inner.tasks

    def propagate(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        return self.inner.propagate(sub)

    def node_scores(self, tables: list[torch.Tensor], user_rows: torch.Tensor, item_rows: torch.Tensor, k: int) -> torch.Tensor:
        return self.inner.node_scores(tables, user_rows, item_rows, k)

    def block_scores(self, tables: list[torch.Tensor], users: torch.Tensor, k: int) -> torch.Tensor:
        scores = self.inner.block_scores(tables, users, k)
        if k != self.data.target:
            return scores
        # Ranks rather than raw scores: a model's scores are unbounded, and adding them would mix the stages.
        rank = scores.argsort(dim=1).argsort(dim=1).to(torch.float32) / scores.shape[1]
        return torch.from_numpy(funnel_stages(self.data, users.cpu().numpy())).to(rank.device) + rank

    def pair_scores(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        # A rank needs the user's whole row, so a pair's score is read from its user's block.
        unique, row = torch.unique(users, return_inverse=True)
        return self.block_scores(tables, unique, k)[row, items]

    def reg_weights(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        return self.inner.reg_weights(sub)
