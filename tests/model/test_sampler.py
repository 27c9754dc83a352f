"""The plain-torch heterogeneous neighbour sampler against brute-force neighbourhoods of a random graph."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.utils import k_hop_subgraph

from models.sampler import _choose_without_replacement, receiver_rows, sample_batches

NUM = {"customer": 300, "account": 120, "station": 6}


def _random_graph(seed: int = 0) -> HeteroData:
    """Customers shipping to each other, sharing accounts, and crowding onto a few hub stations."""
    g = torch.Generator().manual_seed(seed)
    data = HeteroData()
    for t, n in NUM.items():
        data[t].x = torch.randn(n, 4, generator=g)
    ships = torch.stack([torch.randint(0, NUM["customer"], (900,), generator=g) for _ in range(2)])
    ships = torch.unique(ships, dim=1)
    data["customer", "ships_to", "customer"].edge_index = ships
    data["customer", "ships_to", "customer"].edge_attr = torch.randn(ships.size(1), 3, generator=g)
    data["customer", "receives_from", "customer"].edge_index = ships.flip(0)
    holds = torch.stack([torch.arange(NUM["customer"]), torch.randint(0, NUM["account"], (NUM["customer"],), generator=g)])
    data["customer", "holds", "account"].edge_index = holds
    data["account", "held_by", "customer"].edge_index = holds.flip(0)
    located = torch.stack([torch.arange(NUM["customer"]), torch.randint(0, NUM["station"], (NUM["customer"],), generator=g)])
    data["customer", "located_at", "station"].edge_index = located
    data["station", "serves", "customer"].edge_index = located.flip(0)
    return data


def _edge_keys(ei: torch.Tensor) -> set[tuple[int, int]]:
    """Edges as a set of (src, dst) pairs."""
    return set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))


def _global_edges(sub: HeteroData, et: tuple[str, str, str]) -> torch.Tensor:
    """A subgraph's edges of one type in the original graph's node ids."""
    ei = sub[et].edge_index
    return torch.stack([sub[et[0]].n_id[ei[0]], sub[et[2]].n_id[ei[1]]])


def _k_hop_sets(data: HeteroData, node_type: str, seeds: torch.Tensor, hops: int) -> dict[str, set[int]]:
    """Nodes of each type whose messages can reach a seed within `hops` layers (homogeneous k-hop)."""
    homo = data.to_homogeneous()  # node types stacked in data.node_types order
    offset, start = {}, 0
    for t in data.node_types:
        offset[t] = start
        start += data[t].num_nodes
    subset, *_ = k_hop_subgraph(seeds + offset[node_type], hops, homo.edge_index, num_nodes=homo.num_nodes)
    out: dict[str, set[int]] = {}
    for t in data.node_types:
        mask = (subset >= offset[t]) & (subset < offset[t] + data[t].num_nodes)
        out[t] = set((subset[mask] - offset[t]).tolist())
    return out


def _one_batch(data: HeteroData, seeds: torch.Tensor, fanouts: tuple[int, ...], seed: int = 0) -> HeteroData:
    """The subgraph of all `seeds` sampled as one batch."""
    gen = torch.Generator().manual_seed(seed)
    (batch,) = list(sample_batches(data, "customer", seeds, fanouts, batch_size=len(seeds), generator=gen))
    return batch.graph


def test_sampled_edges_and_attributes_come_from_the_original_graph() -> None:
    data = _random_graph()
    sub = _one_batch(data, torch.arange(0, 40), (4, 3, 2))
    for t in data.node_types:
        assert torch.equal(sub[t].x, data[t].x[sub[t].n_id])
        assert sub[t].n_id.unique().numel() == sub[t].n_id.numel()
    for et in data.edge_types:
        glob = _global_edges(sub, et)
        assert torch.equal(glob, data[et].edge_index[:, sub[et].e_id])
        assert _edge_keys(glob) <= _edge_keys(data[et].edge_index)
        assert sub[et].e_id.unique().numel() == sub[et].e_id.numel()  # without replacement
    et = ("customer", "ships_to", "customer")
    assert torch.equal(sub[et].edge_attr, data[et].edge_attr[sub[et].e_id])


def test_fanout_is_respected_per_node_and_edge_type() -> None:
    data = _random_graph()
    fanouts = (2, 2, 2)
    seeds = torch.arange(50, 130)
    sub = _one_batch(data, seeds, fanouts)
    for et in data.edge_types:
        dst_t = et[2]
        in_deg = torch.bincount(sub[et].edge_index[1], minlength=sub[dst_t].num_nodes)
        assert int(in_deg.max()) <= 2
        if dst_t == "customer":
            # seeds are sampled first: exactly min(true in-degree, fanout) each
            true_deg = torch.bincount(data[et].edge_index[1], minlength=NUM["customer"])[seeds]
            assert torch.equal(in_deg[: len(seeds)], true_deg.clamp(max=2))
    hub = ("customer", "located_at", "station")
    assert sub[hub].edge_index.size(1) <= 2 * NUM["station"]  # hubs hold ~50 customers each, only 2 sampled


def test_seeds_come_first_and_batches_cover_every_seed_once() -> None:
    data = _random_graph()
    seeds = torch.randperm(NUM["customer"], generator=torch.Generator().manual_seed(3))[:70]
    gen = torch.Generator().manual_seed(1)
    batches = list(sample_batches(data, "customer", seeds, (3, 3), batch_size=32, shuffle=True, generator=gen))
    assert [b.seed_local.numel() for b in batches] == [32, 32, 6]
    for b in batches:
        assert torch.equal(b.seed_local, torch.arange(b.seed_local.numel()))
        assert torch.equal(b.graph["customer"].n_id[: b.seed_local.numel()], seeds[b.seed_pos])
    assert sorted(torch.cat([b.seed_pos for b in batches]).tolist()) == list(range(70))


def test_sampling_is_deterministic_under_a_seeded_generator() -> None:
    data = _random_graph()
    seeds = torch.arange(100)
    a, b, c = (_one_batch(data, seeds, (3, 2, 2), seed=s) for s in (5, 5, 6))
    for et in data.edge_types:
        assert torch.equal(a[et].e_id, b[et].e_id)
        assert torch.equal(a[et].edge_index, b[et].edge_index)
    for t in data.node_types:
        assert torch.equal(a[t].n_id, b[t].n_id)
    assert any(not torch.equal(a[et].e_id, c[et].e_id) for et in data.edge_types)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_full_fanout_recovers_exactly_the_k_hop_neighbourhood(hops: int) -> None:
    data = _random_graph()
    seeds = torch.tensor([0, 17, 42])
    sub = _one_batch(data, seeds, (-1,) * hops)
    expected = _k_hop_sets(data, "customer", seeds, hops)
    inner = _k_hop_sets(data, "customer", seeds, hops - 1)
    for t in data.node_types:
        assert set(sub[t].n_id.tolist()) == expected[t]
    for et in data.edge_types:
        # every in-edge of every node closer than `hops`, and nothing else
        ei = data[et].edge_index
        want = ei[:, torch.isin(ei[1], torch.tensor(sorted(inner[et[2]]), dtype=torch.long))]
        assert _edge_keys(_global_edges(sub, et)) == _edge_keys(want)


def test_large_fanout_equals_full_fanout_and_small_stays_inside_the_neighbourhood() -> None:
    data = _random_graph()
    seeds = torch.arange(10)
    max_deg = max(int(torch.bincount(data[et].edge_index[1]).max()) for et in data.edge_types)
    big = _one_batch(data, seeds, (max_deg,) * 3)
    full = _one_batch(data, seeds, (-1,) * 3)
    small = _one_batch(data, seeds, (2, 2, 2))
    reach = _k_hop_sets(data, "customer", seeds, 3)
    for t in data.node_types:
        assert set(big[t].n_id.tolist()) == set(full[t].n_id.tolist())
        assert set(small[t].n_id.tolist()) <= reach[t]
        assert small[t].num_nodes <= big[t].num_nodes


def test_choice_without_replacement_is_uniform() -> None:
    n = torch.full((30_000,), 10)
    picks = _choose_without_replacement(n, 3, torch.Generator().manual_seed(0))
    assert bool((picks.sort(dim=1).values.diff(dim=1) > 0).all())  # distinct within a row
    freq = torch.bincount(picks.reshape(-1), minlength=10).double() / n.numel()
    assert torch.allclose(freq, torch.full((10,), 0.3, dtype=torch.double), atol=0.015)


def test_bad_seeds_are_rejected_with_a_clear_error() -> None:
    data = _random_graph()
    with pytest.raises(ValueError, match="unique"):
        next(sample_batches(data, "customer", torch.tensor([1, 1]), (2,), batch_size=4))
    with pytest.raises(ValueError, match="customer"):
        next(sample_batches(data, "customer", torch.tensor([NUM["customer"]]), (2,), batch_size=4))


def test_nodes_are_numbered_by_hop_and_receiver_rows_are_hop_prefixes() -> None:
    data = _random_graph()
    seeds = torch.arange(0, 40, 4)
    sub = _one_batch(data, seeds, (-1, -1, -1))
    for hops in range(4):
        reach = _k_hop_sets(data, "customer", seeds, hops)
        for t in data.node_types:
            sizes = sub[t].num_sampled_nodes
            assert len(sizes) == 4
            within = set(sub[t].n_id[: sum(sizes[: hops + 1])].tolist())
            assert within == reach[t], (t, hops)
    limits = receiver_rows(sub, 4)
    assert [lim["customer"] for lim in limits] == [sum(sub["customer"].num_sampled_nodes[: 4 - s]) for s in range(4)]
    assert limits[-1] == {"customer": 10, "account": 0, "station": 0}
    assert receiver_rows(data, 4) is None


@pytest.mark.parametrize("name", ["struchis", "struchis-no-relation", "stl-hgb", "shared-hgt", "mmoe", "ple"])
def test_a_trimmed_subgraph_gives_the_seeds_the_untrimmed_computation(name: str) -> None:
    from leadgraph.config import TrainConfig
    from models.problem import TaskSpec
    from models.registry import ModelInputs, build

    data = _random_graph()
    tasks = [TaskSpec("hot", "customer", "binary"), TaskSpec("zone", "customer", "multiclass", 3)]
    inputs = ModelInputs({t: 4 for t in NUM}, list(data.edge_types), {("customer", "ships_to", "customer"): 3}, tasks)
    torch.manual_seed(0)
    model = build(name, inputs, TrainConfig(hidden=8, layers=2, heads=2)).eval()
    sub = _one_batch(data, torch.arange(0, 60, 3), (5, 4, 3))
    with torch.no_grad():
        trimmed = model(sub)
        for t in sub.node_types:
            del sub[t].num_sampled_nodes
        whole = model(sub)
    for task in tasks:
        torch.testing.assert_close(trimmed[task.name], whole[task.name][:20], atol=1e-5, rtol=0)


def test_only_the_latest_graph_keeps_its_sampler_index() -> None:
    import gc
    import weakref

    from models.sampler import sampler_for

    first, second = _random_graph(0), _random_graph(1)
    held = sampler_for(first)
    assert sampler_for(first) is held  # reused while its graph is the latest
    old = weakref.ref(held)
    del held
    replacement = sampler_for(second)
    gc.collect()
    assert old() is None  # switching graphs freed the first index
    assert sampler_for(second) is replacement
    again = weakref.ref(replacement)
    del replacement, second
    gc.collect()
    assert again() is None  # a freed graph takes its index with it
    before = _one_batch(first, torch.tensor([0, 1, 2]), (2, 2))
    sampler_for(_random_graph(2))
    after = _one_batch(first, torch.tensor([0, 1, 2]), (2, 2))  # a rebuilt index samples the same way
    assert all(torch.equal(before[t].n_id, after[t].n_id) for t in before.node_types)
