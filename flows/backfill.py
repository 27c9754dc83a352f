"""Backfill: the daily flow for each date in [start, end], oldest first.

Dates already in meta.published_lists are skipped unless `force`, so a backfill that stopped part way
continues where it stopped when run again. A date that fails stops the backfill (later dates would
build on it); a date held by validation or drift is reported, the backfill goes on, and it ends Failed
(RunHeld) naming every held date, so a scheduler sees it.
"""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow

from flows.daily import daily_leads, run_settings
from leadgraph.config import Settings
from leadgraph.errors import RunHeld
from tasks import runs
from tasks.home_lock import home_lock


def dates_between(start: date, end: date) -> list[date]:
    """Every date from start to end, inclusive."""
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@flow(name="backfill-leads")
def backfill(start: date, end: date, force: bool = False, model_name: str | None = None,
             settings: Settings | None = None, sets: list[str] | None = None) -> str:
    """Run daily_leads date by date; returns one line per date (skipped or published), fails naming any held date."""
    settings = run_settings(settings, sets)
    lines = []
    held = 0
    with home_lock(settings, f"backfill --start {start} --end {end}"):
        for day in dates_between(start, end):
            if not force and day in runs.published_dates(settings):
                lines.append(f"{day} skipped: already published")
                continue
            try:
                lines.append(daily_leads(as_of=day, model_name=model_name, settings=settings))
            except RunHeld as failure:
                lines.append(str(failure))
                held += 1
    if held:
        raise RunHeld("\n".join(lines), f"{held} of {len(lines)} dates held; fix them and run the backfill again")
    return "\n".join(lines)
