"""The relation-split attention layer of StrucHIS: a single-head Simple-HGN-style layer with one softmax per relation.

Conventions (MODELS.md §1.2, §1.4): relations are PyG edge types `(src, rel, dst)` where `dst`
receives; the reference's receiver-convention relation `(s, r, t)` is the PyG edge type `(t, r, s)`.
Self-loop relations are explicit (one per listed node type) and are built at forward time.
Every relation has a row in a learnable edge-type embedding whose scalar projection enters the edge
logit before the LeakyReLU; optional raw edge attributes add a per-relation linear term there too.
"""

from __future__ import annotations

import math
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import softmax

from models.device import graph_device

EdgeType = tuple[str, str, str]
SELF_LOOP = "self"


@dataclass(frozen=True)
class Relation:
    """One relation: its id (row of the edge-type embedding), PyG edge type, and whether it is a built self-loop."""

    id: int
    edge_type: EdgeType
    self_loop: bool = False

    @property
    def key(self) -> str:
        """A ModuleDict-safe key."""
        return "__".join(self.edge_type)


def relation_table(edge_types: list[EdgeType], self_loop_types: list[str]) -> list[Relation]:
    """All relations in a fixed order (by receiver, then relation name, then sender), plus self-loops for the given types."""
    entries = [(tuple(et), False) for et in edge_types]
    entries += [((t, SELF_LOOP, t), True) for t in self_loop_types]
    entries.sort(key=lambda e: (e[0][2], e[0][1], e[0][0]))
    return [Relation(i, et, loop) for i, (et, loop) in enumerate(entries)]


def relation_edges(graph: HeteroData, rel: Relation, receivers: int | None = None) -> tuple[Tensor, Tensor | None]:
    """The relation's edge_index (row 0 senders, row 1 receivers) in `graph` and its edge attributes if any,
    restricted to edges into the first `receivers` rows when given."""
    if rel.self_loop:
        n = graph[rel.edge_type[0]].num_nodes if receivers is None else receivers
        idx = torch.arange(n, device=graph_device(graph))
        return torch.stack([idx, idx]), None
    if rel.edge_type not in graph.edge_types:
        return torch.empty(2, 0, dtype=torch.long, device=graph_device(graph)), None
    store = graph[rel.edge_type]
    ei, attr = store.edge_index, store.get("edge_attr")
    if receivers is not None and receivers < graph[rel.edge_type[2]].num_nodes:
        keep = torch.nonzero(ei[1] < receivers).squeeze(1)
        ei = ei.index_select(1, keep)
        attr = None if attr is None else attr.index_select(0, keep)
    return ei, attr


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout: torch's own on an accelerator; on a CPU a mask from numpy's SFC64 generator, seeded from torch's.

    Drawing the mask is most of what dropout costs on a CPU, and SFC64 bytes come several times faster than
    torch's Bernoulli sampling there. The seed is taken from torch's
    generator, so torch.manual_seed still fixes every mask, and a checkpointed recomputation (which restores
    torch's RNG state) draws the same masks. On a CPU p is rounded to a multiple of 1/256.
    """
    if not training or p <= 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    if p >= 1.0:
        return torch.zeros_like(x)
    seed = int(torch.randint(0, 2**62, (1,)))
    draws = np.random.Generator(np.random.SFC64(seed)).integers(0, 256, size=tuple(x.shape), dtype=np.uint8)
    cut = round(p * 256)
    keep = torch.from_numpy(draws) >= cut
    return x * keep * (256.0 / (256 - cut))


def _xavier(*shape: int) -> nn.Parameter:
    """A parameter drawn like the reference: uniform over +-sqrt(6 / (fan_in + fan_out)) of the last two dims."""
    fan = shape[-1] + (shape[-2] if len(shape) > 1 else 1)
    bound = math.sqrt(6.0 / fan)
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


def _sparse_sum(alpha: Tensor, inc: Incoming, n: int, senders: Tensor) -> Tensor:
    """sum_u alpha_vu h_u for the n receivers of `inc`, as one CSR x dense product (edges come sorted by receiver)."""
    if inc.dst.numel() == 0:
        return senders.new_zeros(n, senders.shape[1])
    crow = torch.zeros(n + 1, dtype=torch.long, device=inc.dst.device)
    torch.cumsum(torch.bincount(inc.dst, minlength=n), 0, out=crow[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        matrix = torch.sparse_csr_tensor(crow, inc.src, alpha, size=(n, senders.shape[0]), check_invariants=False)
    return matrix @ senders


class SparseAwareLinear(nn.Linear):
    """nn.Linear that multiplies a mostly-zero dense input (bag-of-words features) as a sparse CSR matrix.

    The CSR copy is cached against the input tensor's identity and version, so a full-batch graph
    pays the conversion once; results equal nn.Linear's.
    """

    max_density = 0.05
    min_elements = 1_000_000

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self._cache: tuple[weakref.ref, int, Tensor | None] | None = None

    def forward(self, x: Tensor) -> Tensor:
        """x W^T + b, through a sparse product when x is large and sparse."""
        sparse = self._sparse(x)
        if sparse is None:
            return super().forward(x)
        out = torch.sparse.mm(sparse, self.weight.t())
        return out + self.bias if self.bias is not None else out

    def _sparse(self, x: Tensor) -> Tensor | None:
        """The cached CSR form of x, or None when x is small, dense or not a plain 2-d tensor."""
        if x.layout != torch.strided or x.dim() != 2 or x.numel() < self.min_elements or x.requires_grad:
            return None
        if self._cache is not None and self._cache[0]() is x and self._cache[1] == x._version:
            return self._cache[2]
        dense_enough = float(torch.count_nonzero(x)) > self.max_density * x.numel()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
            csr = None if dense_enough else x.to_sparse_csr()
        self._cache = (weakref.ref(x), x._version, csr)
        return csr


@dataclass
class Incoming:
    """The edges of one relation into a block of receivers: global sender rows, local receiver rows, attributes."""

    relation: Relation
    src: Tensor
    dst: Tensor
    attr: Tensor | None


@dataclass
class RelationSums:
    """A split layer's relation messages held unprojected: message r is `sums[r] @ W.T`.

    Node-level attention only scores the messages linearly and mixes them linearly, so layer-wise inference
    projects once per mix instead of once per relation and never holds an [N, R, d] block per task.
    """

    sums: list[Tensor]  # [N, d_in] per relation: sum_u alpha_vu h_u
    W: Tensor  # [d_out, d_in]

    def dot(self, v: Tensor) -> Tensor:
        """[N, R]: each relation's message dotted with v [d_out]."""
        u = v @ self.W
        return torch.stack([s @ u for s in self.sums], 1)

    def mix(self, c: Tensor) -> Tensor:
        """[N, d_out]: sum_r c[:, r] * message r."""
        acc = c[:, :1] * self.sums[0]
        for r in range(1, len(self.sums)):
            acc.addcmul_(c[:, r : r + 1], self.sums[r])
        return acc @ self.W.t()


def _dot(messages: Tensor | RelationSums, v: Tensor) -> Tensor:
    """[N, R] message . v for stacked [N, R, d] messages or unprojected sums."""
    return messages.dot(v) if isinstance(messages, RelationSums) else messages @ v


def _mix(messages: Tensor | RelationSums, c: Tensor) -> Tensor:
    """[N, d] sum_r c[:, r] * message r for stacked [N, R, d] messages or unprojected sums."""
    return messages.mix(c) if isinstance(messages, RelationSums) else (c.unsqueeze(-1) * messages).sum(1)


@dataclass
class LayerOutput:
    """What one receiver type gets from a layer."""

    # [N, R, d] per relation (split; layer-wise inference: the same as RelationSums) or [N, d] one softmax over all
    # relations
    messages: Tensor | RelationSums
    q: Tensor  # [N, d] the receiver's projected (dropped-out) features
    x_drop: Tensor  # [N, d_in] the receiver's dropped-out input features (the gate input)
    residual: Tensor | None  # [N, d] Res(h) on the non-dropped input, or None without a residual


class RelationAttention(nn.Module):
    """Single-head GAT-style attention over typed relations, with the receiver type's projection applied to its neighbours.

    split=True: a separate softmax per relation, messages stacked to [N_s, R_s, d] (the StrucHIS expert).
    split=False: one softmax over all incoming edges of all relations, [N_s, d] (the StrucHIS tower).
    """

    def __init__(
        self,
        receivers: list[str],
        in_dim: int,
        out_dim: int,
        relations: list[Relation],
        *,
        split: bool,
        residual: bool,
        dropout: float,
        attn_dropout: float,
        edge_emb_dim: int = 64,
        negative_slope: float = 0.2,
        edge_attr_dims: dict[EdgeType, int] | None = None,
        masks_per_role: bool = False,
    ) -> None:
        super().__init__()
        self.masks_per_role = masks_per_role
        self.receivers = list(receivers)
        self.relations = list(relations)
        self.by_receiver = {s: [r for r in relations if r.edge_type[2] == s] for s in receivers}
        self.split = split
        self.dropout = dropout
        self.attn_dropout = attn_dropout
        self.negative_slope = negative_slope
        self.W = nn.ParameterDict({s: _xavier(out_dim, in_dim) for s in receivers})
        self.a_l = _xavier(1, out_dim)
        self.a_r = _xavier(1, out_dim)
        self.edge_emb = _xavier(len(relations), edge_emb_dim)
        self.W_e = _xavier(edge_emb_dim, edge_emb_dim)
        self.a_e = _xavier(1, edge_emb_dim)
        self.edge_attr_lin = nn.ModuleDict(
            {
                r.key: nn.Linear(edge_attr_dims[r.edge_type], 1, bias=False)
                for r in relations
                if edge_attr_dims and r.edge_type in edge_attr_dims
            }
        )
        self.rel_att = nn.Linear(2 * out_dim, 1) if split else None
        self.res = nn.Linear(in_dim, out_dim) if residual else None

    def relation_offsets(self) -> Tensor:
        """c_rho = a_e . (W_e edge_emb[rho]): one logit offset per relation."""
        return (self.edge_emb @ self.W_e.t() @ self.a_e.t()).squeeze(-1)

    def forward(
        self, h: dict[str, Tensor], graph: HeteroData, receivers: dict[str, int] | None = None
    ) -> dict[str, LayerOutput]:
        """Messages for every receiver type from its relations in `graph`; with `receivers`, only for the first rows of each type.

        Limiting the receivers (`models.sampler.receiver_rows`) drops the edges into the other rows: a
        sampled subgraph's outer hops are only senders in its later steps.
        """
        offsets = self.relation_offsets()
        # Per node type: one dropout mask per call, shared by every role of that type (random numbers are a
        # large share of a CPU step); per role: the head's mask, then one per sender type in each receiver's call.
        masks: dict[str, Tensor] = {}

        def dropped(t: str) -> Tensor:
            if self.masks_per_role:
                return dropout(h[t], self.dropout, self.training)
            if t not in masks:
                masks[t] = dropout(h[t], self.dropout, self.training)
            return masks[t]

        out: dict[str, LayerOutput] = {}
        for s in self.receivers:
            rels = self.by_receiver[s]
            n = h[s].shape[0] if receivers is None else receivers[s]
            x = dropout(h[s][:n], self.dropout, self.training) if self.masks_per_role else dropped(s)[:n]
            q = x @ self.W[s].t()
            el = q @ self.a_l[0]
            keys = {s: q} if n == h[s].shape[0] and not self.masks_per_role else {}
            parts: list[tuple[Tensor, Tensor, Tensor]] = []
            for rel in rels:
                ei, attr = relation_edges(graph, rel, n)
                src = rel.edge_type[0]
                if src not in keys:
                    keys[src] = dropped(src) @ self.W[s].t()
                k = keys[src]
                er = k @ self.a_r[0]
                logit = el[ei[1]] + er[ei[0]] + offsets[rel.id]
                if rel.key in self.edge_attr_lin and attr is not None:
                    logit = logit + self.edge_attr_lin[rel.key](attr.to(logit.dtype)).squeeze(-1)
                logit = dropout(F.leaky_relu(logit, self.negative_slope), self.attn_dropout, self.training)
                parts.append((logit, k.index_select(0, ei[0]), ei[1]))
            if self.split:
                msgs = [self._aggregate(lg, val, dst, n) for lg, val, dst in parts]
                messages = torch.stack(msgs, 1) if msgs else q.new_zeros(n, 0, q.shape[1])
            elif parts:
                messages = self._aggregate(*(torch.cat(p) for p in zip(*parts)), n)
            else:
                messages = torch.zeros_like(q)
            residual = self.res(h[s][:n]) if self.res is not None else None
            out[s] = LayerOutput(messages=messages, q=q, x_drop=x, residual=residual)
        return out

    @torch.no_grad()
    def sender_scores(self, h: dict[str, Tensor], s: str) -> dict[str, Tensor]:
        """a_r . (W_s h_u) for every node u of every type sending to s: [N_t] per sender type (eval mode)."""
        u_r = self.a_r[0] @ self.W[s]
        return {t: h[t] @ u_r for t in {r.edge_type[0] for r in self.by_receiver[s]}}

    @torch.no_grad()
    def infer_rows(
        self, h: dict[str, Tensor], s: str, rows: slice, incoming: list[Incoming], scores: dict[str, Tensor]
    ) -> LayerOutput:
        """Eval-mode output for receivers `rows` of type s, given every edge into them; equals `forward`'s rows.

        Aggregation is linear in the projected neighbours, sum_u alpha_vu (W h_u) = W (sum_u alpha_vu h_u),
        so each relation is one sparse-times-dense product of its attention matrix with the senders'
        unprojected states, and W is applied once per receiver: no per-edge [E, d] tensor and no [N, d]
        projection of a sender type is ever materialised; a split layer's messages stay unprojected
        (`RelationSums`) until the node-level attention mixes them. `scores` are `sender_scores(h, s)`.
        """
        W = self.W[s]
        x = h[s][rows]
        q = x @ W.t()
        el = q @ self.a_l[0]
        offsets = self.relation_offsets()
        n = x.shape[0]
        logits = []
        for inc in incoming:
            logit = el.index_select(0, inc.dst) + scores[inc.relation.edge_type[0]].index_select(0, inc.src)
            logit = logit + offsets[inc.relation.id]
            if inc.relation.key in self.edge_attr_lin and inc.attr is not None:
                logit = logit + self.edge_attr_lin[inc.relation.key](inc.attr.to(logit.dtype)).squeeze(-1)
            logits.append(F.leaky_relu(logit, self.negative_slope))
        if self.split:
            alphas = [softmax(lg, inc.dst, num_nodes=n) for lg, inc in zip(logits, incoming)]
        elif incoming:
            joint = softmax(torch.cat(logits), torch.cat([inc.dst for inc in incoming]), num_nodes=n)
            alphas = list(joint.split([inc.dst.numel() for inc in incoming]))
        else:
            alphas = []
        sums = [_sparse_sum(alpha, inc, n, h[inc.relation.edge_type[0]]) for alpha, inc in zip(alphas, incoming)]
        if self.split:
            messages = RelationSums(sums, W) if sums else q.new_zeros(n, 0, q.shape[1])
        else:
            messages = sum(sums) @ W.t() if sums else torch.zeros_like(q)
        residual = self.res(x) if self.res is not None else None
        return LayerOutput(messages=messages, q=q, x_drop=x, residual=residual)

    @staticmethod
    def _aggregate(logit: Tensor, values: Tensor, dst: Tensor, n: int) -> Tensor:
        """Softmax of the logits per receiver, then the weighted sum of the values; receivers without edges get zeros."""
        alpha = softmax(logit, dst, num_nodes=n)
        # index_add with a 1-d index: its backward is an index_select, cheaper than scatter's broadcast gather.
        return values.new_zeros(n, values.shape[-1]).index_add(0, dst, alpha.unsqueeze(-1) * values)

    def gated_relation_attention(
        self, q: Tensor, weights: Tensor, messages: list[Tensor | RelationSums]
    ) -> tuple[Tensor, Tensor]:
        """`relation_attention` of the gated mix z = sum_k weights[..., k] * messages[k] ([N, R, d] each), without forming z.

        z enters the score linearly and the output as a beta-weighted sum over relations, so both are
        sums over tasks of one pass over each task's messages: score = q.w_q + sum_k weights_k (M_k . w_z)
        and o = sum_k sum_r (beta * weights_k)_r M_k[:, r]; the same numbers as mixing first.
        """
        w = self.rel_att.weight[0]
        d = q.shape[-1]
        score = (q @ w[:d]).unsqueeze(1) + self.rel_att.bias
        for k, m in enumerate(messages):
            score = score + weights[..., k] * _dot(m, w[d:])
        beta = torch.softmax(score, dim=1)
        o = sum(_mix(m, beta * weights[..., k]) for k, m in enumerate(messages))
        return o, beta

    def relation_attention(self, q: Tensor, z: Tensor | RelationSums) -> tuple[Tensor, Tensor]:
        """Node-level attention over relation messages z [N, R, d] scored from [q; z]; returns (o [N, d], beta [N, R])."""
        # a_rel([q; z]) split into its q and z halves: the same score without materialising [N, R, 2d].
        w = self.rel_att.weight[0]
        d = q.shape[-1]
        score = (q @ w[:d]).unsqueeze(1) + _dot(z, w[d:]) + self.rel_att.bias
        beta = torch.softmax(score, dim=1)
        return _mix(z, beta), beta
