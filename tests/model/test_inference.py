"""Batched inference equals the full-batch forward: layer-wise for StrucHIS and the dual-branch model, sampled for the
other forward-only models."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from benchmarks.minibatch_throughput import synthetic_graph
from leadgraph.config import TrainConfig
from models.inference import _sampled, is_layerwise, predict_batched
from models.problem import TaskSpec
from models.registry import ModelInputs, build

TASKS = [
    TaskSpec("high_interest", "customer", "binary"),
    TaskSpec("segment", "customer", "multiclass", num_classes=3),
    TaskSpec("size_band", "company", "multiclass", num_classes=4),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Many tiny kernels: with a second OpenMP thread on a busy 2-core machine they wait on each other (20x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def graph() -> HeteroData:
    """A small logistics-shaped graph: 300 customers on two hub stations."""
    return synthetic_graph(300, seed=1)


def _model(name: str, graph: HeteroData, cfg: TrainConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    inputs = ModelInputs(
        in_dims={t: int(graph[t].x.shape[1]) for t in graph.node_types},
        edge_types=list(graph.edge_types),
        edge_attr_dims={et: int(graph[et].edge_attr.shape[1]) for et in graph.edge_types if "edge_attr" in graph[et]},
        tasks=TASKS,
    )
    model = build(name, inputs, cfg)
    model.tasks = list(TASKS)
    return model.eval()


def _full_batch(model: torch.nn.Module, graph: HeteroData) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model(graph)
    return {
        t.name: (torch.sigmoid(out[t.name]) if t.kind == "binary" else torch.softmax(out[t.name], -1)).numpy()
        for t in TASKS
    }


def _check(got: dict[str, np.ndarray], want: dict[str, np.ndarray], node_type: str) -> None:
    names = {t.name for t in TASKS if t.node_type == node_type}
    assert set(got) == names
    for name in names:
        assert got[name].shape == want[name].shape
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("name", "mode", "node_types"),
    [
        ("struchis", "product", ("customer", "company")),
        ("struchis", "faithful", ("customer",)),
        ("struchis-no-relation", "product", ("customer",)),
        ("struchis-output-only", "product", ("company",)),
    ],
)
def test_layerwise_struchis_equals_full_batch(graph: HeteroData, name: str, mode: str, node_types: tuple[str, ...]) -> None:
    # a small edge budget forces several chunks per type, and each hub station gets a chunk of its own
    cfg = TrainConfig(hidden=16, struchis_mode=mode, layerwise_chunk_edges=150)
    model = _model(name, graph, cfg).train()
    want = _full_batch(model.eval(), graph)
    model.train()
    for node_type in node_types:
        _check(predict_batched(model, graph, node_type, cfg), want, node_type)
    assert model.training  # the caller's mode is restored


def test_layerwise_struchis_keeps_a_type_that_receives_nothing(graph: HeteroData) -> None:
    # stations only send: their projected features must serve every level, in a pass that reuses two state blocks
    sender_only = graph.clone()
    for et in [et for et in sender_only.edge_types if et[2] == "station"]:
        del sender_only[et]
    cfg = TrainConfig(hidden=16, layers=3, layerwise_chunk_edges=150)
    model = _model("struchis", sender_only, cfg)
    assert "station" not in model.receivers
    want = _full_batch(model, sender_only)
    _check(predict_batched(model, sender_only, "customer", cfg), want, "customer")


@pytest.mark.parametrize(
    ("name", "stage"),
    [
        ("dual-branch", "fine-tune"),
        ("dual-branch", "pretrain-gcn"),
        ("dual-branch", "pretrain-hgt"),
        ("dual-branch-concat", "fine-tune"),
        ("dual-branch-one-way", "fine-tune"),
        ("dual-branch-gcn", None),
        ("dual-branch-hgt", None),
    ],
)
def test_layerwise_dual_branch_equals_full_batch(graph: HeteroData, name: str, stage: str | None) -> None:
    # small edge budgets: several GCN edge slices and HGT row ranges per type, a hub station in a range of its own
    cfg = TrainConfig(hidden=16, heads=4, layerwise_chunk_edges=150, inference_batch_size=70)
    model = _model(name, graph, cfg)
    if stage:
        model.set_stage(stage)
    assert is_layerwise(model)
    want = _full_batch(model, graph)
    for node_type in ("customer", "company"):
        _check(predict_batched(model, graph, node_type, cfg), want, node_type)
    rows = torch.tensor([5, 0, 299, 17])
    got = predict_batched(model, graph, "customer", cfg, rows)
    np.testing.assert_allclose(got["high_interest"], want["high_interest"][rows.numpy()], atol=1e-5, rtol=0)


def test_sampled_inference_with_full_fanouts_equals_full_batch(graph: HeteroData) -> None:
    max_deg = max(int(torch.bincount(graph[et].edge_index[1]).max()) for et in graph.edge_types)
    cfg = TrainConfig(hidden=16, inference_fanouts=(max_deg,), inference_batch_size=150)
    model = _model("struchis", graph, cfg)
    with torch.no_grad():
        logits = _sampled(model, graph, "customer", TASKS[:2], cfg)
        full = model(graph)
    for task in TASKS[:2]:
        torch.testing.assert_close(logits[task.name], full[task.name], atol=1e-5, rtol=0)


def test_sampled_inference_is_reproducible_and_differs_from_exact_with_small_fanouts(graph: HeteroData) -> None:
    cfg = TrainConfig(hidden=16, inference_fanouts=(2, 2), inference_batch_size=150)
    model = _model("struchis", graph, cfg)
    with torch.no_grad():
        a = _sampled(model, graph, "customer", TASKS[:1], cfg)["high_interest"]
        b = _sampled(model, graph, "customer", TASKS[:1], cfg)["high_interest"]
        exact = model(graph)["high_interest"]
    assert torch.equal(a, b)
    assert not torch.allclose(a, exact, atol=1e-5)


@pytest.mark.parametrize("name", ["stl-hgt", "shared-hgb", "mmoe", "ple"])
def test_sampled_inference_of_baselines_equals_full_batch(graph: HeteroData, name: str) -> None:
    max_deg = max(int(torch.bincount(graph[et].edge_index[1]).max()) for et in graph.edge_types)
    cfg = TrainConfig(hidden=16, inference_fanouts=(max_deg,), inference_batch_size=150)
    model = _model(name, graph, cfg)
    want = _full_batch(model, graph)
    for node_type in ("customer", "company"):
        _check(predict_batched(model, graph, node_type, cfg), want, node_type)
