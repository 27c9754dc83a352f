"""The dual-branch model (MODELS.md §5, §6.2): a multi-task GCN branch and a multi-task HGT branch, pre-trained
apart, fused by bidirectional cross-attention between their per-layer token sets, fine-tuned end to end.

* **GCN branch**: input projections, then `cfg.dual.gcn_layers` weighted GCN layers (self-loops,
  symmetric normalisation, residual) over the interaction graph, `cfg.dual.interaction_relations`
  with each relation listed next to its reverse: customer-customer shipping weighted by volume on the
  logistics world, author-paper on DBLP. Its pre-training objective is the task-weighted node losses
  plus an interaction objective: at every training step a share of the interaction pairs is held out
  of propagation (both directions) and predicted (dot product of the end points) against as many
  negatives with a redrawn destination. A snapshot's edges are the partnerships up to its anchor, so
  the held-out pairs are partner links this forward has not seen, never links from after the anchor.
* **HGT branch**: exactly the Shared-HGT encoder (`models.hgt.HGTEncoder`, all relations, PyG `HGTConv`)
  with one linear head per task; alone it is `shared-hgt`.
* **Fusion**: for every node of a task's type, tokens are the branch's representations after each
  layer (the projection included), plus a learned per-layer embedding. Each block updates both token
  sets at once: A <- MHA(Q=A, K=V=B) and B <- MHA(Q=B, K=V=A), each followed by residual + LayerNorm
  and a feed-forward with residual + LayerNorm. Each side is mean-pooled and a vector gate mixes them:
  z = g * p_A + (1 - g) * p_B with g = sigmoid(W [p_A; p_B]); one linear head per task reads z.

Training goes through `fit` in stages (`models.stages`): pre-train the GCN branch, pre-train the HGT
branch, then fine-tune everything on the two tasks with the branches at `lr * branch_lr_scale`.
Ablations: `dual-branch-gcn` and `dual-branch-hgt` (one branch and its heads), `dual-branch-concat`
(pooled branches concatenated, no attention), `dual-branch-one-way` (only the HGT tokens attend to
the GCN tokens), `dual-branch-no-pretrain` (fine-tuning from scratch, one learning rate).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.backbones import BaselineModule, LinearHead, head_width, step_limits, to_task_logits
from models.hgt import HGTEncoder
from models.layers import SparseAwareLinear, dropout
from models.registry import ModelInputs, register
from models.stages import SINGLE_STAGE, TrainingStage

EdgeType = tuple[str, str, str]
Tokens = dict[str, Tensor]  # node type -> [N, layers + 1, hidden]

VARIANTS: dict[str, str] = {
    "dual-branch": "full",
    "dual-branch-gcn": "gcn",
    "dual-branch-hgt": "hgt",
    "dual-branch-concat": "concat",
    "dual-branch-one-way": "one-way",
    "dual-branch-no-pretrain": "no-pretrain",
}
# Which branch outputs a forward returns in each mode.
GCN, HGT, FUSED = "gcn", "hgt", "fused"
STAGE_MODES = {"pretrain-gcn": GCN, "pretrain-hgt": HGT, "fine-tune": FUSED}


def output_rows(graph: HeteroData) -> dict[str, int] | None:
    """Rows each node type's logits cover: the seeds (hop 0) of a sampled subgraph; None (all) on a whole graph."""
    return step_limits(graph, 1)[0]


class GCNBranch(nn.Module):
    """Weighted GCN over the interaction graph, node types stacked into one index space."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig) -> None:
        super().__init__()
        dual = cfg.dual
        self.edge_types = [et for et in inputs.edge_types if et[1] in dual.interaction_relations]
        kinds = {t for et in self.edge_types for t in (et[0], et[2])} | {t.node_type for t in inputs.tasks}
        self.node_types = sorted(kinds)
        # Bag-of-words inputs (DBLP papers) project through a sparse product; results equal nn.Linear's.
        self.proj = nn.ModuleDict({t: SparseAwareLinear(inputs.in_dims[t], cfg.hidden) for t in self.node_types})
        self.layers = nn.ModuleList(nn.Linear(cfg.hidden, cfg.hidden) for _ in range(dual.gcn_layers))
        self.depth = dual.gcn_layers
        self.volume_column = dual.volume_column
        self.dropout = cfg.dropout

    def _offsets(self, graph: HeteroData) -> dict[str, int]:
        """Start of each node type in the stacked index."""
        offsets, start = {}, 0
        for t in self.node_types:
            offsets[t] = start
            start += graph[t].num_nodes
        return offsets

    def _edge_weight(self, graph: HeteroData, et: EdgeType) -> Tensor:
        """Positive weight per edge, increasing in volume: softplus of the (normalised) volume column, else 1."""
        attr = graph[et].get("edge_attr")
        if attr is None or attr.dim() != 2 or attr.shape[1] <= self.volume_column:
            return torch.ones(graph[et].edge_index.shape[1], device=graph[et].edge_index.device)
        return F.softplus(attr[:, self.volume_column])

    def interactions(self, graph: HeteroData) -> tuple[Tensor, Tensor, Tensor, dict[str, int]]:
        """Interaction edges as messages src -> dst in the stacked index, their weights, and the offsets."""
        offsets = self._offsets(graph)
        src, dst, weight = [], [], []
        for et in self.edge_types:
            if et not in graph.edge_types:
                continue
            ei = graph[et].edge_index
            src.append(ei[0] + offsets[et[0]])
            dst.append(ei[1] + offsets[et[2]])
            weight.append(self._edge_weight(graph, et))
        if not src:
            device = next(self.parameters()).device
            empty = torch.empty(0, dtype=torch.long, device=device)
            return empty, empty, torch.empty(0, device=device), offsets
        return torch.cat(src), torch.cat(dst), torch.cat(weight), offsets

    @staticmethod
    def normalised(src: Tensor, dst: Tensor, weight: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """The edges plus unit self-loops, weighted by w / sqrt(deg_u deg_v) with deg the weighted in-degree.

        With every relation listed next to its reverse the in-degree is the undirected degree, and a
        node's degree needs only its own incoming edges: a sampled subgraph with one hop more than the
        layers gives the seeds exactly their whole-graph representation.
        """
        loops = torch.arange(n, device=src.device)
        rows, cols = torch.cat([src, loops]), torch.cat([dst, loops])
        w = torch.cat([weight, torch.ones(n, device=src.device)])
        inv = torch.zeros(n, device=src.device).index_add_(0, cols, w).clamp_min(1e-12).rsqrt()
        return rows, cols, w * inv[rows] * inv[cols]

    def forward(self, graph: HeteroData, held_out: Tensor | None = None) -> tuple[list[Tensor], dict[str, int]]:
        """Stacked representations after each layer (projection first) and the offsets.

        `held_out` (positions in `interactions`' edge list) and their reverse pairs do not propagate.
        """
        src, dst, weight, offsets = self.interactions(graph)
        h = torch.cat([self.proj[t](graph[t].x) for t in self.node_types])
        if held_out is not None and held_out.numel():
            n = h.shape[0]
            pairs = src[held_out] * n + dst[held_out]
            keep = ~(torch.isin(src * n + dst, pairs) | torch.isin(dst * n + src, pairs))
            src, dst, weight = src[keep], dst[keep], weight[keep]
        rows, cols, norm = self.normalised(src, dst, weight, h.shape[0])
        states = [h]
        for lin in self.layers:
            msg = lin(dropout(h, self.dropout, self.training))
            h = h + torch.relu(torch.zeros_like(msg).index_add_(0, cols, msg[rows] * norm[:, None]))
            states.append(h)
        return states, offsets


class CrossBlock(nn.Module):
    """One bidirectional cross-attention block: each side attends to the other's tokens, then residual, LayerNorm, FFN."""

    def __init__(self, hidden: int, heads: int, ffn_mult: int, attn_dropout: float, both_ways: bool) -> None:
        super().__init__()
        self.both_ways = both_ways
        sides = ("gcn", "hgt") if both_ways else ("hgt",)
        self.attn = nn.ModuleDict({s: nn.MultiheadAttention(hidden, heads, dropout=attn_dropout, batch_first=True) for s in sides})
        self.norm1 = nn.ModuleDict({s: nn.LayerNorm(hidden) for s in sides})
        self.norm2 = nn.ModuleDict({s: nn.LayerNorm(hidden) for s in sides})
        self.ffn = nn.ModuleDict({
            s: nn.Sequential(nn.Linear(hidden, ffn_mult * hidden), nn.GELU(), nn.Linear(ffn_mult * hidden, hidden))
            for s in sides
        })

    def _side(self, side: str, mine: Tensor, other: Tensor) -> tuple[Tensor, Tensor]:
        """`mine` updated from attention over `other`; the per-head weights [N, heads, |mine|, |other|]."""
        y, weights = self.attn[side](mine, other, other, need_weights=True, average_attn_weights=False)
        mine = self.norm1[side](mine + y)
        return self.norm2[side](mine + self.ffn[side](mine)), weights

    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """New GCN tokens `a` and HGT tokens `b` (both computed from the old ones), and each direction's weights."""
        weights = {}
        new_b, weights["hgt<-gcn"] = self._side("hgt", b, a)
        if self.both_ways:
            a, weights["gcn<-hgt"] = self._side("gcn", a, b)
        return a, new_b, weights


class DualBranch(BaselineModule):
    """GCN branch + HGT branch (+ fusion): `mode` decides which outputs `forward` returns."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig, variant: str) -> None:
        super().__init__(inputs.tasks, cfg, l2_normalise=False)
        self.variant = variant
        self.cfg_dual = cfg.dual
        self.target_types = sorted({t.node_type for t in self.tasks})
        hidden = cfg.hidden
        if variant != "hgt":
            self.gcn = GCNBranch(inputs, cfg)
            self.gcn_heads = nn.ModuleList(LinearHead(t, hidden) for t in self.tasks)
        if variant != "gcn":
            self.hgt = HGTEncoder(inputs, cfg)
            self.hgt_heads = nn.ModuleList(LinearHead(t, hidden) for t in self.tasks)
        if variant not in ("gcn", "hgt"):
            if variant == "concat":
                self.mix = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            else:
                self.layer_emb = nn.ParameterDict({
                    "gcn": nn.Parameter(torch.zeros(cfg.dual.gcn_layers + 1, hidden)),
                    "hgt": nn.Parameter(torch.zeros(cfg.layers + 1, hidden)),
                })
                self.blocks = nn.ModuleList(
                    CrossBlock(hidden, cfg.heads, cfg.dual.ffn_mult, cfg.attn_dropout, variant != "one-way")
                    for _ in range(cfg.dual.fusion_blocks)
                )
                self.gate = nn.Linear(2 * hidden, hidden)
            self.fused_heads = nn.ModuleList(nn.Linear(hidden, head_width(t, False)) for t in self.tasks)
        self.mode = {"gcn": GCN, "hgt": HGT}.get(variant, FUSED)
        self._aux: Tensor | None = None
        self.last_attention: dict[str, dict[str, Tensor]] = {}

    # -- training stages -------------------------------------------------------------------------
    def _params(self, *names: str) -> list[nn.Parameter]:
        """Parameters of the named submodules (or parameters)."""
        out: list[nn.Parameter] = []
        for name in names:
            part = getattr(self, name)
            out += list(part.parameters()) if isinstance(part, nn.Module) else [part]
        return out

    def fusion_parameter_names(self) -> tuple[str, ...]:
        """The submodules that exist only in the fused model."""
        return ("mix", "fused_heads") if self.variant == "concat" else ("layer_emb", "blocks", "gate", "fused_heads")

    def training_stages(self, cfg: TrainConfig) -> list[TrainingStage]:
        """Pre-train each branch alone, then fine-tune with the pre-trained branches at a lower learning rate."""
        if self.variant == "gcn":
            return [TrainingStage(SINGLE_STAGE, [{"params": self._params("gcn", "gcn_heads"), "lr": cfg.lr}], cfg.max_epochs)]
        if self.variant == "hgt":
            return [TrainingStage(SINGLE_STAGE, [{"params": self._params("hgt", "hgt_heads"), "lr": cfg.lr}], cfg.max_epochs)]
        fusion = self._params(*self.fusion_parameter_names())
        branches = self._params("gcn", "hgt")
        if self.variant == "no-pretrain":
            return [TrainingStage("fine-tune", [{"params": branches + fusion, "lr": cfg.lr}], cfg.max_epochs)]
        epochs, share = cfg.dual.pretrain_epochs, cfg.dual.fine_tune_budget_share
        return [
            TrainingStage("pretrain-gcn", [{"params": self._params("gcn", "gcn_heads"), "lr": cfg.lr}], epochs,
                          (1 - share) / 2),
            TrainingStage("pretrain-hgt", [{"params": self._params("hgt", "hgt_heads"), "lr": cfg.lr}], epochs,
                          (1 - share) / 2),
            TrainingStage("fine-tune", [{"params": branches, "lr": cfg.lr * cfg.dual.branch_lr_scale},
                                        {"params": fusion, "lr": cfg.lr}], cfg.max_epochs, share),
        ]

    def set_stage(self, name: str) -> None:
        """Switch the outputs `forward` returns to the stage's branch (a single-stage variant keeps its own)."""
        if name != SINGLE_STAGE:
            self.mode = STAGE_MODES[name]

    def auxiliary_loss(self) -> Tensor | None:
        """The weighted interaction loss of the last training forward of the GCN branch (once)."""
        aux, self._aux = self._aux, None
        return None if aux is None else self.cfg_dual.link_weight * aux

    # -- forward ---------------------------------------------------------------------------------
    def _gcn_tokens(self, graph: HeteroData, rows: dict[str, int] | None) -> Tokens:
        """GCN tokens of the task node types; in training the held-out interaction edges give the link loss."""
        held = None
        link = self.training and self.mode == GCN and self.cfg_dual.link_weight > 0
        if link:
            held = self._hold_out(graph)
        states, offsets = self.gcn(graph, held)
        if link and held.numel():
            self._aux = self._link_loss(graph, states[-1], offsets, held)
        out = {}
        for t in self.target_types:
            n = graph[t].num_nodes if rows is None else rows[t]
            out[t] = torch.stack([s[offsets[t]: offsets[t] + n] for s in states], dim=1)
        return out

    def _hold_out(self, graph: HeteroData) -> Tensor:
        """Positions (in the branch's edge list) of the interaction edges held out of this step's propagation."""
        total = sum(graph[et].edge_index.shape[1] for et in self.gcn.edge_types if et in graph.edge_types)
        k = min(int(total * self.cfg_dual.link_holdout), self.cfg_dual.link_max_edges)
        # Drawn on the CPU's generator on every device, so a seed gives the same held-out edges everywhere.
        return torch.randperm(total)[:k].to(next(self.parameters()).device)

    def _link_loss(self, graph: HeteroData, h: Tensor, offsets: dict[str, int], held: Tensor) -> Tensor:
        """BCE of held-out interaction edges against negatives with the destination redrawn uniformly within its type."""
        src, dst, _, _ = self.gcn.interactions(graph)
        src, dst = src[held], dst[held]
        bounds = sorted(offsets.values()) + [h.shape[0]]
        start = torch.tensor(bounds[:-1], device=h.device)
        size = torch.tensor(bounds[1:], device=h.device) - start
        kind = torch.bucketize(dst, start, right=True) - 1
        draw = torch.rand(dst.numel()).to(h.device)
        neg = start[kind] + (draw * size[kind]).long().clamp_max(size[kind] - 1)
        pos_score = (h[src] * h[dst]).sum(-1)
        neg_score = (h[src] * h[neg]).sum(-1)
        scores = torch.cat([pos_score, neg_score])
        target = torch.cat([torch.ones_like(pos_score), torch.zeros_like(neg_score)])
        return F.binary_cross_entropy_with_logits(scores, target)

    def _hgt_tokens(self, graph: HeteroData, rows: dict[str, int] | None) -> Tokens:
        """HGT tokens of the task node types: the projection and every layer's output (Shared-HGT's encoder)."""
        limits = step_limits(graph, self.hgt.depth)
        h = {t: lin(graph[t].x) for t, lin in self.hgt.proj.items()}
        states = [h]
        for layer, receivers in zip(self.hgt.layers, limits):
            h = layer(h, graph, receivers)
            states.append(h)
        out = {}
        for t in self.target_types:
            n = graph[t].num_nodes if rows is None else rows[t]
            out[t] = torch.stack([s[t][:n] for s in states], dim=1)
        return out

    def fuse(self, a: Tensor, b: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """One fused vector per node from its GCN tokens `a` and HGT tokens `b`, and the attention weights per direction."""
        if self.variant == "concat":
            return self.mix(torch.cat([a.mean(1), b.mean(1)], -1)), {}
        a = a + self.layer_emb["gcn"]
        b = b + self.layer_emb["hgt"]
        weights: dict[str, Tensor] = {}
        for block in self.blocks:
            a, b, weights = block(a, b)
        pa, pb = a.mean(1), b.mean(1)
        gate = torch.sigmoid(self.gate(torch.cat([pa, pb], -1)))
        return gate * pa + (1 - gate) * pb, weights

    def forward(self, graph: HeteroData) -> dict[str, Tensor]:
        """Each task's logits from the current mode's outputs (on a sampled subgraph: the seeds' rows)."""
        rows = output_rows(graph)
        if self.mode == GCN:
            tokens = self._gcn_tokens(graph, rows)
            return {t.name: to_task_logits(self.gcn_heads[i]({t.node_type: tokens[t.node_type][:, -1]}, graph), t, False)
                    for i, t in enumerate(self.tasks)}
        if self.mode == HGT:
            tokens = self._hgt_tokens(graph, rows)
            return {t.name: to_task_logits(self.hgt_heads[i]({t.node_type: tokens[t.node_type][:, -1]}, graph), t, False)
                    for i, t in enumerate(self.tasks)}
        a, b = self._gcn_tokens(graph, rows), self._hgt_tokens(graph, rows)
        fused, self.last_attention = {}, {}
        for t in self.target_types:
            if a[t].shape[0] == 0:  # a sampled batch seeded on another node type
                fused[t] = a[t].new_zeros(0, a[t].shape[-1])
                continue
            fused[t], self.last_attention[t] = self.fuse(a[t], b[t])
        return {t.name: to_task_logits(self.fused_heads[i](fused[t.node_type]), t, False) for i, t in enumerate(self.tasks)}


def _builder(name: str):
    """A registry builder for one variant."""

    def build(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
        if cfg.hidden % cfg.heads:
            raise ValueError(f"hidden={cfg.hidden} must be divisible by heads={cfg.heads}")
        if cfg.dual.gcn_layers > cfg.layers + 1:
            # Sampled training and scoring reach layers + 1 hops; a deeper GCN would see cut neighbourhoods.
            raise ValueError(f"train.dual.gcn_layers={cfg.dual.gcn_layers} exceeds train.layers + 1 = {cfg.layers + 1}")
        return DualBranch(inputs, cfg, VARIANTS[name])

    build.__doc__ = f"{name}: the dual-branch model, variant {VARIANTS[name]!r}."
    return build


for _name in VARIANTS:
    register(_name)(_builder(_name))

