"""Open the DuckDB warehouse and create its schemas; one writer process at a time, as DuckDB requires."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from leadgraph.sql import sql


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables, the meta tables and the as-of macros if they are missing."""
    con.execute(sql("schema/raw_tables"))
    con.execute(sql("schema/meta"))
    con.execute(sql("views/asof"))


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file (schemas created on first write), closed on exit."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        if not read_only:
            init_schema(con)
        yield con
    finally:
        con.close()
