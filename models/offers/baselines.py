"""Offer baselines a team would use: popularity, MF-BPR, LightGCN on the target behaviour or on all behaviours merged."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from leadgraph.config import OfferConfig
from models.offers.data import Interactions, bipartite, propagate


class Popularity(nn.Module):
    """Every user gets the items most adopted in training."""

    trainable = False

    def __init__(self, data: Interactions, cfg: OfferConfig):
        super().__init__()
        counts = np.bincount(data.items[data.target], minlength=data.n_items).astype(np.float32)
        self.register_buffer("counts", torch.from_numpy(counts))
        self.tasks = (data.target,)

    def propagate(self) -> list[torch.Tensor]:
        return [self.counts]

    def pair_scores(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        return tables[0][items]

    def block_scores(self, tables: list[torch.Tensor], users: torch.Tensor, k: int) -> torch.Tensor:
        return tables[0].expand(len(users), -1)

    def reg_weights(self) -> list[torch.Tensor]:
        return []


class LightGCN(nn.Module):
    """Symmetric-normalised propagation, mean of the layer embeddings, dot product; 0 layers is MF-BPR."""

    trainable = True
    # Trained with baseline_lr / baseline_reg, not CIGF's reference values (see OfferConfig).
    reference_setting = False

    def __init__(self, data: Interactions, cfg: OfferConfig, layers: int, merged: bool = False):
        super().__init__()
        users, items = data.merged() if merged else (data.users[data.target], data.items[data.target])
        self.adj = bipartite(users, items, data.n_users, data.n_items, "symm")
        self.layers, self.n_users = layers, data.n_users
        self.embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(data.n_users + data.n_items, cfg.dim)))
        self.tasks = (data.target,)

    def propagate(self) -> list[torch.Tensor]:
        x, total = self.embedding, self.embedding
        for _ in range(self.layers):
            x = propagate(self.adj, x)
            total = total + x
        return [total / (self.layers + 1)]

    def node_scores(self, tables: list[torch.Tensor], user_rows: torch.Tensor, item_rows: torch.Tensor, k: int) -> torch.Tensor:
        t = tables[0]
        return (t[user_rows] * t[item_rows]).sum(-1)

    def pair_scores(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        return self.node_scores(tables, users, self.n_users + items, k)

    def block_scores(self, tables: list[torch.Tensor], users: torch.Tensor, k: int) -> torch.Tensor:
        t = tables[0]
        return t[users] @ t[self.n_users:].T

    def reg_weights(self) -> list[torch.Tensor]:
        return [self.embedding]
