"""The desk in a real browser (the system's Chromium through Playwright): what a sales rep and the data team do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from desk.screenshots import take_screenshots
from leadgraph.config import Settings
from tasks.publish import export_folder
from tests.desk_world import DAYS, HELD_DAY, SCRIPT_CUSTOMER, SCRIPT_NAME


def _north(settings: Settings) -> pd.DataFrame:
    frame = pq.read_table(export_folder(settings, DAYS[-1]) / "leads.parquet").to_pandas()
    return frame[frame["territory"] == "North"]


def _shown(page) -> list[int]:
    return [int(v) for v in page.locator(".leads tr[data-customer]").evaluate_all(
        "rows => rows.map(r => r.dataset.customer)")]


def test_a_rep_filters_searches_opens_a_lead_and_downloads(browser, desk_url: str, desk_home: Settings) -> None:
    dialogs: list[str] = []
    page = browser.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(desk_url)
    page.get_by_role("link", name="North", exact=True).click()
    north = _north(desk_home)
    assert _shown(page) == list(north["customer_id"])

    page.select_option("select[name=band]", "C")
    page.click("#apply")
    page.wait_for_url("**band=C**")
    assert _shown(page) == list(north[north["score_band"] == "C"]["customer_id"])
    assert set(page.locator(".leads td[class^=band-]").all_inner_texts()) == {"C"}

    page.select_option("select[name=band]", "")
    page.fill("input[name=q]", "script")
    page.click("#apply")
    page.wait_for_url("**q=script**")
    assert _shown(page) == [SCRIPT_CUSTOMER]
    page.get_by_role("link", name=SCRIPT_NAME).click()
    page.wait_for_url(f"**/lead/{SCRIPT_CUSTOMER}**")
    assert page.locator("#lead-name").inner_text().startswith(SCRIPT_NAME)
    assert page.locator("#neighbourhood .node").count() >= 3
    assert page.locator("svg.history").count() == 2

    page.go_back()
    with page.expect_download() as download:
        page.click("#download")
    got = Path(download.value.path()).read_bytes()
    assert got == (export_folder(desk_home, DAYS[-1]) / "leads_north.csv").read_bytes()
    assert dialogs == []  # the customer named like a script never ran
    page.close()


def test_the_data_team_sees_the_model_and_held_days(browser, desk_url: str) -> None:
    page = browser.new_page()
    page.goto(f"{desk_url}/runs")
    held = page.locator(f"#runs tr[data-status=held]:has-text('{HELD_DAY}') td").first
    assert held.evaluate("cell => getComputedStyle(cell).color") == "rgb(179, 38, 30)"
    published = page.locator("#runs tr[data-status=published] td").first
    assert published.evaluate("cell => getComputedStyle(cell).color") != "rgb(179, 38, 30)"
    page.get_by_role("link", name="Evidently report").first.click()
    assert "evidently report" in page.content()
    page.goto(f"{desk_url}/models")
    assert page.locator(".model-champion .metrics").inner_text().count("[0.2200, 0.4100]") == 1
    page.close()


def test_screenshots_of_list_lead_and_model(browser, desk_url: str, tmp_path: Path) -> None:
    paths = take_screenshots(browser, desk_url, tmp_path, territory="North", customer_id=SCRIPT_CUSTOMER)
    assert [p.name for p in paths] == ["territory-list.png", "lead-page.png", "model-page.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
