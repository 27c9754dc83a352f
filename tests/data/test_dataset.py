"""Anchor plans, the Problem built from per-anchor snapshots, the normaliser, scoring graph and prospects."""

from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import weakref
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from leadgraph.config import LabelConfig, LabelTask, Settings, load_settings
from leadgraph.warehouse import connect
from models.problem import largest_graph_nodes
from tasks import dataset
from tasks.dataset import FeatureNormalizer, build_problem, prospects, scoring_graph
from tasks.graph import build_snapshot, load_snapshot
from tasks.labels import anchor_dates, labels_at
from tests.conftest import TINY_LABELS
from tests.data.graph_world import SIGNED_EARLY, SIGNS_LATER, build_world

AS_OF = date(2025, 8, 31)


def test_anchor_plan() -> None:
    cfg = LabelConfig()
    plan = anchor_dates(AS_OF, cfg)
    hi, contract = plan.tasks["high_interest"], plan.tasks["contract"]
    # 2025-06-02 is a Monday and 2025-06-02 + 90 days = 2025-08-31: the contract window closes exactly on D.
    assert contract.test == date(2025, 6, 2) and contract.val == date(2025, 3, 3)
    assert contract.train == [date(2024, 11, 4), date(2024, 11, 18), date(2024, 12, 2)]
    # The 30-day task sits closer to D.
    assert hi.test == date(2025, 7, 28) and hi.val == date(2025, 6, 23)
    assert hi.train == [date(2025, 4, 21), date(2025, 5, 5), date(2025, 5, 19)]
    for task in cfg.tasks:
        a, w = plan.tasks[task.key], timedelta(days=task.window_days)
        # Whole windows, each closed by the next split's anchor (and the test window by D).
        assert all(t + w <= a.val for t in a.train) and a.val + w <= a.test and a.test + w <= AS_OF
        assert all(t.weekday() == 0 for t in [*a.train, a.val, a.test, *plan.refit[task.key]])
        # The refit takes the latest anchors whose windows closed by D.
        assert plan.refit[task.key][-1] == a.test and len(plan.refit[task.key]) == cfg.train_anchors
    assert plan.split("test") == [contract.test, hi.test] and plan.tasks_at("test", hi.test) == ["high_interest"]
    # One day earlier, that Monday's contract window would end after D: the plan moves back a week.
    assert anchor_dates(AS_OF - timedelta(days=1), cfg).tasks["contract"].test == date(2025, 5, 26)
    with pytest.raises(ValueError, match="multiple of 7"):
        anchor_dates(AS_OF, LabelConfig(anchor_stride_days=10))


# The hand-built world spans 2025-01 .. 2025-07: short windows so three whole windows per task fit.
SHORT = LabelConfig(tasks=[LabelTask(key="high_interest", name="high interest", outcomes=("high_interest",), window_days=14),
                           LabelTask(key="contract", name="contract signed", outcomes=("contract_signed",), window_days=21)],
                    train_anchors=2)
SHORT_AS_OF = date(2025, 6, 15)


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)
    return settings


def test_problem(world: Settings) -> None:
    world.labels = SHORT
    problem = build_problem(world, SHORT_AS_OF)
    plan = problem.meta["anchors"]
    assert [(t.name, t.node_type, t.kind, t.loss_weight) for t in problem.tasks] == [
        ("high_interest", "customer", "binary", world.train.loss_weights[0]), ("contract", "customer", "binary", world.train.loss_weights[1])]
    assert plan.tasks["contract"].val == date(2025, 4, 28) and plan.tasks["high_interest"].val == date(2025, 5, 12)
    assert set(problem.meta["data_versions"]) == {t.isoformat() for t in plan.all}

    # Each split's graphs are its tasks' anchors; a task is labelled exactly on its own anchors, whole windows.
    with connect(world.paths.warehouse, read_only=True) as con:
        for name, split in (("train", problem.train), ("val", problem.val), ("test", problem.test)):
            anchors = plan.split(name)
            assert len(split.graphs) == len(anchors)
            for i, (g, t) in enumerate(zip(split.graphs, anchors)):
                labels = labels_at(con, t, world.labels)
                for task in ("high_interest", "contract"):
                    idx, y = split.index[task][i], split.y[task][i]
                    if task in plan.tasks_at(name, t):
                        assert g["customer"].node_id[idx].tolist() == labels["customer_id"].tolist()
                        assert y.tolist() == labels[f"y_{task}"].astype(float).tolist()
                    else:
                        assert idx.numel() == 0 and y.numel() == 0
    # Customer 2 signs on 2025-05-10: a contract positive of the validation anchor 2025-04-28 (window to 05-19),
    # no longer a prospect at the test anchor 2025-05-19.
    positives = problem.meta["positives"]["contract"]
    assert positives["val 2025-04-28"] == 1 and positives["test 2025-05-19"] == 0

    # One normalised snapshot held at a time: reaching the next anchor frees the previous one, and reloading
    # an anchor gives the same tensors.
    first = weakref.ref(problem.train.graphs[0])
    assert problem.train.graphs[0] is first()
    kept = problem.train.graphs[0]["customer"].x.clone()
    problem.train.graphs[1]
    gc.collect()
    assert first() is None
    assert torch.equal(problem.train.graphs[0]["customer"].x, kept)

    # Too little history for whole windows: a clear error naming the setting.
    with pytest.raises(ValueError, match=r"labels\.tasks\[high_interest\]: 2 training anchor.*need history from 2024-12-30"):
        build_problem(world, date(2025, 3, 1))

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


@pytest.mark.parametrize("spill", [True, False])
def test_a_revisited_anchor_is_read_back_from_its_spill_which_goes_with_the_problem(
        world: Settings, monkeypatch: pytest.MonkeyPatch, spill: bool) -> None:
    world.labels = SHORT
    world.train.spill_snapshots = spill
    problem = build_problem(world, SHORT_AS_OF)
    loaded: list[str] = []
    real = dataset.load_snapshot
    monkeypatch.setattr(dataset, "load_snapshot", lambda path: loaded.append(Path(path).name) or real(path))
    graphs, anchors = problem.train.graphs, [t.isoformat() for t in problem.meta["anchors"].split("train")]
    g = graphs[0]
    before = {nt: (g[nt].x.clone(), g[nt].node_id.clone(), list(g[nt].feature_names)) for nt in g.node_types}
    edges = {et: (g[et].edge_index.clone(), g[et].get("edge_attr")) for et in g.edge_types}
    del g
    graphs[1]
    again = graphs[0]
    # With the spill the second visit of the first anchor reads its normalised arrays back: nothing is reloaded.
    assert loaded == (anchors[:2] if spill else [anchors[0], anchors[1], anchors[0]])
    for nt, (x, ids, names) in before.items():
        assert torch.equal(again[nt].x, x) and torch.equal(again[nt].node_id, ids) and again[nt].feature_names == names
    for et, (index, attr) in edges.items():
        assert torch.equal(again[et].edge_index, index)
        assert (attr is None and "edge_attr" not in again[et]) or torch.equal(again[et].edge_attr, attr)
    folders = list(world.paths.spill.iterdir()) if world.paths.spill.exists() else []
    assert len(folders) == (1 if spill else 0)
    del problem, graphs, again
    gc.collect()
    assert not any(world.paths.spill.iterdir()) if spill else not world.paths.spill.exists()


def test_a_disk_that_refuses_the_spill_ends_spilling_not_the_training(
        world: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    world.labels = SHORT
    problem = build_problem(world, SHORT_AS_OF)
    real = np.save

    def full(path, array):  # the disk fills up halfway through the first snapshot's arrays
        if Path(path).name.endswith(".node_id.npy"):
            raise OSError(28, "No space left on device")
        return real(path, array)

    monkeypatch.setattr(np, "save", full)
    graphs = problem.train.graphs
    first = graphs[0]["customer"].x.clone()
    graphs[1]
    assert torch.equal(graphs[0]["customer"].x, first)  # reloaded and normalised again
    assert "spilling snapshots stopped" in caplog.text and "No space left" in caplog.text
    assert problem.train.graphs.cache.spill is None and not any(world.paths.spill.iterdir())


def test_building_the_problem_loads_no_snapshot_beyond_those_the_normaliser_is_fitted_on(
        world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    world.labels = SHORT
    loaded: list[str] = []
    real = dataset.load_snapshot
    monkeypatch.setattr(dataset, "load_snapshot", lambda path: loaded.append(Path(path).name) or real(path))
    problem = build_problem(world, SHORT_AS_OF)
    assert sorted(loaded) == sorted(t.isoformat() for t in problem.meta["anchors"].split("train"))
    loaded.clear()
    largest = largest_graph_nodes(problem.train.graphs)
    assert loaded == []
    assert largest == max(sum(g[t].num_nodes for t in g.node_types) for g in problem.train.graphs)


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
        ids = prospects(con, AS_OF, world.labels)["customer_id"].tolist()
        earlier = prospects(con, date(2025, 5, 1), world.labels)["customer_id"].tolist()
    assert SIGNED_EARLY not in ids and SIGNS_LATER not in ids and 12 in ids
    assert SIGNS_LATER in earlier and SIGNED_EARLY not in earlier
    assert np.all(np.diff(ids) > 0)


def test_tiny_world_problem(tiny_warehouse: Settings, tmp_path: Path) -> None:
    """On the simulated tiny world: every anchor has a labelled population with task-1 positives, features are finite."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_warehouse.paths.warehouse, home / "warehouse.duckdb")
    settings = load_settings(home)
    settings.labels = LabelConfig.model_validate(TINY_LABELS)
    problem = build_problem(settings, AS_OF)
    counts = problem.meta["positives"]
    assert all(n > 0 for n in counts["high_interest"].values()), counts
    for split in (problem.train, problem.val, problem.test):
        for g, idx, y in zip(split.graphs, split.index["high_interest"], split.y["high_interest"]):
            assert g["customer"].num_nodes > 1_000 and len(idx) == len(y)
            assert len(set(idx.tolist())) == len(idx)
            for nt in g.node_types:
                assert torch.isfinite(g[nt].x).all(), nt
            for et in g.edge_types:
                assert g[et].num_edges > 0, et
    # Positives are rare among prospects, as designed: task 2 far sparser than task 1.
    hi = sum(counts["high_interest"].values()) / len(counts["high_interest"])
    assert sum(counts["contract"].values()) / len(counts["contract"]) < hi
    with connect(settings.paths.warehouse, read_only=True) as con:
        n_prospects = len(prospects(con, AS_OF, settings.labels))
    scored = scoring_graph(settings, AS_OF, problem.meta["normalizer"])
    assert 0 < n_prospects <= scored["customer"].num_nodes


def test_a_single_task_funnel_trains_a_single_task_model_and_scores(world: Settings,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.train
    from leadgraph import allocator
    from tasks.score import score
    from tasks.train import train_and_register

    order: list[str] = []
    build, tune = tasks.train.build_problem, allocator.tune
    monkeypatch.setattr(tasks.train, "build_problem", lambda *a: order.append("problem") or build(*a))
    monkeypatch.setattr(allocator, "tune", lambda cfg: order.append("tune") or tune(cfg))

    world.labels = SHORT.model_copy(update={"tasks": SHORT.tasks[1:]})
    world.train = world.train.model_copy(update={"hidden": 8, "layers": 1, "max_epochs": 2})
    world.quality = world.quality.model_copy(update={"bootstrap_samples": 50})
    version = train_and_register(world, SHORT_AS_OF, "struchis")
    # The anchors' snapshots are built under glibc's own thresholds; the raised ones come with the fit.
    assert order[:2] == ["problem", "tune"]
    # StrucHIS needs two tasks or more: skipped with a message, the single-task model trained instead.
    assert version.model_name == world.train.single_task_model
    assert "struchis is a multi-task model" in version.config["selection"]["substituted"]
    assert set(version.metrics["test"]) == {"contract"} and version.metrics["gate"]["task"] == "contract"
    # Selected on validation, then refit for the kept epoch count on the latest anchors whose windows closed by D.
    selection = version.config["selection"]
    assert selection["refit"]["epochs"] == version.metrics["best_epoch"] + 1
    assert selection["refit"]["anchors"]["contract"] == ["2025-05-05", "2025-05-19"] == selection["anchors"]["contract"]["refit"]
    assert "2025-05-05" in json.loads((version.folder(world) / "data_version.json").read_text())["anchors"]
    # Where the training time and memory went, phase by phase, the fit's own phases inside its entry.
    phases = {p["phase"]: p for p in version.metrics["phases"]}
    assert list(phases) == ["problem", "fit", "calibration", "quality gate", "refit"]
    assert [p["phase"] for p in phases["fit"]["within"]] == ["training", "test scoring", "train scoring"]
    assert all(p["seconds"] >= 0 and 0 < p["rss_gib"] <= p["peak_gib"] for p in phases.values())
    # The training's seconds split into optimiser epochs and validation passes, both inside its wall time.
    training = phases["fit"]["within"][0]
    assert training["epochs_s"] > 0 and training["validation_s"] > 0
    assert training["epochs_s"] + training["validation_s"] <= training["seconds"] + 0.02
    report = (version.folder(world) / "report" / "report.md").read_text(encoding="utf-8")
    assert "| fit: train scoring |" in report and "each task's 1 most recent training anchor(s)" in report
    assert f"Of the training, {training['epochs_s']:.1f}s went to optimiser epochs" in report
    assert {"train", "val", "test"} <= set(version.metrics)
    # No contract positive among the training anchors: the baseline cannot train, so the gate cannot pass.
    assert not version.metrics["gate"]["passed"] and "cannot be trained" in version.metrics["gate"]["reason"]
    ref = score(world, SHORT_AS_OF, version.version)
    with connect(world.paths.warehouse, read_only=True) as con:
        rows = con.execute("SELECT count(*), count(p_high_interest), count(p_contract), min(score), max(score) "
                           "FROM scores WHERE as_of = ?", [SHORT_AS_OF]).fetchall()[0]
    # No first stage to publish as p_high_interest; p_contract is the single task's calibrated probability.
    assert rows[0] == ref.rows > 0 and rows[1] == 0 and rows[2] == rows[0] and 0 <= rows[3] <= rows[4] <= 100


def test_selection_and_refit_share_the_training_budget(world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.train as train_module
    from models.budget import cut_by_budget
    from models.stages import SINGLE_STAGE
    from models.training import FitResult
    from tasks.train import refit, train_and_register

    world.labels = SHORT.model_copy(update={"tasks": SHORT.tasks[1:]})
    world.train = world.train.model_copy(update={"hidden": 8, "layers": 1, "max_epochs": 3, "patience": 5})

    # Selection spent the whole budget: no refit, and the registry and the report say why.
    spent = world.model_copy(update={"train": world.train.model_copy(update={"max_train_seconds": 0.0})})
    version = train_and_register(spent, SHORT_AS_OF, "stl-hgb")
    skipped = version.config["selection"]["refit"]
    assert "selection spent the training budget" in skipped["skipped"] and "seconds" not in skipped
    report = (version.folder(spent) / "report" / "report.md").read_text(encoding="utf-8")
    assert "- refit: skipped (selection spent" in report and "refit on" not in report

    # The refit's snapshots are spilled after selection's spill is gone, not beside it.
    spills_at_refit: list[list[str]] = []
    real_refit_problem = train_module.refit_problem

    def refit_problem(*args: object) -> object:
        spills_at_refit.append(sorted(p.name for p in world.paths.spill.iterdir()))
        return real_refit_problem(*args)

    monkeypatch.setattr(train_module, "refit_problem", refit_problem)
    version = train_and_register(world, SHORT_AS_OF, "stl-hgb")
    assert "epochs" in version.config["selection"]["refit"] and "skipped" not in version.config["selection"]["refit"]
    assert spills_at_refit == [[]]
    monkeypatch.setattr(train_module, "refit_problem", real_refit_problem)

    # Without a budget the refit runs its kept epoch count; with too little left, it is cut and not kept.
    selected = FitResult(model=None, model_name="stl-hgb", metrics={}, best_epoch=2, cfg=world.train.model_copy(
        update={"max_train_seconds": None}), seconds=5.0)
    refitted, problem, info = refit(world, SHORT_AS_OF, selected)
    assert refitted is not None and problem is not None and not cut_by_budget(refitted.history)
    assert len(refitted.history) == info["epochs"] == 3 and info["seconds"] > 0
    short = FitResult(model=None, model_name="stl-hgb", metrics={}, best_epoch=2, cfg=world.train.model_copy(
        update={"max_train_seconds": 5.001}), seconds=5.0)
    refitted, problem, info = refit(world, SHORT_AS_OF, short)
    assert refitted is None and problem is None
    assert info["skipped"].endswith("ended it after 1 epoch(s)") and info["anchors"]["contract"]

    # When selection's own epochs say the kept ones cannot fit in what is left, no refit anchor is even built.
    history = [{"stage": SINGLE_STAGE, "epoch": e, "train_s": 2.0} for e in range(3)]
    timed = dataclasses.replace(short, history=history, stage_epochs={SINGLE_STAGE: 3},
                                cfg=short.cfg.model_copy(update={"max_train_seconds": 10.0}))
    monkeypatch.setattr(train_module, "refit_problem", lambda *a: pytest.fail("refit anchors built"))
    refitted, problem, info = refit(world, SHORT_AS_OF, timed)
    assert refitted is None and problem is None and "anchors" not in info
    assert info["skipped"] == "the 5s left of the training budget cannot fit the 3 epoch(s) that took 6s in selection"
