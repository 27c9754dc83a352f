"""Anchor plans, the Problem built from per-anchor snapshots, the normaliser, scoring graph and prospects."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from leadgraph.config import LabelConfig, Settings, load_settings
from leadgraph.warehouse import connect
from tasks.dataset import FeatureNormalizer, build_problem, prospects, scoring_graph
from tasks.graph import build_snapshot, load_snapshot
from tasks.labels import anchor_dates, labels_at
from tests.data.graph_world import SIGNED_EARLY, SIGNS_LATER, build_world

AS_OF = date(2025, 8, 31)


def test_anchor_plan() -> None:
    cfg = LabelConfig()
    plan = anchor_dates(AS_OF, cfg)
    # 2025-06-02 is a Monday and 2025-06-02 + 90 days = 2025-08-31: the window closes exactly on D.
    assert plan.test == date(2025, 6, 2) and plan.val == date(2025, 5, 19)
    assert plan.train == [date(2025, 4, 7), date(2025, 4, 21), date(2025, 5, 5)]
    assert all(t.weekday() == 0 for t in plan.all) and plan.all[-1] == plan.test
    # Labels stop at the next split's anchor, so no outcome counts for two splits.
    assert [plan.cutoff(t) for t in plan.all] == [plan.val] * 3 + [plan.test, None]
    # One day earlier, that Monday's window would end after D: the plan moves back a week.
    assert anchor_dates(AS_OF - timedelta(days=1), cfg).test == date(2025, 5, 26)
    with pytest.raises(ValueError, match="multiple of 7"):
        anchor_dates(AS_OF, LabelConfig(anchor_stride_days=10))


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)
    return settings


def test_problem(world: Settings) -> None:
    problem = build_problem(world, AS_OF)
    plan = problem.meta["anchors"]
    assert [(t.name, t.node_type, t.kind, t.loss_weight) for t in problem.tasks] == [
        ("high_interest", "customer", "binary", world.train.loss_weights[0]), ("contract", "customer", "binary", world.train.loss_weights[1])]
    assert len(problem.train.graphs) == world.labels.train_anchors and len(problem.val.graphs) == len(problem.test.graphs) == 1
    assert set(problem.meta["data_versions"]) == {t.isoformat() for t in plan.all}

    # Each split's labels are exactly its anchor's labels, on the rows of its own snapshot.
    with connect(world.paths.warehouse, read_only=True) as con:
        for split, anchors in ((problem.train, plan.train), (problem.val, [plan.val]), (problem.test, [plan.test])):
            for g, idx, y, t in zip(split.graphs, split.index["contract"], split.y["contract"], anchors):
                labels = labels_at(con, t, world.labels, plan.cutoff(t))
                assert g["customer"].node_id[idx].tolist() == labels["customer_id"].tolist()
                assert y.tolist() == labels["y_contract"].astype(float).tolist()
                assert torch.equal(idx, split.index["high_interest"][split.graphs.index(g)])
    # Customer 2 signs on 2025-05-10: a contract positive for the 2025-04-21 and 2025-05-05 anchors, gone afterwards.
    positives = problem.meta["positives"]
    assert positives["2025-04-21"]["contract"] == 1 and positives["2025-05-05"]["contract"] == 1
    assert positives["2025-05-19"]["contract"] == 0

    # The normaliser is fitted on the train anchors: their stacked non-constant columns are standardised.
    x = torch.cat([g["customer"].x for g in problem.train.graphs]).double()
    varying = x.std(dim=0) > 0
    assert torch.allclose(x.mean(dim=0), torch.zeros(x.shape[1], dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(dim=0, unbiased=False)[varying], torch.ones(int(varying.sum()), dtype=torch.float64), atol=1e-4)
    for split in (problem.train, problem.val, problem.test):
        for g in split.graphs:
            for nt in g.node_types:
                assert torch.isfinite(g[nt].x).all(), nt
            assert torch.isfinite(g["customer", "ships_to", "customer"].edge_attr).all()


def test_normalizer_round_trip_and_scoring(world: Settings, tmp_path: Path) -> None:
    raw = load_snapshot(build_snapshot(world, date(2025, 4, 7)).path)
    norm = FeatureNormalizer.fit([raw])
    # Constant columns (e.g. a vocabulary entry nobody has) become zeros, not NaN.
    constant = (raw["customer"].x == raw["customer"].x[0]).all(dim=0)
    assert constant.any()
    out = norm.transform(raw)
    assert (out["customer"].x[:, constant] == 0).all() and torch.isfinite(out["customer"].x).all()
    assert out["customer"].node_id is raw["customer"].node_id and out["customer"].feature_names == raw["customer"].feature_names
    # Indicators stay on their own scale; heavy-tailed counts are logged before scaling.
    names = raw["customer"].feature_names
    assert not norm.nodes["customer"].log[names.index("is_business")] and norm.nodes["customer"].log[names.index("sent_n_total")]

    norm.save(tmp_path / "norm.json")
    loaded = FeatureNormalizer.load(tmp_path / "norm.json")
    scored = scoring_graph(world, AS_OF, loaded)
    expected = norm.transform(load_snapshot(build_snapshot(world, AS_OF).path))
    for nt in scored.node_types:
        assert torch.equal(scored[nt].x, expected[nt].x)

    raw["customer"].feature_names = list(reversed(names))
    with pytest.raises(ValueError, match="customer features"):
        norm.transform(raw)


def test_prospects(world: Settings) -> None:
    with connect(world.paths.warehouse, read_only=True) as con:
        ids = prospects(con, AS_OF)["customer_id"].tolist()
        earlier = prospects(con, date(2025, 5, 1))["customer_id"].tolist()
    assert SIGNED_EARLY not in ids and SIGNS_LATER not in ids and 12 in ids
    assert SIGNS_LATER in earlier and SIGNED_EARLY not in earlier
    assert np.all(np.diff(ids) > 0)


def test_tiny_world_problem(tiny_warehouse: Settings, tmp_path: Path) -> None:
    """On the simulated tiny world: every anchor has a labelled population with task-1 positives, features are finite."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_warehouse.paths.warehouse, home / "warehouse.duckdb")
    settings = load_settings(home)
    problem = build_problem(settings, AS_OF)
    counts = problem.meta["positives"]
    assert all(c["high_interest"] > 0 for c in counts.values()), counts
    for split in (problem.train, problem.val, problem.test):
        for g, idx, y in zip(split.graphs, split.index["high_interest"], split.y["high_interest"]):
            assert g["customer"].num_nodes > 1_000 and len(idx) == len(y) > 0
            assert len(set(idx.tolist())) == len(idx)
            for nt in g.node_types:
                assert torch.isfinite(g[nt].x).all(), nt
            for et in g.edge_types:
                assert g[et].num_edges > 0, et
    # Positives are rare among prospects, as designed: task 2 far sparser than task 1.
    hi = sum(c["high_interest"] for c in counts.values())
    assert sum(c["contract"] for c in counts.values()) < hi
    with connect(settings.paths.warehouse, read_only=True) as con:
        n_prospects = len(prospects(con, AS_OF))
    scored = scoring_graph(settings, AS_OF, problem.meta["normalizer"])
    assert 0 < n_prospects <= scored["customer"].num_nodes
