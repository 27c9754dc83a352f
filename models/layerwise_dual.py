"""Layer-wise full-graph inference of the dual-branch model: each branch level by level for every node, then the fusion.

* GCN branch: each level's weighted propagation over the interaction edges runs in slices of at most
  `cfg.layerwise_chunk_edges` edges.
* HGT branch: each `HGTConv` level is computed with the layer's own weights for ranges of receiving
  rows whose incoming edges stay within the same bound: keys, queries and values once per node, the
  relation transforms per edge of the range, one softmax per receiver over all its relations, then
  the output projection and the gated skip. A receiver's incoming edges all lie in its range, so the
  result is the full-batch forward's (tested), where per-seed sampled neighbourhoods of four hops
  would cover most of a paper-scale graph for every batch.
* Fusion: the tokens (every level of both branches) of the rows asked for go through the model's
  `fuse` and heads `cfg.inference_batch_size` rows at a time.

Memory holds one state per node (a level overwrites it range by range once every node's keys and
values are taken), those keys and values, the asked rows' tokens of every level, and one range's edges.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import softmax

from leadgraph.config import TrainConfig
from models.backbones import to_task_logits
from models.device import model_device
from models.dual_branch import FUSED, GCN, HGT, DualBranch, GCNBranch
from models.hgt import HGTEncoder, HGTLayer
from models.layers import Relation
from models.row_ranges import incoming_edges, row_ranges


def layerwise_dual(model: DualBranch, graph: HeteroData, cfg: TrainConfig, node_type: str,
                   rows: Tensor | None = None) -> dict[str, Tensor]:
    """Logits of the tasks on `node_type` for `rows` (default all), the same as a full-batch forward in the model's
    current mode."""
    keep = torch.arange(graph[node_type].num_nodes) if rows is None else rows.cpu()
    tasks = [(i, task) for i, task in enumerate(model.tasks) if task.node_type == node_type]
    a = _gcn_tokens(model.gcn, graph, node_type, keep, cfg) if model.mode in (GCN, FUSED) else None
    b = _hgt_tokens(model.hgt, graph, node_type, keep, cfg) if model.mode in (HGT, FUSED) else None
    if model.mode == GCN:
        return {task.name: to_task_logits(model.gcn_heads[i]({node_type: a[:, -1]}, graph), task, False)
                for i, task in tasks}
    if model.mode == HGT:
        return {task.name: to_task_logits(model.hgt_heads[i]({node_type: b[:, -1]}, graph), task, False)
                for i, task in tasks}
    step = cfg.inference_batch_size
    fused = torch.cat([model.fuse(a[lo:lo + step], b[lo:lo + step])[0] for lo in range(0, a.shape[0], step)]) \
        if a.shape[0] else a[:, 0]
    return {task.name: to_task_logits(model.fused_heads[i](fused), task, False) for i, task in tasks}


def _gcn_tokens(gcn: GCNBranch, graph: HeteroData, node_type: str, keep: Tensor, cfg: TrainConfig) -> Tensor:
    """The GCN branch's state after each level (projection first) for the `keep` rows of `node_type`."""
    device = model_device(gcn)
    src, dst, weight, offsets = gcn.interactions(graph)
    h = torch.cat([gcn.proj[t](graph[t].x.to(device)) for t in gcn.node_types])
    rows, cols, norm = gcn.normalised(src.to(device), dst.to(device), weight.to(device), h.shape[0])
    mine = keep.to(device) + offsets[node_type]
    tokens = h.new_empty(mine.numel(), len(gcn.layers) + 1, h.shape[1])
    step = cfg.layerwise_chunk_edges
    for level in range(len(gcn.layers) + 1):
        if level:
            msg = gcn.layers[level - 1](h)
            agg = torch.zeros_like(msg)
            for lo in range(0, rows.numel(), step):
                agg.index_add_(0, cols[lo:lo + step], msg[rows[lo:lo + step]] * norm[lo:lo + step, None])
            del msg
            h = h + torch.relu(agg)
        tokens[:, level] = h[mine]
    return tokens


def _hgt_tokens(encoder: HGTEncoder, graph: HeteroData, node_type: str, keep: Tensor, cfg: TrainConfig) -> Tensor:
    """The HGT branch's state after each level (projection first) for the `keep` rows of `node_type`."""
    device = model_device(encoder)
    h = {t: lin(graph[t].x.to(device)) for t, lin in encoder.proj.items()}
    mine = keep.to(device)
    tokens = h[node_type].new_empty(mine.numel(), encoder.depth + 1, h[node_type].shape[1])
    for level in range(encoder.depth + 1):
        if level:
            _hgt_level(encoder.layers[level - 1], h, graph, cfg, device)
        tokens[:, level] = h[node_type][mine]
    return tokens


def _hgt_level(layer: HGTLayer, h: dict[str, Tensor], graph: HeteroData, cfg: TrainConfig, device: torch.device) -> None:
    """One HGTConv level for every node, in place, receivers one row range at a time (node types that receive nothing
    keep h). Keys and values are taken from every node first; a range's queries and skip read only its own rows, so
    each range can overwrite them."""
    conv = layer.conv
    heads, dim = conv.heads, conv.out_channels // conv.heads
    present = [et for et in layer.edge_types if et in graph.edge_types]
    keys = {t: _projection(conv, t, h[t], 0).reshape(-1, heads, dim) for t in {et[0] for et in present}}
    values = {t: _projection(conv, t, h[t], 2).reshape(-1, heads, dim) for t in keys}
    for t in sorted(conv.dst_node_types & set(h)):
        into = [Relation(0, et) for et in present if et[2] == t]
        gate = conv.skip[t].sigmoid()
        for rows in row_ranges(graph, t, cfg.layerwise_chunk_edges):
            q = _projection(conv, t, h[t][rows], 1).reshape(-1, heads, dim)
            agg = _attend(conv, q, keys, values, incoming_edges(graph, into, rows, device))
            h[t][rows] = gate * conv.out_lin.lins[t](F.gelu(agg)) + (1 - gate) * h[t][rows]


def _projection(conv: torch.nn.Module, node_type: str, x: Tensor, part: int) -> Tensor:
    """Keys (part 0), queries (1) or values (2) of `x`: that third of the layer's joint K/Q/V projection alone, so the
    other two are never held for every node."""
    lin = conv.kqv_lin.lins[node_type]
    width = conv.out_channels
    cut = slice(part * width, (part + 1) * width)
    return F.linear(x, lin.weight[cut], None if lin.bias is None else lin.bias[cut])


def _attend(conv: torch.nn.Module, q: Tensor, keys: dict[str, Tensor], values: dict[str, Tensor],
            incoming: list) -> Tensor:
    """HGT attention of a row range over all its incoming edges: relation-transformed keys and values, one softmax
    per receiver across relations, summed messages [rows, heads * dim]."""
    heads, dim = q.shape[1], q.shape[2]
    n_types = len(conv.edge_types)
    scores, messages, receivers = [], [], []
    for edges in incoming:
        et = edges.relation.edge_type
        slot = conv.edge_types_map[et]
        types = [h * n_types + slot for h in range(heads)]
        k = torch.bmm(keys[et[0]][edges.src].transpose(0, 1), conv.k_rel.weight[types]).transpose(0, 1)
        v = torch.bmm(values[et[0]][edges.src].transpose(0, 1), conv.v_rel.weight[types]).transpose(0, 1)
        alpha = (q[edges.dst] * k).sum(-1) * conv.p_rel["__".join(et)] / math.sqrt(dim)
        scores.append(alpha)
        messages.append(v)
        receivers.append(edges.dst)
    agg = q.new_zeros(q.shape[0], heads, dim)
    if receivers:
        index = torch.cat(receivers)
        alpha = softmax(torch.cat(scores), index, num_nodes=q.shape[0])
        agg.index_add_(0, index, torch.cat(messages) * alpha.unsqueeze(-1))
    return agg.reshape(q.shape[0], heads * dim)
