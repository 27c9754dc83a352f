"""The desk's pages against a real published home: lists, leads, model, runs, escaping and access by token."""

from __future__ import annotations

import html
import re
import time
import urllib.request

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from desk.access import AccessError, check_binding
from deployments.serve import free_port, start_desk
from desk.app import create_app, make_templates
from desk.listing import render_rows, with_changes
from desk.records import runs_rows
from flows.cli import app as cli
from leadgraph.config import Settings
from tasks.publish import export_folder
from tests.desk_world import DAYS, HELD_DAY, PARTNER, SCRIPT_CUSTOMER, SCRIPT_NAME, SIGNED


def _published(settings: Settings, day=DAYS[-1]) -> pd.DataFrame:
    return pq.read_table(export_folder(settings, day) / "leads.parquet").to_pandas()


def _customers(page: str) -> list[int]:
    """Customer ids of the list's rows, in the order shown."""
    return [int(c) for c in re.findall(r'<tr data-customer="(\d+)">', page)]


def test_territory_list_is_the_published_list_with_changes(client: TestClient, desk_home: Settings) -> None:
    published = _published(desk_home)
    north = published[published["territory"] == "North"].sort_values("rank_in_territory")
    page = client.get("/territory/North").text
    assert _customers(page) == list(north["customer_id"])
    for row in north.itertuples():
        if pd.isna(row.previous_rank):
            expected = "new"
        elif row.previous_rank > row.rank_in_territory:
            expected = f"up {int(row.previous_rank - row.rank_in_territory)}"
        elif row.previous_rank < row.rank_in_territory:
            expected = f"down {int(row.rank_in_territory - row.previous_rank)}"
        else:
            expected = "same"
        cells = re.search(rf'<tr data-customer="{row.customer_id}"><td>\d+</td><td class="\w+">([^<]+)</td>', page)
        assert cells is not None and cells.group(1) == expected, row.customer_id
    assert html.escape(north.iloc[0]["reason_1"], quote=False) in page


def test_any_published_day_filters_search_and_sort(client: TestClient, desk_home: Settings) -> None:
    first = _published(desk_home, DAYS[0])
    north = first[first["territory"] == "North"]
    assert _customers(client.get(f"/territory/North?as_of={DAYS[0]}").text) == list(north["customer_id"])

    latest = _published(desk_home)
    north = latest[latest["territory"] == "North"]
    band = client.get("/territory/North?band=C").text
    assert _customers(band) == list(north[north["score_band"] == "C"]["customer_id"]) != []
    by_score = client.get("/territory/North?sort=p_high_interest&order=desc").text
    assert _customers(by_score) == list(north.sort_values("p_high_interest", ascending=False)["customer_id"])
    by_id = north[(north["customer_id"] == 39) | north["customer_name"].str.contains("39", regex=False)]
    assert _customers(client.get("/territory/North?q=39").text) == list(by_id["customer_id"]) == [39]
    assert _customers(client.get("/territory/North?q=SCRIPT").text) == [SCRIPT_CUSTOMER]
    assert client.get("/territory/North?as_of=2024-01-01").status_code == 404
    assert client.get("/territory/Atlantis").status_code == 404


def test_csv_download_is_the_published_bytes(client: TestClient, desk_home: Settings) -> None:
    for territory, name in (("North", "leads_north.csv"), ("Süd West", "leads_s-d-west.csv")):
        response = client.get(f"/territory/{territory}/csv?as_of={DAYS[1]}")
        assert response.status_code == 200
        assert response.content == (export_folder(desk_home, DAYS[1]) / name).read_bytes()


def test_lead_page_shows_facts_neighbourhood_reasons_and_history(client: TestClient, desk_home: Settings) -> None:
    page = client.get(f"/lead/{SCRIPT_CUSTOMER}").text
    # Its partners: the signer (marked as a contract customer) and PARTNER; its account co-holder 15; its station.
    signer = re.search(r'<g class="node node-partner contract"><title>shipping partner: customer (\d+) (\d+) shipments', page)
    assert signer is not None and signer.groups() == (str(SIGNED), "2")
    assert f"shipping partner: customer {PARTNER} 4 shipments" in page
    assert "account co-holder: customer 15 1 shared account(s)" in page
    assert 'class="node node-station"' in page
    # The numbers behind "Ships with 1 contract customer(s)": one partner with a contract, and 6 recent shipments.
    assert re.search(r"shipping partners with a contract: <b>1</b>", page)
    assert "<td>6 / 0</td>" in page
    ranks = [_published(desk_home, d).set_index("customer_id").loc[SCRIPT_CUSTOMER, "rank_in_territory"] for d in DAYS]
    assert re.findall(r"<title>(\d{4}-\d\d-\d\d): rank (\d+)</title>", page) == [
        (d.isoformat(), str(r)) for d, r in zip(DAYS, ranks)]
    assert client.get(f"/lead/{SIGNED}").status_code == 404


def test_text_cells_are_escaped(client: TestClient) -> None:
    for url in ("/territory/North", f"/territory/North?q={SCRIPT_CUSTOMER}", f"/lead/{SCRIPT_CUSTOMER}"):
        page = client.get(url).text
        assert SCRIPT_NAME not in page and html.escape(SCRIPT_NAME) in page
    assert "<script" not in client.get("/territory/North?q=<script>x</script>").text


def test_model_page_shows_the_champion_with_intervals(client: TestClient) -> None:
    page = client.get("/models").text
    assert 'id="model-v0001-struchis"' in page and "champion" in page
    assert "0.3100" in page and "[0.2200, 0.4100]" in page and "first model: promoted" in page
    assert "not stored" in page  # the interest task has no interval recorded


def test_runs_page_marks_held_days_and_links_reports(client: TestClient) -> None:
    page = client.get("/runs").text
    held = re.search(rf'<tr class="bad" data-status="held">\s*<td>{HELD_DAY}</td>', page)
    assert held is not None
    assert len(re.findall(r'<tr class="" data-status="published">', page)) == len(DAYS)
    assert "failed: shipments: not_null:weight_kg" in page
    docs = re.search(r'<a href="(/files/reports/[^"]+index.html)">Data Docs</a>', page)
    drift = re.search(r'<a href="(/files/reports/[^"]+drift.html)">Evidently report</a>', page)
    assert docs and drift and "(severe)" in page
    assert "data docs of the day" in client.get(docs.group(1)).text
    assert "evidently report" in client.get(drift.group(1)).text
    assert client.get("/files/reports/../warehouse.duckdb").status_code == 404


def test_tokens_limit_territories(desk_home: Settings) -> None:
    settings = desk_home.model_copy(deep=True)
    settings.desk.tokens = {"rep-north": ("North",), "data-team": ()}
    client = TestClient(create_app(settings))
    published = _published(desk_home)
    other = sorted(set(published["territory"]) - {"North"})[0]
    assert client.get("/territory/North").status_code == 401
    assert client.get("/territory/North?token=wrong").status_code == 401
    rep = {"Authorization": "Bearer rep-north"}
    assert client.get("/territory/North", headers=rep).status_code == 200
    assert client.get(f"/territory/{other}", headers=rep).status_code == 403
    assert client.get(f"/territory/{other}/csv", headers=rep).status_code == 403
    other_lead = int(published[published["territory"] == other]["customer_id"].iloc[0])
    assert client.get(f"/lead/{other_lead}", headers=rep).status_code == 403
    assert client.get("/", headers=rep, follow_redirects=False).headers["location"].startswith("/territory/North")
    team = TestClient(create_app(settings))
    assert team.get(f"/territory/{other}?token=data-team").status_code == 200
    assert team.get(f"/territory/{other}/csv").status_code == 200  # the token was kept in a cookie


def test_binding_beyond_loopback_needs_a_token(desk_home: Settings) -> None:
    check_binding(desk_home.desk, "127.0.0.1")
    check_binding(desk_home.desk, "::1")
    with pytest.raises(AccessError, match="without a token"):
        check_binding(desk_home.desk, "0.0.0.0")
    result = CliRunner().invoke(cli, ["desk", "--host", "0.0.0.0"], env={"LEADGRAPH_HOME": str(desk_home.paths.home)})
    assert result.exit_code == 2 and "without a token" in result.output
    with_token = desk_home.model_copy(deep=True)
    with_token.desk.tokens = {"secret": ()}
    check_binding(with_token.desk, "0.0.0.0")


def test_runs_show_stage_records_when_a_run_has_them() -> None:
    run = {"run_id": "r", "flow": "daily-leads", "as_of": "2025-07-01", "status": "failed", "detail": "boom",
           "started_at": "2025-07-01T06:00:00", "ended_at": "2025-07-01T06:01:30",
           "stages": '{"ingest": {"status": "completed", "seconds": 4.5}, "validate": "failed"}', "attempts": 2}
    rows = runs_rows({"runs": [run], "validation": [], "drift": []})
    assert rows[0]["seconds"] == 90 and rows[0]["bad"]
    assert rows[0]["stage_rows"] == [{"stage": "ingest", "status": "completed", "seconds": 4.5},
                                     {"stage": "validate", "status": "failed"}, {"stage": "attempts", "status": 2}]


def test_serve_starts_the_desk_beside_prefect(desk_home: Settings) -> None:
    settings = desk_home.model_copy(deep=True)
    settings.desk.port = free_port("127.0.0.1")
    desk = start_desk(settings)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert desk.poll() is None, "the desk process exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{settings.desk.port}/territory/North", timeout=5) as page:
                    assert page.status == 200 and SCRIPT_NAME.encode() not in page.read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the desk did not answer within 120 s"
                time.sleep(0.5)
    finally:
        desk.terminate()
        desk.wait(timeout=30)


def test_offer_columns_show_only_when_the_list_has_them(desk_home: Settings) -> None:
    frame = with_changes(_published(desk_home))
    env = make_templates().env
    plain = "".join(render_rows(env, frame, DAYS[-1]))
    frame[["offer_1", "offer_2", "offer_3"]] = ["Express <b>lane</b>", "Cold chain", None]
    with_offers = list(render_rows(env, frame, DAYS[-1]))
    assert "Cold chain" not in plain and plain.count("<td") == len(frame) * 11
    assert all(row.count("<td") == 12 for row in with_offers)
    assert "Express &lt;b&gt;lane&lt;/b&gt;<br>Cold chain<br></td>" in with_offers[0]
