"""Simple-HGN (the HGB baseline): GAT-style attention over the whole typed graph with edge-type embeddings.

Per MODELS.md §2: a per-type input projection (Xavier-normal, gain 1.414); `cfg.layers` attention
layers, each `cfg.heads` heads concatenated (hidden split across the heads), one softmax over all
incoming edges of all relations, a learnable edge-type embedding in every edge logit
(LeakyReLU slope 0.05), explicit self-loop relations for every node type, a linear residual from
the second layer on and ELU; then a single-head output layer per task with a linear residual.
Faithful mode (`cfg.struchis_mode`) L2-normalises the output logits (two class logits for a binary
task) and ignores raw edge attributes; product mode keeps raw logits and lets edge attributes
(e.g. shipping volumes) enter the edge logits.

The heads are the core's `RelationAttention` with `split=False`. That layer gives each receiver
type its own projection; Simple-HGN has one projection for all types after the input projection,
so the per-receiver projections of every head are tied to one parameter.

Deviation: the later Simple-HGN's edge-residual attention (alpha mixed with the previous layer's) is left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.backbones import Embeddings, SharedBackbone, SingleTask, head_width
from models.layers import EdgeType, Relation, RelationAttention, relation_table
from models.problem import TaskSpec
from models.registry import ModelInputs, register

NEGATIVE_SLOPE = 0.05
INPUT_GAIN = 1.414


def _tie_projections(layer: RelationAttention) -> RelationAttention:
    """Make every receiver type share one projection matrix (Simple-HGN's single W)."""
    shared = next(iter(layer.W.values()))
    for s in list(layer.W.keys()):
        layer.W[s] = shared
    return layer


def hgb_relations(inputs: ModelInputs) -> list[Relation]:
    """All edge types plus a self-loop relation for every node type."""
    return relation_table(inputs.edge_types, sorted(inputs.in_dims))


def edge_attr_dims(inputs: ModelInputs, cfg: TrainConfig) -> dict[EdgeType, int]:
    """Raw edge attributes enter the attention in product mode only."""
    return {} if cfg.struchis_mode == "faithful" else dict(inputs.edge_attr_dims)


class HGBLayer(nn.Module):
    """One multi-head Simple-HGN layer over all node types: concatenated heads, optional linear residual, ELU."""

    def __init__(
        self, node_types: list[str], relations: list[Relation], cfg: TrainConfig, residual: bool,
        attr_dims: dict[EdgeType, int],
    ) -> None:
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise ValueError(f"hidden={cfg.hidden} must be divisible by heads={cfg.heads}")
        head_dim = cfg.hidden // cfg.heads
        self.node_types = list(node_types)
        self.heads = nn.ModuleList(
            _tie_projections(
                RelationAttention(
                    node_types, cfg.hidden, head_dim, relations, split=False, residual=False,
                    dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, edge_emb_dim=head_dim,
                    negative_slope=NEGATIVE_SLOPE, edge_attr_dims=attr_dims,
                )
            )
            for _ in range(cfg.heads)
        )
        self.res = nn.Linear(cfg.hidden, cfg.hidden) if residual else None

    def forward(self, h: Embeddings, graph: HeteroData, receivers: dict[str, int] | None = None) -> Embeddings:
        """New embeddings of every node type (with `receivers`, of those leading rows only)."""
        outs = [head(h, graph, receivers) for head in self.heads]
        new: Embeddings = {}
        for s in self.node_types:
            m = torch.cat([o[s].messages for o in outs], dim=-1)
            if self.res is not None:
                m = m + self.res(h[s][: m.shape[0]])
            new[s] = F.elu(m)
        return new


class HGBInput(nn.Module):
    """Per-type input projections to the hidden width."""

    def __init__(self, in_dims: dict[str, int], hidden: int) -> None:
        super().__init__()
        self.proj = nn.ModuleDict({t: nn.Linear(d, hidden) for t, d in in_dims.items()})
        for lin in self.proj.values():
            nn.init.xavier_normal_(lin.weight, gain=INPUT_GAIN)

    def forward(self, graph: HeteroData) -> Embeddings:
        """Projected features of every node type."""
        return {t: lin(graph[t].x) for t, lin in self.proj.items()}


class HGBEncoder(nn.Module):
    """Input projections then `layers` Simple-HGN layers (residual from the second on)."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig, layers: int | None = None) -> None:
        super().__init__()
        relations = hgb_relations(inputs)
        node_types = sorted(inputs.in_dims)
        attr_dims = edge_attr_dims(inputs, cfg)
        self.input = HGBInput(inputs.in_dims, cfg.hidden)
        self.layers = nn.ModuleList(
            HGBLayer(node_types, relations, cfg, residual=level > 0, attr_dims=attr_dims)
            for level in range(cfg.layers if layers is None else layers)
        )
        self.depth = len(self.layers)

    def forward(self, graph: HeteroData, limits: list[dict[str, int] | None] | None = None) -> Embeddings:
        """Embeddings [N, hidden] of every node type; `limits` are the receiver rows of each layer."""
        h = self.input(graph)
        for layer, receivers in zip(self.layers, limits or [None] * self.depth):
            h = layer(h, graph, receivers)
        return h


class HGBOutput(nn.Module):
    """Simple-HGN's output layer for one task: single-head attention over all relations plus a linear residual."""

    passes_messages = True

    def __init__(self, task: TaskSpec, inputs: ModelInputs, cfg: TrainConfig) -> None:
        super().__init__()
        self.node_type = task.node_type
        width = head_width(task, two_class_binary=cfg.struchis_mode == "faithful")
        self.layer = _tie_projections(
            RelationAttention(
                [task.node_type], cfg.hidden, width, hgb_relations(inputs), split=False, residual=True,
                dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, edge_emb_dim=cfg.hidden,
                negative_slope=NEGATIVE_SLOPE, edge_attr_dims=edge_attr_dims(inputs, cfg),
            )
        )

    def forward(self, h: Embeddings, graph: HeteroData, receivers: dict[str, int] | None = None) -> Tensor:
        """Raw output columns [N, width] (before L2 normalisation)."""
        out = self.layer(h, graph, receivers)[self.node_type]
        return out.messages + out.residual


def _wrap(kind: type[SingleTask] | type[SharedBackbone], inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """A Simple-HGN STL or shared-backbone model."""
    return kind(
        inputs.tasks, cfg,
        encoder=lambda: HGBEncoder(inputs, cfg),
        head=lambda task: HGBOutput(task, inputs, cfg),
        l2_normalise=cfg.struchis_mode == "faithful",
    )


@register("stl-hgb")
def _build_stl_hgb(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """STL-HGB: one Simple-HGN per task."""
    return _wrap(SingleTask, inputs, cfg)


@register("shared-hgb")
def _build_shared_hgb(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """Shared-HGB: one Simple-HGN backbone, one output layer per task."""
    return _wrap(SharedBackbone, inputs, cfg)
