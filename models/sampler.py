"""Heterogeneous k-hop neighbour sampling in plain torch, for graphs too large for full-batch training.

Why not PyG's loaders: `NeighborLoader` and `HGTLoader` need `pyg-lib` or `torch-sparse` for
their first batch; `pyg-lib` has no PyPI wheel and `torch-sparse` compiles for about 15 minutes,
so a fresh machine could not train. This module needs only torch: per edge type a CSC index
(destination -> its incoming source neighbours, sorted), built once per graph with one sort, and
uniform sampling without replacement of up to `fanouts[h]` incoming neighbours per node, per hop
and per edge type, vectorised over nodes (Floyd's algorithm loops over the fanout, never over
nodes). Like PyG's sampler, hop h samples the in-edges of the nodes first reached at hop h - 1,
so with fanouts at least the maximum in-degree and as many hops as the model has layers, a
seed's computation on the subgraph equals its computation on the whole graph.

Temporal correctness: every snapshot is built as of one anchor date and holds only edges and
features whose events happened at or before that anchor, and every training example of a
snapshot is labelled from that same anchor. All seeds of a batch come from one snapshot, so any
neighbour reachable in it is already in the seeds' past: sampling inside a snapshot cannot leak
the future, and a per-edge `edge_time <= seed_time` filter would never remove anything. Such a
filter could not repair a snapshot built too late either, because the shipment edges are
aggregates (count, total weight, days since the last one) whose values already sum over all
shipments up to the snapshot date. The guard against leakage is therefore the as-of snapshot,
one per anchor, not the sampler.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

EdgeType = tuple[str, str, str]


@dataclass
class Batch:
    """A sampled subgraph whose first `len(seed_local)` target nodes are the batch's seeds."""

    graph: HeteroData
    seed_local: Tensor
    seed_pos: Tensor  # positions of the batch's seeds in the `seeds` passed to `sample_batches`


@dataclass
class _Csc:
    """Incoming edges of one edge type, grouped by destination node."""

    ptr: Tensor  # [N_dst + 1]: edges of dst v are positions ptr[v]:ptr[v+1]
    src: Tensor  # [E]: source node of each position, ascending within a destination
    eid: Tensor  # [E]: original edge id of each position


def _build_csc(edge_index: Tensor, num_src: int, num_dst: int) -> _Csc:
    """Sort one edge type's edges by (dst, src) and index them by destination."""
    src, dst = edge_index[0].long(), edge_index[1].long()
    order = torch.argsort(dst * max(num_src, 1) + src)
    counts = torch.bincount(dst, minlength=num_dst)
    ptr = torch.zeros(num_dst + 1, dtype=torch.long)
    torch.cumsum(counts, 0, out=ptr[1:])
    return _Csc(ptr=ptr, src=src[order], eid=order)


def _expand_ranges(start: Tensor, count: Tensor) -> Tensor:
    """Concatenate the integer ranges [start_i, start_i + count_i) without a Python loop."""
    total = int(count.sum())
    if total == 0:
        return torch.empty(0, dtype=torch.long)
    offsets = torch.cumsum(count, 0) - count
    return torch.repeat_interleave(start - offsets, count, output_size=total) + torch.arange(total)


def _choose_without_replacement(n: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
    """For every row i a uniform k-subset of range(n_i) (all n_i >= k), by Floyd's algorithm."""
    chosen = torch.empty((n.numel(), k), dtype=torch.long)
    for step in range(k):
        top = n - k + step  # Floyd: draw from [0, top]; on a repeat take `top` itself
        draw = (torch.rand(n.numel(), generator=generator, dtype=torch.float64) * (top + 1)).long()
        draw = torch.minimum(draw, top)
        repeat = (chosen[:, :step] == draw[:, None]).any(dim=1)
        chosen[:, step] = torch.where(repeat, top, draw)
    return chosen


class NeighborSampler:
    """CSC indices of one graph plus the bookkeeping to cut k-hop subgraphs out of it."""

    def __init__(self, graph: HeteroData) -> None:
        self._graph = weakref.ref(graph)  # weak, so that the module cache never keeps a graph alive
        self.csc: dict[EdgeType, _Csc] = {}
        self._edge_index_ids: dict[EdgeType, int] = {}
        for et in graph.edge_types:
            src_t, _, dst_t = et
            ei = graph[et].edge_index
            self.csc[et] = _build_csc(ei, graph[src_t].num_nodes, graph[dst_t].num_nodes)
            self._edge_index_ids[et] = id(ei)
        # local index of each node in the batch being built, -1 elsewhere; reset after each batch
        self._local = {t: torch.full((graph[t].num_nodes,), -1, dtype=torch.long) for t in graph.node_types}

    def is_current(self, graph: HeteroData) -> bool:
        """Whether this index still describes `graph`'s edges."""
        return graph is self._graph() and all(
            id(graph[et].edge_index) == self._edge_index_ids.get(et) for et in graph.edge_types
        ) and len(graph.edge_types) == len(self._edge_index_ids)

    def _sample_in_edges(
        self, et: EdgeType, dst_global: Tensor, fanout: int, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        """Up to `fanout` incoming edges per node (all when fanout < 0): CSC positions and their dst row."""
        csc = self.csc[et]
        start = csc.ptr.index_select(0, dst_global)
        deg = csc.ptr.index_select(0, dst_global + 1) - start
        # integer row lists instead of boolean masks: one nonzero, then cheap index_selects
        if fanout < 0:
            full = torch.nonzero(deg > 0).squeeze(1)
            big = torch.empty(0, dtype=torch.long)
        else:
            full = torch.nonzero((deg > 0) & (deg <= fanout)).squeeze(1)
            big = torch.nonzero(deg > fanout).squeeze(1)
        full_deg = deg.index_select(0, full)
        full_pos = _expand_ranges(start.index_select(0, full), full_deg)
        full_row = torch.repeat_interleave(full, full_deg, output_size=full_pos.numel())
        if big.numel() == 0:
            return full_pos, full_row
        picks = _choose_without_replacement(deg.index_select(0, big), fanout, generator)
        part_pos = (start.index_select(0, big)[:, None] + picks).reshape(-1)
        part_row = big.repeat_interleave(fanout)
        return torch.cat([full_pos, part_pos]), torch.cat([full_row, part_row])

    def _admit(self, node_type: str, cand: Tensor, count: int) -> Tensor:
        """Give the not-yet-seen nodes among `cand` local ids from `count` on, in first-seen order; return them."""
        local = self._local[node_type]
        unseen = cand[local.index_select(0, cand) < 0]
        pos = torch.arange(unseen.numel())
        # the first position of every unseen node wins; a scatter, so no sort over the candidates
        local.scatter_reduce_(0, unseen, pos, reduce="amin", include_self=False)
        new = unseen[local.index_select(0, unseen) == pos]
        local.index_fill_(0, unseen, -1)
        local.index_copy_(0, new, torch.arange(count, count + new.numel()))
        return new

    def sample(
        self, node_type: str, seeds: Tensor, fanouts: Sequence[int], generator: torch.Generator | None = None
    ) -> HeteroData:
        """The union of the sampled k-hop in-neighbourhoods of `seeds`, seeds first in `node_type`."""
        g = self._graph()
        if g is None:
            raise RuntimeError("the graph this sampler indexes has been freed")
        n_id: dict[str, list[Tensor]] = {t: [] for t in g.node_types}
        count = dict.fromkeys(g.node_types, 0)
        per_hop = {t: [0] for t in g.node_types}
        seeds = seeds.long()
        self._local[node_type][seeds] = torch.arange(seeds.numel())
        n_id[node_type].append(seeds)
        count[node_type] = seeds.numel()
        per_hop[node_type][0] = seeds.numel()
        frontier = {node_type: (seeds, torch.arange(seeds.numel()))}
        edges: dict[EdgeType, list[tuple[Tensor, Tensor, Tensor]]] = {et: [] for et in g.edge_types}
        try:
            for fanout in fanouts:
                found: dict[str, list[Tensor]] = {}
                pending: list[tuple[EdgeType, Tensor, Tensor, Tensor]] = []
                for et in g.edge_types:
                    src_t, _, dst_t = et
                    if dst_t not in frontier or fanout == 0:
                        continue
                    dst_global, dst_local = frontier[dst_t]
                    pos, row = self._sample_in_edges(et, dst_global, int(fanout), generator)
                    src_global = self.csc[et].src.index_select(0, pos)
                    found.setdefault(src_t, []).append(src_global)
                    pending.append((et, src_global, dst_local.index_select(0, row), self.csc[et].eid.index_select(0, pos)))
                frontier = {}
                for t in g.node_types:
                    per_hop[t].append(0)
                for t, cands in found.items():
                    new = self._admit(t, torch.cat(cands), count[t])
                    per_hop[t][-1] = new.numel()
                    if new.numel():
                        frontier[t] = (new, torch.arange(count[t], count[t] + new.numel()))
                        n_id[t].append(new)
                        count[t] += new.numel()
                for et, src_global, dst_local, eid in pending:
                    edges[et].append((self._local[et[0]].index_select(0, src_global), dst_local, eid))
        finally:
            for t, parts in n_id.items():
                for part in parts:
                    self._local[t].index_fill_(0, part, -1)
        sub = _subgraph(g, n_id, edges)
        for t in g.node_types:
            sub[t].num_sampled_nodes = per_hop[t]
        return sub


def _rows(value: object, index: Tensor, num: int) -> object:
    """`value` restricted to rows `index` when it is a per-node / per-edge tensor of `num` rows, else as is."""
    if isinstance(value, Tensor) and value.dim() and value.size(0) == num:
        return value.index_select(0, index)
    return value


def _subgraph(
    g: HeteroData, n_id: dict[str, list[Tensor]], edges: dict[EdgeType, list[tuple[Tensor, Tensor, Tensor]]]
) -> HeteroData:
    """Slice node and edge attributes of the sampled nodes and edges into a new HeteroData."""
    out = HeteroData()
    for t in g.node_types:
        ids = torch.cat(n_id[t]) if n_id[t] else torch.empty(0, dtype=torch.long)
        store, num = g[t], g[t].num_nodes
        for key, value in store.items():
            out[t][key] = _rows(value, ids, num)
        out[t].n_id = ids
        out[t].num_nodes = ids.numel()
    for et in g.edge_types:
        parts = edges[et]
        src = torch.cat([p[0] for p in parts]) if parts else torch.empty(0, dtype=torch.long)
        dst = torch.cat([p[1] for p in parts]) if parts else torch.empty(0, dtype=torch.long)
        eid = torch.cat([p[2] for p in parts]) if parts else torch.empty(0, dtype=torch.long)
        store, num = g[et], g[et].num_edges
        for key, value in store.items():
            if key == "edge_index":
                continue
            out[et][key] = _rows(value, eid, num)
        out[et].edge_index = torch.stack([src, dst])
        out[et].e_id = eid
    return out


def receiver_rows(graph: HeteroData, steps: int) -> list[dict[str, int]] | None:
    """For a sampled subgraph, how many leading rows of each type each of `steps` message-passing steps must update.

    Nodes are numbered in the hop they were reached at, so the nodes within h hops of the seeds are a
    prefix of every type. The last step updates only the seeds (hop 0), the one before it hop <= 1, and
    so on: a node further out cannot reach a seed in the steps that are left. None for a whole graph.
    """
    sizes = {t: graph[t].get("num_sampled_nodes") for t in graph.node_types}
    if any(v is None for v in sizes.values()):
        return None
    return [{t: int(sum(v[: steps - step])) for t, v in sizes.items()} for step in range(steps)]


def hop_fanouts(fanouts: Sequence[int], min_hops: int) -> tuple[int, ...]:
    """`fanouts` extended with its last value to at least `min_hops` hops (a model's receptive field)."""
    fanouts = tuple(int(f) for f in fanouts)
    if not fanouts:
        raise ValueError("fanouts must name at least one hop")
    return fanouts + (fanouts[-1],) * max(min_hops - len(fanouts), 0)


# The most recently used graph's sampler only: at paper scale one index holds gigabytes and a training day
# walks through several anchors' graphs in turn, while rebuilding an index takes about a second (minibatch.md).
_LATEST: list[NeighborSampler] = []


def sampler_for(graph: HeteroData) -> NeighborSampler:
    """The sampler of `graph`: the cached one while `graph` is the latest used, else a new one replacing it."""
    if _LATEST and _LATEST[0].is_current(graph):
        return _LATEST[0]
    _LATEST.clear()  # the old index goes before the new one is built, so two are never held at once
    sampler = NeighborSampler(graph)
    _LATEST.append(sampler)
    weakref.finalize(graph, _forget, weakref.ref(sampler))
    return sampler


def _forget(sampler: weakref.ref) -> None:
    """Drop the cached sampler when the graph it indexes is freed."""
    if _LATEST and _LATEST[0] is sampler():
        _LATEST.clear()


def sample_batches(
    graph: HeteroData,
    node_type: str,
    seeds: Tensor,
    fanouts: Sequence[int],
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[Batch]:
    """Mini-batches of `seeds` (node indices of `node_type`) with their sampled len(fanouts)-hop subgraphs."""
    seeds = torch.as_tensor(seeds, dtype=torch.long).reshape(-1)
    num = graph[node_type].num_nodes
    if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= num):
        raise ValueError(f"seeds must be indices of {node_type!r} in [0, {num}); got {int(seeds.min())}..{int(seeds.max())}")
    if torch.unique(seeds).numel() != seeds.numel():
        raise ValueError("seeds must be unique: a seed repeated within a batch would break seed_local = arange(batch)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    sampler = sampler_for(graph)
    order = torch.randperm(seeds.numel(), generator=generator) if shuffle else torch.arange(seeds.numel())
    for begin in range(0, seeds.numel(), batch_size):
        pos = order[begin : begin + batch_size]
        sub = sampler.sample(node_type, seeds[pos], fanouts, generator)
        yield Batch(graph=sub, seed_local=torch.arange(pos.numel()), seed_pos=pos)
