"""Explanations of a graph above full_batch_max_nodes sample neighbours with a seeded generator: same graph, same reasons."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.minibatch_throughput import synthetic_graph
from leadgraph.config import TrainConfig
from models.problem import TaskSpec
from models.registry import ModelInputs, build
from tasks.explain import model_signals

TASKS = [TaskSpec("high_interest", "customer", "binary"), TaskSpec("contract", "customer", "binary")]


def test_sampled_relation_signals_repeat_exactly() -> None:
    graph = synthetic_graph(300, seed=1)
    cfg = TrainConfig(hidden=16, layers=2, full_batch_max_nodes=0, inference_fanouts=[2, 2], inference_batch_size=64)
    torch.manual_seed(0)
    inputs = ModelInputs(
        in_dims={t: int(graph[t].x.shape[1]) for t in graph.node_types},
        edge_types=list(graph.edge_types),
        edge_attr_dims={et: int(graph[et].edge_attr.shape[1]) for et in graph.edge_types if "edge_attr" in graph[et]},
        tasks=TASKS,
    )
    model = build("struchis", inputs, cfg).eval()
    rows = np.arange(0, 300, 3)
    with torch.no_grad():
        first = model_signals(model, graph, rows, cfg, (0.3, 0.7))
        torch.manual_seed(123)  # the global generator's state must not matter
        second = model_signals(model, graph, rows, cfg, (0.3, 0.7))
    assert first is not None and second is not None
    np.testing.assert_array_equal(first.relations.to_numpy(), second.relations.to_numpy())
    assert first.shared_relation.tolist() == second.shared_relation.tolist()
