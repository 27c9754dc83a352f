"""Backfill: the daily flow for each date in [start, end], oldest first.

Dates already in meta.published_lists are skipped unless `force`, so a backfill that stopped part way
continues where it stopped when run again. A date that fails stops the backfill (later dates would
build on it); a date held by validation or drift is reported and the backfill goes on.
"""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow

from flows.daily import daily_leads, run_settings
from leadgraph.config import Settings
from tasks import runs


def dates_between(start: date, end: date) -> list[date]:
    """Every date from start to end, inclusive."""
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@flow(name="backfill-leads")
def backfill(start: date, end: date, force: bool = False, model_name: str | None = None,
             settings: Settings | None = None, sets: list[str] | None = None) -> str:
    """Run daily_leads date by date; returns one line per date (skipped, published or held)."""
    settings = run_settings(settings, sets)
    lines = []
    for day in dates_between(start, end):
        if not force and day in runs.published_dates(settings):
            lines.append(f"{day} skipped: already published")
            continue
        lines.append(daily_leads(as_of=day, model_name=model_name, settings=settings))
    return "\n".join(lines)
