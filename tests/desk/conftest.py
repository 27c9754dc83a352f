"""The desk's fixtures: one published home per session, an app over it, and a live server for the browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from desk.app import create_app
from leadgraph.config import Settings, load_settings
from tests import desk_world


@pytest.fixture(scope="session")
def desk_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Three published days, a held day, a champion and the desk snapshot; read-only for the tests."""
    return desk_world.build(load_settings(tmp_path_factory.mktemp("desk") / "home"))


@pytest.fixture
def client(desk_home: Settings) -> TestClient:
    return TestClient(create_app(desk_home))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def desk_url(desk_home: Settings) -> Iterator[str]:
    """The desk served by uvicorn on a free loopback port for the session."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(desk_home), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the desk did not start within 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(desk_home: Settings) -> Iterator[object]:
    """One Chromium context for the session's browser tests."""
    from desk.browser import chromium

    with chromium(desk_home.desk) as context:
        yield context
