"""Load landing partitions up to D into the warehouse's raw tables: idempotent, one transaction, checksummed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from leadgraph.config import LANDING_FORMAT, RAW_TABLES, Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from tasks.ingest_load import LoadGroup, forget, load_csv, load_parquet, read_contract, register_files
from tasks.ingest_mapped import SourceLoad, forget_source, load_source, read_source
from tasks.landing import Fingerprint, LandingFile, UnreadableFile, csv_shape, discover, fingerprint, parquet_shape
from tasks.sources import lineage_prefix

CSV_DELIMITER = ","
LIVE = ("loaded", "skipped_same_checksum")
OTHER_DELIMITERS = (";", "\t", "|")


@dataclass
class FileOutcome:
    """What one run did with one landing file (or, for no_data, with one table's missing partition)."""

    table: str
    dt: date | None
    file: str | None
    status: str
    rows: int = 0
    message: str = ""
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None


@dataclass
class IngestReport:
    """The result of one ingest run, for printing and for the flow."""

    as_of: date
    outcomes: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchanged_files: int = 0
    pending_partitions: int = 0
    seconds: float = 0.0

    def with_status(self, status: str) -> list[FileOutcome]:
        """Outcomes with one status."""
        return [o for o in self.outcomes if o.status == status]

    @property
    def rows_loaded(self) -> int:
        """Data rows inserted by this run."""
        return sum(o.rows for o in self.with_status("loaded"))

    def render(self) -> str:
        """A short human summary: counts per table and every message worth reading."""
        lines = [f"ingest as of {self.as_of}: {self.rows_loaded:,} rows from {len(self.with_status('loaded'))} files in {self.seconds:.1f}s"]
        per_table: dict[str, Counter] = {}
        for o in self.outcomes:
            per_table.setdefault(o.table, Counter())[o.status] += 1
            per_table[o.table]["rows"] += o.rows if o.status == "loaded" else 0
        for table in RAW_TABLES:
            if table in per_table:
                counts = per_table[table]
                statuses = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "rows")
                lines.append(f"  {table:<18} {counts['rows']:>12,} rows  ({statuses})")
        if self.unchanged_files or self.pending_partitions:
            lines.append(
                f"  {self.unchanged_files} earlier files unchanged; {self.pending_partitions} partitions dated after {self.as_of} left for later runs"
            )
        for o in self.outcomes:
            if o.message and o.status != "skipped_same_checksum":
                lines.append(f"  {o.status}: {o.file or o.table}: {o.message}")
        lines.extend(f"  warning: {note}" for note in self.notes)
        return "\n".join(lines)


@dataclass
class _Plan:
    """Decisions for one run: what to load, what to drop, what to log."""

    groups: list[LoadGroup] = field(default_factory=list)
    forget: dict[str, list[str]] = field(default_factory=dict)
    outcomes: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unchanged: int = 0
    pending: int = 0


def _file_state(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict]:
    """Latest logged state per (table, file)."""
    result = con.execute(sql("ingest/file_state"))
    names = [d[0] for d in result.description]
    rows = [dict(zip(names, values)) for values in result.fetchall()]
    return {(r["table_name"], r["file"]): r for r in rows}


def _missing_columns_message(required: list[str], found: tuple[str, ...]) -> str:
    """Name the missing columns; point at the delimiter when the header is one glued-together field."""
    missing = [c for c in required if c not in found]
    message = f"missing required column(s) {', '.join(missing)} (header has {len(found)}: {', '.join(found)[:200]})"
    if len(found) == 1 and any(d in found[0] for d in OTHER_DELIMITERS):
        message += f"; the file does not look '{CSV_DELIMITER}'-delimited"
    return message


def _inspect(f: LandingFile, fp: Fingerprint, required: list[str], outcome: FileOutcome, seen: dict[str, str]) -> tuple | None:
    """Check one new or changed file; returns its load-group key, or None with the outcome filled in."""
    try:
        if f.size == 0:
            raise UnreadableFile("empty file (0 bytes): no header and no rows")
        if f.fmt == "csv":
            shape, source_types = csv_shape(f.path, CSV_DELIMITER), {}
        else:
            shape, _, source_types = parquet_shape(f.path)
    except UnreadableFile as err:
        outcome.status, outcome.message = "rejected", str(err)
        return None
    if any(c not in shape.columns for c in required):
        outcome.status, outcome.message = "rejected", _missing_columns_message(required, shape.columns)
        return None
    extra = [c for c in shape.columns if c not in required]
    notes = [f"unexpected column(s) {', '.join(extra)} ignored"] if extra else []
    if shape.has_data and outcome.sha256 in seen and seen[outcome.sha256] != f.rel:
        outcome.status = "duplicate"
        outcome.message = f"same content (sha256 {outcome.sha256[:12]}) as {seen[outcome.sha256]}: not loaded twice"
        return None
    if shape.has_data:
        seen[outcome.sha256] = f.rel
    encoding = "utf-8"
    if fp.bad_utf8_offset is not None:
        encoding = "latin-1"
        notes.append(
            f"rule encoding: not UTF-8 from byte {fp.bad_utf8_offset} (line {fp.bad_utf8_line}); read as Latin-1 so no byte is lost"
        )
    outcome.status, outcome.message = "loaded", "; ".join(notes)
    return (f.table, f.fmt, shape.columns, encoding, shape.schema_key, tuple(sorted(source_types.items())))


def _plan_table(
    table: str, settings: Settings, as_of: date, required: list[str], state: dict, plan: _Plan
) -> None:
    """Decide, for every partition of one table up to D, whether its files load, skip or get rejected."""
    landing = settings.paths.landing
    fmt = LANDING_FORMAT[table]
    files, problems = discover(landing, table, fmt)
    plan.notes.extend(problems)
    today = date.today()
    present = {f.rel for f in files}
    seen = {row["sha256"]: rel for (t, rel), row in state.items() if t == table and row["status"] in LIVE and rel in present}
    groups: dict[tuple, LoadGroup] = {}
    later = {f.dt for f in files if f.dt > as_of}
    plan.pending += len(later)
    plan.notes.extend(
        f"{table}/dt={day}: partition dated after today ({today}); not loaded" for day in sorted(later) if day > today
    )
    if not any(f.dt == as_of for f in files):
        plan.outcomes.append(FileOutcome(table, as_of, None, "no_data", message=f"no data for {as_of}"))
    for f in files:
        if f.dt > as_of:
            continue
        prev = state.get((table, f.rel))
        if prev is not None and f.dt != as_of and prev["size_bytes"] == f.size and prev["mtime_ns"] == f.mtime_ns:
            plan.unchanged += 1
            continue
        fp = fingerprint(f.path, check_utf8=(fmt == "csv"))
        outcome = FileOutcome(table, f.dt, f.rel, "", size=f.size, mtime_ns=f.mtime_ns, sha256=fp.sha256)
        plan.outcomes.append(outcome)
        if prev is not None and prev["sha256"] == fp.sha256 and prev["status"] in LIVE:
            outcome.status, outcome.message = "skipped_same_checksum", "already loaded with the same checksum"
            continue
        key = _inspect(f, fp, required, outcome, seen)
        if prev is not None and prev["status"] in LIVE:
            plan.forget.setdefault(table, []).append(f.rel)
        if key is None:
            continue
        group = groups.setdefault(key, LoadGroup(table, fmt, key[2], key[3], dict(key[5])))
        group.files.append(f)
    for (t, rel), row in state.items():
        if t == table and row["status"] in LIVE and rel not in present and row["partition_dt"] <= as_of:
            plan.forget.setdefault(table, []).append(rel)
            plan.outcomes.append(FileOutcome(table, row["partition_dt"], rel, "removed", message="file no longer in landing; its rows were removed"))
    for group in groups.values():
        plan.groups.extend(_split_by_size(group, settings.ingest.group_bytes))


def _split_by_size(group: LoadGroup, limit: int) -> list[LoadGroup]:
    """Split a group's files into consecutive runs of at most `limit` bytes (at least one file each)."""
    parts: list[LoadGroup] = []
    size = limit
    for f in group.files:
        if size + f.size > limit:
            parts.append(LoadGroup(group.table, group.fmt, group.columns, group.encoding, group.source_types))
            size = 0
        parts[-1].files.append(f)
        size += f.size
    return parts


def _write_log(con: duckdb.DuckDBPyConnection, outcomes: list[FileOutcome]) -> None:
    """Append one meta.ingest_log row per outcome."""
    if not outcomes:
        return
    now = datetime.now()
    frame = pd.DataFrame(
        {
            "table_name": [o.table for o in outcomes],
            "partition_dt": pd.to_datetime(pd.Series([o.dt for o in outcomes])).dt.date,
            "file": [o.file for o in outcomes],
            "size_bytes": pd.array([o.size for o in outcomes], dtype="Int64"),
            "mtime_ns": pd.array([o.mtime_ns for o in outcomes], dtype="Int64"),
            "sha256": [o.sha256 for o in outcomes],
            "rows": pd.array([o.rows for o in outcomes], dtype="Int64"),
            "status": [o.status for o in outcomes],
            "message": [o.message or None for o in outcomes],
            "loaded_at": [now] * len(outcomes),
        }
    )
    con.register("_log_frame", frame)
    con.execute("INSERT INTO meta.ingest_log BY NAME SELECT * FROM _log_frame")
    con.unregister("_log_frame")


def _execute(con: duckdb.DuckDBPyConnection, plan: _Plan, contract: dict, settings: Settings) -> None:
    """Apply the plan: drop replaced files' rows, bulk-load every group, log; the caller owns the transaction."""
    for table, rels in plan.forget.items():
        forget(con, table, rels)
    groups = plan.groups
    register_files(con, [f for g in groups for f in g.files])
    rows: dict[str, int] = {}
    for group in groups:
        rows.update(_load_group(con, group, contract, settings))
    for o in plan.outcomes:
        if o.status == "loaded":
            o.rows = rows.get(o.file, 0)
            if o.rows == 0:
                o.message = "; ".join(filter(None, [o.message, "header only: no data rows"]))
    _write_log(con, plan.outcomes)


def _read_configured(con: duckdb.DuckDBPyConnection, settings: Settings, contract: dict) -> list[SourceLoad]:
    """Read and map every table whose source is files or a database, before the load transaction."""
    return [
        read_source(con, settings, table, contract[table])
        for table in RAW_TABLES
        if settings.source(table).kind in ("files", "database")
    ]


def _load_configured(con: duckdb.DuckDBPyConnection, settings: Settings, reads: list[SourceLoad], contract: dict, as_of: date, notes: list[str]) -> list[FileOutcome]:
    """Load the configured sources just read (a bad one loads nothing and is logged rejected); empty the tables without one."""
    outcomes = [
        FileOutcome(table, as_of, None, "no_data", message="no source configured: the table stays empty")
        for table in RAW_TABLES
        if settings.source(table).kind == "none"
    ]
    for o in outcomes:
        forget_source(con, o.table)
    for read in reads:
        notes.extend(read.notes)
        if read.error:
            outcomes.append(FileOutcome(read.table, as_of, f"{lineage_prefix(read.table)}{read.label}", "rejected", message=read.error))
            continue
        load_source(con, read, contract[read.table], as_of)
        outcomes.extend(FileOutcome(read.table, as_of, rel, "loaded", rows) for rel, rows in read.rows.items())
    return outcomes


def _load_group(con: duckdb.DuckDBPyConnection, group: LoadGroup, contract: dict, settings: Settings) -> dict[str, int]:
    """Bulk-load one group into its raw table; rows per file."""
    if group.fmt == "csv":
        return load_csv(con, group, contract[group.table], settings.ingest.max_line_bytes)
    load_parquet(con, group, contract[group.table])
    return {f.rel: parquet_shape(f.path)[1] for f in group.files}


def _set_aside_undecodable(con: duckdb.DuckDBPyConnection, plan: _Plan, contract: dict, settings: Settings) -> bool:
    """Load each planned file alone (rolled back) to find those that cannot be decoded; reject them by name."""
    bad: dict[str, str] = {}
    for group in plan.groups:
        for f in group.files:
            con.execute("BEGIN TRANSACTION")
            try:
                register_files(con, [f])
                _load_group(con, LoadGroup(group.table, group.fmt, group.columns, group.encoding, group.source_types, [f]),
                            contract, settings)
            except duckdb.Error as err:
                bad[f.rel] = " ".join(f"{type(err).__name__}: {err}".split()).replace(str(f.path), f.rel)[:500]
            finally:
                con.execute("ROLLBACK")
    if not bad:
        return False
    for group in plan.groups:
        group.files = [f for f in group.files if f.rel not in bad]
    plan.groups = [g for g in plan.groups if g.files]
    for o in plan.outcomes:
        if o.file in bad:
            o.status, o.message = "rejected", f"cannot be decoded, the day's other files loaded without it ({bad[o.file]})"
    return True


def _commit(con: duckdb.DuckDBPyConnection, plan: _Plan, contract: dict, settings: Settings, log_failure: bool,
            also: Callable[[], None]) -> None:
    """Apply the plan and `also` in one transaction; on any error roll it all back (and log the attempt as failed if asked)."""
    con.execute("BEGIN TRANSACTION")
    try:
        _execute(con, plan, contract, settings)
        also()
        con.execute("COMMIT")
    except BaseException as err:
        con.execute("ROLLBACK")
        if log_failure or not isinstance(err, Exception):
            _fail(con, plan, err)
        raise


def _fail(con: duckdb.DuckDBPyConnection, plan: _Plan, err: BaseException) -> None:
    """Log every file the rolled-back attempt meant to load as failed, with the error."""
    failed = [
        FileOutcome(o.table, o.dt, o.file, "failed", message=f"{type(err).__name__}: {err}"[:2000], size=o.size, mtime_ns=o.mtime_ns, sha256=o.sha256)
        for o in plan.outcomes
        if o.status == "loaded"
    ]
    _write_log(con, failed)


def ingest(settings: Settings, as_of: date) -> IngestReport:
    """Load every landing partition dated up to D that is new or changed, in one transaction.

    When DuckDB fails to read the files, each file is tried alone; files that cannot be decoded are rejected by
    name and the rest load in a second transaction.
    """
    started = time.perf_counter()
    with connect(settings.paths.warehouse) as con:
        con.execute(f"SET memory_limit = '{settings.ingest.memory_limit}'")
        contract = read_contract(con)
        state = _file_state(con)
        plan = _Plan()
        for table in RAW_TABLES:
            if settings.source(table).kind == "landing":
                _plan_table(table, settings, as_of, [c for c, _ in contract[table]], state, plan)
        reads = _read_configured(con, settings, contract)
        configured: list[FileOutcome] = []
        configured_notes: list[str] = []

        def load_configured() -> None:
            notes: list[str] = []
            configured[:] = _load_configured(con, settings, reads, contract, as_of, notes)
            _write_log(con, configured)
            configured_notes[:] = notes

        try:
            _commit(con, plan, contract, settings, log_failure=False, also=load_configured)
        except Exception as err:
            # A file that cannot be decoded must not take the day's good files down with it.
            if not isinstance(err, duckdb.Error) or not _set_aside_undecodable(con, plan, contract, settings):
                _fail(con, plan, err)
                raise
            _commit(con, plan, contract, settings, log_failure=True, also=load_configured)
        plan.outcomes.extend(configured)
        plan.notes.extend(configured_notes)
    return IngestReport(as_of, plan.outcomes, plan.notes, plan.unchanged, plan.pending, time.perf_counter() - started)


@task(name="ingest", cache_policy=NONE, task_run_name="ingest-{as_of}")
def ingest_task(settings: Settings, as_of: date) -> IngestReport:
    """Prefect task; ingest is idempotent (one transaction, checksums), so the flow lets it retry."""
    return ingest(settings, as_of)
