"""Mini-batch training, sampling and batched-inference throughput at paper scale (placeholder header)."""

from __future__ import annotations

import torch
from torch_geometric.data import HeteroData


def _skewed(n: int, size: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """`size` node ids in [0, n) with a heavy tail: id ~ n * u**alpha, so low ids are hubs."""
    return (torch.rand(size, generator=gen, dtype=torch.float64).pow(alpha) * n).long().clamp(max=n - 1)


def synthetic_graph(customers: int, seed: int = 0) -> HeteroData:
    """A random logistics-shaped snapshot (the interface's node and edge types) with `customers` customers."""
    gen = torch.Generator().manual_seed(seed)
    num = {
        "customer": customers,
        "company": max(customers // 6, 1),
        "account": max(customers // 5, 1),
        "station": max(customers // 2500, 2),
    }
    widths = {"customer": 24, "company": 8, "account": 6, "station": 6}
    data = HeteroData()
    for t, n in num.items():
        data[t].x = torch.randn(n, widths[t], generator=gen)
        data[t].node_id = torch.arange(n)
    c = num["customer"]
    ship_src, ship_dst = _skewed(c, int(0.7 * c), 3.0, gen), _skewed(c, int(0.7 * c), 3.0, gen)
    ships = torch.unique(torch.stack([ship_src, ship_dst]), dim=1)
    attr = torch.rand(ships.size(1), 3, generator=gen)
    arange = torch.arange(c)
    holders = torch.randperm(c, generator=gen)[: int(0.8 * c)]
    holds = torch.stack([holders, _skewed(num["account"], holders.numel(), 1.5, gen)])
    located = torch.stack([arange, _skewed(num["station"], c, 1.5, gen)])
    members = torch.randperm(c, generator=gen)[: int(0.5 * c)]
    belongs = torch.stack([members, _skewed(num["company"], members.numel(), 2.0, gen)])
    based = torch.stack([torch.arange(num["company"]), _skewed(num["station"], num["company"], 1.5, gen)])
    pairs = {
        ("ships_to", "receives_from", "customer", "customer"): ships,
        ("holds", "held_by", "customer", "account"): holds,
        ("located_at", "serves", "customer", "station"): located,
        ("belongs_to", "has_member", "customer", "company"): belongs,
        ("based_at", "hosts", "company", "station"): based,
    }
    for (fwd, rev, src, dst), ei in pairs.items():
        data[src, fwd, dst].edge_index = ei
        data[dst, rev, src].edge_index = ei.flip(0)
    data["customer", "ships_to", "customer"].edge_attr = attr
    data["customer", "receives_from", "customer"].edge_attr = attr
    return data
