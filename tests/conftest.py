"""Shared fixtures: an isolated home folder per test, and Prefect kept inside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leadgraph.config import Settings, load_settings

# Prefect reads these at import time: keep its database out of the user's home and off the network.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh LEADGRAPH_HOME for one test."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("LEADGRAPH_HOME", str(path))
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    """Settings rooted at the test's own home folder."""
    return load_settings(home)
