"""The dual-branch model on a small hand-built graph: branches against their single-branch models, attention, staged fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.inference import _sampled
from models.problem import Problem, Split, TaskSpec
from models.registry import ModelInputs, build
from models.stages import stage_deadline
from models.training import fit, load_model, predict, save_model, split_predictions

TASKS = [TaskSpec("buyer", "customer", "binary"), TaskSpec("size", "company", "multiclass", num_classes=3)]
N = {"customer": 240, "company": 40, "station": 6}
SHIPS, RECEIVES = ("customer", "ships_to", "customer"), ("customer", "receives_from", "customer")


def _graph(seed: int = 0) -> HeteroData:
    """Customers shipping to each other (volume attributes, both directions), belonging to companies, at stations."""
    gen = torch.Generator().manual_seed(seed)
    g = HeteroData()
    for t, n in N.items():
        g[t].x = torch.randn(n, 4, generator=gen)
    customers = torch.arange(N["customer"])
    for rel, rev, dst in (("belongs_to", "has_member", "company"), ("located_at", "serves", "station")):
        other = torch.randint(0, N[dst], (N["customer"],), generator=gen)
        g["customer", rel, dst].edge_index = torch.stack([customers, other])
        g[dst, rev, "customer"].edge_index = torch.stack([other, customers])
    pairs = torch.randint(0, N["customer"], (2, 600), generator=gen)
    attr = torch.randn(600, 3, generator=gen)
    g[SHIPS].edge_index, g[SHIPS].edge_attr = pairs, attr
    g[RECEIVES].edge_index, g[RECEIVES].edge_attr = pairs.flip(0), attr.clone()
    return g


@pytest.fixture(scope="module")
def problem() -> Problem:
    """One graph; the buyer label follows the customer's shipping partners' features, the size an argmax of features."""
    g = _graph()
    partner = torch.zeros(N["customer"]).index_add_(0, g[SHIPS].edge_index[0], g["customer"].x[g[SHIPS].edge_index[1], 0])
    labels = {"buyer": ((g["customer"].x[:, 0] + partner) > 0.3).float(), "size": g["company"].x[:, :3].argmax(1)}
    gen = torch.Generator().manual_seed(1)
    splits = []
    perm = {t.name: torch.randperm(N[t.node_type], generator=gen) for t in TASKS}
    for part in range(3):
        idx = {name: np.array_split(p, [len(p) // 2, 3 * len(p) // 4])[part] for name, p in perm.items()}
        splits.append(Split([g], {k: [v] for k, v in idx.items()}, {k: [labels[k][v]] for k, v in idx.items()}))
    return Problem("toy", list(TASKS), *splits)


def _cfg(**extra: object) -> TrainConfig:
    return TrainConfig(hidden=16, heads=2, layers=2, **extra)


def _model(name: str, problem: Problem, cfg: TrainConfig | None = None) -> torch.nn.Module:
    torch.manual_seed(0)
    return build(name, ModelInputs.from_problem(problem), cfg or _cfg())


def _load_part(target: torch.nn.Module, source: torch.nn.Module, mapping: dict[str, str]) -> None:
    """Copy `source`'s parameters under renamed prefixes (`mapping`: source prefix -> target prefix) into `target`."""
    state = {}
    for key, value in source.state_dict().items():
        for old, new in mapping.items():
            if key.startswith(old + "."):
                state[new + key[len(old):]] = value
    missing = set(target.state_dict()) - set(state)
    assert not missing, missing
    target.load_state_dict(state)


def test_each_branch_alone_reproduces_its_single_branch_model(problem: Problem) -> None:
    graph = problem.train.graphs[0]
    dual = _model("dual-branch", problem).eval()
    shared_hgt = _model("shared-hgt", problem).eval()
    gcn_only = _model("dual-branch-gcn", problem).eval()
    _load_part(shared_hgt, dual, {"hgt": "encoder", "hgt_heads": "heads"})
    _load_part(gcn_only, dual, {"gcn": "gcn", "gcn_heads": "gcn_heads"})
    fused = dual(graph)
    for stage, single in (("pretrain-hgt", shared_hgt), ("pretrain-gcn", gcn_only)):
        dual.set_stage(stage)  # fusion bypassed: the branch's own heads
        mine, theirs = dual(graph), single(graph)
        for task in TASKS:
            torch.testing.assert_close(mine[task.name], theirs[task.name], rtol=0, atol=1e-6)
            assert not torch.allclose(mine[task.name], fused[task.name], atol=1e-3)


@pytest.mark.parametrize("name", ["dual-branch", "dual-branch-one-way"])
def test_cross_attention_weights_sum_to_one_over_the_other_branchs_tokens(problem: Problem, name: str) -> None:
    cfg = _cfg()
    model = _model(name, problem, cfg).eval()
    model(problem.train.graphs[0])
    weights = model.last_attention["customer"]
    gcn_tokens, hgt_tokens = cfg.dual.gcn_layers + 1, cfg.layers + 1
    expected = {"hgt<-gcn": (hgt_tokens, gcn_tokens)}
    if name == "dual-branch":
        expected["gcn<-hgt"] = (gcn_tokens, hgt_tokens)
    assert set(weights) == set(expected)
    for direction, (queries, keys) in expected.items():
        w = weights[direction]
        assert w.shape == (N["customer"], cfg.heads, queries, keys)
        assert (w >= 0).all()
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
        # per node and per token: not a constant (a single key per side would make every weight 1)
        assert w.std() > 1e-4 and not torch.allclose(w[0], w[1])


def test_gcn_propagation_is_weighted_by_volume_and_hides_held_out_pairs(problem: Problem) -> None:
    graph = problem.train.graphs[0]
    branch = _model("dual-branch-gcn", problem).eval().gcn
    base = branch(graph)[0][-1]
    other = graph.clone()
    for et in (SHIPS, RECEIVES):
        other[et].edge_attr = graph[et].edge_attr.clone()
        other[et].edge_attr[:, 0] += 3.0  # not the volume column: no effect
    torch.testing.assert_close(branch(other)[0][-1], base)
    for et in (SHIPS, RECEIVES):
        other[et].edge_attr[:, branch.volume_column] += 3.0
    assert not torch.allclose(branch(other)[0][-1], base, atol=1e-4)
    # Holding out edge 5 (u ships to v) equals propagating on a graph without u->v and its reverse v->u.
    src, dst, _, offsets = branch.interactions(graph)
    u, v = int(src[5]) - offsets["customer"], int(dst[5]) - offsets["customer"]
    without = graph.clone()
    for et in (SHIPS, RECEIVES):
        ei = graph[et].edge_index
        keep = ~(((ei[0] == u) & (ei[1] == v)) | ((ei[0] == v) & (ei[1] == u)))
        without[et].edge_index, without[et].edge_attr = ei[:, keep], graph[et].edge_attr[keep]
    held = branch(graph, torch.tensor([5]))[0][-1]
    torch.testing.assert_close(held, branch(without)[0][-1])
    assert not torch.allclose(held, base, atol=1e-5)


def test_the_interaction_objective_joins_the_gcn_pretraining_only(problem: Problem) -> None:
    graph = problem.train.graphs[0]
    model = _model("dual-branch", problem).train()
    model.set_stage("pretrain-gcn")
    model(graph)
    aux = model.auxiliary_loss()
    assert aux is not None and aux.dim() == 0 and float(aux.detach()) > 0
    aux.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.gcn.parameters())
    assert model.auxiliary_loss() is None  # taken once
    for stage in ("pretrain-hgt", "fine-tune"):
        model.set_stage(stage)
        model(graph)
        assert model.auxiliary_loss() is None


def test_fit_pretrains_each_branch_then_fine_tunes_and_reloads(problem: Problem, tmp_path: Path) -> None:
    cfg = _cfg(max_epochs=12, eval_every=2, patience=20, lr=0.01, dropout=0.0, attn_dropout=0.0)
    cfg.dual.pretrain_epochs = 6
    stages = _model("dual-branch", problem, cfg).training_stages(cfg)
    assert [s.name for s in stages] == ["pretrain-gcn", "pretrain-hgt", "fine-tune"]
    assert [g["lr"] for g in stages[-1].param_groups] == [pytest.approx(0.001), 0.01]
    result = fit(problem, "dual-branch", cfg)
    curves = {}
    for h in result.history:
        curves.setdefault(h["stage"], []).append(h["epoch"])
    assert list(curves) == ["pretrain-gcn", "pretrain-hgt", "fine-tune"]
    assert curves["pretrain-gcn"] == curves["pretrain-hgt"] == [0, 2, 4, 5]
    assert curves["fine-tune"][-1] == 11 and result.best_epoch in curves["fine-tune"]
    assert result.metrics["test"]["buyer"]["auc"] > 0.65  # chance is 0.5; 0.71 on this split
    # The kept fine-tune epoch's validation predictions, as the reloaded best weights score the split again.
    again = split_predictions(result.model, problem.val, problem.tasks, cfg)
    for task, pred in again.items():
        np.testing.assert_allclose(result.val_predictions[task].probs, pred.probs, atol=1e-6)
    save_model(result, tmp_path / "m.pt")
    model, name, _ = load_model(tmp_path / "m.pt")
    graph = problem.test.graphs[0]
    assert name == "dual-branch"
    np.testing.assert_allclose(predict(model, graph, cfg)["buyer"], predict(result.model, graph, cfg)["buyer"], atol=1e-6)


def test_a_time_budget_leaves_the_fine_tuning_its_share(problem: Problem) -> None:
    # Each pre-training could run for ever (no epoch cap in reach, no patience): only the budget ends them.
    cfg = _cfg(max_epochs=100_000, eval_every=1, patience=100_000, lr=0.01, max_train_seconds=6.0)
    cfg.dual.pretrain_epochs, cfg.dual.fine_tune_budget_share = 100_000, 0.5
    result = fit(problem, "dual-branch", cfg)
    last = {h["stage"]: h for h in result.history}
    assert list(last) == ["pretrain-gcn", "pretrain-hgt", "fine-tune"]
    # A quarter of 6 s each for the pre-trainings, half for the fine-tuning (one full-batch epoch may run over).
    assert 1.0 < last["pretrain-gcn"]["seconds"] < 2.5 and 1.0 < last["pretrain-hgt"]["seconds"] < 2.5
    assert last["fine-tune"]["seconds"] > 2.0
    assert all(h["cut_by_budget"] for h in last.values())


def test_a_refit_repeats_each_stage_up_to_its_own_kept_epoch(problem: Problem) -> None:
    cfg = _cfg(max_epochs=8, eval_every=1, patience=2, lr=0.05)
    cfg.dual.pretrain_epochs = 8
    result = fit(problem, "dual-branch", cfg)
    assert list(result.stage_epochs) == ["pretrain-gcn", "pretrain-hgt", "fine-tune"]
    # patience ended a pre-training before its cap, so a refit on the caps would differ
    assert min(result.stage_epochs["pretrain-gcn"], result.stage_epochs["pretrain-hgt"]) < cfg.dual.pretrain_epochs
    for stage, epochs in result.stage_epochs.items():
        ran = [h["epoch"] for h in result.history if h["stage"] == stage]
        best = max((h for h in result.history if h["stage"] == stage), key=lambda h: h["val_score"])
        assert epochs == best["epoch"] + 1 <= len(ran)
    assert result.stage_epochs["fine-tune"] == result.best_epoch + 1
    refit = fit(problem, "dual-branch", cfg.model_copy(update={"max_epochs": result.best_epoch + 1}), select=False,
                stage_epochs=result.stage_epochs)
    counts = {stage: sum(h["stage"] == stage for h in refit.history) for stage in result.stage_epochs}
    assert counts == result.stage_epochs
    assert refit.stage_epochs == result.stage_epochs


def test_stage_deadlines_share_what_is_left_by_weight() -> None:
    assert stage_deadline(100.0, 180.0, [0.25, 0.25, 0.5]) == pytest.approx(120.0)
    assert stage_deadline(110.0, 180.0, [0.25, 0.5]) == pytest.approx(110.0 + 70.0 / 3)  # unused time passes on
    assert stage_deadline(150.0, 180.0, [0.5]) == pytest.approx(180.0)
    assert stage_deadline(150.0, 180.0, [0.0]) == pytest.approx(180.0)


@pytest.mark.parametrize("name", ["dual-branch-hgt", "dual-branch-concat", "dual-branch-no-pretrain"])
def test_ablations_train_in_their_own_stages(problem: Problem, name: str) -> None:
    cfg = _cfg(max_epochs=3, eval_every=1, lr=0.01)
    cfg.dual.pretrain_epochs = 2
    result = fit(problem, name, cfg)
    expected = {"dual-branch-hgt": ["train"], "dual-branch-concat": ["pretrain-gcn", "pretrain-hgt", "fine-tune"],
                "dual-branch-no-pretrain": ["fine-tune"]}[name]
    assert list(dict.fromkeys(h["stage"] for h in result.history)) == expected
    model = result.model.eval()
    out = model(problem.train.graphs[0])
    assert out["buyer"].shape == (N["customer"],) and out["size"].shape == (N["company"], 3)
    if name == "dual-branch-concat":
        assert model.last_attention and not any(model.last_attention.values())  # no attention at all


def test_sampled_neighbourhoods_with_full_fanouts_give_the_full_batch_forward(problem: Problem) -> None:
    # what a training step sees of its seeds on a sampled subgraph (scoring goes layer-wise instead)
    graph = problem.train.graphs[0]
    max_deg = max(int(torch.bincount(graph[et].edge_index[1]).max()) for et in graph.edge_types)
    cfg = _cfg(inference_fanouts=(max_deg,), inference_batch_size=64)
    model = _model("dual-branch", problem, cfg).eval()
    with torch.no_grad():
        full = model(graph)
        sampled = _sampled(model, graph, "customer", TASKS[:1], cfg)
    torch.testing.assert_close(sampled["buyer"], full["buyer"], atol=1e-5, rtol=0)


def test_large_graphs_train_every_stage_on_sampled_minibatches(problem: Problem) -> None:
    cfg = _cfg(max_epochs=2, eval_every=1, lr=0.01, full_batch_max_nodes=100, batch_size=64, fanouts=(5, 3),
               inference_fanouts=(5, 3), inference_batch_size=128)
    cfg.dual.pretrain_epochs = 1
    result = fit(problem, "dual-branch", cfg)
    assert [h["stage"] for h in result.history] == ["pretrain-gcn", "pretrain-hgt", "fine-tune", "fine-tune"]
    # 120 training customers and 20 companies in batches of 64: one batch per company draw, two per customer draw
    assert all(h["batches"] == 3 for h in result.history)
    assert np.isfinite(result.metrics["test"]["buyer"]["auc"]) and result.metrics["test"]["size"]["n"] == 10
