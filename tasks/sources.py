"""Read one contract table's configured source into a temp table, as delivered, with lineage (file, row, folder date)."""

from __future__ import annotations

import glob
import os
import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa

from leadgraph.config import LANDING_FORMAT, Settings, SourceConfig
from leadgraph.sql import sql

# Lineage of rows from a configured source: `_file` starts with this and the table name, so a reload finds them all.
LINEAGE_PREFIX = "source:"


class SourceError(Exception):
    """A source that cannot be read or mapped; the message names the table, the source and the column or file."""


def lineage_prefix(table: str) -> str:
    """The `_file` prefix of every row a configured source delivered to one table."""
    return f"{LINEAGE_PREFIX}{table}/"


def effective(settings: Settings, table: str) -> SourceConfig:
    """A table's source with landing/ spelled out as the files source it is (delivery folders, the landing format)."""
    src = settings.source(table)
    if src.kind != "landing":
        return src
    pattern = (settings.paths.landing / table / "dt=*" / f"*.{LANDING_FORMAT[table]}").as_posix()
    return src.model_copy(update={"kind": "files", "path": pattern, "format": LANDING_FORMAT[table], "partition": "folders"})


def describe(src: SourceConfig) -> str:
    """A short name of a source for messages, e.g. `files crm/leads_*.csv` or `sqlite crm.db table leads`."""
    if src.kind == "files":
        return f"files {src.path}"
    if src.kind == "database":
        what = f"table {src.table}" if src.table else "query"
        return f"{src.database_type} {src.path} {what}"
    return src.kind


def _resolve(path: str, home: Path) -> Path:
    """A source path as given: absolute, or relative to the home folder."""
    candidate = Path(os.path.expanduser(path))
    return candidate if candidate.is_absolute() else home / candidate


def _glob_base(pattern: str) -> str:
    """The folder above a glob's first wildcard: lineage names files relative to it."""
    parts = Path(pattern).parts
    first_wild = next((i for i, p in enumerate(parts) if any(ch in p for ch in "*?[")), len(parts) - 1)
    return str(Path(*parts[:first_wild])) if first_wild else "."


def _stage_files(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, home: Path, limit: int | None, name: str) -> None:
    """CSV or Parquet files matching the glob into the temp table `name`; CSV as text, like the landing reader."""
    if not src.path:
        raise SourceError(f"{table}: source kind 'files' needs a path (a glob of CSV or Parquet files)")
    pattern = str(_resolve(src.path, home))
    files = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file() and not Path(p).name.startswith((".", "_")))
    if not files:
        raise SourceError(f"{table}: source {describe(src)}: no file matches {src.path}")
    fmt = src.format or Path(pattern).suffix.lstrip(".").lower()
    if fmt not in ("csv", "parquet"):
        raise SourceError(f"{table}: source {describe(src)}: cannot tell CSV from Parquet by the name; set format")
    reader = "read_csv_text" if fmt == "csv" else "read_parquet"
    base = _glob_base(pattern)
    try:
        con.execute(sql(f"sources/{reader}").format(limit=f"LIMIT {limit}" if limit else ""), [files])
        con.execute(sql("sources/number_files").format(name=name, prefix=lineage_prefix(table)), [base.rstrip("/") + "/"])
        con.execute("DROP TABLE _read")
    except duckdb.Error as err:
        raise SourceError(f"{table}: source {describe(src)}: cannot read the files ({err})") from err


def _text(value: object) -> str | None:
    """A SQLite value as text (SQLite types values, not columns, so text is the one safe common type)."""
    if value is None:
        return None
    return value.hex() if isinstance(value, bytes) else str(value)


def _sqlite_table(table: str, src: SourceConfig, path: Path, query: str) -> pa.Table:
    """Run a query in a SQLite file opened read-only (Python's sqlite3: DuckDB's SQLite scanner is a download)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            cursor = db.execute(query)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        finally:
            db.close()
    except sqlite3.Error as err:
        raise SourceError(f"{table}: source {describe(src)}: cannot read the SQLite database ({err})") from err
    return pa.table({name: pa.array([_text(r[i]) for r in rows], pa.string()) for i, name in enumerate(names)})


def _duckdb_table(table: str, src: SourceConfig, home: Path, query: str) -> pa.Table:
    """Run a query in a DuckDB file (read-only) or, through DuckDB's PostgreSQL scanner, in a PostgreSQL database."""
    try:
        if src.database_type == "duckdb":
            db = duckdb.connect(str(_resolve(src.path or "", home)), read_only=True)
        else:
            db = duckdb.connect()
            db.execute("ATTACH ? AS src (TYPE postgres, READ_ONLY)", [src.path])
            db.execute("USE src")
        try:
            return db.execute(query).to_arrow_table()
        finally:
            db.close()
    except duckdb.Error as err:
        raise SourceError(f"{table}: source {describe(src)}: cannot read the {src.database_type} database ({err})") from err


def _stage_database(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, home: Path, limit: int | None, name: str) -> None:
    """A table or query of a database into _src, each row numbered in the order the database returns it."""
    if not src.path or bool(src.table) == bool(src.query):
        raise SourceError(f"{table}: source kind 'database' needs a path and exactly one of table or query")
    query = src.query or f'SELECT * FROM "{src.table}"'
    if limit:
        query = f"SELECT * FROM ({query}) AS q LIMIT {limit}"
    path = _resolve(src.path, home)
    if src.database_type != "postgres" and not path.is_file():
        raise SourceError(f"{table}: source {describe(src)}: cannot open the database: no file {src.path}")
    frame = _sqlite_table(table, src, path, query) if src.database_type == "sqlite" else _duckdb_table(table, src, home, query)
    label = f"{lineage_prefix(table)}{src.database_type}:{Path(src.path).name}:{src.table or 'query'}"
    if "_row" in frame.column_names:
        raise SourceError(f"{table}: source {describe(src)}: a column named _row clashes with leadgraph's lineage; rename it in the query")
    frame = frame.append_column("_row", pa.array(range(1, frame.num_rows + 1), pa.int64()))
    con.register("_db_frame", frame)
    try:
        con.execute(sql("sources/number_database").format(name=name), [label])
    finally:
        con.unregister("_db_frame")


def staged_name(table: str) -> str:
    """The temp table a table's source is read into."""
    return f"_src_{table}"


def stage(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, limit: int | None = None) -> list[str]:
    """Read a table's source (landing/ when none is configured) into TEMP TABLE _src_<table>; the delivered column names."""
    name = staged_name(table)
    src = effective(settings, table)
    home = settings.paths.home
    if src.kind == "files":
        _stage_files(con, table, src, home, limit, name)
    elif src.kind == "database":
        _stage_database(con, table, src, home, limit, name)
    else:
        raise SourceError(f"{table}: source kind {src.kind!r} has nothing to read")
    names = [d[0] for d in con.execute(f"SELECT * FROM {name} LIMIT 0").description]
    return [n for n in names if n not in ("_file", "_row", "_folder_dt")]
