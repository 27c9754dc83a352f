"""The pieces of the StrucHIS reference recipe: dropout masks per role, the joint-loss selection rule, the BCE it reads."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.layers import RelationAttention, dropout, relation_table
from models.problem import TaskSpec
from models.training import binary_cross_entropy, improves


def self_loop_layer(per_role: bool) -> tuple[RelationAttention, HeteroData, dict[str, torch.Tensor]]:
    """A one-type graph whose only relation is the self-loop: each node's one message is its own projected sender row."""
    torch.manual_seed(0)
    graph = HeteroData()
    graph["n"].num_nodes = 50
    layer = RelationAttention(["n"], 8, 8, relation_table([], ["n"]), split=True, residual=False, dropout=0.5,
                              attn_dropout=0.0, masks_per_role=per_role)
    return layer, graph, {"n": torch.randn(50, 8)}


def test_per_role_masks_drop_the_head_and_the_sender_roles_independently():
    shared, graph, h = self_loop_layer(per_role=False)
    out = shared.train()(h, graph)["n"]
    # one mask per node type: the self-loop sender is the very head row the node projected
    assert torch.equal(out.messages[:, 0], out.q)
    per_role, graph, h = self_loop_layer(per_role=True)
    out = per_role.train()(h, graph)["n"]
    assert not torch.allclose(out.messages[:, 0], out.q)
    assert torch.equal(out.x_drop @ per_role.W["n"].t(), out.q)  # the gate input is the head's dropped row
    evaluated = per_role.eval()(h, graph)["n"]  # no dropout at evaluation: both roles see the same row
    assert torch.allclose(evaluated.messages[:, 0], evaluated.q)


def test_struchis_follows_the_configured_mask_mode():
    from models.registry import ModelInputs, build
    from tests.model.test_struchis_training import toy_problem

    inputs = ModelInputs.from_problem(toy_problem())
    for mode, expected in (("per_node_type", False), ("per_role", True)):
        model = build("struchis", inputs, TrainConfig(hidden=8, layers=2, dropout_masks=mode))
        layers = [m for m in model.modules() if isinstance(m, RelationAttention)]
        assert layers and all(layer.masks_per_role is expected for layer in layers)


def test_dropout_off_the_cpu_is_torch_own():
    x = torch.ones(4, 3, device="meta")  # shapes without storage: numpy could not draw a mask for it
    assert dropout(x, 0.5, training=True).device.type == "meta"
    kept = dropout(torch.ones(10_000), 0.5, training=True)
    assert set(kept.unique().tolist()) == {0.0, 2.0} and 0.45 < float((kept > 0).float().mean()) < 0.55


def test_bce_is_the_reference_loss_on_probabilities():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y = np.array([0, 1])
    expected = torch.nn.functional.binary_cross_entropy(torch.tensor(probs), torch.eye(3, dtype=torch.float64)[y])
    assert math.isclose(binary_cross_entropy(probs, y, "multiclass"), float(expected), rel_tol=1e-12)
    p, yb = np.array([0.9, 0.2, 1.0]), np.array([1, 0, 0])
    expected = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(yb, dtype=torch.float64))
    assert math.isclose(binary_cross_entropy(p, yb, "binary"), float(expected), rel_tol=1e-12)  # log(0) floored at -100
    assert math.isclose(binary_cross_entropy(p, yb, "binary", np.array([1.0, 1.0, 0.0])),
                        -(math.log(0.9) + math.log(0.8)) / 2)


def test_joint_loss_selection_needs_every_task_to_improve_or_tie():
    tasks = [TaskSpec("a", "n", "multiclass", 3), TaskSpec("b", "n", "multiclass", 3)]
    joint = TrainConfig(selection="joint_loss")
    kept = {"a": {"bce": 0.50}, "b": {"bce": 0.30}}
    assert improves(kept, 0.1, None, -np.inf, tasks, joint)  # the first evaluation is always kept
    assert improves({"a": {"bce": 0.49}, "b": {"bce": 0.30}}, 0.1, kept, 0.9, tasks, joint)  # a tie counts
    assert not improves({"a": {"bce": 0.10}, "b": {"bce": 0.31}}, 0.99, kept, 0.9, tasks, joint)
    by_score = TrainConfig(selection="score")
    assert improves({"a": {"bce": 0.10}, "b": {"bce": 0.31}}, 0.99, kept, 0.9, tasks, by_score)
    assert not improves({"a": {"bce": 0.10}, "b": {"bce": 0.10}}, 0.9, kept, 0.9, tasks, by_score)
