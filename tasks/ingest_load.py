"""The SQL side of ingest: bulk-read groups of landing files into the raw tables, inside the caller's transaction."""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from leadgraph.sql import sql
from tasks.landing import LandingFile

# Stands in for a line whose quote runs past its end: no delimiter, so the reader rejects it alone.
QUOTE_BREAK_MARK = b"<line with a quote that runs past its end>"
# Arrow types whose values always cast to a contract type; any other delivered type is checked row by row,
# so a value that does not cast (text, an int64 in a timestamp column) is kept as delivered, not lost.
SAFE_ARROW_TYPES: dict[str, tuple[str, ...]] = {
    "TIMESTAMP": ("timestamp", "date32", "date64"),
    "DATE": ("date32", "date64", "timestamp"),
    "DOUBLE": ("double", "float", "halffloat", "int", "uint", "decimal"),
    "BIGINT": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"),
    "INTEGER": ("int8", "int16", "int32", "uint8", "uint16"),
    "BOOLEAN": ("bool",),
}


@dataclass
class LoadGroup:
    """Files of one table read by one statement: same format, same columns, same encoding."""

    table: str
    fmt: str
    columns: tuple[str, ...]
    encoding: str = "utf-8"
    source_types: dict[str, str] = field(default_factory=dict)
    files: list[LandingFile] = field(default_factory=list)


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def read_contract(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """Delivered columns and DuckDB types of every raw table, in contract order."""
    contract: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in con.execute(sql("ingest/contract")).fetchall():
        contract.setdefault(table, []).append((column, dtype))
    return contract


def _typed(contract: list[tuple[str, str]], always_cast: bool) -> str:
    """Select-list casting every delivered column to its contract type; what fails becomes NULL."""
    parts = []
    for name, dtype in contract:
        if dtype == "VARCHAR" and not always_cast:
            parts.append(quote(name))
        else:
            parts.append(f"TRY_CAST({quote(name)} AS {dtype}) AS {quote(name)}")
    return ", ".join(parts)


def _failure_sql(columns: list[tuple[str, str]], delivered: tuple[str, ...]) -> dict[str, str]:
    """Template pieces that find and describe rows where a non-NULL value did not cast."""
    tests = {name: f"({quote(name)} IS NOT NULL AND TRY_CAST({quote(name)} AS {dtype}) IS NULL)" for name, dtype in columns}
    return {
        "failed_list": ", ".join(f"CASE WHEN {test} THEN '{name}' END" for name, test in tests.items()),
        "any_failed": " OR ".join(tests.values()),
        "text_columns": ", ".join(f"{quote(name)} := {quote(name)}" for name in delivered),
    }


def register_files(con: duckdb.DuckDBPyConnection, files: list[LandingFile]) -> None:
    """The temp table _files mapping each path as the readers report it to its partition and relative name."""
    frame = pd.DataFrame(
        {"path": [str(f.path) for f in files], "rel": [f.rel for f in files], "dt": [f.dt for f in files]}
    )
    con.register("_files_frame", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE _files AS SELECT path, rel, CAST(dt AS DATE) AS dt FROM _files_frame")
    con.unregister("_files_frame")


def forget(con: duckdb.DuckDBPyConnection, table: str, rels: list[str]) -> None:
    """Delete a table's rows, rejects and quarantine entries that came from the given files."""
    if not rels:
        return
    con.register("_replaced_frame", pd.DataFrame({"rel": rels}))
    con.execute("CREATE OR REPLACE TEMP TABLE _replaced AS SELECT rel FROM _replaced_frame")
    con.unregister("_replaced_frame")
    con.execute(sql("ingest/forget_files").format(table=table))


def quote_breaks(path: Path, width: int, encoding: str) -> dict[int, bytes]:
    """Lines (1-based) whose quote runs past the line end without closing a record of `width` fields, with their bytes.

    A quoted field may span lines when its record then has the header's width; any other open quote would
    swallow the lines after it into one field, so each such line is rejected on its own instead.
    """
    with path.open("rb") as handle:
        odd = [number for number, line in enumerate(handle, 1) if line.count(b'"') % 2]
    if not odd:
        return {}
    lines = path.read_bytes().split(b"\n")
    broken: dict[int, bytes] = {}
    i = 0
    while i < len(odd):
        start = odd[i]
        if i + 1 < len(odd):
            record = b"\n".join(lines[start - 1:odd[i + 1]]).decode(encoding, errors="replace")
            if len(next(csv.reader(io.StringIO(record)), [])) == width:
                i += 2
                continue
        broken[start] = lines[start - 1].rstrip(b"\r")
        i += 1
    return broken


def _without_quote_breaks(con: duckdb.DuckDBPyConnection, f: LandingFile, broken: dict[int, bytes], folder: Path) -> Path:
    """A copy of `f` whose broken lines are replaced by a line the reader rejects on its own, mapped to `f`'s name."""
    copy = folder / f"{len(list(folder.iterdir()))}.csv"
    with f.path.open("rb") as source, copy.open("wb") as target:
        for number, line in enumerate(source, 1):
            target.write(QUOTE_BREAK_MARK + b"\n" if number in broken else line)
    con.execute("INSERT INTO _files VALUES (?, ?, ?)", [str(copy), f.rel, f.dt])
    return copy


def load_csv(con: duckdb.DuckDBPyConnection, group: LoadGroup, contract: list[tuple[str, str]], max_line: int) -> tuple[dict[str, int], dict[str, str]]:
    """Read a CSV group as text, number rows, insert typed rows and keep every line that failed.

    Returns rows per file and, per file with quotes running past a line end, a warning naming those lines.
    """
    con.execute("DROP TABLE IF EXISTS _rejects")
    con.execute("DROP TABLE IF EXISTS _reject_scans")
    columns = "{" + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for c in group.columns) + "}"
    stage = sql("ingest/stage_csv").format(columns=columns, encoding=group.encoding, max_line_size=max_line)
    broken = {f.rel: quote_breaks(f.path, len(group.columns), group.encoding) for f in group.files}
    warnings = {rel: f"rule quote: {len(lines)} line(s) open a quote that runs past the line end, each rejected on its own: "
                     f"line {', '.join(map(str, list(lines)[:20]))}" for rel, lines in broken.items() if lines}
    with tempfile.TemporaryDirectory(prefix="leadgraph-quotes-") as folder:
        paths = [str(_without_quote_breaks(con, f, broken[f.rel], Path(folder)) if broken[f.rel] else f.path) for f in group.files]
        con.execute(stage, [paths])
    con.execute(sql("ingest/csv_bad_lines"))
    for f in group.files:
        for number, line in broken[f.rel].items():
            con.execute(sql("ingest/mark_broken_quote"), [line.decode(group.encoding, errors="replace"), number - 1, f.rel])
    malformed = con.execute("SELECT count(*) FROM _bad").fetchall()[0][0]
    con.execute(sql("ingest/number_csv_with_gaps" if malformed else "ingest/number_csv"))
    con.execute(sql("ingest/insert_csv").format(table=group.table, typed=_typed(contract, always_cast=False)))
    castable = [(name, dtype) for name, dtype in contract if dtype != "VARCHAR"]
    if castable:
        pieces = _failure_sql(castable, tuple(name for name, _ in contract))
        con.execute(sql("ingest/csv_cast_failures").format(table=group.table, **pieces))
    counts = con.execute(sql("ingest/csv_counts")).fetchall()
    for name in ("_stg", "_num", "_bad"):
        con.execute(f"DROP TABLE {name}")
    return dict(counts), warnings


def load_parquet(con: duckdb.DuckDBPyConnection, group: LoadGroup, contract: list[tuple[str, str]]) -> None:
    """Insert a Parquet group with its types cast to the contract; keep rows whose strings did not cast."""
    paths = [[str(f.path) for f in group.files]]
    con.execute(sql("ingest/insert_parquet").format(table=group.table, typed=_typed(contract, always_cast=True)), paths)
    risky = [
        (name, dtype)
        for name, dtype in contract
        if dtype != "VARCHAR" and not group.source_types.get(name, "null").startswith(SAFE_ARROW_TYPES.get(dtype, ("null",)))
    ]
    if risky:
        pieces = _failure_sql(risky, tuple(name for name, _ in contract))
        con.execute(sql("ingest/parquet_cast_failures").format(table=group.table, **pieces), paths)
