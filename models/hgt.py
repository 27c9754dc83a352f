"""HGT (Hu et al., WWW'20) baselines on PyG's `HGTConv`: per-type input projections, `cfg.layers` HGT layers, linear heads.

`HGTConv` carries type-specific K/Q/V, relation-specific attention and message matrices, a
relation prior, one softmax over all incoming edges across relations, the GELU + per-type output
linear and the gated skip connection. Dropout is applied to each layer's input (HGTConv has none).
No relative temporal encoding (static snapshots); raw edge attributes are not used.
"""

from __future__ import annotations

from torch import nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import HGTConv

from leadgraph.config import TrainConfig
from models.backbones import Embeddings, LinearHead, SharedBackbone, SingleTask
from models.layers import Relation, dropout, relation_edges
from models.registry import ModelInputs, register


class HGTLayer(nn.Module):
    """Dropout on the inputs, then one HGTConv; node types that receive nothing keep their embedding."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig) -> None:
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise ValueError(f"hidden={cfg.hidden} must be divisible by heads={cfg.heads}")
        self.edge_types = [tuple(et) for et in inputs.edge_types]
        self.conv = HGTConv(cfg.hidden, cfg.hidden, (sorted(inputs.in_dims), self.edge_types), heads=cfg.heads)
        self.dropout = cfg.dropout

    def forward(self, h: Embeddings, graph: HeteroData, receivers: dict[str, int] | None = None) -> Embeddings:
        """New embeddings of every node type (with `receivers`, of those leading rows only: edges into the rest are dropped)."""
        x = {t: dropout(v, self.dropout, self.training) for t, v in h.items()}
        edges = {et: relation_edges(graph, Relation(0, et), receivers[et[2]] if receivers else None)[0]
                 for et in self.edge_types if et in graph.edge_types}
        out = self.conv(x, edges)
        rows = receivers or {t: v.shape[0] for t, v in h.items()}
        return {t: (out[t] if out.get(t) is not None else h[t])[: rows[t]] for t in h}


class HGTEncoder(nn.Module):
    """Input projections then `layers` HGT layers."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig, layers: int | None = None) -> None:
        super().__init__()
        self.proj = nn.ModuleDict({t: nn.Linear(d, cfg.hidden) for t, d in inputs.in_dims.items()})
        self.layers = nn.ModuleList(HGTLayer(inputs, cfg) for _ in range(cfg.layers if layers is None else layers))
        self.depth = len(self.layers)

    def forward(self, graph: HeteroData, limits: list[dict[str, int] | None] | None = None) -> Embeddings:
        """Embeddings [N, hidden] of every node type; `limits` are the receiver rows of each layer."""
        h = {t: lin(graph[t].x) for t, lin in self.proj.items()}
        for layer, receivers in zip(self.layers, limits or [None] * self.depth):
            h = layer(h, graph, receivers)
        return h


def _wrap(kind: type[SingleTask] | type[SharedBackbone], inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """An HGT STL or shared-backbone model."""
    return kind(
        inputs.tasks, cfg,
        encoder=lambda: HGTEncoder(inputs, cfg),
        head=lambda task: LinearHead(task, cfg.hidden),
        l2_normalise=False,
    )


@register("stl-hgt")
def _build_stl_hgt(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """STL-HGT: one HGT per task."""
    return _wrap(SingleTask, inputs, cfg)


@register("shared-hgt")
def _build_shared_hgt(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """Shared-HGT: one HGT backbone, one linear head per task."""
    return _wrap(SharedBackbone, inputs, cfg)
