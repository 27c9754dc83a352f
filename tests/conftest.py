"""Shared fixtures: an isolated home folder per test, and Prefect kept inside it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest

from leadgraph.config import Settings, load_settings

# `make test` runs two pytest-xdist workers on two cores: one torch thread each, or their thread pools
# oversubscribe the cores; and each worker its own Prefect home, since workers inherit the controller's environment.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    os.environ["OMP_NUM_THREADS"] = "1"

# Prefect reads these at import time: keep its database out of the user's home and off the network.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
if "PREFECT_HOME" not in os.environ or WORKER:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="leadgraph-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], True)


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


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (temporary API and database) shared by the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tiny simulated world (2025-01-01 .. 2025-08-31, seed 7, no defects) in a session home; read-only."""
    from simulator.simulate import simulate

    settings = load_settings(tmp_path_factory.mktemp("tiny_world") / "home")
    simulate(settings, scale="tiny", start=date(2025, 1, 1), end=date(2025, 8, 31), seed=7, defect_rate=0.0)
    return settings


TINY_AS_OF = date(2025, 8, 31)
# The tiny world holds eight months: label windows short enough that three whole windows per task fit
# before D (the defaults, 30 and 90 days, need about ten months for the contract task).
TINY_LABELS = {
    "tasks": [{"key": "high_interest", "name": "high interest", "outcomes": ["high_interest"], "window_days": 28},
              {"key": "contract", "name": "contract signed", "outcomes": ["contract_signed"], "window_days": 42}],
    "train_anchors": 2,
}
# The same as --set items, for settings resolved the way a command resolves them.
TINY_LABEL_SETS = [
    "labels.train_anchors=2",
    'labels.tasks=[{ key = "high_interest", name = "high interest", outcomes = ["high_interest"], window_days = 28 }, '
    '{ key = "contract", name = "contract signed", outcomes = ["contract_signed"], window_days = 42 }]',
]


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_world: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tiny world in its own home, ingested and validated as of 2025-08-31; users treat it as read-only."""
    from tasks.ingest import ingest
    from tasks.validate import validate

    home = tmp_path_factory.mktemp("tiny_warehouse") / "home"
    shutil.copytree(tiny_world.paths.home, home, ignore=shutil.ignore_patterns("warehouse.duckdb*", "artifacts", "exports"))
    settings = load_settings(home)
    ingest(settings, TINY_AS_OF)
    validate(settings, TINY_AS_OF)
    return settings
