"""The DBLP loader (StrucHIS protocol) and a short StrucHIS fit on it; skipped when the data folder is absent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from leadgraph.config import TrainConfig
from leadgraph.errors import UsageError
from models.training import fit
from datasets.dblp import DblpDataError, dblp_available, dblp_folder, load_dblp_problem

pytestmark = pytest.mark.skipif(
    not dblp_available(), reason="DBLP data folder not found (set LEADGRAPH_DBLP to shared/data/dblp)"
)


@pytest.fixture(scope="module")
def problem():
    return load_dblp_problem()


def test_graph_matches_the_documented_structure(problem):
    g = problem.train.graphs[0]
    assert sorted(g.node_types) == ["author", "paper", "term"]  # venue nodes leave the graph
    assert {t: g[t].num_nodes for t in g.node_types} == {"author": 4057, "paper": 14328, "term": 7723}
    assert {t: g[t].x.shape[1] for t in g.node_types} == {"author": 334, "paper": 4231, "term": 50}
    sizes = {et[1]: g[et].edge_index.shape[1] for et in g.edge_types}
    assert sizes == {"writes": 19645, "written_by": 19645, "has_term": 85810, "term_of": 85810}
    # paper-author is the exact reverse of author-paper
    fwd = g["author", "writes", "paper"].edge_index
    rev = g["paper", "written_by", "author"].edge_index
    assert set(map(tuple, fwd.t().tolist())) == set(map(tuple, rev.flip(0).t().tolist()))
    assert problem.val.graphs[0] is g and problem.test.graphs[0] is g


def test_tasks_labels_and_splits(problem):
    assert [(t.name, t.node_type, t.num_classes) for t in problem.tasks] == [("author_area", "author", 4), ("paper_venue", "paper", 20)]
    sizes = {s: {t: int(getattr(problem, s).index[t][0].numel()) for t in ("author_area", "paper_venue")} for s in ("train", "val", "test")}
    assert sizes == {
        "train": {"author_area": 974, "paper_venue": 8596},
        "val": {"author_area": 243, "paper_venue": 2866},
        "test": {"author_area": 2840, "paper_venue": 2866},
    }
    for task, n in (("author_area", 4057), ("paper_venue", 14328)):
        parts = [getattr(problem, s).index[task][0] for s in ("train", "val", "test")]
        joined = torch.cat(parts)
        assert joined.unique().numel() == joined.numel() == n  # disjoint and covering
    venue = torch.cat([problem.train.y["paper_venue"][0], problem.test.y["paper_venue"][0]])
    assert venue.min() == 0 and venue.max() == 19
    assert torch.bincount(problem.test.y["author_area"][0], minlength=4).tolist() == [829, 507, 792, 712]


def test_missing_file_names_the_folder_and_file(tmp_path: Path):
    for name in ("link.dat", "label.dat", "a_feat.npz"):
        shutil.copy(dblp_folder() / name, tmp_path / name)
    with pytest.raises(DblpDataError, match="missing label.dat.test"):
        load_dblp_problem(tmp_path)


def test_bad_label_row_is_reported(tmp_path: Path):
    for path in dblp_folder().iterdir():
        shutil.copy(path, tmp_path / path.name)
    with open(tmp_path / "label.dat", "a") as fh:
        fh.write("5000\tNobody\t0\t1\n")
    with pytest.raises(DblpDataError, match=r"label.dat: row 1218: author id outside"):
        load_dblp_problem(tmp_path)


def test_a_few_epochs_of_struchis_beat_chance(problem):
    cfg = TrainConfig(hidden=16, layers=2, lr=1e-2, max_epochs=4, eval_every=2, patience=5, dropout=0.2, attn_dropout=0.2)
    result = fit(problem, "struchis", cfg)
    test = result.metrics["test"]
    assert test["author_area"]["n"] == 2840 and test["paper_venue"]["n"] == 2866
    assert test["author_area"]["micro_f1"] > 0.35  # the largest class is 29% of the test authors


def test_bench_resume_reuses_recorded_runs_of_the_same_settings_only(tmp_path: Path):
    from benchmarks import dblp as bench

    out = tmp_path / "dblp.md"
    log = out.with_name(out.stem + bench.RUNS_SUFFIX)
    mine = {"model": "struchis", "seed": 0, "settings": bench.settings_key(), "scores": [91.5, 90.5, 40.0, 22.0],
            "best_epoch": 7, "epochs_run": 20, "seconds": 3.0}
    other = dict(mine, seed=1, settings="0" * 16)
    log.write_text("\n".join(json.dumps(r) for r in (mine, other)) + "\n", encoding="utf-8")
    assert set(bench.load_runs(log)) == {("struchis", 0)}
    report = bench.run("struchis", 1, out=out, resume=True)  # seed 0 is recorded: nothing is trained
    assert report.runs[0].scores == [mine["scores"]] and report.reused == 1
    text = out.read_text(encoding="utf-8")
    assert "--resume" in text and "| struchis | 91.50 | 90.50 |" in text and "struchis seed 0: 91.50, 90.50, 40.00, 22.00" in text


def test_bench_rerun_trains_a_recorded_row_again_and_the_newer_record_is_read(tmp_path: Path, monkeypatch):
    from benchmarks import dblp as bench

    out = tmp_path / "dblp.md"
    log = out.with_name(out.stem + bench.RUNS_SUFFIX)
    old = {"model": "struchis", "seed": 0, "settings": bench.settings_key(), "scores": [91.5, 90.5, 40.0, 22.0],
           "best_epoch": 7, "epochs_run": 20, "seconds": 3.0}
    log.write_text(json.dumps(old) + "\n", encoding="utf-8")
    trained = []

    def fit_one(name: str, seed: int, problem) -> dict:
        trained.append((name, seed))
        return dict(old, seed=seed, scores=[90.0, 89.0, 38.0, 21.0], val_scores=[92.0, 91.0, 39.0, 23.0])

    monkeypatch.setattr(bench, "_fit_one", fit_one)
    report = bench.run("struchis", 1, out=out, resume=True, rerun=("struchis",))
    assert trained == [("struchis", 0)] and report.reused == 0
    assert report.runs[0].val_scores == [[92.0, 91.0, 39.0, 23.0]]
    assert bench.load_runs(log)[("struchis", 0)]["scores"] == [90.0, 89.0, 38.0, 21.0]
    assert "--rerun struchis" in out.read_text(encoding="utf-8")
    with pytest.raises(UsageError, match="rerun row not among --models"):
        bench.run("struchis", 1, out=out, resume=True, rerun=("stl-hgb",))
    # two invocations share a row: this one leaves seed 0 to the other and labels its own seed correctly
    trained.clear()
    report = bench.run("struchis", 2, out=out, resume=True, from_seed=1)
    assert trained == [("struchis", 1)] and report.runs[0].first_seed == 1
    text = out.read_text(encoding="utf-8")
    assert "- struchis seed 1: 90.00" in text and "- struchis seed 0:" not in text and "--from-seed 1" in text


def test_a_bench_record_keeps_the_kept_checkpoints_validation_scores(problem, monkeypatch):
    from benchmarks import dblp as bench

    tiny = TrainConfig(hidden=16, layers=2, lr=1e-2, max_epochs=2, eval_every=1, patience=5, dropout=0.2, attn_dropout=0.2)
    monkeypatch.setattr(bench, "row_config", lambda row, seed: tiny.model_copy(update={"seed": seed}))
    record = bench._fit_one("struchis", 0, problem)
    assert len(record["val_scores"]) == len(record["scores"]) == len(bench.COLUMNS)
    assert all(0.0 < v <= 100.0 for v in record["val_scores"])
    assert record["val_scores"] != record["scores"]  # the validation split's, not the test split's again


def test_the_dual_branch_model_trains_on_dblp_through_its_stages(problem):
    cfg = TrainConfig(hidden=16, heads=2, layers=2, lr=1e-2, max_epochs=2, eval_every=1, patience=5)
    cfg.dual.pretrain_epochs, cfg.dual.gcn_layers = 1, 2
    result = fit(problem, "dual-branch", cfg)
    # the GCN branch propagates over the author-paper graph only
    assert sorted(et[1] for et in result.model.gcn.edge_types) == ["writes", "written_by"]
    assert [h["stage"] for h in result.history] == ["pretrain-gcn", "pretrain-hgt", "fine-tune", "fine-tune"]
    test = result.metrics["test"]
    assert test["author_area"]["n"] == 2840 and test["paper_venue"]["n"] == 2866
    assert 0.0 < test["author_area"]["micro_f1"] <= 1.0
