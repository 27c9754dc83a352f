"""Lead-list publishing against a real DuckDB warehouse: the contract, safety, idempotence and atomicity."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import tasks.publish as publish_mod
from leadgraph.config import Settings
from leadgraph.warehouse import connect
from tasks.publish import LEAD_COLUMNS, MANIFEST_NAME, PublishError, export_folder, publish, publish_artifacts
from tests.lead_world import SIGNED, SIGNS_LATER
from tests.lead_world import make_scores as _scores
from tests.lead_world import make_world as _make_world

D = date(2025, 6, 30)


def _publish(settings: Settings, day: date, scores: pd.DataFrame, run_id: str = "run-1"):
    return publish(settings, day, scores, run_id=run_id, model_version="struchis-v1", data_version="dv-abc",
                   status={"validation": "passed", "drift": "ok"})


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def world(settings: Settings) -> Settings:
    settings.publish.top_per_territory = 4
    _make_world(settings)
    return settings


def test_lists_follow_the_contract(world: Settings) -> None:
    result = _publish(world, D, _scores(1))
    folder = export_folder(world, D)
    assert result.folder == folder and folder.is_dir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["schema_version"] == 2
    assert manifest["columns"] == list(LEAD_COLUMNS)
    assert manifest["validation_status"] == "passed" and manifest["drift_status"] == "ok"
    assert manifest["model_version"] == "struchis-v1" and manifest["data_version"] == "dv-abc"

    parquet = pq.read_table(folder / "leads.parquet").to_pandas()
    assert list(parquet.columns) == list(LEAD_COLUMNS)
    assert list(parquet["rank_global"]) == sorted(parquet["rank_global"])
    assert SIGNED not in set(parquet["customer_id"])
    assert set(parquet["territory"]) == {"North", "Süd West", "'-East"}
    assert manifest["parquet"]["sha256"] == hashlib.sha256((folder / "leads.parquet").read_bytes()).hexdigest()

    # Ranks: the full ranking of every prospect, cut to the top N per territory.
    scores = _scores(1).sort_values(["score", "customer_id"], ascending=[False, True])
    assert parquet.loc[parquet["rank_global"] == 1, "customer_id"].item() == scores["customer_id"].iloc[0]
    for entry in manifest["territories"]:
        rows = _read_csv(folder / entry["file"])
        assert list(rows[0].keys()) == list(LEAD_COLUMNS)
        assert len(rows) == entry["rows"] == 4
        assert [int(r["rank_in_territory"]) for r in rows] == [1, 2, 3, 4]
        scores_in_list = [float(r["score"]) for r in rows]
        assert scores_in_list == sorted(scores_in_list, reverse=True)
        assert entry["sha256"] == hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
        for r in rows:
            assert r["as_of_date"] == "2025-06-30" and r["first_seen_date"] == "2025-06-30"
            assert r["previous_rank"] == ""
            band = "A" if float(r["score"]) >= 80 else "B" if float(r["score"]) >= 50 else "C"
            assert r["score_band"] == band
            assert r["model_version"] == "struchis-v1" and r["run_id"] == "run-1"
            assert len(r["p_contract"].split(".")[1]) == 8 and len(r["score"].split(".")[1]) == 2
    with connect(world.paths.warehouse, read_only=True) as con:
        meta = con.execute("SELECT territory, rows, sha256, path FROM meta.published_lists ORDER BY territory").fetchall()
    assert [(m[0], m[1], m[2]) for m in meta] == sorted(
        (e["territory"], e["rows"], e["sha256"]) for e in manifest["territories"])
    assert all(m[3].startswith("as_of=2025-06-30/leads_") for m in meta)


def test_text_cells_are_spreadsheet_safe(world: Settings) -> None:
    world.publish.top_per_territory = 100
    _publish(world, D, _scores(1))
    folder = export_folder(world, D)
    cells = [c for f in folder.glob("*.csv") for row in _read_csv(f) for c in row.values()]
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    names = {c for f in folder.glob("*.csv") for row in _read_csv(f) for c in [row["customer_name"]]}
    assert "'=HYPERLINK(\"http://x\")" in names and "'+49 call me" in names and "'@SUM(A1)" in names
    assert "'-minus, with comma" in names and "Zoë Ünïcode" in names
    reasons = {row["reason_1"] for f in folder.glob("*.csv") for row in _read_csv(f)}
    listed = {int(row["customer_id"]) for f in folder.glob("*.csv") for row in _read_csv(f)}
    assert SIGNS_LATER in listed and SIGNED not in listed and len(listed) == 29
    assert "'=1+1 shipments up" in reasons


def test_republishing_gives_identical_bytes(world: Settings) -> None:
    _publish(world, D, _scores(1))
    first = _snapshot(export_folder(world, D))
    _publish(world, D, _scores(1))
    second = _snapshot(export_folder(world, D))
    assert first.keys() == second.keys()
    for name in first:
        if name != "manifest.json":
            assert first[name] == second[name], name
    with connect(world.paths.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM meta.published_lists").fetchall()[0][0] == 3


def test_contract_customers_are_refused_loudly(world: Settings) -> None:
    with pytest.raises(PublishError, match=r"already signed a contract \(customer_id \[5\]\)"):
        _publish(world, D, _scores(1, exclude=()))
    assert not export_folder(world, D).exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.assign(customer_id=s["customer_id"].where(s.index != 0, 999)), r"not customers as of .*\[999\]"),
    (lambda s: pd.concat([s, s.iloc[[3]]]), r"scored more than once .*\[4\]"),
    (lambda s: s.assign(score=s["score"].where(s.index != 1, 100.5)), r"outside 0-100 .*\[2\]"),
    (lambda s: s.assign(score=s["score"].where(s.index != 1, float("nan"))), r"outside 0-100 .*\[2\]"),
])
def test_inconsistent_scores_are_refused(world: Settings, change, message: str) -> None:
    with pytest.raises(PublishError, match=message):
        _publish(world, D, change(_scores(1)))
    assert not export_folder(world, D).exists()


def test_previous_rank_and_first_seen_come_from_earlier_lists(world: Settings) -> None:
    d1, d2 = D - timedelta(days=1), D
    _publish(world, d1, _scores(1))
    _publish(world, d2, _scores(2))
    before = pq.read_table(export_folder(world, d1) / "leads.parquet").to_pandas().set_index("customer_id")
    after = pq.read_table(export_folder(world, d2) / "leads.parquet").to_pandas().set_index("customer_id")
    for customer, row in after.iterrows():
        if customer in before.index:
            assert row["previous_rank"] == before.loc[customer, "rank_in_territory"]
            assert row["first_seen_date"] == d1
        else:
            assert pd.isna(row["previous_rank"]) and row["first_seen_date"] == d2
    assert after.index.isin(before.index).any() and not after.index.isin(before.index).all()


def test_failure_mid_write_leaves_published_lists_intact(world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    yesterday = D - timedelta(days=1)
    _publish(world, yesterday, _scores(1))
    _publish(world, D, _scores(2))
    kept = {yesterday: _snapshot(export_folder(world, yesterday)), D: _snapshot(export_folder(world, D))}
    with connect(world.paths.warehouse, read_only=True) as con:
        meta_before = con.execute("SELECT * FROM meta.published_lists ORDER BY as_of, territory").fetchall()

    def disk_full(path: Path, table: object) -> None:
        path.write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish_mod, "_write_parquet", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _publish(world, D, _scores(3), run_id="run-2")

    assert _snapshot(export_folder(world, yesterday)) == kept[yesterday]
    assert _snapshot(export_folder(world, D)) == kept[D]
    assert not any((world.paths.exports / ".staging").iterdir())
    with connect(world.paths.warehouse, read_only=True) as con:
        assert con.execute("SELECT * FROM meta.published_lists ORDER BY as_of, territory").fetchall() == meta_before


def test_failure_at_the_swap_restores_the_previous_folder(world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _publish(world, D, _scores(1))
    kept = _snapshot(export_folder(world, D))
    real_replace = publish_mod.os.replace

    def failing_replace(src: Path, dst: Path) -> None:
        if Path(src).parent.name == ".staging":
            raise OSError("rename failed")
        real_replace(src, dst)

    monkeypatch.setattr(publish_mod.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        _publish(world, D, _scores(2), run_id="run-2")
    monkeypatch.undo()
    assert _snapshot(export_folder(world, D)) == kept
    with connect(world.paths.warehouse, read_only=True) as con:
        assert {r[0] for r in con.execute("SELECT run_id FROM meta.published_lists").fetchall()} == {"run-1"}


def test_leftover_backup_of_a_crashed_swap_is_restored(world: Settings) -> None:
    _publish(world, D, _scores(1))
    target = export_folder(world, D)
    kept = _snapshot(target)
    parked = world.paths.exports / ".previous" / f"{target.name}.deadbeef"
    parked.parent.mkdir(parents=True)
    target.rename(parked)  # what a crash between the two renames leaves behind
    with pytest.raises(PublishError):
        _publish(world, D, _scores(1, exclude=()))
    assert _snapshot(target) == kept and not parked.exists()


def test_published_table_of_scores_with_as_of_column(world: Settings) -> None:
    scores = pd.concat([_scores(1).assign(as_of=D), _scores(9).assign(as_of=D - timedelta(days=1))])
    with connect(world.paths.warehouse) as con:
        con.register("incoming", scores)
        con.execute("CREATE TABLE main.scores AS SELECT * FROM incoming")
    from_table = publish(world, D, "main.scores", "run-1", "struchis-v1", "dv-abc", {"validation": "passed"})
    table_bytes = from_table.parquet_path.read_bytes()
    from_frame = _publish(world, D, _scores(1))
    assert from_frame.parquet_path.read_bytes() == table_bytes


def test_artifacts_are_only_made_inside_a_flow_run(world: Settings) -> None:
    result = _publish(world, D, _scores(1))
    assert publish_artifacts(world, result, {"validation": {"status": "passed"}}) is False
    markdown = publish_mod.run_summary_markdown(result, {"validation": {"status": "passed"}, "drift": "no drift"})
    assert "## Validation" in markdown and "- status: passed" in markdown and "no drift" in markdown


def test_republish_never_leaves_the_day_absent(world: Settings) -> None:
    import threading

    _publish(world, D, _scores(1))
    target = export_folder(world, D)
    assert target.is_symlink()
    seen: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append((target / MANIFEST_NAME).exists())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for k in range(2, 6):
            _publish(world, D, _scores(k), run_id=f"run-{k}")
    finally:
        done.set()
        watcher.join()
    assert seen and all(seen)
    kept = {p.name: json.loads((p / MANIFEST_NAME).read_text())["run_id"]
            for p in (world.paths.exports / publish_mod.VERSIONS_DIR).iterdir()}
    assert kept.pop(target.resolve().name) == "run-5"
    assert list(kept.values()) == ["run-4"]
    assert json.loads((target / MANIFEST_NAME).read_text())["run_id"] == "run-5"


def test_offer_reason_follows_the_facts_and_replaces_the_last_model_rank_reason() -> None:
    from tasks.offer_reasons import add_offer_reason

    frame = pd.DataFrame({
        "customer_id": [1, 2, 3, 4],
        "reason_codes": ["R02_CONTRACT_PARTNERS|R07_CONTRACT_RANK|R08_INTEREST_RANK",
                         "R01_SHIP_GROWTH|R02_CONTRACT_PARTNERS|R06_RECENT_ACTIVITY",
                         "R07_CONTRACT_RANK|R08_INTEREST_RANK|R09_OVERALL_SCORE", None],
        "reason_1": ["partners", "growth", "rank c", None], "reason_2": ["rank c", "partners", "rank i", None],
        "reason_3": ["rank i", "active", "overall", None],
        "offer_1": ["Cold chain priority to east", "Customs standard to north", "Returns economy to west", "Same-day to south"],
        "offer_peer_1": [True, True, False, True],
    })
    out = add_offer_reason(frame)
    assert out.at[0, "reason_codes"] == "R02_CONTRACT_PARTNERS|R12_PEERS_USE_OFFER|R07_CONTRACT_RANK"
    assert out.loc[0, ["reason_1", "reason_2", "reason_3"]].tolist() == [
        "partners", "Its shipping partners, company or account co-holders use Cold chain priority to east", "rank c"]
    # Three facts stay; no peers, no R12; an unexplained lead stays unexplained.
    assert out.loc[1:3, "reason_codes"].tolist() == frame.loc[1:3, "reason_codes"].tolist()
