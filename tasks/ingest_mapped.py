"""Load a contract table from its configured source (files or a database) through the mapping.

A configured source is re-read whole on every run and replaces what it delivered before, so a run is idempotent
and a corrected export simply loads again; rows dated after D wait for a later run. Reading and mapping happen
before the load transaction (into temp tables), so a source that cannot be read leaves the warehouse as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from leadgraph.config import Settings
from leadgraph.sql import sql
from tasks.ingest_load import quote
from tasks.mapping import Mapping, cast_failures, drop_temp, extend_id_map, plan, prepare, type_values
from tasks.sources import SourceError, describe, lineage_prefix, stage


@dataclass
class SourceLoad:
    """One configured source: its mapping once read, rows per lineage file once loaded, or why nothing loads."""

    table: str
    label: str
    mapping: Mapping | None = None
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def read_source(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, contract: list[tuple[str, str]]) -> SourceLoad:
    """Read and map a table's source into temp tables, outside any transaction; a bad source comes back with its error."""
    src = settings.source(table)
    result = SourceLoad(table, describe(src))
    try:
        delivered = stage(con, settings, table)
        result.mapping = plan(table, src, delivered, contract)
        prepare(con, result.mapping, delivered)
    except SourceError as err:
        drop_temp(con, table)
        result.error = str(err)
        return result
    result.notes = [f"{table}: {note}" for note in result.mapping.notes]
    return result


def load_source(con: duckdb.DuckDBPyConnection, read: SourceLoad, contract: list[tuple[str, str]], as_of: date) -> None:
    """Replace the table's rows from its source with the mapped rows dated up to D, inside the caller's transaction."""
    table, mapping = read.table, read.mapping
    prefix = lineage_prefix(table)
    con.execute(sql("sources/forget_source").format(table=table, prefix=prefix))
    extend_id_map(con, mapping)
    mapped = type_values(con, mapping, map_ids=True)
    columns = ", ".join(quote(c) for c, _ in contract)
    con.execute(sql("sources/insert_mapped").format(table=table, mapped=mapped, columns=columns, d=as_of.isoformat(), **cast_failures(mapping)))
    read.rows = dict(con.execute(sql("sources/rows_per_file").format(table=table), [prefix]).fetchall())
    drop_temp(con, table)


def forget_source(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop what a configured source once delivered to a table that now has none."""
    con.execute(sql("sources/forget_source").format(table=table, prefix=lineage_prefix(table)))
