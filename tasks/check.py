"""`leadgraph check`: read every source through its mapping (a sample), and say what ingest would make of it, before any ingest.

Nothing is written: the sources are read into an in-memory DuckDB. A blocking problem (a source that cannot be
read, a required column or table missing, no label outcome at all) makes the command exit non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from leadgraph.config import RAW_TABLES, Settings
from leadgraph.contract import CATEGORY_VOCABULARIES, KEYS, LABEL_OUTCOMES, OFFER_TABLES, OUTCOMES, REFERENCES, REQUIRED_COLUMNS
from leadgraph.sql import sql
from leadgraph.warehouse import init_schema
from tasks import vocabulary
from tasks.ingest_load import quote, read_contract
from tasks.mapping import PRE, Mapping, plan, prepare, type_values
from tasks.sources import SourceError, describe, effective, stage


@dataclass
class TableCheck:
    """What the sample of one table's source says."""

    table: str
    source: str
    rows: int = 0
    sampled: bool = False
    mapping: Mapping | None = None
    first_day: date | None = None
    last_day: date | None = None
    type_problems: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    orphans: dict[str, int] = field(default_factory=dict)
    # Category column -> {value outside its graph vocabulary: rows}.
    unknown_categories: dict[str, dict[str, int]] = field(default_factory=dict)
    blocking: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """Every table's check, in contract order."""

    tables: list[TableCheck]
    sample_rows: int

    @property
    def blocking(self) -> list[str]:
        """Every blocking problem, prefixed by its table."""
        return [f"{t.table}: {b}" for t in self.tables for b in t.blocking]

    def render(self) -> str:
        """The per-table report `leadgraph check` prints."""
        lines = [f"leadgraph check: each source read through its mapping (at most {self.sample_rows:,} rows each); nothing ingested"]
        for t in self.tables:
            lines.append(f"{t.table}  <-  {t.source}")
            if t.mapping is not None:
                m = t.mapping
                days = f"{t.first_day} .. {t.last_day}" if t.first_day else "no dated rows"
                lines.append(f"  rows {t.rows:,}{' (sample limit reached)' if t.sampled else ''}; dates {days}")
                renamed = [f"{c.column}<-{c.source}" if c.source != c.column else c.column for c in m.by_how("mapped")]
                lines.append(f"  columns mapped ({len(renamed)}): {', '.join(renamed)}")
                if m.by_how("defaulted"):
                    lines.append(f"  columns defaulted: {', '.join(f'{c.column}={c.default!r}' for c in m.by_how('defaulted'))}")
                if m.by_how("empty"):
                    lines.append(f"  columns left empty: {', '.join(c.column for c in m.by_how('empty'))}")
                problems = ", ".join(f"{c} {n:,}" for c, n in t.type_problems.items()) or "none"
                orphans = ", ".join(f"{c} {n:,}" for c, n in t.orphans.items()) or "none"
                lines.append(f"  type problems: {problems}; key duplicates: {t.duplicates:,}; orphan references: {orphans}")
            lines.extend(f"  note: {n}" for n in t.notes)
            lines.extend(f"  warning: {w}" for w in t.warnings)
            lines.extend(f"  BLOCKING: {b}" for b in t.blocking)
        verdict = f"{len(self.blocking)} blocking problem(s)" if self.blocking else "no blocking problem: ready to ingest"
        lines.append(f"check: {verdict}")
        return "\n".join(lines)


def _summarise(con: duckdb.DuckDBPyConnection, check: TableCheck, mapped: str) -> None:
    """Rows, date range, cast failures and key duplicates of one mapped sample."""
    m = check.mapping
    filled = [c for c in m.columns if c.how != "empty"]
    failures = ", ".join(
        f"count(*) FILTER ({quote(PRE + c.column)} IS NOT NULL AND {quote(c.column)} IS NULL) AS {quote(c.column)}" for c in filled
    ) or "0 AS none"
    result = con.execute(sql("check/summary").format(mapped=mapped, failures=failures))
    names = [d[0] for d in result.description]
    values = dict(zip(names, result.fetchall()[0]))
    check.rows, check.first_day, check.last_day = values["rows"], values["first_day"], values["last_day"]
    for c in filled:
        if values[c.column]:
            check.type_problems[c.column] = values[c.column]
            origin = f"source column {c.source}" if c.source else "its default"
            check.warnings.append(f"{values[c.column]:,} rows where {c.column} ({origin}) is not a {c.dtype}: ingest keeps them, validation quarantines them")
    empty = {c.column for c in m.by_how("empty")}
    key = [k for k in KEYS[m.table] if k not in empty]
    if key:
        cols = ", ".join(quote(k) for k in key)
        not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key)
        check.duplicates = con.execute(sql("check/duplicates").format(mapped=mapped, key=cols, not_null=not_null)).fetchall()[0][0]
        if check.duplicates:
            check.warnings.append(f"{check.duplicates:,} rows repeat a key ({', '.join(key)}): validation keeps the first")
    for column in REQUIRED_COLUMNS[m.table]:
        if column in empty:
            continue
        missing = con.execute(f"SELECT count(*) FROM {mapped} WHERE {quote(column)} IS NULL AND {quote(PRE + column)} IS NULL").fetchall()[0][0]
        if missing:
            check.warnings.append(f"{missing:,} rows without {column} (required): validation quarantines them")


def _outcomes(con: duckdb.DuckDBPyConnection, check: TableCheck, mapped: str) -> None:
    """Outcome values the contract does not know, and label outcomes that never occur."""
    counts = dict(con.execute(sql("check/value_counts").format(mapped=mapped, column="outcome")).fetchall())
    unknown = {v: n for v, n in counts.items() if v is not None and v not in OUTCOMES}
    if unknown:
        listed = ", ".join(f"{v!r} {n:,}" for v, n in unknown.items())
        check.warnings.append(f"outcome values outside {', '.join(OUTCOMES)}: {listed}; map them with values.outcome or they are quarantined")
    never = [o for o in LABEL_OUTCOMES if o not in counts]
    if len(never) == len(LABEL_OUTCOMES):
        check.blocking.append(f"no label outcome ({', '.join(LABEL_OUTCOMES)}) occurs in outcome: there is nothing to learn from")
    elif never:
        check.warnings.append(f"outcome {', '.join(never)} never occurs: its task has no positives")
    check.notes.append("outcome values: " + ", ".join(f"{v} {n:,}" for v, n in counts.items()))


def _categories(con: duckdb.DuckDBPyConnection, settings: Settings, check: TableCheck, mapped: str) -> None:
    """Values of category columns outside their graph vocabulary (one-hot `other`), counted, with the setting to change."""
    filled = {c.column for c in check.mapping.columns if c.how != "empty"}
    for (table, column), setting in CATEGORY_VOCABULARIES.items():
        if table != check.table or column not in filled:
            continue
        learned = vocabulary.stored(settings)
        known = set(learned[setting] if learned else getattr(settings.graph, setting))
        counts = con.execute(sql("check/value_counts").format(mapped=mapped, column=quote(column))).fetchall()
        unknown = {v: n for v, n in counts if v is not None and v not in known}
        if not unknown:
            continue
        check.unknown_categories[column] = unknown
        listed = ", ".join(f"{v!r} {n:,}" for v, n in list(unknown.items())[:10])
        if settings.graph.learn_vocabularies and learned is None:
            check.notes.append(f"{column}: {len(unknown)} value(s) beyond graph.{setting} ({listed}) get their own "
                               "feature columns: the home's first snapshot learns them")
        else:
            check.warnings.append(
                f"{column}: {len(unknown)} value(s) outside graph.{setting} count as 'other' in the graph features: {listed}; "
                f"list them in graph.{setting} (and delete {vocabulary.FILE_NAME} to re-learn) to give each its own feature"
            )


def _check_table(con: duckdb.DuckDBPyConnection, settings: Settings, table: str, contract: list[tuple[str, str]]) -> TableCheck:
    """Read and map one table's sample; fill in everything but orphans."""
    src = effective(settings, table)
    landing = settings.source(table).kind == "landing"
    check = TableCheck(table, f"landing/{table} (delivery folders)" if landing else describe(src))
    if src.kind == "none":
        check.notes.append("no source: the table stays empty (optional)")
        return check
    if table in OFFER_TABLES and table not in settings.sources and not (settings.paths.landing / table).is_dir():
        check.notes.append("no deliveries under landing/: the table stays empty (optional: offers are not recommended)")
        return check
    limit = settings.check.sample_rows
    try:
        delivered = stage(con, settings, table, limit=limit)
        check.mapping = plan(table, src, delivered, contract)
        prepare(con, check.mapping, delivered)
    except SourceError as err:
        check.blocking.append(str(err).removeprefix(f"{table}: "))
        check.mapping = None
        return check
    check.notes.extend(check.mapping.notes)
    mapped = type_values(con, check.mapping, map_ids=False)
    _summarise(con, check, mapped)
    check.sampled = check.rows >= limit
    _categories(con, settings, check, mapped)
    if table == "sales_events":
        _outcomes(con, check, mapped)
    if check.rows == 0:
        check.warnings.append("the source has no rows")
    return check


def _orphans(con: duckdb.DuckDBPyConnection, checks: dict[str, TableCheck]) -> None:
    """References to keys the referenced table's sample does not have (a sample can miss keys: a hint, not a verdict)."""
    for table, refs in REFERENCES.items():
        check = checks[table]
        if check.mapping is None:
            continue
        empty = {c.column for c in check.mapping.by_how("empty")}
        for column, ref in refs.items():
            if column in empty:
                continue
            ref_check = checks[ref]
            if ref_check.mapping is None:
                n = con.execute(f"SELECT count(*) FROM _mapped_{table} WHERE {quote(column)} IS NOT NULL").fetchall()[0][0]
            else:
                key = quote(KEYS[ref][0])
                n = con.execute(sql("check/orphans").format(mapped=f"_mapped_{table}", column=quote(column), ref_key=key, ref_mapped=f"_mapped_{ref}")).fetchall()[0][0]
            if n:
                check.orphans[column] = n
                check.warnings.append(f"{n:,} rows reference a {ref} key ({column}) that {ref} does not have: validation quarantines them")


def check_sources(settings: Settings) -> CheckReport:
    """Sample every contract table's source through its mapping and report per table; writes nothing."""
    con = duckdb.connect()
    try:
        init_schema(con)
        contract = read_contract(con)
        checks = {t: _check_table(con, settings, t, contract[t]) for t in RAW_TABLES}
        _orphans(con, checks)
    finally:
        con.close()
    for table in ("customers", "sales_events"):
        if checks[table].mapping is not None and checks[table].rows == 0:
            checks[table].blocking.append("a required table has no rows")
    return CheckReport(list(checks.values()), settings.check.sample_rows)
