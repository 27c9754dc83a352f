"""Predictions for every node of one type on a graph too large for one full-batch forward, in bounded memory.

Two routes, chosen per model:

* **Layer-wise full-graph inference** (StrucHIS, the dual-branch model and their ablations; the
  dual-branch model's route is `models.layerwise_dual`). Each level is run for all
  nodes before the next one starts: the nodes of each receiving type are cut into consecutive
  row ranges holding at most `cfg.layerwise_chunk_edges` incoming edges, whose edges are read
  straight off the sampler's CSC index (edges sorted by receiver, so a row range is one slice per
  relation), and each range's rows of every task's new representation are computed by the
  layer's `infer_rows` and the model's row-wise `combine`. Every representation is exact, the
  result equals a full-batch forward (tested for all three sharing modes), and the work is one
  pass over the edges per level and task, where per-seed neighbourhoods would recompute a hub's
  (a station's) representation for every batch that reaches it. Memory holds the per-node
  states of two levels (nodes x tasks x hidden each, one block per level) plus one range's edges.
* **Sampled-neighbourhood inference** (every other graph model, through `forward` alone; the
  dual-branch model's sampled forward serves its training steps).
  Seeds go `cfg.inference_batch_size` at a time through their sampled
  `len(cfg.inference_fanouts)`-hop neighbourhoods (padded to `cfg.layers + 1` hops, the deepest
  receptive field of the registered models), and each seed's row of the output is kept. With
  fanouts at least the largest in-degree it equals the full-batch forward (tested); with
  smaller fanouts it is the standard neighbour-sampling estimate, made reproducible by a
  generator seeded with `cfg.seed`, so re-scoring the same graph gives the same numbers.
  Memory is bounded by the batch size times the product of the fanouts, not the graph size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph import allocator
from leadgraph.config import TrainConfig
from models.device import model_device, on_device
from models.dual_branch import DualBranch
from models.layerwise_dual import layerwise_dual
from models.problem import TaskSpec
from models.row_ranges import incoming_edges, row_ranges
from models.sampler import hop_fanouts, sample_batches
from models.struchis import StrucHIS


def predict_batched(
    model: nn.Module, graph: HeteroData, node_type: str, cfg: TrainConfig, rows: Tensor | None = None
) -> dict[str, np.ndarray]:
    """Probabilities of the model's tasks on `node_type` ([N] binary, [N, C] multiclass) for `rows` (default all).

    The layer-wise route computes every node anyway; the sampled one only samples around `rows`.
    """
    tasks = [t for t in model.tasks if t.node_type == node_type]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if isinstance(model, DualBranch):
                logits = layerwise_dual(model, graph, cfg, node_type, rows)
            elif isinstance(model, StrucHIS):
                logits = _layerwise_struchis(model, graph, cfg)
                if rows is not None:
                    logits = {t.name: logits[t.name][rows.to(logits[t.name].device)] for t in tasks}
            else:
                logits = _sampled(model, graph, node_type, tasks, cfg, rows)
    finally:
        model.train(was_training)
    return {t.name: _probabilities(t, logits[t.name]).cpu().numpy() for t in tasks}


def is_layerwise(model: nn.Module) -> bool:
    """Whether the model predicts large graphs layer-wise (cost independent of how many rows are asked for)."""
    return isinstance(model, (StrucHIS, DualBranch))


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
    """Logits of `seeds` (default every node of `node_type`), in their order, from forwards over sampled neighbourhoods."""
    fanouts = hop_fanouts(cfg.inference_fanouts, cfg.layers + 1)
    gen = torch.Generator().manual_seed(cfg.seed)
    seeds = torch.arange(graph[node_type].num_nodes) if seeds is None else seeds
    device = model_device(model)
    out: dict[str, Tensor] = {}
    for batch in sample_batches(graph, node_type, seeds, fanouts, cfg.inference_batch_size, False, gen):
        pred = model(on_device(batch.graph, device))
        for task in tasks:
            z = pred[task.name][batch.seed_local.to(device)]
            if task.name not in out:
                out[task.name] = z.new_empty((seeds.numel(), *z.shape[1:]))
            out[task.name][batch.seed_pos.to(device)] = z
    return out


def _level_states(graph: HeteroData, node_types: list[str], n_tasks: int, hidden: int, like: Tensor
                  ) -> list[dict[str, Tensor]]:
    """Per task, an uninitialised [N_t, hidden] state per node type, all views of one block.

    One block per level, not one tensor per type and task: at paper scale a block is gigabytes, which the
    allocator maps on its own and returns whole when freed, where per-type tensors under its mmap threshold
    (leadgraph.allocator) come from the heap and leave it fragmented from one validation pass to the next.
    """
    sizes = [graph[t].num_nodes for t in node_types]
    block = like.new_empty(n_tasks, sum(sizes), hidden)
    return [dict(zip(node_types, block[i].split(sizes))) for i in range(n_tasks)]


def _layerwise_struchis(model: StrucHIS, graph: HeteroData, cfg: TrainConfig) -> dict[str, Tensor]:
    """StrucHIS logits of all target nodes, one level at a time over the whole graph (exact).

    Two level blocks take turns: a level reads the one the previous level wrote and writes the other, so memory
    holds two levels' states whatever the depth. Types that receive no relation keep their projected features,
    which stay in the first block's first task (no later level writes them).
    """
    n_tasks = len(model.tasks)
    into = {t: [r for r in model.relations if r.edge_type[2] == t] for t in model.node_types}
    device = model_device(model)
    like = next(model.parameters())
    # The blocks are mapped fresh, so the heap's free pages (a freed training graph, a training epoch's tensors)
    # cannot serve them and would only stay resident beside them.
    allocator.release_free()
    blocks = [_level_states(graph, model.node_types, n_tasks, cfg.hidden, like) for _ in range(2)]
    for t in model.node_types:
        for rows in row_ranges(graph, t, cfg.layerwise_chunk_edges):
            blocks[0][0][t][rows] = model.proj[t](graph[t].x[rows].to(device))
    state = [blocks[0][0]] * n_tasks
    for level in range(len(model.experts)):
        target = blocks[(level + 1) % 2]
        new = [{t: target[i][t] if t in model.receivers else state[i][t] for t in model.node_types}
               for i in range(n_tasks)]
        experts = model.experts[level]
        for s in model.receivers:
            scores = [experts[i].sender_scores(state[i], s) for i in range(n_tasks)]
            for rows in row_ranges(graph, s, cfg.layerwise_chunk_edges):
                incoming = incoming_edges(graph, into[s], rows, device)
                outs = [experts[i].infer_rows(state[i], s, rows, incoming, scores[i]) for i in range(n_tasks)]
                for i, h in enumerate(model.combine(level, s, outs)):
                    new[i][s][rows] = h
        state = new
    logits: dict[str, Tensor] = {}
    for t in sorted({task.node_type for task in model.tasks}):
        mine = [i for i, task in enumerate(model.tasks) if task.node_type == t]
        parts: dict[int, list[Tensor]] = {i: [] for i in mine}
        scores = {i: model.towers[i].sender_scores(state[i], t) for i in mine}
        for rows in row_ranges(graph, t, cfg.layerwise_chunk_edges):
            incoming = incoming_edges(graph, into[t], rows, device)
            for i in mine:
                out = model.towers[i].infer_rows(state[i], t, rows, incoming, scores[i])
                parts[i].append(model.tower_logits(i, out))
        for i in mine:
            logits[model.tasks[i].name] = torch.cat(parts[i])
    return logits
