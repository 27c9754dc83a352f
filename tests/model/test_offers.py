"""Offer models: CIGCN against MODELS.md 4.2 computed densely, MESI's gates, the sampled evaluation, every registered model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from leadgraph.config import OfferConfig
from leadgraph.contract import BEHAVIOURS
from models.offers.baselines import funnel_stages
from models.offers.cigf import CIGF
from models.offers.data import Interactions, Subgraph, sample_pairs, sample_subgraph
from models.offers.evaluate import full_metrics, sample_negatives, sampled_metrics
from models.offers.registry import OFFER_MODELS, UNTRAINED, build_offer_model
from models.offers.training import fit, score_items


def _random_interactions(users: int, items: int, per_behaviour: tuple[int, ...], seed: int) -> Interactions:
    """Random pairs per behaviour (duplicates collapse)."""
    rng = np.random.default_rng(seed)
    return Interactions(
        n_users=users, n_items=items, behaviours=BEHAVIOURS[: len(per_behaviour)],
        users=[rng.integers(0, users, n) for n in per_behaviour], items=[rng.integers(0, items, n) for n in per_behaviour],
    )


def _dense_left(data: Interactions, k: int) -> torch.Tensor:
    """D^-1 A of behaviour k, built densely from the pairs."""
    m, n = data.n_users, data.n_items
    y = torch.zeros(m, n)
    y[torch.from_numpy(data.users[k]), torch.from_numpy(data.items[k])] = 1.0
    a = torch.zeros(m + n, m + n)
    a[:m, m:] = y
    a[m:, :m] = y.T
    deg = a.sum(1, keepdim=True)
    return torch.where(deg > 0, a / deg.clamp(min=1.0), torch.zeros_like(a))


def test_cigcn_propagation_matches_the_equations_computed_densely() -> None:
    data = _random_interactions(7, 5, (14, 10, 6), seed=3)
    cfg = OfferConfig(dim=4, layers=3)
    model = CIGF(data, cfg)
    e0 = model.encoder.embedding.detach()
    adjs = [_dense_left(data, k) for k in range(3)]
    assert torch.allclose(model.encoder.adjs[1].dense(), adjs[1])
    for k in range(3):
        # x^0 = E0; P^1 = A^k E0; P^l = sum_j diag(alpha_j) A^j P^{l-1}; x^l = x^{l-1} + P^l; X* = sum_l x^l.
        p = adjs[k] @ e0
        xs = [e0, e0 + p]
        for layer in range(2, cfg.layers + 1):
            lin = model.encoder.attention[k][layer - 2]
            alpha = F.leaky_relu(e0 @ lin.weight.detach().T + lin.bias.detach(), 0.1)
            p = sum(alpha[:, j:j + 1] * (adjs[j] @ p) for j in range(3))
            xs.append(xs[-1] + p)
        expected = torch.stack(xs).sum(0)
        assert torch.allclose(model.encoder.branch(k, model.encoder.adjs, model.encoder.embedding).detach(), expected, atol=1e-5)


def test_cigcn_gradient_flows_through_the_sparse_products() -> None:
    data = _random_interactions(6, 4, (10, 8), seed=1)
    model = CIGF(data, OfferConfig(dim=3, layers=2))
    model.encoder.branch(0, model.encoder.adjs, model.encoder.embedding).pow(2).sum().backward()
    e0 = model.encoder.embedding.detach().clone().requires_grad_(True)
    a = [_dense_left(data, k) for k in range(2)]
    lin = model.encoder.attention[0][0]
    alpha = F.leaky_relu(e0 @ lin.weight.detach().T + lin.bias.detach(), 0.1)
    p1 = a[0] @ e0
    p2 = alpha[:, :1] * (a[0] @ p1) + alpha[:, 1:2] * (a[1] @ p1)
    (e0 + (e0 + p1) + (e0 + p1 + p2)).pow(2).sum().backward()
    assert torch.allclose(model.encoder.embedding.grad, e0.grad, atol=1e-4)


def test_mesi_gates_sum_to_one_per_task_and_differ_by_task() -> None:
    data = _random_interactions(9, 6, (20, 15, 12, 8), seed=2)
    model = CIGF(data, OfferConfig(dim=4, layers=2))
    tables = model.propagate()
    users = torch.arange(9).repeat(6)
    items = torch.arange(6).repeat_interleave(9) + data.n_users
    gates = [model.head.gates(tables, users, items, k) for k in range(4)]
    for g in gates:
        assert g.shape == (54, 4)
        assert torch.allclose(g.sum(-1), torch.ones(54))
        assert (g > 0).all()
    assert not torch.allclose(gates[0], gates[3])


def test_sampled_negatives_never_include_a_training_positive_when_excluded() -> None:
    rng = np.random.default_rng(0)
    seen = np.array([0, 3, 4, 9, 17, 18, 40])
    for _ in range(50):
        neg = sample_negatives(60, np.append(seen, 5), 20, rng)
        assert len(neg) == 20 == len(set(neg.tolist()))
        assert not set(neg.tolist()) & {0, 3, 4, 5, 9, 17, 18, 40}
    # A catalogue smaller than the negatives asked for gives every other offer, once.
    assert sorted(sample_negatives(10, np.array([1, 2]), 99, rng).tolist()) == [0, 3, 4, 5, 6, 7, 8, 9]


def test_sampled_metrics_exclude_training_positives_only_when_asked() -> None:
    # The user's training positives score highest; the held-out item is next. Excluded, they cannot outrank it.
    scores = np.array([[9.0, 8.0, 7.0, 5.0] + [1.0] * 40])
    train = [np.array([0, 1, 2])]
    kept = sampled_metrics(scores, np.array([3]), train, n_neg=40, k=1, seed=0, exclude_train=True)
    assert kept == {"hr": 1.0, "ndcg": 1.0}
    leaky = sampled_metrics(scores, np.array([3]), train, n_neg=43, k=1, seed=0, exclude_train=False)
    assert leaky["hr"] == 0.0
    full = full_metrics(scores, np.array([3]), train, k=1)
    assert full == {"recall": 1.0, "ndcg": 1.0}


def test_training_pairs_take_negatives_outside_the_behaviour() -> None:
    data = _random_interactions(30, 12, (200, 90), seed=4)
    u, pos, neg = sample_pairs(data, 1, np.arange(30), 40, np.random.default_rng(0))
    dummy = pos == neg
    assert data.has(1, u[~dummy], pos[~dummy]).all()
    assert not data.has(1, u[~dummy], neg[~dummy]).any()
    # Only users without a behaviour-1 item get the dummy pair, and only one.
    without = np.setdiff1d(np.arange(30), data.users[1])
    assert sorted(u[dummy].tolist()) == sorted(without.tolist())


@pytest.mark.parametrize("name", sorted(OFFER_MODELS))
def test_every_offer_model_trains_and_ranks_the_catalogue(name: str) -> None:
    # Users 0-19 adopt item 0 after a trial of it; users 20-39 adopt item 1: the target is learnable.
    users = np.arange(40)
    target_items = np.where(users < 20, 0, 1)
    data = Interactions(
        n_users=40, n_items=8, behaviours=BEHAVIOURS,
        users=[users, users, users, users[::2]], items=[target_items, target_items, target_items, target_items[::2]],
    )
    cfg = OfferConfig(dim=8, epochs=30, batch_users=40, samples_per_user=4, lr=1e-2, baseline_lr=5e-2, reg=1e-4)
    model = build_offer_model(name, data, cfg)
    history = fit(model, data, cfg, seed=0)
    scores = score_items(model, np.arange(40), 8, data.target)
    assert scores.shape == (40, 8) and np.isfinite(scores).all()
    if name not in UNTRAINED:
        assert history[-1]["loss"] < history[0]["loss"]


@pytest.mark.parametrize("name", sorted(OFFER_MODELS))
def test_scoring_every_offer_at_once_equals_scoring_each_pair(name: str) -> None:
    data = _random_interactions(12, 7, (30, 25, 20, 15), seed=4)
    cfg = OfferConfig(dim=5, layers=2, mult=3.0)
    model = build_offer_model(name, data, cfg)
    with torch.no_grad():
        tables = model.propagate()
        users = torch.tensor([0, 3, 5, 11])
        for k in model.tasks:
            pairs = model.pair_scores(tables, users.repeat_interleave(7), torch.arange(7).repeat(4), k).reshape(4, 7)
            assert torch.allclose(model.block_scores(tables, users, k), pairs, atol=1e-5)


SUBGRAPH_MODELS = ["cigf", "cigf-no-cigcn", "cigcn-ple", "funnel-cigf", "mf-bpr", "lightgcn", "lightgcn-merged"]


@pytest.mark.parametrize("name", SUBGRAPH_MODELS)
def test_a_subgraph_of_every_node_propagates_as_the_whole_graph(name: str) -> None:
    data = _random_interactions(15, 6, (60, 40, 30, 20), seed=2)
    assert all(np.isin(np.arange(6), data.items[k]).any() for k in range(4))
    # Every user kept, and drawn too: each item aggregates all its neighbours, as in the whole graph.
    sub = Subgraph(np.arange(15), np.arange(6), data, data, data.n_users)
    assert sub.nodes.tolist() == list(range(21))
    model = build_offer_model(name, data, OfferConfig(dim=4, layers=2), seed=1)
    with torch.no_grad():
        for whole, part in zip(model.propagate(), model.propagate(sub)):
            assert torch.allclose(whole, part, atol=1e-6)


def test_a_subgraph_keeps_the_whole_neighbourhood_of_each_user_it_keeps_within_its_budget() -> None:
    data = _random_interactions(400, 30, (900, 700, 500, 300), seed=5)
    batch = np.array([3, 17, 250])
    asked = np.array([29, 0])
    sub = sample_subgraph(data, batch, asked, budget=20, rng=np.random.default_rng(1))
    assert np.isin(batch, sub.users).all() and len(sub.users) <= len(batch) + 20
    assert np.isin(asked, sub.items).all()
    batch_items = np.unique(np.concatenate([data.items[k][np.isin(data.users[k], batch)] for k in range(4)]))
    drawn = np.unique(sub.users[np.concatenate(sub.item_pairs.users)])
    assert not np.isin(batch, drawn).any()  # (with this seed: none of the batch was drawn as well)
    for k in range(4):
        # Every pair of a kept user is in the subgraph, re-indexed, and no other pair; items aggregate over the
        # drawn users' pairs alone.
        for local, of in ((sub.pairs, sub.users), (sub.item_pairs, drawn)):
            mine = np.isin(data.users[k], of)
            assert sorted(zip(data.users[k][mine], data.items[k][mine])) == sorted(
                zip(sub.users[local.users[k]], sub.items[local.items[k]]))
    adj = sub.adjacencies("left")[0].dense()
    users = len(sub.users)
    assert (adj[users:, :users][:, np.searchsorted(sub.users, batch)] == 0).all()
    # The users drawn are two hops away: each shares an item with the batch or the items asked for.
    reach = np.union1d(batch_items, asked)
    for user in np.setdiff1d(sub.users, batch):
        assert any(np.isin(data.items[k][data.users[k] == user], reach).any() for k in range(4))
    rows = np.array([17, data.n_users + 29])
    assert (sub.nodes[sub.local(rows)] == rows).all()


def test_training_on_sampled_subgraphs_learns_the_target() -> None:
    # Users 0-199 adopt item 0 after a trial of it, users 200-399 item 1 (as in the test above, at a size
    # where each step's subgraph holds a fraction of the users).
    users = np.arange(400)
    target_items = np.where(users < 200, 0, 1)
    data = Interactions(n_users=400, n_items=8, behaviours=BEHAVIOURS,
                        users=[users, users, users, users[::2]],
                        items=[target_items, target_items, target_items, target_items[::2]])
    cfg = OfferConfig(dim=8, epochs=15, batch_users=20, samples_per_user=4, reg=1e-4, subgraph_above=100,
                      subgraph_users=30, subgraph_train_users=200)
    model = build_offer_model("cigf", data, cfg)
    history = fit(model, data, cfg, seed=0)
    assert len(history) == 15 and history[-1]["loss"] < history[0]["loss"]
    held_out = users[1::2]  # their adoption is not in training
    scores = score_items(model, held_out, 8, data.target)
    assert (scores.argmax(1) == target_items[held_out]).mean() > 0.9


def test_the_funnel_stage_ranks_the_furthest_behaviour_first_then_popularity() -> None:
    # User 0: enquiry on 1, quote on 2 (and an enquiry on it), trial on 3; item 4 is the most adopted, by others.
    data = Interactions(n_users=4, n_items=5, behaviours=BEHAVIOURS,
                        users=[np.array([0, 0]), np.array([0]), np.array([0]), np.array([1, 2, 3, 1])],
                        items=[np.array([1, 2]), np.array([2]), np.array([3]), np.array([4, 4, 4, 0])])
    model = build_offer_model("funnel-stage", data, OfferConfig())
    scores = score_items(model, np.array([0, 1]), 5, data.target)
    assert np.argsort(-scores[0], kind="stable").tolist() == [3, 2, 1, 4, 0]
    assert np.argsort(-scores[1], kind="stable").tolist()[:2] == [4, 0]


def test_funnel_first_keeps_the_stages_and_orders_within_them_by_its_model() -> None:
    data = _random_interactions(12, 9, (30, 25, 20, 15), seed=4)
    model = build_offer_model("funnel-cigf", data, OfferConfig(dim=5), seed=1)
    users = np.arange(12)
    scores = score_items(model, users, 9, data.target)
    inner = score_items(model.inner, users, 9, data.target)
    stages = funnel_stages(data, users)
    for row in range(12):
        order = np.argsort(-scores[row], kind="stable")
        assert (np.diff(stages[row, order]) <= 0).all()  # a later funnel stage always comes first
        for stage in np.unique(stages[row]):
            group = order[stages[row, order] == stage]
            assert (np.diff(inner[row, group]) <= 0).all()  # within a stage, the trained model's order


def test_unknown_offer_model_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown offer model 'cigff'.*cigf, cigf-no-cigcn"):
        build_offer_model("cigff", _random_interactions(3, 3, (2, 2, 2, 2), seed=0), OfferConfig())


def test_fit_stops_once_the_validation_curve_has_flattened() -> None:
    from models.offers.selection import flattened

    data = _random_interactions(30, 6, (60, 50, 40, 30), seed=3)
    cfg = OfferConfig(dim=4, epochs=20, patience=3, batch_users=30, samples_per_user=2)
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.29, 0.5, 0.6])
    history = fit(build_offer_model("cigf", data, cfg), data, cfg, seed=0, validate=lambda model: next(scores))
    # Best at epoch 2, then three epochs without a better score: stop after epoch 5.
    assert [h["val"] for h in history] == [0.1, 0.3, 0.2, 0.25, 0.29]
    assert flattened(history, cfg)
    cut = OfferConfig(dim=4, epochs=4, patience=3, batch_users=30, samples_per_user=2)
    rising = iter([0.1, 0.2, 0.3, 0.4])
    assert not flattened(fit(build_offer_model("mf-bpr", data, cut), data, cut, seed=0, validate=lambda model: next(rising)), cut)


def test_fit_stops_after_the_epoch_that_spends_the_budget_and_says_so() -> None:
    from models.budget import cut_by_budget

    data = _random_interactions(30, 6, (60, 50, 40, 30), seed=3)
    spent = OfferConfig(dim=4, epochs=5, batch_users=30, samples_per_user=2, max_train_seconds=0.0)
    history = fit(build_offer_model("cigf", data, spent), data, spent, seed=0, validate=lambda model: 0.1)
    assert len(history) == 1 and cut_by_budget(history)
    free = spent.model_copy(update={"max_train_seconds": None, "patience": 10})
    history = fit(build_offer_model("cigf", data, free), data, free, seed=0, validate=lambda model: 0.1)
    assert len(history) == 5 and not cut_by_budget(history)


def test_a_refit_the_budget_cuts_gives_way_to_the_must_beat_ranking() -> None:
    from tasks.recommend import _refit

    data = _random_interactions(30, 6, (60, 50, 40, 30), seed=3)
    cfg = OfferConfig(dim=4, batch_users=30, samples_per_user=2, max_train_seconds=60.0)
    served, model, history, why = _refit(data, cfg, "cigf", epochs=3, spent=1.0)
    assert (served, len(history), why) == ("cigf", 3, None)
    served, model, history, why = _refit(data, cfg, "cigf", epochs=3, spent=60.0)
    assert served == "funnel-stage" and not getattr(model, "trainable", True) and history == []
    assert why == {"model": "cigf", "epochs_run": 0, "epochs_kept": 3, "cut_by_budget": True}
    always = cfg.model_copy(update={"must_beat": "none"})
    served, model, history, why = _refit(data, always, "cigf", epochs=3, spent=60.0)
    assert (served, len(history), why) == ("cigf", 3, None)


def test_a_behaviour_nobody_has_shown_yet_trains_as_dummy_pairs() -> None:
    data = _random_interactions(10, 4, (20, 10, 0, 5), seed=1)
    users, pos, neg = sample_pairs(data, 2, np.arange(10), 3, np.random.default_rng(0))
    assert len(users) == 10 and (pos == neg).all()
    cfg = OfferConfig(dim=4, epochs=2, batch_users=10, samples_per_user=3)
    assert len(fit(build_offer_model("cigf", data, cfg), data, cfg, seed=0)) == 2


@pytest.mark.parametrize("name", sorted(set(OFFER_MODELS) - UNTRAINED))
def test_a_model_starts_from_its_seed_whatever_ran_before(name: str) -> None:
    data = _random_interactions(20, 7, (30, 20, 10, 8), seed=3)
    first = build_offer_model(name, data, OfferConfig(), seed=5).state_dict()
    torch.rand(1000)  # another model's training in the same process moves torch's generator
    again = build_offer_model(name, data, OfferConfig(), seed=5).state_dict()
    other = build_offer_model(name, data, OfferConfig(), seed=6).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)
