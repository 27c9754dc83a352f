"""The logistics benchmark page keeps one section per scale: rewriting one scale leaves the other intact."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.logistics import TITLE, section_of, write_section
from benchmarks.simulate_truth import GATE, GATE_THEN_INTEREST, OUTSIDE, OWN_FEATURES, transfer_aucs
from leadgraph.errors import UsageError


def test_a_scale_section_replaces_only_itself(tmp_path: Path):
    page = tmp_path / "logistics.md"
    write_section("small", "## small world\n\nsmall v1\n", page)
    write_section("tiny", "## tiny world\n\ntiny v1\n", page)
    write_section("small", "## small world\n\nsmall v2\n", page)
    text = page.read_text(encoding="utf-8")
    assert text.startswith(TITLE)
    assert text.index("## tiny world") < text.index("## small world")  # fixed order, whatever ran last
    assert section_of(text, "tiny") == "## tiny world\n\ntiny v1\n"
    assert section_of(text, "small") == "## small world\n\nsmall v2\n"
    assert "small v1" not in text
    assert section_of(TITLE, "tiny") is None


def test_records_are_reused_only_under_their_own_settings(tmp_path: Path):
    from benchmarks.records import append_record, read_records, settings_key

    runs = tmp_path / "runs.jsonl"
    assert read_records(runs, "any") == []
    mine, other = settings_key("scale small, budget 600 s"), settings_key("scale small, budget 300 s")
    assert mine != other and mine == settings_key("scale small, budget 600 s")
    append_record(runs, {"model": "struchis", "settings": mine, "seconds": 1.0})
    append_record(runs, {"model": "mmoe", "settings": other, "seconds": 2.0})
    append_record(runs, {"model": "struchis", "settings": mine, "seconds": 3.0})
    assert [r["seconds"] for r in read_records(runs, mine)] == [1.0, 3.0]
    assert [r["model"] for r in read_records(runs, other)] == ["mmoe"]


def test_dblp_report_leaves_epochs_blank_for_lightgbm():
    from datetime import datetime, timezone

    from benchmarks.dblp import DblpBench, ModelRuns, epochs_run

    assert epochs_run([{"epoch": 0}, {"epoch": 9}]) == 10
    assert epochs_run([{"task": "author_area", "best_iteration": 120}]) == 0  # LightGBM's history
    graph = ModelRuns("struchis", [[90.0, 89.0, 37.0, 22.0]], [25], [66], [3.0])
    booster = ModelRuns("lightgbm", [[77.0, 76.0, 32.0, 21.0]], [-1], [0], [60.0])
    text = DblpBench("cmd", 1, [graph, booster], datetime.now(timezone.utc), 1.0, 1, ["struchis", "lightgbm"]).render()
    row = next(line for line in text.splitlines() if line.startswith("| lightgbm |"))
    assert "| 77.00 | 76.00 | 32.00 | 21.00 |" in row and "±" not in row and "-1" not in row
    assert "- lightgbm seed 0: 77.00, 76.00, 32.00, 21.00\n" in text
    assert "- struchis seed 0: 90.00, 89.00, 37.00, 22.00; best 25; ran 66" in text


def test_dblp_counts_every_stage_and_marks_rows_short_of_seeds():
    from datetime import datetime, timezone

    from benchmarks.dblp import DblpBench, ModelRuns, epochs_run, settings_key

    staged = [{"stage": "pretrain-gcn", "epoch": 4}, {"stage": "pretrain-hgt", "epoch": 0}, {"stage": "pretrain-hgt", "epoch": 5},
              {"stage": "fine-tune", "epoch": 9}]
    assert epochs_run(staged) == 5 + 6 + 10
    # the dual-branch section keys the dual-branch runs only
    assert settings_key("struchis") == settings_key() != settings_key("dual-branch")
    partial = ModelRuns("dual-branch", [[90.0, 89.0, 37.0, 22.0]], [25], [66], [3.0])
    pending = ModelRuns("dual-branch-gcn")
    text = DblpBench("cmd", 3, [partial, pending], datetime.now(timezone.utc), 1.0, 1, ["dual-branch", "dual-branch-gcn"]).render()
    assert "| dual-branch (1 of 3 seeds) | 90.00 | 89.00 |" in text
    assert "| dual-branch-gcn | not run: the time budget (--max-minutes) was spent |" in text


def test_dblp_chooses_struchis_recipe_on_validation_scores_alone():
    from benchmarks.dblp import ModelRuns, chosen_rows_lines, recipe_choice_lines, validation_score

    assert validation_score([90.0, 80.0, 40.0, 20.0]) == 0.2 * 85.0 + 0.8 * 30.0
    # better on test, worse on validation: not chosen
    test_best = ModelRuns("struchis@reference", [[95.0, 95.0, 45.0, 30.0]] * 2, [1, 1], [2, 2], [1.0, 1.0],
                          val_scores=[[90.0, 90.0, 35.0, 20.0], None])
    val_best = ModelRuns("struchis@reference-no-masks", [[89.0, 88.0, 36.0, 21.0], [91.0, 90.0, 38.0, 23.0]],
                         [1, 1], [2, 2], [1.0, 1.0], val_scores=[[91.0, 90.0, 37.0, 22.0], [99.0, 99.0, 99.0, 99.0]])
    unscored = ModelRuns("struchis", [[99.0, 99.0, 99.0, 99.0]], [1], [2], [1.0], val_scores=[None])
    other_model = ModelRuns("stl-hgb", [[80.0, 80.0, 30.0, 20.0]], [1], [2], [1.0], val_scores=[[99.0] * 4])
    text = "\n".join(recipe_choice_lines([test_best, val_best, unscored, other_model], "struchis"))
    assert "on seed(s) 0," in text  # seed 1 is held by one candidate only
    assert "| struchis@reference-no-masks (chosen) | 41.70 |" in text and "| struchis@reference | 40.00 |" in text
    assert "`struchis@reference-no-masks` on test over 2 seeds: T1 micro 90.00 ± 1.00" in text
    assert "| struchis |" not in text and "stl-hgb" not in text
    assert recipe_choice_lines([test_best, unscored], "struchis") == []  # one candidate is no choice
    assert "no spread" in text
    both = ModelRuns("struchis@reference-full", [[90.0] * 4] * 2, [1, 1], [2, 2], [1.0, 1.0],
                     val_scores=[[90.0, 90.0, 30.0, 30.0], [92.0, 92.0, 30.0, 30.0]])
    two_seeds = "\n".join(recipe_choice_lines([val_best, both], "struchis"))
    assert "on seed(s) 0, 1," in two_seeds and "| struchis@reference-full | 42.20 ± 0.28 |" in two_seeds
    # a baseline with its own recipes gets the same choice, and the chosen rows are compared paired by seed
    base = ModelRuns("shared-hgb", [[88.0, 87.0, 37.0, 25.0], [90.0, 89.0, 37.0, 25.0]], [1, 1], [2, 2], [1.0, 1.0],
                     val_scores=[[80.0] * 4, [80.0] * 4])
    base_ref = ModelRuns("shared-hgb@reference", [[85.0] * 4, [85.0] * 4], [1, 1], [2, 2], [1.0, 1.0],
                         val_scores=[[81.0] * 4, [81.0] * 4])
    runs = [val_best, both, base, base_ref]
    assert "| shared-hgb@reference (chosen) | 81.00 ± 0.00 |" in "\n".join(recipe_choice_lines(runs, "shared-hgb"))
    compared = "\n".join(chosen_rows_lines(runs))
    # struchis@reference-no-masks (chosen) minus shared-hgb@reference (85 everywhere), seeds 0 and 1 paired
    assert "`struchis@reference-no-masks` minus" in compared
    assert "| shared-hgb@reference | 2 | +5.00 ± 1.00 | +4.00 ± 1.00 | -48.00 ± 1.00 | -63.00 ± 1.00 |" in compared
    assert chosen_rows_lines([val_best, both]) == []  # no other model had a choice
    assert chosen_rows_lines([base, base_ref]) == []  # nor StrucHIS


def test_dblp_compares_struchis_with_each_model_under_the_same_recipe_only():
    from benchmarks.dblp import ModelRuns, same_recipe_lines

    struchis = ModelRuns("struchis", [[89.0] * 4, [90.0] * 4], [1, 1], [2, 2], [1.0, 1.0])
    reference = ModelRuns("struchis@reference", [[91.0] * 4, [92.0] * 4, [93.0] * 4], [1] * 3, [2] * 3, [1.0] * 3)
    base = ModelRuns("shared-hgb", [[88.0] * 4, [88.0] * 4], [1, 1], [2, 2], [1.0, 1.0])
    # seeds 1 and 2 only, so it pairs with the reference row's seeds 1 and 2
    base_ref = ModelRuns("shared-hgb@reference", [[90.0] * 4, [90.0] * 4], [1, 1], [2, 2], [1.0, 1.0], first_seed=1)
    unmatched = ModelRuns("ple@reference-full", [[80.0] * 4], [1], [2], [1.0])
    ablation = ModelRuns("struchis-no-relation", [[70.0] * 4], [1], [2], [1.0])
    text = "\n".join(same_recipe_lines([struchis, reference, base, base_ref, unmatched, ablation]))
    assert "| shared-hgb | product | 2 | +1.50 ± 0.50 |" in text
    assert "| shared-hgb@reference | reference | 2 | +2.50 ± 0.50 |" in text
    assert "ple@reference-full" not in text and "struchis-no-relation" not in text
    assert same_recipe_lines([struchis, reference]) == []


def test_dblp_page_names_the_rows_whose_runs_the_epoch_limit_cut():
    from benchmarks.dblp import ModelRuns, epoch_limit_lines

    # The product recipe: at most 150 epochs, patience 8 evaluations of every 5 epochs.
    cut = ModelRuns("shared-hgt", [[88.0] * 4] * 3, [145, 100, 115], [150, 141, 150], [1.0] * 3)
    patient = ModelRuns("shared-hgb", [[89.0] * 4], [109], [150], [1.0])  # waited 40 epochs at the limit: patience
    # the reference recipe: 2000 epochs, patience 40 evaluations of every 10
    long = ModelRuns("ple@reference-no-selection", [[90.0] * 4] * 2, [1990, 300], [2000, 701], [1.0] * 2)
    text = "\n".join(epoch_limit_lines([cut, patient, long, ModelRuns("lightgbm", [[77.0] * 4], [-1], [0], [1.0])]))
    assert "shared-hgt 2 of 3, ple@reference-no-selection 1 of 2." in text
    assert "shared-hgb" not in text and "lightgbm" not in text
    assert epoch_limit_lines([patient])[0].startswith("No run reached")


def test_dblp_closing_note_says_where_dual_branch_beats_struchis():
    from benchmarks.dblp import ModelRuns, dual_branch_note

    struchis = ModelRuns("struchis", [[89.0, 88.0, 36.0, 23.0], [89.2, 88.2, 36.4, 23.4], [88.8, 87.8, 35.6, 22.6]])
    dual = ModelRuns("dual-branch", [[91.0, 88.1, 30.0, 23.0], [91.2, 88.3, 30.4, 23.4], [90.8, 87.9, 29.6, 22.6]])
    note = dual_branch_note([struchis, dual])[0]
    assert "T1 micro +2.00 ± 0.16" in note and "ahead on T1 micro;" in note
    assert "level on T1 macro, T2 macro;" in note and "behind on T2 micro" in note
    assert dual_branch_note([struchis]) == []


def test_offer_epoch_times_are_compared_to_cigf_in_the_same_run():
    from benchmarks.offers import timing_section

    lines = timing_section({"cigf": 2.0, "mf-bpr": 0.5, "cigf-no-mesi": 3.0}, threads=1)
    assert "| mf-bpr | 0.50 | 0.25 |" in lines and "| cigf-no-mesi | 3.00 | 1.50 |" in lines
    assert timing_section({}, threads=1) == []
    assert "| lightgcn | 1.00 | – |" in timing_section({"lightgcn": 1.0}, threads=2)


def test_an_offer_page_outside_the_results_folder_is_refused():
    import pytest

    from benchmarks.offers import run

    for name in ("../offers.md", "offers.txt", "sub/offers.md"):
        with pytest.raises(ValueError, match="--page"):
            run("tiny", "popularity", 1, page_name=name)


@pytest.mark.parametrize("page", ["offers.md", "offers_long.md"])
def test_every_run_an_offer_page_shows_is_reused_under_todays_settings(page: str):
    from benchmarks.offers import RESULTS, bench_config, bench_settings, run_key
    from benchmarks.records import read_all, read_records

    text = (RESULTS / page).read_text()
    command = re.search(r"`(leadgraph bench offers [^`]+)`", text).group(1)
    flags = dict(re.findall(r"--(epochs|patience|threads) (\d+)", command))
    settings = bench_settings(re.search(r"--scale (\w+)", command).group(1))
    cfg = bench_config(settings, {name: int(value) for name, value in flags.items()})
    assert cfg.max_train_seconds is None  # the daily stage's budget never cuts a benchmark's fit
    runs_path = (RESULTS / page).with_suffix(".runs.jsonl")
    reused = {(r["model"], r["seed"]) for r in read_records(runs_path, run_key(settings, cfg))}
    assert len(reused) >= 10 and reused == {(r["model"], r["seed"]) for r in read_all(runs_path)}


def test_offer_comparison_of_single_runs_gives_no_verdict():
    from benchmarks.offers import _versus

    one = {"cigf": [{"hr": 0.7}], "cigcn-ple": [{"hr": 0.6}]}
    assert _versus(one, "cigf", "hr") == ["+0.1000 (one run each: no spread, no verdict)"]
    seeds = {"cigf": [{"hr": 0.7}, {"hr": 0.72}], "popularity": [{"hr": 0.3}]}
    assert _versus(seeds, "cigf", "hr")[0].endswith("(yes)")


def test_dblp_recipe_rows_change_only_their_settings_and_keep_older_records_valid():
    from benchmarks import dblp as bench

    assert bench.parse_row("struchis") == ("struchis", "product")
    reference = bench.row_config("struchis@reference", 3)
    assert (reference.struchis_mode, reference.selection, reference.dropout_masks, reference.lr, reference.seed) == (
        "faithful", "joint_loss", "per_role", 1e-3, 3)
    no_masks = bench.row_config("struchis@reference-no-masks", 3).model_dump()
    assert {k for k, v in reference.model_dump().items() if no_masks[k] != v} == {"dropout_masks"}
    rows = ["struchis", *(f"struchis@{name}" for name in bench.RECIPES if name not in (bench.PRODUCT, bench.TUNED))]
    assert len({bench.settings_key(row) for row in rows}) == len(rows)  # the weights-only recipe differs too
    # the product rows' runs recorded before recipes existed are still reused
    recorded = bench.load_runs(bench.RESULTS.with_name(bench.RESULTS.stem + bench.RUNS_SUFFIX))
    assert {("struchis", s) for s in range(5)} <= set(recorded)
    # every run the committed page shows is reused by `--resume` under today's settings, not refitted
    shown = re.findall(r"^- (\S+) seed (\d+): ", bench.RESULTS.read_text(), flags=re.M)
    assert len(shown) > 80 and {(row, int(seed)) for row, seed in shown} <= set(recorded)
    with pytest.raises(UsageError, match="recipe"):
        bench.run("struchis@nonsense", 1)


def test_every_dblp_model_tunes_over_the_same_candidates_and_keeps_its_best_on_validation(tmp_path, monkeypatch):
    import json
    from datetime import datetime

    from benchmarks import dblp as bench
    from benchmarks.dblp_tuning import Tried, candidates, render

    first = candidates(6)
    assert first == candidates(6) and first[:3] == candidates(3)  # one fixed list, the product recipe first
    product = bench.dblp_config(0)
    assert first[0] == {"lr": product.lr, "weight_decay": product.weight_decay, "dropout": product.dropout,
                        "hidden": product.hidden}
    assert len({json.dumps(c, sort_keys=True) for c in first}) == 6
    monkeypatch.setattr(bench, "TUNING_RUNS", tmp_path / "dblp_tuning.runs.jsonl")
    scores = {"ple": [0.50, 0.61, 0.55], "mmoe": [0.52, 0.40]}  # mmoe has tried two of three
    bench.TUNING_RUNS.write_text("".join(
        json.dumps({"model": m, "candidate": i, "overrides": first[i], "settings": bench.tuning_key(m, first[i]),
                    "val_score": v}) + "\n" for m, vs in scores.items() for i, v in enumerate(vs)))
    assert bench.chosen_overrides("ple") == first[1]
    tuned = bench.row_config("ple@tuned", 2)
    assert (tuned.lr, tuned.hidden, tuned.max_epochs, tuned.seed) == (first[1]["lr"], first[1]["hidden"], 400, 2)
    assert bench.chosen_overrides("mmoe") is None
    with pytest.raises(UsageError, match="dblp-tune --models mmoe"):
        bench.row_config("mmoe@tuned", 0)
    pending = bench.DblpBench("cmd", 2, [bench.ModelRuns("mmoe@tuned"), bench.ModelRuns("ple@tuned")], datetime(2026, 1, 1),
                              1.0, 1, ["mmoe@tuned", "ple@tuned"]).render()
    assert "| mmoe@tuned | not run: its tuning is unfinished (`dblp_tuning.md`) |" in pending
    assert "| ple@tuned | not run: the time budget (--max-minutes) was spent |" in pending
    page = render([Tried("ple", dict(enumerate(scores["ple"]))), Tried("mmoe", dict(enumerate(scores["mmoe"])))],
                  first[:3], "cmd", datetime(2026, 1, 1), 60.0)
    assert "| ple | 50.00 | 61.00 | 55.00 | 1 |" in page and "| mmoe | 52.00 | 40.00 |  | not yet: 2 of 3 tried |" in page


def test_the_logistics_page_shows_each_graph_model_validation_curve_with_its_kept_epoch():
    from benchmarks.logistics import curve_lines

    records = [{"model": "struchis", "seed": 2, "best_epoch": 1, "curve": [[0, 0.0107], [1, 0.0240], [2, 0.0181]]},
               {"model": "lightgbm", "best_epoch": -1}]
    lines = curve_lines(records)
    assert "- struchis seed 2: 0: 1.07, 1: 2.40*, 2: 1.81" in lines
    assert not any("lightgbm" in line for line in lines)
    assert curve_lines([{"model": "lightgbm", "best_epoch": -1}]) == []


def test_a_logistics_row_over_seeds_is_their_mean_and_spread_and_says_when_seeds_are_missing():
    from benchmarks.logistics import _seeds_row

    def run(seed: int, auc: float) -> dict:
        return {"model": "struchis", "seed": seed, "seconds": 100.0 + seed, "best_epoch": 4 + seed,
                "test": {"contract": {"auc": auc, "ap": auc / 10}}}

    row = _seeds_row("struchis", [run(0, 0.80), run(1, 0.90)], ["contract"], seeds=3)
    assert row == "| struchis (2 of 3 seeds) | 0.8500 ± 0.0707 | 0.0850 ± 0.0071 | 100 | 4, 5 |"
    assert _seeds_row("struchis", [run(0, 0.8)], ["contract"], seeds=1) == "| struchis | 0.8000 | 0.0800 | 100 | 4 |"


def test_each_reference_factor_is_weighed_against_the_reference_seed_by_seed():
    from benchmarks.dblp import ModelRuns, factor_lines

    reference = ModelRuns("struchis@reference", [[90.0, 89.0, 36.0, 15.0], [91.0, 90.0, 37.0, 16.0]])
    masks = ModelRuns("struchis@reference-no-masks", [[89.0, 89.0, 37.0, 17.0]])
    selection = ModelRuns("struchis@reference-no-selection", [[89.5, 88.0, 38.0, 23.0], [90.0, 88.0, 38.0, 24.0]])
    full = ModelRuns("struchis@reference-full", [[89.0, 88.0, 36.0, 20.0]])
    product = ModelRuns("struchis", [[80.0, 80.0, 30.0, 10.0]])
    lines = factor_lines([reference, masks, selection, full, product])
    assert "| masks | 1 | +1.00 | +0.00 | -1.00 | -2.00 |" in lines  # one shared seed: no spread
    assert "| selection | 2 | +0.75 ± 0.25 | +1.50 ± 0.50 | -1.50 ± 0.50 | -8.00 ± 0.00 |" in lines
    assert "| lr 1e-3 (against `full`'s 5e-5) | 1 | +1.00 | +1.00 | +0.00 | -5.00 |" in lines
    assert len([line for line in lines if line.startswith("| ") and "seeds" not in line]) == 3  # not the product row
    assert factor_lines([masks]) == []


def test_paired_bootstrap_pairs_resamples_and_finds_a_real_difference():
    import numpy as np

    from benchmarks.paired_bootstrap import difference_interval, replicates

    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.05).astype(np.int8)
    good = y + rng.normal(0, 0.7, y.size)  # informative scores
    noise = rng.normal(0, 1, y.size)
    a, a_again, b = replicates(good, y, 200), replicates(good, y, 200), replicates(noise, y, 200)
    assert a == a_again  # the same rows are resampled the same way for every run
    assert difference_interval([a["auc"]], [a_again["auc"]]) == (0.0, 0.0)
    low, high = difference_interval([a["auc"]], [b["auc"]])
    assert 0 < low < high
    low, high = difference_interval([b["ap"]], [a["ap"]])
    assert low < high < 0


def test_the_logistics_page_weighs_struchis_against_each_model_only_on_paired_rows():
    import numpy as np

    from benchmarks.logistics import bootstrap_lines

    def run(name: str, auc: float, rows: str = "r1", boot: bool = True) -> dict:
        replicate = {"auc": list(auc + np.linspace(-0.01, 0.01, 50)), "ap": list(np.full(50, auc / 10))}
        return {"model": name, "test": {"contract": {"auc": auc, "ap": auc / 10}},
                "bootstrap": {"contract": {"rows": rows, **replicate}} if boot else {}}

    by_model = {"struchis": [run("struchis", 0.80), run("struchis", 0.82)], "lightgbm": [run("lightgbm", 0.70)],
                "mmoe": [run("mmoe", 0.81, rows="r2")], "ple": [run("ple", 0.78, boot=False)]}
    lines = bootstrap_lines(by_model, ["contract"])
    row = next(line for line in lines if line.startswith("| lightgbm |"))
    # the resamples move both sides alike, so the paired difference is steady
    assert row == "| lightgbm | +0.1100 [+0.1100, +0.1100] * | +0.0110 [+0.0110, +0.0110] * |"
    assert "| mmoe | +0.0000 (no interval) |" in "\n".join(lines)  # other rows: replicates do not pair
    assert "| ple | +0.0300 (no interval) |" in "\n".join(lines)
    assert bootstrap_lines({"lightgbm": by_model["lightgbm"]}, ["contract"]) == []


def test_peer_excess_discounts_popularity_and_finds_a_real_relational_effect():
    import pandas as pd

    from benchmarks.offer_signal import peer_excess

    # Offer 0 is popular (peers adopted it for half of the pairs), offer 1 is not (a tenth); every next adoption
    # is of offer 0. Peers at offer 0's own rate: a ratio over all offers, but no excess.
    rows = [(0, True, i % 2 == 0) for i in range(20)] + [(0, False, i % 2 == 0) for i in range(100)]
    rows += [(1, False, i % 10 == 0) for i in range(100)]
    frame = pd.DataFrame(rows, columns=["i", "positive", "peer"]).assign(touched=False)
    lift, expected, observed = peer_excess(frame)
    assert lift == pytest.approx(0.5 / (60 / 200))
    assert expected == pytest.approx(10.0) and observed == 10

    # The same offers, but every next adoption had a peer's adoption: twice what offer 0's rate predicts.
    related = frame.assign(peer=frame["peer"] | frame["positive"])
    _, expected, observed = peer_excess(related)
    assert expected == pytest.approx(10.0) and observed == 20

    # Touched pairs are left out whatever their peers.
    touched = pd.concat([frame, pd.DataFrame({"i": [1] * 5, "positive": True, "peer": True, "touched": True})])
    assert peer_excess(touched)[1:] == (pytest.approx(10.0), 10)


def test_the_scale_page_says_how_each_training_of_the_day_ended():
    from benchmarks.scale import _offer_text, _refit_text

    curve = [(1, 0.29, 60.0), (2, 0.38, 61.0), (3, 0.41, 59.0)]
    gate = {"model": "cigf", "model_ndcg": 0.41, "must_beat": "funnel-stage", "must_beat_ndcg": 0.74}
    cut = {"served": "funnel-stage", "gate": gate, "refit_cut": None, "curve": curve, "flattened": False,
           "cut_by_budget": True, "budget_s": 120.0}
    text = _offer_text(cut)
    assert "3 epoch(s) on the validation split in 3.0 min, ended by the 2-min budget" in text
    assert "`cigf` 0.4100 against `funnel-stage` 0.7400" in text and text.endswith("`funnel-stage` serves")
    flat = {**cut, "served": "cigf", "flattened": True, "cut_by_budget": False,
            "refit_cut": {"epochs_run": 1, "epochs_kept": 3}}
    assert "ended by a flat curve" in _offer_text(flat) and "refit ran 1 of 3 epochs" in _offer_text(flat)
    assert _refit_text({"epochs": 4, "seconds": 90.0, "anchors": {}}) == "4 epoch(s) in 90.0 s"
    assert _refit_text({"epochs": 4, "skipped": "no time"}) == "not stored (no time); the selected model serves"


def test_the_scale_page_shows_the_first_load_apart_and_where_the_epochs_went():
    from benchmarks.scale import _phases_text, render

    stage = {"wall_s": 60.0, "peak_gib": 1.0}
    day = {"wall_s": 600.0, "peak_gib": 2.0, "stages": [
        {"stage": "graph", **stage, "nodes": 10, "edges": 20}, {"stage": "score", **stage, "prospects": 5},
        {"stage": "train", **stage, "fit_s": 30.0, "model": "struchis", "best_epoch": 1, "curves": {}}]}
    base = {"scale": "tiny", "machine": "m", "date": "d", "command": "c", "train_day": day, "daily_day": day,
            "flow": {"wall_s": 90.0, "peak_gib": 1.5}}
    page = render({"tiny": base, "small": {**base, "scale": "small", "load": {"wall_s": 300.0, "peak_gib": 3.25}}})
    row = next(line for line in page.splitlines() if line.startswith("| first load"))
    assert row.endswith("| (inside the training day) | 5.0 min, 3.25 GiB |")
    fit = {"phase": "fit", "seconds": 200.0, "peak_gib": 2.0, "within": [
        {"phase": "training", "seconds": 150.0, "peak_gib": 2.0, "epochs_s": 50.0, "validation_s": 95.0}]}
    assert "training 2.5 min (2.00 GiB, of it epochs 50.0 s and validation passes 95.0 s)" in _phases_text([fit])


def test_the_calibration_page_judges_the_mean_against_the_observed_rate_and_its_interval():
    from datetime import date, datetime

    from benchmarks.calibration import render, wilson_interval
    from tasks.registry import ModelVersion

    lo, hi = wilson_interval(63, 87_000)
    assert lo < 63 / 87_000 < hi and hi - lo > 0.4 * 63 / 87_000  # few positives: a wide interval
    assert wilson_interval(0, 100)[0] == 0.0 and wilson_interval(100, 100)[1] == pytest.approx(1.0)
    figures = {"method": "platt", "n": 87_000, "positives": 63, "brier": 0.0007, "ece": 0.0002,
               "observed_rate": 63 / 87_000}
    calibration = {"contract": {**figures, "mean_predicted": 1.25 * 63 / 87_000},
                   "high_interest": {**figures, "mean_predicted": 1.6 * 63 / 87_000}}
    version = ModelVersion("v0001-struchis", "struchis", date(2025, 12, 31), "d", {"calibration": calibration,
                           "gate": {"reason": "passed"}}, {}, "models/v0001", "champion", datetime(2026, 1, 1))
    page = render({"command": "python -m benchmarks.calibration", "machine": "m", "date": "today", "seconds": 60,
                   "scale": "small"}, version)
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in page.splitlines() if line.startswith("| ")}
    assert rows["contract"][5].startswith("no (1.25x)") and rows["contract"][6] == "yes"
    assert rows["high_interest"][5].startswith("no (1.60x)") and rows["high_interest"][6] == "no"


def test_a_logistics_render_past_its_deadline_reuses_recorded_runs_and_names_the_missing(tmp_path: Path, monkeypatch):
    from datetime import date
    from types import SimpleNamespace

    import benchmarks.logistics as logistics
    from benchmarks.records import append_record

    anchors = SimpleNamespace(tasks={"contract": SimpleNamespace(test=date(2025, 9, 29), val=date(2025, 6, 30),
                                                                train=[date(2025, 3, 3)])})
    problem = SimpleNamespace(name="logistics@2025-12-31", tasks=[SimpleNamespace(name="contract")], meta={"anchors": anchors})
    oracle = {"contract": {"auc": 0.95, "ap": 0.09, "n": 1000, "positives": 40}}
    monkeypatch.setattr(logistics, "RUNS", tmp_path / "runs.jsonl")
    monkeypatch.setattr(logistics, "PAGE", tmp_path / "logistics.md")
    monkeypatch.setattr(logistics, "bench_settings", lambda scale: logistics.load_settings(tmp_path / "home"))
    monkeypatch.setattr(logistics, "prepare", lambda settings: problem)
    monkeypatch.setattr(logistics, "oracle_metrics", lambda settings, problem: oracle)
    fitted: list[tuple[str, int]] = []

    def fit_record(problem, name, settings, key):  # a fit costs minutes; what is under test is which runs happen
        fitted.append((name, settings.train.seed))
        return {"model": name, "seed": settings.train.seed, "settings": key, "seconds": 1.0, "best_epoch": 2,
                "test": {"contract": {"auc": 0.8 + settings.train.seed / 100, "ap": 0.02, "n": 1000, "positives": 40}},
                "date": "2026-12-05 12:00"}

    monkeypatch.setattr(logistics, "fit_record", fit_record)
    settings = logistics.bench_settings("small")
    settings.train.seed = 0
    append_record(logistics.RUNS, fit_record(problem, "mmoe", settings, logistics.run_key("small", settings, "mmoe")))
    fitted.clear()

    logistics.run("small", "mmoe,ple", resume=True, seeds=2, max_minutes=0)
    page = logistics.PAGE.read_text(encoding="utf-8")
    assert fitted == []
    assert "| mmoe (1 of 2 seeds) | 0.8000 |" in page
    assert "Not run yet (`--max-minutes` had passed): mmoe seed 1, ple seed 0, ple seed 1." in page
    assert "--max-minutes 0" in page

    logistics.run("small", "mmoe,ple", resume=True, seeds=2)
    assert fitted == [("mmoe", 1), ("ple", 0), ("ple", 1)]
    assert "Not run yet" not in logistics.PAGE.read_text(encoding="utf-8")


def test_the_paper_offer_page_says_how_its_steps_propagated():
    from benchmarks.offers_paper import _settings_line

    today = _settings_line({"model": "cigf", "subgraph_above": 1_000_000, "subgraph_users": 40_000})
    assert "subgraph_above 1000000, subgraph_users 40000." in today and "whole graph" not in today
    before = _settings_line({"model": "cigf", "batch_users": 2500})
    assert "batch_users 2500." in before and "subgraph_users" not in before.split(".")[0]
    assert "LEADGRAPH_OFFERS__SUBGRAPH_ABOVE=4000000" in before


def test_the_suite_timer_names_each_failed_test_from_pytests_own_summary(tmp_path: Path):
    import subprocess

    from benchmarks.test_suite import failed_tests, pytest_command

    (tmp_path / "test_probe.py").write_text(
        "import pytest\n\n"
        "def test_passes():\n    assert True\n\n"
        "def test_fails():\n    assert 1 == 2\n\n"
        "@pytest.fixture\ndef broken():\n    raise RuntimeError('setup')\n\n"
        "def test_errors(broken):\n    pass\n", encoding="utf-8")
    done = subprocess.run(pytest_command(["-p", "no:xdist", str(tmp_path)]), capture_output=True, text=True,
                          cwd=tmp_path)
    assert sorted(name.split("::")[-1] for name in failed_tests(done.stdout)) == ["test_errors", "test_fails"]


def _truth_frame(interest_teaches_contract: bool) -> pd.DataFrame:
    """A synthetic truth frame: signers all behind the gate, or some outside it where p_high_interest ranks them."""
    rng = np.random.default_rng(0)
    n = 8_000
    df = pd.DataFrame({name: rng.poisson(3, n).astype(float) for name in OWN_FEATURES})
    df["anchor"] = np.repeat(pd.date_range("2025-01-06", periods=4, freq="7D"), n // 4)
    df["interest_before"] = (rng.random(n) < 0.2).astype(float)
    df["p_high_interest"] = rng.random(n) * 0.1
    df["p_contract"] = rng.random(n) * 0.01
    df["y1"] = (rng.random(n) < df["p_high_interest"]).astype(int)
    gated = df["interest_before"] > 0
    df["y2"] = (rng.random(n) < np.where(gated, 0.05, 0.005)).astype(int)
    if interest_teaches_contract:
        df.loc[~gated & (df["p_high_interest"] > 0.09), "y2"] = 1
    return df


def test_simulate_truth_bounds_what_a_perfect_high_interest_model_adds_to_the_contract_gate():
    unrelated = transfer_aucs(_truth_frame(interest_teaches_contract=False))
    assert abs(unrelated[GATE_THEN_INTEREST] - unrelated[GATE]) < 0.05
    assert abs(unrelated[OUTSIDE] - 0.5) < 0.1
    related = transfer_aucs(_truth_frame(interest_teaches_contract=True))
    assert related[GATE_THEN_INTEREST] - related[GATE] > 0.1
    assert related[OUTSIDE] > 0.8
