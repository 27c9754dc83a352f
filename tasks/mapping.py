"""Map a staged source (_src) onto a raw contract table: renames, constant defaults, value recodes, date formats, text ids, casts."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from leadgraph.config import SourceConfig
from leadgraph.contract import ID_DOMAINS, OPTIONAL_COLUMN_COST, REQUIRED_COLUMNS, TIME_COLUMN
from leadgraph.sql import sql
from tasks.ingest_load import quote
from tasks.sources import SourceError, describe, staged_name

PRE = "_in_"


@dataclass(frozen=True)
class ColumnMap:
    """How one contract column is filled: from a source column, from a constant, or left empty."""

    column: str
    dtype: str
    source: str | None = None
    default: object = None
    how: str = "mapped"  # mapped | defaulted | empty


@dataclass
class Mapping:
    """A table's column plan against one staged source, with what is worth telling the user."""

    table: str
    src: SourceConfig
    columns: list[ColumnMap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_how(self, how: str) -> list[ColumnMap]:
        """Columns filled one way."""
        return [c for c in self.columns if c.how == how]

    @property
    def date_column(self) -> str:
        """The contract column that dates each row under partition = column."""
        return self.src.date_column or TIME_COLUMN[self.table]


def _literal(value: object) -> str:
    """A constant default as a SQL literal."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def plan(table: str, src: SourceConfig, delivered: list[str], contract: list[tuple[str, str]]) -> Mapping:
    """Match every contract column to a source column or default; a required or explicitly named column that is missing is an error."""
    mapping = Mapping(table, src)
    names = {c for c, _ in contract}
    unknown = sorted((set(src.columns) | set(src.defaults) | set(src.values) | set(src.date_formats)) - names)
    if unknown:
        raise SourceError(f"{table}: source {describe(src)}: {', '.join(unknown)} not column(s) of the {table} contract ({', '.join(sorted(names))})")
    used = set()
    for column, dtype in contract:
        if column in src.defaults:
            mapping.columns.append(ColumnMap(column, dtype, default=src.defaults[column], how="defaulted"))
            continue
        source = src.columns.get(column, column)
        if source in delivered:
            used.add(source)
            mapping.columns.append(ColumnMap(column, dtype, source=source))
        elif column in src.columns or column in REQUIRED_COLUMNS[table]:
            raise SourceError(
                f"{table}: source {describe(src)}: column {source!r} (for contract column {column}) not found; "
                f"the source has: {', '.join(delivered)[:400]}"
            )
        else:
            mapping.columns.append(ColumnMap(column, dtype, how="empty"))
            cost = OPTIONAL_COLUMN_COST.get((table, column), "nothing the models use")
            mapping.notes.append(f"{column}: not in the source, left empty ({cost})")
    ignored = [c for c in delivered if c not in used]
    if ignored:
        mapping.notes.append(f"source column(s) not mapped, ignored: {', '.join(ignored)}")
    if src.partition == "column" and not any(c.column == mapping.date_column and c.how == "mapped" for c in mapping.columns):
        raise SourceError(f"{table}: source {describe(src)}: partition by column needs {mapping.date_column} from the source")
    return mapping


def _pre(c: ColumnMap, src: SourceConfig) -> str:
    """The delivered value of a contract column after renaming, defaulting and recoding, before the cast."""
    if c.how == "defaulted":
        return _literal(c.default)
    if c.how == "empty":
        return "NULL"
    expr = quote(c.source or c.column)
    recode = src.values.get(c.column)
    if recode:
        text = f"CAST({expr} AS VARCHAR)"
        whens = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in recode.items())
        expr = f"CASE {text} {whens} ELSE {text} END"
    return expr


def id_domain(table: str, column: str, src: SourceConfig) -> str | None:
    """The entity whose surrogate-key map a column goes through, when the source's ids are text."""
    return ID_DOMAINS.get((table, column)) if src.string_ids else None


def _typed(table: str, c: ColumnMap, src: SourceConfig, map_ids: bool) -> str:
    """The contract-typed value of a column from its pre-cast value; NULL where the cast fails."""
    pre = quote(PRE + c.column)
    domain = id_domain(table, c.column, src)
    if domain:
        if not map_ids:
            return f"CAST({pre} AS VARCHAR)"
        return f"(SELECT m.id FROM meta.id_map m WHERE m.domain = '{domain}' AND m.original = CAST({pre} AS VARCHAR))"
    if c.column in src.date_formats:
        fmt = _literal(src.date_formats[c.column])
        return f"CAST(TRY_STRPTIME(CAST({pre} AS VARCHAR), {fmt}) AS {c.dtype})"
    if c.dtype == "VARCHAR":
        return f"CAST({pre} AS VARCHAR)"
    return f"TRY_CAST({pre} AS {c.dtype})"


def _check_formats(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """A date format DuckDB cannot parse is the user's mistake: say so before anything is loaded."""
    for column, fmt in mapping.src.date_formats.items():
        try:
            con.execute("SELECT TRY_STRPTIME('2000-01-01', ?)", [fmt]).fetchall()
        except duckdb.Error as err:
            raise SourceError(f"{mapping.table}: source {describe(mapping.src)}: date format {fmt!r} of {column} is not valid ({err})") from err


def prepare(con: duckdb.DuckDBPyConnection, mapping: Mapping, delivered: list[str]) -> None:
    """TEMP TABLE _pre_<table>: each contract column's delivered value (`_in_<column>`), lineage and the row as delivered."""
    _check_formats(con, mapping)
    pre = ", ".join(f"{_pre(c, mapping.src)} AS {quote(PRE + c.column)}" for c in mapping.columns)
    raw = ", ".join(f"{quote(name)} := {quote(name)}" for name in delivered) or "none := NULL"
    con.execute(sql("sources/pre_values").format(name=f"_pre_{mapping.table}", pre=pre, raw=raw, src=staged_name(mapping.table)))


def extend_id_map(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """Give every text id not yet in meta.id_map the next surrogate key of its entity (in text order, never reused)."""
    for c in mapping.columns:
        domain = id_domain(mapping.table, c.column, mapping.src)
        if domain and c.how != "empty":
            con.execute(sql("sources/extend_id_map").format(column=quote(PRE + c.column), pre_table=f"_pre_{mapping.table}"), {"domain": domain})


def type_values(con: duckdb.DuckDBPyConnection, mapping: Mapping, map_ids: bool) -> str:
    """TEMP TABLE _mapped_<table>: contract-typed columns beside the delivered ones, and `_dt_row`; its name."""
    name = f"_mapped_{mapping.table}"
    typed = ", ".join(f"{_typed(mapping.table, c, mapping.src, map_ids)} AS {quote(c.column)}" for c in mapping.columns)
    dt = "_folder_dt" if mapping.src.partition == "folders" else f"CAST({quote(mapping.date_column)} AS DATE)"
    con.execute(sql("sources/typed_values").format(name=name, typed=typed, dt=dt, pre_table=f"_pre_{mapping.table}"))
    return name


def drop_temp(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop a table's staging temp tables."""
    for name in (staged_name(table), f"_pre_{table}", f"_mapped_{table}"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def cast_failures(mapping: Mapping) -> dict[str, str]:
    """SQL pieces naming, per row of _mapped, the columns whose delivered value did not cast (table, source and column named)."""
    label = describe(mapping.src)
    tests = {
        c.column: f"({quote(PRE + c.column)} IS NOT NULL AND {quote(c.column)} IS NULL)"
        for c in mapping.columns
        if c.how != "empty"
    }
    names = {c.column: (f"{c.column} (source column {c.source})" if c.source else f"{c.column} (default)") for c in mapping.columns}
    failed = ", ".join(f"CASE WHEN {t} THEN {_literal(names[col])} END" for col, t in tests.items())
    return {
        "failed_list": failed or "NULL",
        "any_failed": " OR ".join(tests.values()) or "FALSE",
        "source": _literal(f"{mapping.table} from {label}"),
    }
