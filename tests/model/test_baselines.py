"""The baselines (STL/Shared HGT and HGB, MMoE, PLE, LightGBM) on a tiny heterogeneous problem with a learnable signal."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.inference import predict_batched
from models.problem import Problem, Split, TaskSpec
from models.registry import ModelInputs, build
from models.training import evaluate, fit, load_model, predict, save_model

GRAPH_BASELINES = ["stl-hgt", "stl-hgb", "shared-hgt", "shared-hgb", "mmoe", "ple"]
TASKS = [
    TaskSpec("buyer", "customer", "binary"),
    TaskSpec("size", "company", "multiclass", num_classes=3),
]
N = {"customer": 300, "company": 60, "station": 8}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny graphs: intra-op threads only add contention on the shared 2-core machine (50x slower under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _toy_graph(seed: int = 0) -> HeteroData:
    """Customers, companies and stations with reverse edges and edge attributes on customer-customer edges."""
    gen = torch.Generator().manual_seed(seed)
    g = HeteroData()
    for t, n in N.items():
        g[t].x = torch.randn(n, 5, generator=gen)
        g[t].num_nodes = n

    def link(src: str, rel: str, dst: str, rev: str, src_idx: torch.Tensor, dst_idx: torch.Tensor) -> None:
        g[src, rel, dst].edge_index = torch.stack([src_idx, dst_idx])
        g[dst, rev, src].edge_index = torch.stack([dst_idx, src_idx])

    customers = torch.arange(N["customer"])
    link("customer", "belongs_to", "company", "has_member", customers, torch.randint(0, N["company"], (N["customer"],), generator=gen))
    link("customer", "located_at", "station", "serves", customers, torch.randint(0, N["station"], (N["customer"],), generator=gen))
    pairs = torch.randint(0, N["customer"], (2, 900), generator=gen)
    link("customer", "ships_to", "customer", "receives_from", pairs[0], pairs[1])
    attr = torch.rand(900, 3, generator=gen)
    g["customer", "ships_to", "customer"].edge_attr = attr
    g["customer", "receives_from", "customer"].edge_attr = attr
    return g


def _split(graph: HeteroData, labels: dict[str, torch.Tensor], idx: dict[str, torch.Tensor]) -> Split:
    return Split([graph], {k: [v] for k, v in idx.items()}, {k: [labels[k][v]] for k, v in idx.items()})


@pytest.fixture(scope="module")
def problem() -> Problem:
    """One graph, DBLP-style splits; the binary label is a feature sign, the company class an argmax of features."""
    g = _toy_graph()
    labels = {"buyer": (g["customer"].x[:, 0] > 0.3).float(), "size": g["company"].x[:, :3].argmax(1)}
    perm = {t.name: torch.randperm(N[t.node_type], generator=torch.Generator().manual_seed(1)) for t in TASKS}
    parts = {name: (p[: len(p) // 2], p[len(p) // 2 : 3 * len(p) // 4], p[3 * len(p) // 4 :]) for name, p in perm.items()}
    splits = [_split(g, labels, {name: parts[name][i] for name in parts}) for i in range(3)]
    return Problem("toy", list(TASKS), *splits)


def _model(name: str, problem: Problem, **cfg: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build(name, ModelInputs.from_problem(problem), TrainConfig(hidden=16, heads=2, layers=2, **cfg))


def _loss(model: torch.nn.Module, out: dict[str, torch.Tensor], problem: Problem, tasks: list[TaskSpec]) -> torch.Tensor:
    total = torch.zeros(())
    for task in tasks:
        idx, y = problem.train.index[task.name][0], problem.train.y[task.name][0]
        total = total + model.task_loss(task, out[task.name][idx], y, None)
    return total


@pytest.mark.parametrize("mode", ["product", "faithful"])
@pytest.mark.parametrize("name", GRAPH_BASELINES)
def test_forward_returns_logits_of_every_node_of_the_task_type(problem: Problem, name: str, mode: str) -> None:
    model = _model(name, problem, struchis_mode=mode).eval()
    out = model(problem.train.graphs[0])
    assert set(out) == {"buyer", "size"}
    assert out["buyer"].shape == (N["customer"],)
    assert out["size"].shape == (N["company"], 3)
    assert all(torch.isfinite(v).all() for v in out.values())


@pytest.mark.parametrize("name", GRAPH_BASELINES)
def test_a_few_steps_reduce_the_loss_on_a_learnable_signal(problem: Problem, name: str) -> None:
    model = _model(name, problem, dropout=0.0, attn_dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    graph = problem.train.graphs[0]
    losses = []
    for _ in range(25):
        loss = _loss(model, model(graph), problem, TASKS)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_faithful_hgb_logits_are_l2_normalised(problem: Problem) -> None:
    model = _model("shared-hgb", problem, struchis_mode="faithful").eval()
    out = model(problem.train.graphs[0])
    torch.testing.assert_close(out["size"].norm(dim=1), torch.ones(N["company"]))
    # binary: difference of two unit-norm class logits
    assert out["buyer"].abs().max() <= 2**0.5 + 1e-5


@pytest.mark.parametrize("name", ["stl-hgt", "stl-hgb"])
def test_stl_task_outputs_depend_only_on_their_own_parameters(problem: Problem, name: str) -> None:
    model = _model(name, problem)
    loss = _loss(model, model(problem.train.graphs[0]), problem, TASKS[:1])
    loss.backward()
    own = list(model.encoders[0].parameters()) + list(model.heads[0].parameters())
    other = list(model.encoders[1].parameters()) + list(model.heads[1].parameters())
    assert sum(float(p.grad.abs().sum()) for p in own if p.grad is not None) > 0
    assert all(p.grad is None or not p.grad.any() for p in other)


@pytest.mark.parametrize("name", ["shared-hgt", "shared-hgb"])
def test_shared_backbone_gets_gradient_from_each_task(problem: Problem, name: str) -> None:
    for task in TASKS:
        model = _model(name, problem)
        _loss(model, model(problem.train.graphs[0]), problem, [task]).backward()
        grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0, task.name


@pytest.mark.parametrize("expert", ["hgb", "hgt"])
def test_mmoe_gates_are_per_node_distributions_over_experts(problem: Problem, expert: str) -> None:
    model = _model("mmoe", problem, moe_expert=expert, mmoe_experts=3).eval()
    gates = model.gate_weights(problem.train.graphs[0])
    assert gates["buyer"].shape == (N["customer"], 3) and gates["size"].shape == (N["company"], 3)
    for w in gates.values():
        assert (w >= 0).all()
        torch.testing.assert_close(w.sum(1), torch.ones(w.shape[0]))
    assert not torch.allclose(gates["buyer"][0], gates["buyer"][1])  # per node, not global


@pytest.mark.parametrize("expert", ["hgb", "hgt"])
def test_ple_gates_mix_own_and_shared_experts_at_every_level(problem: Problem, expert: str) -> None:
    model = _model("ple", problem, moe_expert=expert, ple_task_experts=2, ple_shared_experts=1).eval()
    levels = model.gate_weights(problem.train.graphs[0])
    assert len(levels) == 2
    assert levels[0]["buyer/company"].shape == (N["company"], 3)  # 2 own + 1 shared
    assert levels[0]["shared/station"].shape == (N["station"], 5)  # 2 tasks x 2 + 1 shared
    assert set(levels[1]) == {"buyer/customer", "size/company"}  # last level: own target type, no shared gate
    for level in levels:
        for w in level.values():
            assert (w >= 0).all()
            torch.testing.assert_close(w.sum(1), torch.ones(w.shape[0]))


@pytest.mark.parametrize("name", ["stl-hgb", "shared-hgt", "mmoe", "ple"])
def test_sampled_inference_with_full_fanouts_equals_full_batch(problem: Problem, name: str) -> None:
    graph = problem.train.graphs[0]
    max_deg = max(int(torch.bincount(graph[et].edge_index[1]).max()) for et in graph.edge_types)
    cfg = TrainConfig(hidden=16, heads=2, layers=2, inference_fanouts=(max_deg,), inference_batch_size=64)
    torch.manual_seed(0)
    model = build(name, ModelInputs.from_problem(problem), cfg).eval()
    full = predict(model, graph, cfg)
    batched = predict_batched(model, graph, "customer", cfg)
    np.testing.assert_allclose(batched["buyer"], full["buyer"], atol=1e-5, rtol=0)


def test_lightgbm_learns_each_task_and_survives_save_and_load(problem: Problem, tmp_path) -> None:
    cfg = TrainConfig(model="lightgbm")
    cfg.tabular.min_child_samples = 5
    cfg.tabular.threads = 1
    result = fit(problem, "lightgbm", cfg)
    assert [h["task"] for h in result.history] == ["buyer", "size"]
    assert result.metrics["test"]["buyer"]["auc"] > 0.85
    assert result.metrics["test"]["size"]["micro_f1"] > 0.5  # chance is about 1/3
    graph = problem.test.graphs[0]
    probs = predict(result.model, graph, cfg)
    assert probs["buyer"].shape == (N["customer"],)
    assert probs["size"].shape == (N["company"], 3)
    np.testing.assert_allclose(probs["size"].sum(1), 1.0, atol=1e-6)
    save_model(result, tmp_path / "m.pt")
    model, name, _ = load_model(tmp_path / "m.pt")
    assert name == "lightgbm"
    np.testing.assert_array_equal(predict(model, graph, cfg)["buyer"], probs["buyer"])
    assert pickle.loads(pickle.dumps(model)).boosters.keys() == {"buyer", "size"}


def test_fit_trains_a_graph_baseline_end_to_end_and_reloads(problem: Problem, tmp_path) -> None:
    cfg = TrainConfig(hidden=16, heads=2, layers=2, max_epochs=40, eval_every=5, patience=20, lr=0.01, dropout=0.0)
    result = fit(problem, "shared-hgt", cfg)
    assert result.metrics["test"]["buyer"]["auc"] > 0.75
    save_model(result, tmp_path / "m.pt")
    model, _, _ = load_model(tmp_path / "m.pt")
    graph = problem.test.graphs[0]
    np.testing.assert_allclose(predict(model, graph, cfg)["size"], predict(result.model, graph, cfg)["size"], atol=1e-6)
    idx = problem.test.index["buyer"][0]
    direct = evaluate(predict(model, graph, cfg)["buyer"][idx.numpy()], problem.test.y["buyer"][0].numpy(), "binary")
    assert direct["auc"] == pytest.approx(result.metrics["test"]["buyer"]["auc"])
