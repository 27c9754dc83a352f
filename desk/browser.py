"""Launch the system's Chromium for the desk's browser tests, screenshots and benchmark (nothing is downloaded)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from leadgraph.config import DeskConfig

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync")


@contextmanager
def chromium(cfg: DeskConfig) -> Iterator[Any]:
    """A Playwright browser context of `desk.browser` on a new empty profile, closed (and the profile removed) on exit."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="leadgraph-desk-browser-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=cfg.browser, headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": 1400, "height": 900}, accept_downloads=True)
        try:
            yield context
        finally:
            context.close()
