"""The desk's fixtures: one published home per session, an app over it, and a live server for the browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from desk.app import create_app
from desk.server import served
from leadgraph.config import Settings, load_settings
from tests import desk_world


@pytest.fixture(scope="session")
def desk_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Three published days, a held day, a champion and the desk snapshot; read-only for the tests."""
    return desk_world.build(load_settings(tmp_path_factory.mktemp("desk") / "home"))


@pytest.fixture
def client(desk_home: Settings) -> TestClient:
    return TestClient(create_app(desk_home))


@pytest.fixture(scope="session")
def desk_url(desk_home: Settings) -> Iterator[str]:
    """The desk served by uvicorn on a free loopback port for the session."""
    with served(desk_home) as url:
        yield url


@pytest.fixture(scope="module")
def browser(desk_home: Settings) -> Iterator[object]:
    """One Chromium context for the module's browser tests (Playwright's loop must be gone before Prefect's sync
    calls run in later modules: inside a running loop they hand back coroutines)."""
    from desk.browser import chromium

    assert Path(desk_home.desk.browser).is_file(), (
        f"no browser at desk.browser = {desk_home.desk.browser}: install Debian's Chromium (apt-get install -y chromium)")
    with chromium(desk_home.desk) as context:
        yield context
