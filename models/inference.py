"""Predictions for every node of one type on a graph too large for one full-batch forward, in bounded memory.

Two routes, chosen per model:

* **Layer-wise full-graph inference** (StrucHIS and its ablations). Each message-passing step is
  run for all nodes before the next one starts: the nodes of each receiving type are cut into
  chunks holding at most `cfg.layerwise_chunk_edges` incoming edges, every chunk is run on its
  exact one-hop in-neighbourhood (sampler with fanout -1), and its rows of the new
  representation are kept. Every node's representation is therefore exact at every step, the
  result equals a full-batch forward, and the work is one pass over the edges per step, where
  per-seed neighbourhoods would recompute a hub's (a station's) representation for every batch
  that reaches it. Memory holds the per-node states (nodes x tasks x hidden, twice) plus one
  chunk. It needs the model's steps one at a time, which the generic `forward` contract does not
  give, so it is written against StrucHIS's levels and towers (`_level`, `towers`); the test
  checks it against the full-batch forward for all three sharing modes.
* **Sampled-neighbourhood inference** (every other graph model, through `forward` alone).
  Seeds go `cfg.inference_batch_size` at a time through their sampled
  `len(cfg.inference_fanouts)`-hop neighbourhoods (padded to `cfg.layers + 1` hops, the deepest
  receptive field of the registered models), and each seed's row of the output is kept. With
  fanouts at least the largest in-degree it equals the full-batch forward (tested); with
  smaller fanouts it is the standard neighbour-sampling estimate, made reproducible by a
  generator seeded with `cfg.seed`, so re-scoring the same graph gives the same numbers.
  Memory is bounded by the batch size times the product of the fanouts, not the graph size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.problem import TaskSpec
from models.sampler import hop_fanouts, sample_batches, sampler_for
from models.struchis import StrucHIS

State = dict[str, Tensor]  # node type -> [N, tasks, hidden]


def predict_batched(model: nn.Module, graph: HeteroData, node_type: str, cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Probabilities for all nodes of `node_type` ([N] binary, [N, C] multiclass) for the model's tasks on that type."""
    tasks = [t for t in model.tasks if t.node_type == node_type]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if isinstance(model, StrucHIS):
                logits = _layerwise_struchis(model, graph, cfg)
            else:
                logits = _sampled(model, graph, node_type, tasks, cfg)
    finally:
        model.train(was_training)
    return {t.name: _probabilities(t, logits[t.name]).numpy() for t in tasks}


def _probabilities(task: TaskSpec, logits: Tensor) -> Tensor:
    """Sigmoid of a binary task's logit, softmax over a multiclass task's logits."""
    return torch.sigmoid(logits) if task.kind == "binary" else torch.softmax(logits, -1)


def _sampled(
    model: nn.Module,
    graph: HeteroData,
    node_type: str,
    tasks: list[TaskSpec],
    cfg: TrainConfig,
    seeds: Tensor | None = None,
) -> dict[str, Tensor]:
    """Logits of `node_type` nodes (`seeds`, default all; other rows undefined) from forwards over sampled neighbourhoods."""
    num = graph[node_type].num_nodes
    fanouts = hop_fanouts(cfg.inference_fanouts, cfg.layers + 1)
    gen = torch.Generator().manual_seed(cfg.seed)
    seeds = torch.arange(num) if seeds is None else seeds
    out: dict[str, Tensor] = {}
    for batch in sample_batches(graph, node_type, seeds, fanouts, cfg.inference_batch_size, False, gen):
        pred = model(batch.graph)
        rows = batch.graph[node_type].n_id[batch.seed_local]
        for task in tasks:
            z = pred[task.name][batch.seed_local]
            if task.name not in out:
                out[task.name] = z.new_empty((num, *z.shape[1:]))
            out[task.name][rows] = z
    return out


def _chunks(graph: HeteroData, node_type: str, max_edges: int) -> list[Tensor]:
    """Consecutive node ranges of `node_type` whose incoming edges (plus one per node) stay within `max_edges`."""
    csc = sampler_for(graph).csc
    weight = torch.ones(graph[node_type].num_nodes, dtype=torch.long)
    for et, index in csc.items():
        if et[2] == node_type:
            weight += index.ptr.diff()
    before = torch.cumsum(weight, 0) - weight
    _, sizes = torch.unique_consecutive(before // max(max_edges, 1), return_counts=True)
    return list(torch.arange(graph[node_type].num_nodes).split(sizes.tolist()))


def _run_chunked(
    graph: HeteroData,
    receivers: list[str],
    state: State,
    step: Callable[[State, HeteroData], dict[str, Tensor]],
    max_edges: int,
) -> dict[str, Tensor]:
    """Run `step` on the exact one-hop in-neighbourhood of every chunk of every receiver type; gather the chunk rows."""
    sampler = sampler_for(graph)
    out: dict[str, Tensor] = {}
    for t in receivers:
        for chunk in _chunks(graph, t, max_edges):
            sub = sampler.sample(t, chunk, (-1,))
            result = step({u: state[u].index_select(0, sub[u].n_id) for u in graph.node_types}, sub)
            rows = result[t][: chunk.numel()]
            if t not in out:
                out[t] = rows.new_empty((graph[t].num_nodes, *rows.shape[1:]))
            out[t][chunk] = rows
    return out


def _layerwise_struchis(model: StrucHIS, graph: HeteroData, cfg: TrainConfig) -> dict[str, Tensor]:
    """StrucHIS logits of all target nodes, one level at a time over the whole graph (exact)."""
    n_tasks = len(model.tasks)

    def unstack(state: State) -> list[dict[str, Tensor]]:
        return [{t: s[:, i] for t, s in state.items()} for i in range(n_tasks)]

    state: State = {
        t: model.proj[t](graph[t].x).unsqueeze(1).expand(-1, n_tasks, -1).contiguous() for t in model.node_types
    }
    for level in range(len(model.experts)):

        def level_step(sub_state: State, sub: HeteroData, level: int = level) -> dict[str, Tensor]:
            new = model._level(level, unstack(sub_state), sub)
            return {t: torch.stack([h[t] for h in new], 1) for t in model.receivers}

        updated = _run_chunked(graph, model.receivers, state, level_step, cfg.layerwise_chunk_edges)
        state = {t: updated.get(t, state[t]) for t in model.node_types}

    targets = sorted({task.node_type for task in model.tasks})

    def tower_step(sub_state: State, sub: HeteroData) -> dict[str, Tensor]:
        hs = unstack(sub_state)
        logits = {t: [] for t in targets}
        for i, task in enumerate(model.tasks):
            out = model.towers[i](hs[i], sub)[task.node_type]
            y = out.messages + out.residual
            if model.faithful:
                y = F.normalize(y, p=2, dim=-1, eps=1e-12)
            if task.kind == "binary":
                y = (y[:, 1] - y[:, 0] if model.faithful else y[:, 0]).unsqueeze(-1)
            logits[task.node_type].append(y)
        return {t: torch.cat(parts, -1) for t, parts in logits.items()}

    final = _run_chunked(graph, targets, state, tower_step, cfg.layerwise_chunk_edges)
    result: dict[str, Tensor] = {}
    offset = dict.fromkeys(targets, 0)
    for task in model.tasks:
        width = 1 if task.kind == "binary" else task.num_classes
        cols = final[task.node_type][:, offset[task.node_type] : offset[task.node_type] + width]
        offset[task.node_type] += width
        result[task.name] = cols[:, 0] if task.kind == "binary" else cols
    return result
