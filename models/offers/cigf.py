"""CIGF (MODELS.md 4.2-4.3): CIGCN's compressed-interaction propagation and MESI's gated experts, with the ablation heads.

Every offer model here exposes `propagate(sub=None) -> list[Tensor]` (one [(M+N), d] table per branch; with a
Subgraph, the tables of its nodes only, propagated over its pairs alone),
`node_scores(tables, user_rows, item_rows, k) -> Tensor` (the score of behaviour k for rows of those tables;
training passes a compact gather of the batch's rows), `pair_scores(tables, users, items, k)` (the same
for user and item ids on the full tables) and `block_scores(tables, users, k)` (every item for each user),
so one training loop and one scoring loop (models/offers/training.py) serve them all.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from leadgraph.config import OfferConfig
from models.offers.data import Adjacency, Interactions, Subgraph, adjacencies, propagate


class CIGCN(nn.Module):
    """One branch per starting behaviour; inner hops mix the behaviour adjacencies by node-wise attention."""

    def __init__(self, adjs: list[Adjacency], n_nodes: int, dim: int, layers: int, compress: bool = True):
        super().__init__()
        self.adjs, self.layers, self.compress = adjs, layers, compress
        k = len(adjs)
        self.embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_nodes, dim)))
        # attention[k][l-2]: W_k^l, b_k^l of layer l >= 2 of branch k (behaviour- and layer-specific).
        self.attention = nn.ModuleList(
            nn.ModuleList(nn.Linear(dim, k) for _ in range(layers - 1)) for _ in range(k)
        )

    def branch(self, k: int, adjs: list[Adjacency], e0: torch.Tensor) -> torch.Tensor:
        """X*_k = sum over l = 0..L of x_k^l, with x^0 = E0, x^l = x^{l-1} + P^l."""
        p = propagate(adjs[k], e0)
        x = e0 + p
        total = e0 + x
        for layer in range(2, self.layers + 1):
            if self.compress:
                alpha = F.leaky_relu(self.attention[k][layer - 2](e0), 0.1)
                p = sum(alpha[:, j:j + 1] * propagate(a, p) for j, a in enumerate(adjs))
            else:
                p = propagate(adjs[k], p)
            x = x + p
            total = total + x
        return total

    def forward(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        """Every branch's table: of the whole graph, or of a subgraph's nodes in its local order."""
        if sub is None:
            adjs, e0 = self.adjs, self.embedding
        else:
            adjs, e0 = sub.adjacencies("left"), self.embedding[torch.from_numpy(sub.nodes)]
        return [self.branch(k, adjs, e0) for k in range(len(adjs))]

    def reg_weights(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        """Weights under the L2 penalty (the table, or a subgraph's rows of it, and the attention matrices; biases
        excluded)."""
        table = self.embedding if sub is None else self.embedding[torch.from_numpy(sub.nodes)]
        return [table, *(lin.weight for per_k in self.attention for lin in per_k)]


class MESI(nn.Module):
    """Experts f^j = x_j(u) * x_j(i); task k's gate is a softmax of one shared FC on its own branch's pair."""

    def __init__(self, dim: int, k: int, mult: float):
        super().__init__()
        self.gate = nn.Linear(2 * dim, k)
        self.mult = mult

    def gates(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        """g^k for each pair: [B, K], rows summing to 1."""
        t = tables[k]
        return torch.softmax(self.gate(torch.cat([t[users], t[items]], dim=-1)), dim=-1)

    def forward(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        """mult * sum over dims and experts of g^k_j f^j."""
        experts = torch.stack([t[users] * t[items] for t in tables], dim=-2)  # [B, K, d]
        return self.mult * (self.gates(tables, users, items, k).unsqueeze(-1) * experts).sum(dim=(-1, -2))

    def block(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        """forward for every (user, item) of the two lists: [B, N], with products instead of B * N gathers."""
        d = tables[k].shape[1]
        w = self.gate.weight
        logits = (tables[k][users] @ w[:, :d].T).unsqueeze(1) + (tables[k][items] @ w[:, d:].T + self.gate.bias).unsqueeze(0)
        experts = torch.stack([t[users] @ t[items].T for t in tables], dim=-1)  # [B, N, K]
        # Written out: torch.softmax over a last dimension of K = 4 is several times slower than these three ops.
        weights = (logits - logits.amax(-1, keepdim=True)).exp()
        return self.mult * (weights * experts).sum(-1) / weights.sum(-1)

    def reg_weights(self) -> list[torch.Tensor]:
        return [self.gate.weight]


class Bilinear(nn.Module):
    """w/o MESI: sum(x_k(u) * x_k(i) * r_k) per behaviour, at MESI's score scale (mult), so only the gating differs."""

    def __init__(self, dim: int, k: int, mult: float):
        super().__init__()
        self.r = nn.Parameter(torch.ones(k, dim))
        self.mult = mult

    def forward(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        t = tables[k]
        return self.mult * (t[users] * t[items] * self.r[k]).sum(-1)

    def block(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        """forward for every (user, item) of the two lists: [B, N]."""
        t = tables[k]
        return self.mult * (t[users] * self.r[k]) @ t[items].T

    def reg_weights(self) -> list[torch.Tensor]:
        return [self.r]


def _mlp(dim_in: int, dim_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.LeakyReLU(0.1))


class MixtureHead(nn.Module):
    """Shared-bottom, MMoE and PLE heads on [sum_k X*_k(u) || sum_k X*_k(i)] (the reference code sums the branches)."""

    def __init__(self, kind: str, dim: int, k: int, experts: int):
        super().__init__()
        width = 2 * dim
        self.kind, self.k = kind, k
        if kind == "sb":
            self.shared = nn.ModuleList([_mlp(width, width)])
        elif kind == "mmoe":
            self.shared = nn.ModuleList(_mlp(width, width) for _ in range(experts))
            self.gates = nn.ModuleList(nn.Linear(width, experts) for _ in range(k))
        else:  # ple: one CGC level, one specific expert per task and one shared
            self.shared = nn.ModuleList([_mlp(width, width)])
            self.specific = nn.ModuleList(_mlp(width, width) for _ in range(k))
            self.gates = nn.ModuleList(nn.Linear(width, 2) for _ in range(k))
        self.towers = nn.ModuleList(nn.Linear(width, 1) for _ in range(k))

    def forward(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        summed = torch.stack(tables).sum(0)
        x = torch.cat([summed[users], summed[items]], dim=-1)
        if self.kind == "sb":
            h = self.shared[0](x)
        else:
            experts = [e(x) for e in self.shared] if self.kind == "mmoe" else [self.specific[k](x), self.shared[0](x)]
            g = torch.softmax(self.gates[k](x), dim=-1)
            h = (torch.stack(experts, dim=-2) * g.unsqueeze(-1)).sum(-2)
        return self.towers[k](h).squeeze(-1)

    def reg_weights(self) -> list[torch.Tensor]:
        return []


class CIGF(nn.Module):
    """An encoder over the K behaviour graphs and a multi-task head; task k scores behaviour k."""

    def __init__(self, data: Interactions, cfg: OfferConfig, head: str = "mesi", compress: bool = True):
        super().__init__()
        k = len(data.behaviours)
        adjs = adjacencies(data, "left")
        self.n_users, self.n_items = data.n_users, data.n_items
        self.tasks = tuple(range(k))
        self.encoder = CIGCN(adjs, data.n_users + data.n_items, cfg.dim, cfg.layers, compress)
        if head == "mesi":
            self.head: nn.Module = MESI(cfg.dim, k, cfg.mult)
        elif head == "bilinear":
            self.head = Bilinear(cfg.dim, k, cfg.mult)
        else:
            self.head = MixtureHead(head, cfg.dim, k, cfg.mmoe_experts)

    def propagate(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        return self.encoder(sub)

    def node_scores(self, tables: list[torch.Tensor], user_rows: torch.Tensor, item_rows: torch.Tensor, k: int) -> torch.Tensor:
        return self.head(tables, user_rows, item_rows, k)

    def pair_scores(self, tables: list[torch.Tensor], users: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        return self.head(tables, users, self.n_users + items, k)

    def block_scores(self, tables: list[torch.Tensor], users: torch.Tensor, k: int) -> torch.Tensor:
        """Behaviour k's score of every item for each user: [len(users), n_items]."""
        items = self.n_users + torch.arange(self.n_items)
        if hasattr(self.head, "block"):
            return self.head.block(tables, users, items, k)
        pairs = self.head(tables, users.repeat_interleave(len(items)), items.repeat(len(users)), k)
        return pairs.reshape(len(users), len(items))

    def reg_weights(self, sub: Subgraph | None = None) -> list[torch.Tensor]:
        return [*self.encoder.reg_weights(sub), *self.head.reg_weights()]
