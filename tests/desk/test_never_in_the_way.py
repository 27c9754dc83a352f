"""The desk and a run never wait on each other: pages load while a writer holds the warehouse, runs publish
while pages are being served."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from desk import data as desk_data
from desk.app import create_app
from desk.data import DeskData
from leadgraph.config import Settings, load_settings
from tasks.desk_snapshot import write_snapshot
from tasks.publish import export_folder, publish
from tests.desk_world import DAYS, HELD_DAY, MODEL_VERSION, SCRIPT_CUSTOMER, scores

PAGES = ("/", "/territory/North", f"/lead/{SCRIPT_CUSTOMER}", f"/territory/North/csv?as_of={DAYS[-1]}", "/models", "/runs")
# A second process opens the warehouse for writing, keeps a transaction open and says so.
HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute("INSERT INTO meta.runs VALUES ('writer', 'daily-leads', DATE '2025-07-02', 'running', NULL, now(), NULL)")
print("holding", flush=True)
sys.stdin.readline()
"""


def test_pages_load_while_a_run_holds_the_warehouse(desk_home: Settings) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(desk_home.paths.warehouse)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        # The lock is real: another process cannot even read the warehouse now.
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(desk_home.paths.warehouse), read_only=True)
        client = TestClient(create_app(desk_home))
        for url in PAGES:
            assert client.get(url).status_code == 200, url
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.fixture
def own_home(desk_home: Settings, tmp_path: Path) -> Settings:
    """A copy of the desk home this test may publish into."""
    shutil.copytree(desk_home.paths.home, tmp_path / "home")
    settings = load_settings(tmp_path / "home")
    settings.publish.top_per_territory = desk_home.publish.top_per_territory
    return settings


def test_a_run_publishes_while_pages_are_served(own_home: Settings) -> None:
    client = TestClient(create_app(own_home))
    csv = export_folder(own_home, DAYS[-1]) / "leads_north.csv"
    versions = {csv.read_bytes()}
    failures: list[str] = []
    loads = 0
    stop = threading.Event()

    def read_pages() -> None:
        nonlocal loads
        while not stop.is_set():
            for url in PAGES:
                response = client.get(url)
                loads += 1
                if response.status_code != 200:
                    failures.append(f"{url}: {response.status_code} {response.text[:200]}")
                elif "/csv" in url:
                    versions_seen.append(response.content)

    versions_seen: list[bytes] = []
    reader = threading.Thread(target=read_pages)
    reader.start()
    try:
        for seed in (11, 12, 13):
            publish(own_home, DAYS[-1], scores(seed), run_id=f"rerun-{seed}", model_version=MODEL_VERSION,
                    data_version="dv-desk", status={"validation": "passed", "drift": "ok"})
            versions.add(csv.read_bytes())
            write_snapshot(own_home, DAYS[-1])
        publish(own_home, HELD_DAY, scores(14), run_id="next-day", model_version=MODEL_VERSION,
                data_version="dv-desk", status={"validation": "passed", "drift": "ok"})
        write_snapshot(own_home, HELD_DAY)
        published_while_reading = reader.is_alive()
    finally:
        stop.set()
        reader.join(timeout=60)
    assert published_while_reading and loads >= len(PAGES)
    assert failures == []
    # Every download was one whole published version, never a mix.
    assert versions_seen and set(versions_seen) <= versions
    assert f"?as_of={HELD_DAY}" in client.get("/").text


def test_a_list_read_while_a_publish_repoints_the_day_is_one_whole_version(own_home: Settings,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = DeskData(own_home)
    before = data.whole_list(DAYS[-1]).copy()
    real_read = desk_data.pq.read_table
    republished: list[bool] = []

    def read_during_a_publish(source: object, **kwargs: object) -> object:
        # The publish lands after the read began and before pyarrow parses: the worst moment for a reader.
        if not republished:
            republished.append(True)
            publish(own_home, DAYS[-1], scores(21), run_id="mid-read", model_version=MODEL_VERSION,
                    data_version="dv-desk", status={"validation": "passed", "drift": "ok"})
        return real_read(source, **kwargs)

    monkeypatch.setattr(desk_data.pq, "read_table", read_during_a_publish)
    desk_data._LISTS._items.clear()
    during = data.whole_list(DAYS[-1])
    assert republished
    pd.testing.assert_frame_equal(during, before)
    after = data.whole_list(DAYS[-1])
    assert set(after["run_id"]) == {"mid-read"}
    assert not after.drop(columns=["run_id"]).equals(before.drop(columns=["run_id"]))


def test_a_day_whose_manifest_is_missing_for_a_moment_stays_listed(own_home: Settings) -> None:
    # A republish removes the version a reader's path may just have led into: the manifest is gone for an instant.
    manifest = export_folder(own_home, DAYS[-1]) / "manifest.json"
    body = manifest.read_bytes()
    manifest.unlink()
    back = threading.Timer(0.05, manifest.write_bytes, args=(body,))
    back.start()
    try:
        assert DAYS[-1] in DeskData(own_home).published_days()
    finally:
        back.join()
    assert DAYS[-1] in DeskData(own_home).published_days()
