"""Retrain on demand or on the weekly schedule: train as of D, register, promote only if it beats the champion."""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.daily import run_settings, scheduled_date
from leadgraph.config import Settings
from tasks import runs
from tasks.desk_snapshot import desk_snapshot_task
from tasks.home_lock import home_lock
from tasks.train import train_task

FLOW_NAME = "retrain"


@flow(name=FLOW_NAME)
def retrain(as_of: date | None = None, model_name: str | None = None, settings: Settings | None = None,
            sets: list[str] | None = None) -> str:
    """Train `model_name` (default: the configured model) as of D; returns the new version's summary."""
    as_of = as_of or scheduled_date()
    settings = run_settings(settings, sets)
    with home_lock(settings, f"retrain --as-of {as_of}"):
        try:
            with runs.recorded(settings, FLOW_NAME, as_of) as record:
                version = train_task(settings, as_of, model_name)
                record.detail = f"{version.version} registered as {version.status}"
        finally:
            # The desk's model and runs pages read this snapshot: a new champion must show there too.
            desk_snapshot_task(settings, as_of)
    return version.render()
