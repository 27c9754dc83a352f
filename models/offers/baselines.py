"""Offer baselines a team would use: popularity, the funnel stage, MF-BPR, LightGCN on the target behaviour or on all
behaviours merged."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from leadgraph.config import OfferConfig
from models.offers.data import Adjacency, Interactions, Subgraph, bipartite, propagate


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


def funnel_stage(data: Interactions, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """How far each (user, item) pair went before the target: 0 nothing, 1 enquiry, 2 quote, 3 trial."""
    stage = np.zeros(len(users), dtype=np.float32)
    for b in range(data.target):  # funnel order: a later behaviour overrides an earlier one
        stage[data.has(b, users, items)] = b + 1
    return stage


def funnel_stages(data: Interactions, users: np.ndarray) -> np.ndarray:
    """funnel_stage of every item for each user: [len(users), n_items], from the users' own pairs only."""
    stage = np.zeros((len(users), data.n_items), dtype=np.float32)
    for b in range(data.target):
        count = np.searchsorted(data.users[b], users, side="right") - np.searchsorted(data.users[b], users, side="left")
        stage[np.repeat(np.arange(len(users)), count), data.items[b][data.runs(b, users)]] = b + 1
    return stage


class FunnelStage(nn.Module):
    """Every user gets the offers it went furthest with (trial over quote over enquiry), the most adopted first:
    what a sales team pitches without a model."""

    trainable = False

    def __init__(self, data: Interactions, cfg: OfferConfig):
        super().__init__()
        counts = np.bincount(data.items[data.target], minlength=data.n_items).astype(np.float32)
        # Popularity breaks ties within a stage and never lifts an offer into the next stage (it stays below 1).
        self.register_buffer("tie", torch.from_numpy(counts / (2 * max(counts.max(), 1.0))))
        self.data = data
        self.tasks = (data.target,)

    def propagate(self) -> list[torch.Tensor]:
        return [self.tie]

    def pair_scores(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        return torch.from_numpy(funnel_stage(self.data, users.numpy(), items.numpy())) + tables[0][items]

    def block_scores(self, tables: list[torch.Tensor], users: torch.Tensor, k: int) -> torch.Tensor:
        return torch.from_numpy(funnel_stages(self.data, users.numpy())) + tables[0]

    def reg_weights(self) -> list[torch.Tensor]:
        return []


class LightGCN(nn.Module):
    """Symmetric-normalised propagation, mean of the layer embeddings, dot product; 0 layers is MF-BPR."""

    trainable = True
    # Trained with baseline_lr / baseline_reg, not CIGF's reference values (see OfferConfig).
    reference_setting = False

    def __init__(self, data: Interactions, cfg: OfferConfig, layers: int, merged: bool = False):
        super().__init__()
        self.layers, self.merged, self.n_users = layers, merged, data.n_users
        self.adj = self.adjacency(data)
        self.embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(data.n_users + data.n_items, cfg.dim)))
        self.tasks = (data.target,)

    def pairs(self, data: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """The pairs it propagates over: the target behaviour's, or every behaviour's merged."""
        return data.merged() if self.merged else (data.users[data.target], data.items[data.target])

    def adjacency(self, data: Interactions, item_side: Interactions | None = None) -> Adjacency:
        """Its graph over `data` (item rows from `item_side`'s pairs when given, as in a sampled subgraph)."""
        return bipartite(*self.pairs(data), data.n_users, data.n_items, "symm",
                         None if item_side is None else self.pairs(item_side))

    def propagate(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        x = total = self.embedding if sub is None else self.embedding[torch.from_numpy(sub.nodes)]
        adj = self.adj if sub is None or not self.layers else self.adjacency(sub.pairs, sub.item_pairs)
        for _ in range(self.layers):
            x = propagate(adj, x)
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

    def reg_weights(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        return [self.embedding if sub is None else self.embedding[torch.from_numpy(sub.nodes)]]
