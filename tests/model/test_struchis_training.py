"""StrucHIS and models.training in training mode: learning, unlabelled targets, ablations, losses, save/load."""

from __future__ import annotations

import gc
import math
import weakref
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.layers import SparseAwareLinear
from models.problem import Problem, Split, TaskSpec
from models.registry import MODEL_NAMES, ModelInputs, build
from models.training import evaluate, fit, load_model, predict, save_model, selection_score

N_CUST, N_STATION = 240, 12
TASKS = [TaskSpec("hot", "customer", "binary", loss_weight=1.0), TaskSpec("zone", "customer", "multiclass", 3, 1.0)]


def toy_graph(seed: int = 0) -> HeteroData:
    """Customers linked to stations and to each other (with edge attributes); labels need a neighbour's features."""
    gen = torch.Generator().manual_seed(seed)
    g = HeteroData()
    g["customer"].x = torch.randn(N_CUST, 4, generator=gen)
    g["station"].x = torch.randn(N_STATION, 3, generator=gen)
    station = torch.randint(0, N_STATION, (N_CUST,), generator=gen)
    cust = torch.arange(N_CUST)
    g["customer", "located_at", "station"].edge_index = torch.stack([cust, station])
    g["station", "serves", "customer"].edge_index = torch.stack([station, cust])
    pairs = torch.randint(0, N_CUST, (2, 600), generator=gen)
    g["customer", "ships_to", "customer"].edge_index = pairs
    g["customer", "ships_to", "customer"].edge_attr = torch.rand(600, 3, generator=gen)
    g["customer", "receives_from", "customer"].edge_index = pairs.flip(0)
    g["customer", "receives_from", "customer"].edge_attr = torch.rand(600, 3, generator=gen)
    g["customer"].station = station
    return g


def toy_labels(g: HeteroData) -> dict[str, torch.Tensor]:
    """hot: own feature plus the station's feature; zone: the station's id mod 3 (only reachable through edges)."""
    station = g["customer"].station
    hot = ((g["customer"].x[:, 0] + g["station"].x[station, 0]) > 0.5).float()
    return {"hot": hot, "zone": station % 3}


def toy_problem(unlabelled_extra: bool = False) -> Problem:
    """One graph; customers split 60/20/20; optionally extra train targets marked -1 (unlabelled)."""
    g = toy_graph()
    labels = toy_labels(g)
    perm = torch.randperm(N_CUST, generator=torch.Generator().manual_seed(5))
    parts = {"train": perm[:144], "val": perm[144:192], "test": perm[192:]}

    def split(name: str) -> Split:
        idx = parts[name]
        ys = {t: labels[t][idx].clone() for t in labels}
        if unlabelled_extra and name == "train":
            extra = parts["test"][:20]
            idx = torch.cat([idx, extra])
            ys = {t: torch.cat([ys[t], torch.full((20,), -1, dtype=ys[t].dtype)]) for t in ys}
        return Split([g], {t: [idx] for t in labels}, {t: [ys[t]] for t in labels})

    return Problem("toy", TASKS, split("train"), split("val"), split("test"))


class OneAtATime(Sequence[HeteroData]):
    """Toy graphs made when indexed, the latest kept, as a stored world loads its anchors; records, each time a new
    one is made, whether anything still held the one before."""

    def __init__(self, seeds: list[int]) -> None:
        self.seeds = seeds
        self.current: HeteroData | None = None
        self.at: int | None = None
        self.previous_alive: list[bool] = []

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, i: int) -> HeteroData:  # type: ignore[override]
        if i != self.at:
            previous = None if self.current is None else weakref.ref(self.current)
            self.current = self.at = None
            gc.collect()
            if previous is not None:
                self.previous_alive.append(previous() is not None)
            self.current, self.at = toy_graph(self.seeds[i]), i
        return self.current


def test_training_and_scoring_let_go_of_each_graph_before_the_next_loads():
    def split(seeds: list[int], rows: slice) -> Split:
        labels = [toy_labels(toy_graph(seed)) for seed in seeds]
        idx = torch.arange(N_CUST)[rows]
        return Split(OneAtATime(seeds), {t: [idx for _ in seeds] for t in labels[0]},
                     {t: [lab[t][idx] for lab in labels] for t in labels[0]})

    problem = Problem("toy-anchors", TASKS, split([0, 1, 2], slice(0, 160)), split([3, 4], slice(160, 200)),
                      split([5, 6], slice(200, None)))
    # Above full_batch_max_nodes: mini-batch epochs and layer-wise scoring, the paper-scale routes.
    cfg = TrainConfig(hidden=8, layers=2, max_epochs=2, eval_every=1, patience=5, full_batch_max_nodes=100,
                      batch_size=64)
    fit(problem, "struchis", cfg)
    for name, s in (("train", problem.train), ("val", problem.val), ("test", problem.test)):
        assert s.graphs.previous_alive and not any(s.graphs.previous_alive), name


def test_struchis_learns_a_problem_that_needs_neighbours():
    cfg = TrainConfig(hidden=16, layers=2, lr=1e-2, max_epochs=60, eval_every=5, patience=20, dropout=0.1, attn_dropout=0.1)
    result = fit(toy_problem(), "struchis", cfg)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.6 * losses[0]
    test = result.metrics["test"]
    assert test["hot"]["auc"] > 0.8
    assert test["zone"]["micro_f1"] > 0.6  # chance is about 1/3
    assert 0 <= result.best_epoch < cfg.max_epochs
    assert result.history[-1]["val"]["zone"]["n"] == 48


def test_faithful_mode_trains_with_probability_bce():
    cfg = TrainConfig(struchis_mode="faithful", hidden=16, layers=2, lr=1e-2, max_epochs=30, eval_every=5, patience=10,
                      dropout=0.1, attn_dropout=0.1)
    result = fit(toy_problem(), "struchis", cfg)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    # BCE on probabilities of unit-norm logits cannot approach zero: the bounded-probability pitfall.
    assert losses[-1] > 0.2


def test_unlabelled_targets_do_not_change_training():
    cfg = TrainConfig(hidden=8, layers=2, max_epochs=4, eval_every=2, patience=5)
    plain = fit(toy_problem(), "struchis", cfg)
    padded = fit(toy_problem(unlabelled_extra=True), "struchis", cfg)
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, padded.model.state_dict()[key]), key
    assert plain.history[-1]["loss"] == padded.history[-1]["loss"]


@pytest.mark.parametrize("name", ["struchis", "struchis-no-relation", "struchis-output-only"])
def test_variants_forward_and_explain(name):
    g = toy_graph()
    problem = toy_problem()
    model = build(name, ModelInputs.from_problem(problem), TrainConfig(hidden=8, layers=2))
    out = model(g)
    assert out["hot"].shape == (N_CUST,) and out["zone"].shape == (N_CUST, 3)
    weights = model.relation_weights(g)
    names, beta = weights["hot"]
    assert names == ["receives_from", "self", "serves", "ships_to"]
    assert beta.shape == (N_CUST, 4)
    assert torch.allclose(beta.sum(1), torch.ones(N_CUST), atol=1e-5)
    assert model.training  # relation_weights restores the mode
    view = model.relation_view(g)["zone"]
    assert torch.equal(view.attention, model.relation_weights(g)["zone"][1])
    if name == "struchis":
        # Per customer and relation, a distribution over the two tasks' messages.
        assert view.gates.shape == (N_CUST, 4, 2)
        assert torch.allclose(view.gates.sum(-1), torch.ones(N_CUST, 4), atol=1e-5)
    else:
        assert view.gates is None


def test_ablations_have_the_documented_gates():
    inputs = ModelInputs.from_problem(toy_problem())
    cfg = TrainConfig(hidden=8, layers=3)
    full, layer, output = (build(n, inputs, cfg) for n in ["struchis", "struchis-no-relation", "struchis-output-only"])
    assert sorted(full.gates) == ["0", "1", "2"] and full.gates["0"][0]["customer"].groups == 4
    assert sorted(layer.gates) == ["0", "1", "2"] and layer.gates["0"][0]["customer"].groups == 1
    assert sorted(output.gates) == ["2"] and output.gates["2"][0]["customer"].groups == 1


def test_edge_attributes_enter_product_mode_only():
    g = toy_graph()
    inputs = ModelInputs.from_problem(toy_problem())
    assert inputs.edge_attr_dims[("customer", "ships_to", "customer")] == 3
    changed = toy_graph()
    changed["customer", "ships_to", "customer"].edge_attr = changed["customer", "ships_to", "customer"].edge_attr * 5
    for mode, should_change in (("product", True), ("faithful", False)):
        torch.manual_seed(0)
        model = build("struchis", inputs, TrainConfig(hidden=8, layers=2, struchis_mode=mode)).eval()
        with torch.no_grad():
            differs = not torch.allclose(model(g)["hot"], model(changed)["hot"])
        assert differs == should_change, mode


def test_product_binary_loss_uses_positive_weight():
    model = build("struchis", ModelInputs.from_problem(toy_problem()), TrainConfig(hidden=8, layers=1))
    logits, y = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])
    plain = model.task_loss(TASKS[0], logits, y, None)
    weighted = model.task_loss(TASKS[0], logits, y, 9.0)
    assert math.isclose(float(plain), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(weighted), (9 * math.log(2) + math.log(2)) / 2, rel_tol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    cfg = TrainConfig(hidden=8, layers=2, max_epochs=3, eval_every=1)
    problem = toy_problem()
    result = fit(problem, "struchis-no-relation", cfg)
    save_model(result, tmp_path / "m.pt")
    model, name, loaded_cfg = load_model(tmp_path / "m.pt")
    assert name == "struchis-no-relation" and loaded_cfg == cfg
    g = problem.test.graphs[0]
    before, after = predict(result.model, g, cfg), predict(model, g, cfg)
    for task in before:
        np.testing.assert_allclose(before[task], after[task], rtol=1e-6)
    assert after["zone"].shape == (N_CUST, 3) and np.allclose(after["zone"].sum(1), 1, atol=1e-5)


def test_evaluate_ignores_unlabelled_rows_and_matches_definitions():
    probs = np.array([0.9, 0.8, 0.3, 0.2, 0.99])
    y = np.array([1, 0, 1, 0, -1])
    m = evaluate(probs, y, "binary")
    assert m["n"] == 4 and m["positives"] == 2
    assert math.isclose(m["auc"], 0.75)
    assert math.isclose(m["ap"], (1 / 1 + 2 / 3) / 2)
    multi = evaluate(np.eye(3)[[0, 1, 2, 2]], np.array([0, 1, 1, -1]), "multiclass")
    assert math.isclose(multi["micro_f1"], 2 / 3)
    assert math.isclose(multi["macro_f1"], (1 + 2 / 3 + 0) / 3)
    assert math.isnan(evaluate(np.array([0.2, 0.4]), np.array([0, 0]), "binary")["auc"])


def test_selection_score_weights_tasks():
    tasks = [TaskSpec("a", "n", "binary", loss_weight=1.0), TaskSpec("b", "n", "multiclass", 3, 3.0)]
    score = selection_score({"a": {"ap": 0.2}, "b": {"micro_f1": 0.6, "macro_f1": 0.4}}, tasks)
    assert math.isclose(score, (0.2 + 3 * 0.5) / 4)


def test_registry_knows_every_model_and_rejects_others():
    assert MODEL_NAMES[0] == "struchis" and len(MODEL_NAMES) == 16
    with pytest.raises(ValueError, match="unknown model"):
        build("gcn", ModelInputs.from_problem(toy_problem()), TrainConfig())


def test_sparse_aware_linear_equals_dense_linear():
    torch.manual_seed(1)
    x = (torch.rand(2000, 600) < 0.01).float()
    sparse_lin = SparseAwareLinear(600, 5)
    dense_lin = torch.nn.Linear(600, 5)
    dense_lin.load_state_dict(sparse_lin.state_dict())
    for _ in range(2):  # the second call takes the cached CSR path
        out_s, out_d = sparse_lin(x), dense_lin(x)
        assert torch.allclose(out_s, out_d, atol=1e-5)
    out_s.sum().backward()
    out_d.sum().backward()
    assert sparse_lin._cache[2] is not None
    assert torch.allclose(sparse_lin.weight.grad, dense_lin.weight.grad, atol=1e-4)
    assert torch.allclose(sparse_lin.bias.grad, dense_lin.bias.grad, atol=1e-4)


def test_large_graphs_train_and_predict_through_the_sampler():
    """Above full_batch_max_nodes, fit trains on sampled mini-batches and predicts layer-wise; it still learns."""
    cfg = TrainConfig(hidden=16, layers=2, lr=1e-2, max_epochs=30, eval_every=5, patience=10, dropout=0.1,
                      attn_dropout=0.1, full_batch_max_nodes=100, batch_size=64, fanouts=(8, 8, 8))
    result = fit(toy_problem(), "struchis", cfg)
    assert len(result.history) >= 2
    assert result.metrics["test"]["zone"]["micro_f1"] > 0.5
    assert result.metrics["test"]["hot"]["auc"] > 0.75


def test_a_spent_time_budget_stops_after_one_evaluated_epoch():
    cfg = TrainConfig(hidden=8, layers=1, max_epochs=50, eval_every=10, patience=10, max_train_seconds=0.0)
    result = fit(toy_problem(), "struchis", cfg)
    assert [h["epoch"] for h in result.history] == [0]
    assert result.best_epoch == 0
    assert result.metrics["val"] == result.history[0]["val"]


def test_a_spent_time_budget_stops_a_minibatch_epoch_after_its_first_batch():
    """An epoch of a large graph can outlast the whole budget, so the sampler loop itself honours the deadline."""
    common = dict(hidden=8, layers=1, max_epochs=1, eval_every=1, full_batch_max_nodes=100, batch_size=16, fanouts=(4,))
    whole = fit(toy_problem(), "struchis", TrainConfig(**common))
    spent = fit(toy_problem(), "struchis", TrainConfig(**common, max_train_seconds=0.0))
    assert whole.history[0]["batches"] > 1
    assert spent.history[0]["batches"] == 1
    assert spent.best_epoch == 0 and spent.metrics["val"] == spent.history[0]["val"]
