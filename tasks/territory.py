"""The SQL expression of a prospect's territory, from the publish.territory setting (station region by default)."""

from __future__ import annotations

from leadgraph.config import PublishConfig
from tasks.ingest_load import quote

# Aliases the lead-list and explain queries give the as-of customer and station rows.
ALIASES = {"customer": "c", "station": "st"}


def territory_sql(cfg: PublishConfig) -> str:
    """`coalesce(<alias>.<column> as text, 'unassigned')` for the configured territory column."""
    entity, _, column = cfg.territory.partition(".")
    return f"coalesce(CAST({ALIASES[entity]}.{quote(column)} AS VARCHAR), 'unassigned')"
