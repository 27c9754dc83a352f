"""The daily flow end to end on the tiny warehouse: two days, a forced re-run, a resumed backfill, a retrain."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from leadgraph.config import Settings, load_settings
from leadgraph.warehouse import connect
from tasks import registry
from tasks.publish import LEAD_COLUMNS, MANIFEST_NAME, export_folder
from tasks.reason_codes import BY_CODE, SEPARATOR
from tests.conftest import TINY_LABEL_SETS

pytestmark = pytest.mark.slow

DAY1, DAY2, DAY0 = date(2025, 8, 30), date(2025, 8, 31), date(2025, 8, 29)
# Few epochs and a small model: the flow's wiring is under test here, not the model's quality (the refit after
# selection is tested on the hand-built world, tests/data/test_dataset.py).
SETS = ["train.max_epochs=2", "train.eval_every=1", "train.hidden=16", "train.layers=2", "train.refit=false",
        *TINY_LABEL_SETS, "offers.epochs=1", "offers.batch_users=1024", "offers.train_users=1024",
        "offers.samples_per_user=5"]


def _csv_digests(settings: Settings, day: date) -> dict[str, str]:
    folder = export_folder(settings, day)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _runs(settings: Settings) -> pd.DataFrame:
    with connect(settings.paths.warehouse) as con:
        return con.execute("SELECT * FROM meta.runs ORDER BY started_at").df()


@pytest.fixture(scope="module")
def flows_home(tiny_warehouse: Settings, prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run day 1, day 2, a forced re-run of day 1 and a backfill from day 0 on a private copy of the warehouse."""
    from flows.backfill import backfill
    from flows.daily import daily_leads

    home = tmp_path_factory.mktemp("daily") / "home"
    shutil.copytree(tiny_warehouse.paths.home, home)
    settings = load_settings(home, sets=SETS)
    out: dict = {"settings": settings}
    out["day1"] = daily_leads(as_of=DAY1, settings=settings)
    out["digests_before"] = _csv_digests(settings, DAY1)
    out["manifest_before"] = json.loads((export_folder(settings, DAY1) / MANIFEST_NAME).read_text())
    out["day2"] = daily_leads(as_of=DAY2, settings=settings)
    out["runs_after_two_days"] = len(_runs(settings))
    out["skip"] = backfill(start=DAY1, end=DAY2, settings=settings)
    out["runs_after_skip"] = len(_runs(settings))
    out["forced"] = backfill(start=DAY1, end=DAY1, force=True, settings=settings)
    out["digests_after"] = _csv_digests(settings, DAY1)
    out["resumed"] = backfill(start=DAY0, end=DAY2, settings=settings)
    return out


def test_lists_respect_the_contract(flows_home: dict) -> None:
    settings = flows_home["settings"]
    assert str(export_folder(settings, DAY1)) in flows_home["day1"] and "published" in flows_home["day1"]
    # A two-epoch model does not pass the quality gate: it serves, unproven, and the lists say so.
    champion = registry.serving(settings)
    assert champion is not None and champion.trained_as_of == DAY1
    assert registry.champion(settings) is None and champion.status == registry.CHALLENGER
    assert champion.metrics["gate"]["passed"] is False and "unproven" in champion.metrics["promotion"]["reason"]
    assert "model_quality unproven" in flows_home["day1"]
    for day in (DAY1, DAY2):
        folder = export_folder(settings, day)
        frame = pd.read_parquet(folder / "leads.parquet")
        assert tuple(frame.columns) == LEAD_COLUMNS and len(frame) > 0
        with connect(settings.paths.warehouse) as con:
            signed = {r[0] for r in con.execute(
                "SELECT customer_id FROM asof_sales_events(?) WHERE outcome = 'contract_signed'", [day]).fetchall()}
        assert signed and not signed & set(frame["customer_id"])
        # Schema version 2: three named offers per lead (offers with customers that existed on training day),
        # never one the lead already uses regularly.
        with connect(settings.paths.warehouse) as con:
            adopted = set(con.execute(
                "SELECT customer_id, s.name FROM asof_service_events(?) e JOIN asof_services(?) s USING (service_id) "
                "WHERE behaviour = 'adopted'", [day, day]).fetchall())
        offered = {(c, frame.at[i, f"offer_{k}"]) for i, c in frame["customer_id"].items() for k in (1, 2, 3)}
        assert frame["offer_1"].notna().mean() > 0.9 and frame["offer_score_1"].notna().mean() > 0.9
        assert adopted and not offered & adopted
        both = frame[["offer_score_1", "offer_score_2"]].dropna()
        assert (both["offer_score_1"] >= both["offer_score_2"]).all()
        for territory, rows in frame.groupby("territory"):
            assert rows["rank_in_territory"].tolist() == list(range(1, len(rows) + 1))
            assert rows["score"].is_monotonic_decreasing
            assert len(rows) <= settings.publish.top_per_territory
        assert (frame["model_version"] == champion.version).all()
        manifest = json.loads((folder / MANIFEST_NAME).read_text())
        assert manifest["model_version"] == champion.version and manifest["validation_status"] == "passed"
        assert manifest["model_quality"] == "unproven" and manifest["status"]["model_quality"] == "unproven"
        # Calibrated probabilities, the figures that back them, and bands from lift over the base rate.
        calibration = manifest["calibration"]
        assert set(calibration["tasks"]) == {"high_interest", "contract"}
        assert calibration["tasks"]["contract"]["method"] == "platt" and calibration["tasks"]["contract"]["curve"]
        base = calibration["bands"]["base_rate"]
        assert calibration["bands"]["by"].startswith("p_contract") and calibration["bands"]["a_min"] == pytest.approx(
            settings.publish.band_a_lift * base)
        expected = np.where(frame["p_contract"] >= settings.publish.band_a_lift * base, "A",
                            np.where(frame["p_contract"] >= settings.publish.band_b_lift * base, "B", "C"))
        assert (frame["score_band"].to_numpy() == expected).all()
        assert manifest["total_rows"] == len(frame)
        assert {t["file"] for t in manifest["territories"]} == {p.name for p in folder.glob("*.csv")}
    day2 = pd.read_parquet(export_folder(settings, DAY2) / "leads.parquet")
    assert day2["previous_rank"].notna().any(), "day 2 should know the ranks of day 1"


def test_every_lead_has_three_stable_reasons(flows_home: dict) -> None:
    frame = pd.read_parquet(export_folder(flows_home["settings"], DAY1) / "leads.parquet")
    for _, row in frame.iterrows():
        codes = row["reason_codes"].split(SEPARATOR)
        assert len(codes) == 3 and len(set(codes)) == 3 and all(c in BY_CODE for c in codes)
        assert all(row[f"reason_{k}"] for k in (1, 2, 3))
    # Model-rank codes only fill up: a lead with an applicable fact states it first.
    first = frame["reason_codes"].str.split(SEPARATOR).str[0]
    assert first.map(lambda c: not BY_CODE[c].fallback).any()


def test_rerun_is_byte_identical_and_backfill_skips_forces_and_resumes(flows_home: dict) -> None:
    settings = flows_home["settings"]
    assert flows_home["digests_after"] == flows_home["digests_before"]
    manifest = json.loads((export_folder(settings, DAY1) / MANIFEST_NAME).read_text())
    assert manifest["run_id"] == flows_home["manifest_before"]["run_id"]
    assert "re-published" in flows_home["forced"]
    assert flows_home["skip"].count("skipped") == 2 and flows_home["runs_after_skip"] == flows_home["runs_after_two_days"]
    lines = flows_home["resumed"].splitlines()
    assert lines[0].startswith(f"{DAY0} published") and all("skipped" in line for line in lines[1:])
    runs = _runs(settings)
    daily = runs[runs["flow"] == "daily-leads"]
    assert daily["as_of"].dt.date.tolist() == [DAY1, DAY2, DAY1, DAY0]
    assert (daily["status"] == "published").all() and daily["ended_at"].notna().all()
    with connect(settings.paths.warehouse) as con:
        days = {r[0] for r in con.execute("SELECT DISTINCT as_of FROM meta.published_lists").fetchall()}
    assert days == {DAY0, DAY1, DAY2}


def test_score_and_publish_verbs_redo_a_day_byte_identically(flows_home: dict) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    from flows.backfill import backfill

    settings = flows_home["settings"]
    # The reference is the flow's own re-run: DAY0 was published after DAY2, which moves DAY2's first_seen_date.
    backfill(start=DAY2, end=DAY2, force=True, settings=settings)
    before = _csv_digests(settings, DAY2)
    common = ["--as-of", DAY2.isoformat(), "--home", str(settings.paths.home), *[a for s in SETS for a in ("--set", s)]]
    scored = CliRunner().invoke(app, ["score", *common], env={"COLUMNS": "200"})
    assert scored.exit_code == 0 and "scored" in scored.output, scored.output
    published = CliRunner().invoke(app, ["publish", *common], env={"COLUMNS": "200"})
    assert published.exit_code == 0, published.output
    assert _csv_digests(settings, DAY2) == before
    manifest = json.loads((export_folder(settings, DAY2) / MANIFEST_NAME).read_text())
    assert manifest["drift_status"] == "not checked (leadgraph publish)"


def test_retrain_promotes_only_past_the_gate_and_the_margin(flows_home: dict) -> None:
    from flows.retrain import retrain

    settings = flows_home["settings"]
    home = settings.paths.home
    assert registry.champion(settings) is None
    # The LightGBM baseline itself is judged against the prevalence only, which it beats on both splits here:
    # the first version through the gate becomes champion.
    retrain(as_of=DAY2, model_name="lightgbm", settings=load_settings(home, sets=SETS))
    old = registry.champion(settings)
    assert old is not None and old.model_name == "lightgbm" and old.metrics["gate"]["passed"] is True
    assert old.metrics["gate"]["baseline"] is None and "first version through the quality gate" in old.metrics["promotion"]["reason"]
    # No challenger can beat the champion by a margin of 1 in average precision.
    retrain(as_of=DAY2, model_name="lightgbm", settings=load_settings(home, sets=[*SETS, "train.promotion_margin=1.0"]))
    kept = registry.list_versions(settings)[-1]
    assert kept.status == registry.CHALLENGER and registry.champion(settings).version == old.version
    promotion = kept.metrics["promotion"]
    assert promotion["champion_version"] == old.version and promotion["promoted"] is False
    assert kept.metrics["champion_on_holdout"]["contract"]["n"] == kept.metrics["test"]["contract"]["n"]
    # A negative margin lets any challenger with a defined AP win; the old champion retires in the same step.
    retrain(as_of=DAY2, model_name="lightgbm", settings=load_settings(home, sets=[*SETS, "train.promotion_margin=-1.0"]))
    versions = registry.list_versions(settings)
    assert [v.status for v in versions].count(registry.CHAMPION) == 1
    assert versions[-1].status == registry.CHAMPION and registry.get_version(settings, old.version).status == registry.RETIRED
    assert registry.model_quality(versions[-1]) == "proven"
    # The unproven graph model of day 1 keeps its files and its record of splits.
    first = versions[0]
    folder = first.folder(settings)
    for name in ("model.pt", "normalizer.json", "calibration.json", "config.json", "metrics.json", "data_version.json",
                 "report/learning_curve.png", "report/pr_curves.png", "report/reliability.png", "report/report.md"):
        assert (folder / name).stat().st_size > 0, name
    assert (folder / "report/reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    selection = first.config["selection"]
    assert selection["selected_on"] == "val" and selection["refit"] is None
    contract = selection["anchors"]["contract"]
    assert contract["refit"][-1] == contract["test"] and contract["val"] < contract["test"]
    assert "Brier" in (folder / "report/report.md").read_text()
    # Calibrated on validation, judged on the hold-out: the mean predicted high-interest probability is within
    # 20% of the observed rate (the contract task has a handful of hold-out positives at this scale).
    interest = first.metrics["calibration"]["high_interest"]
    assert interest["positives"] > 100 and abs(interest["mean_predicted"] / interest["observed_rate"] - 1) < 0.2
    rendered = registry.render_versions(settings)
    assert f"* {versions[-1].version}" in rendered and old.version in rendered


def test_each_run_leaves_the_desk_its_snapshot(flows_home: dict) -> None:
    """The desk reads what each run wrote at its end: every recorded run, the champion, and each day's listed leads."""
    from tasks.desk_snapshot import LEADS_NAME, META_NAME, day_folder

    settings = flows_home["settings"]
    meta = json.loads((settings.paths.desk / META_NAME).read_text(encoding="utf-8"))
    assert {r["run_id"] for r in meta["runs"]} == set(_runs(settings)["run_id"])
    assert [m["version"] for m in meta["models"] if m["status"] == "champion"] == [registry.champion(settings).version]
    for day in (DAY0, DAY1, DAY2):
        listed = pd.read_parquet(export_folder(settings, day) / "leads.parquet")["customer_id"]
        details = pd.read_parquet(day_folder(settings, day) / LEADS_NAME)
        assert set(details["customer_id"]) == set(listed)
        assert details["station_id"].notna().all()
    # The StrucHIS champion's learned sharing: attention is a distribution over relations, each gate over tasks.
    shared = [m for m in meta["models"] if m.get("relations")]
    assert shared and all(m["model_name"] == "struchis" for m in shared)
    panels = shared[0]["relations"]
    attention, gates = panels[0], panels[1:]
    for column in range(len(attention["columns"])):
        assert sum(row["values"][column] for row in attention["rows"]) == pytest.approx(1.0, abs=1e-4)
    assert len(gates) == 2 and all(sum(row["values"]) == pytest.approx(1.0, abs=1e-4) for g in gates for row in g["rows"])


def test_dual_branch_on_sampled_minibatches_serves_lists_that_republish_byte_identically(
        tiny_warehouse: Settings, prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`train.model = "dual-branch"` in a fresh home, on a graph above `train.full_batch_max_nodes` (sampled
    mini-batch training and scoring): trained in its stages, it publishes D, and running D again gives the same bytes."""
    from flows.daily import daily_leads

    home = tmp_path_factory.mktemp("dual") / "home"
    shutil.copytree(tiny_warehouse.paths.home, home)
    settings = load_settings(home, sets=[*SETS, "train.model=dual-branch", "train.dual.pretrain_epochs=1",
                                         "train.dual.gcn_layers=2", "train.full_batch_max_nodes=5000",
                                         "train.max_seeds_per_epoch=4000"])
    summary = daily_leads(as_of=DAY2, settings=settings)
    serving = registry.serving(settings)
    assert "published" in summary and serving.model_name == "dual-branch" and serving.version in summary
    # Whether it passed the quality gate on this tiny world or not, the lists and the manifest say which.
    manifest = json.loads((export_folder(settings, DAY2) / MANIFEST_NAME).read_text())
    assert manifest["model_quality"] == registry.model_quality(serving)
    frame = pd.read_parquet(export_folder(settings, DAY2) / "leads.parquet")
    assert len(frame) > 0 and (frame["model_version"] == serving.version).all()
    assert frame["p_contract"].between(0, 1).all() and frame["p_contract"].nunique() > 1
    report = (serving.folder(settings) / "report/report.md").read_text(encoding="utf-8")
    stages = [line.split("|")[1:3] for line in report.splitlines() if line.startswith(("| pretrain", "| fine-tune"))]
    # both pre-training curves (one epoch each) and the fine-tuning curve (two epochs)
    assert [(s.strip(), n.strip()) for s, n in stages] == [("pretrain-gcn", "1"), ("pretrain-hgt", "1"), ("fine-tune", "2")]
    # The same curves as figures, in the version's metrics and as a line per stage in the report.
    curves = serving.metrics["validation_curves"]
    assert {stage: len(points) for stage, points in curves.items()} == {"pretrain-gcn": 1, "pretrain-hgt": 1, "fine-tune": 2}
    assert f"- fine-tune: {curves['fine-tune'][0][0]}: {curves['fine-tune'][0][1]:.4f}, " in report
    # D again, scored by sampling again: not a byte differs.
    first = {**_csv_digests(settings, DAY2), "parquet": _digest(export_folder(settings, DAY2) / "leads.parquet")}
    assert "published" in daily_leads(as_of=DAY2, settings=settings)
    assert {**_csv_digests(settings, DAY2), "parquet": _digest(export_folder(settings, DAY2) / "leads.parquet")} == first
