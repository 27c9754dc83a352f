"""Receiving rows of a large graph in consecutive ranges of bounded incoming edges, and each range's edges.

Layer-wise inference (`models.inference`, `models.layerwise_dual`) computes a level for every node one
range of receivers at a time; the edges come straight off the sampler's CSC index, where a relation's
edges are sorted by receiver, so a range is one slice per relation.
"""

from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

from models.layers import Incoming, Relation
from models.sampler import sampler_for


def row_ranges(graph: HeteroData, node_type: str, max_edges: int) -> list[slice]:
    """Consecutive row ranges of `node_type` whose incoming edges (plus one per node) stay within `max_edges`."""
    csc = sampler_for(graph).csc
    weight = torch.ones(graph[node_type].num_nodes, dtype=torch.long)
    for et, index in csc.items():
        if et[2] == node_type:
            weight += index.ptr.diff()
    before = torch.cumsum(weight, 0) - weight
    _, sizes = torch.unique_consecutive(before // max(max_edges, 1), return_counts=True)
    ends = torch.cumsum(sizes, 0).tolist()
    return [slice(lo, hi) for lo, hi in zip([0, *ends[:-1]], ends)]


def incoming_edges(graph: HeteroData, relations: list[Relation], rows: slice, device: torch.device) -> list[Incoming]:
    """Every edge of `relations` (all into one node type) whose receiver is in `rows`, read off the CSC index, on
    `device`."""
    csc = sampler_for(graph).csc
    n = rows.stop - rows.start
    local = torch.arange(n)
    result = []
    for rel in relations:
        if rel.self_loop:
            result.append(Incoming(rel, torch.arange(rows.start, rows.stop, device=device), local.to(device), None))
            continue
        index = csc.get(rel.edge_type)
        if index is None:
            empty = torch.empty(0, dtype=torch.long, device=device)
            result.append(Incoming(rel, empty, empty, None))
            continue
        ptr = index.ptr[rows.start : rows.stop + 1]
        lo, hi = int(ptr[0]), int(ptr[-1])
        dst = torch.repeat_interleave(local, ptr.diff(), output_size=hi - lo)
        attr = graph[rel.edge_type].get("edge_attr")
        if attr is not None:
            attr = attr.index_select(0, index.eid[lo:hi])
        result.append(Incoming(rel, index.src[lo:hi].to(device), dst.to(device), None if attr is None else attr.to(device)))
    return result
