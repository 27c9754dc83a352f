"""Validate the rows ingest loaded as of D: GE suites on pandas batches, set-level checks in SQL, quarantine, Data Docs.

Row-level rule breakers go to meta.quarantine (and so out of the as-of views); table-level failures
raise ValidationFailed after the results are recorded.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date, datetime

import duckdb
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from expectations import common
from expectations.runner import Outcome, SuiteRunner
from expectations.suites import SUITES, spec
from leadgraph.config import RAW_TABLES, Settings, ValidateConfig
from leadgraph.contract import OFFER_TABLES
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from tasks.ingest_load import quote, read_contract
from tasks.validate_report import RuleResult, TableFailure, ValidationFailed, ValidationReport

__all__ = ["ValidationFailed", "ValidationReport", "validate", "validate_task"]


def _flag(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[str, int]], rule: str) -> None:
    """Add rows of one table to the current phase's _flagged set."""
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["_file", "_row"]).astype({"_row": "int64"}).assign(table_name=table, rule=rule)
    con.register("_flag_frame", frame)
    con.execute("INSERT INTO _flagged BY NAME SELECT table_name, _file, _row, rule FROM _flag_frame")
    con.unregister("_flag_frame")


def _quarantine_flagged(con: duckdb.DuckDBPyConnection, contract: dict, as_of: date) -> None:
    """Move every flagged row into meta.quarantine with its key and delivered values, then clear the flags."""
    flagged = {t for (t,) in con.execute("SELECT DISTINCT table_name FROM _flagged").fetchall()}
    for table in sorted(flagged):
        key_cols = ", ".join(f"CAST(r.{quote(c)} AS VARCHAR)" for c in spec(table).key)
        value_cols = ", ".join(f"{quote(c)} := r.{quote(c)}" for c, _ in contract[table])
        con.execute(sql("validate/quarantine_flagged").format(table=table, key_cols=key_cols, value_cols=value_cols), {"d": as_of})
    con.execute("DELETE FROM _flagged")


def _chunks(con: duckdb.DuckDBPyConnection, table: str, limit: int) -> list[list[str]]:
    """The covered files of a table in groups of at most `limit` rows (at least one file each)."""
    groups: list[list[str]] = []
    size = limit
    for rel, rows in con.execute(sql("validate/scope_rows").format(table=table)).fetchall():
        if size + rows > limit:
            groups.append([])
            size = 0
        groups[-1].append(rel)
        size += rows
    return groups


def _merge(table: str, outcomes: list[Outcome], totals: dict[str, RuleResult]) -> None:
    """Sum one batch's outcomes into the run's per-rule results."""
    for o in outcomes:
        r = totals.setdefault(o.rule, RuleResult(table, o.rule, o.level, True, 0, 0, "ok"))
        r.checked += o.checked
        r.failed += o.failed
        if not o.success and r.success:
            r.success, r.detail = False, o.detail


def _nan_as_inf(table: str, cfg: ValidateConfig) -> str:
    """A REPLACE clause turning NaN into +inf in the table's bounded numbers, or nothing."""
    columns = cfg.number_bounds.get(table, {})
    parts = [f"CASE WHEN isnan(r.{c}) THEN CAST('inf' AS DOUBLE) ELSE r.{c} END AS {c}" for c in columns]
    return f"REPLACE ({', '.join(parts)})" if parts else ""


def _row_rules(con: duckdb.DuckDBPyConnection, runner: SuiteRunner, table: str, cfg: ValidateConfig) -> list[RuleResult]:
    """Run a table's suite over its covered rows, batch by batch, flagging rows of quarantining rules."""
    suite = SUITES[table].expectations(cfg)
    totals: dict[str, RuleResult] = {}
    for files in _chunks(con, table, cfg.batch_rows):
        con.register("_chunk_frame", pd.DataFrame({"rel": files}))
        con.execute("CREATE OR REPLACE TEMP TABLE _chunk AS SELECT rel FROM _chunk_frame")
        con.unregister("_chunk_frame")
        frame = con.execute(sql("validate/batch").format(table=table, nan_as_inf=_nan_as_inf(table, cfg)),
                            {"earliest": cfg.earliest_plausible}).df()
        outcomes = runner.run(table, suite, frame)
        for o in outcomes:
            if o.quarantine:
                _flag(con, table, o.rows, o.rule)
        _merge(table, outcomes, totals)
    return list(totals.values())


def _row_counts(con: duckdb.DuckDBPyConnection, runner: SuiteRunner, as_of: date, cfg: ValidateConfig) -> tuple[list[RuleResult], list[TableFailure]]:
    """Each covered partition's row count against its trailing median: one GE batch of counts per threshold."""
    query = sql("validate/partition_counts")
    by_threshold: dict[float, list[str]] = {}
    for t in RAW_TABLES:
        checks = cfg.checks(t)
        if checks.row_count:
            by_threshold.setdefault(checks.min_rows_vs_trailing_median, []).append(t)
    results, failures = [], []
    for threshold, tables in by_threshold.items():
        counts = pd.concat(
            [
                con.execute(query.format(table=t, trailing=cfg.trailing_days, min_median=cfg.row_count_min_median, min_history=cfg.row_count_min_history), {"d": as_of}).df().assign(table=t)
                for t in tables
            ],
            ignore_index=True,
        )
        outcome = runner.run("row_counts", common.row_count_ratio(threshold), counts, ["table", "partition"])[0]
        failing = set(outcome.rows)
        for table, part in counts.groupby("table", sort=False):
            bad = part[[(table, p) in failing for p in part["partition"]]]
            detail = "ok" if bad.empty else outcome.detail
            results.append(RuleResult(table, outcome.rule, outcome.level, bad.empty, len(part), len(bad), detail))
            failures.extend(
                TableFailure(
                    table,
                    outcome.rule,
                    f"partition dt={row.partition} has {row.rows:,} rows, below {threshold:.0%} of the trailing median {row.trailing_median:,.0f}",
                )
                for row in bad.itertuples()
            )
    return results, failures


def _set_rule(con: duckdb.DuckDBPyConnection, table: str, rule: str, covered: int) -> RuleResult:
    """Summarise the rows just flagged under one SQL rule as a result."""
    flagged = con.execute("SELECT count(*) FROM _flagged WHERE table_name = ? AND rule = ?", [table, rule]).fetchall()[0][0]
    return RuleResult(table, rule, "set", flagged == 0, covered, flagged, "ok" if flagged == 0 else f"{flagged:,} rows flagged")


def _examples(con: duckdb.DuckDBPyConnection, table: str, rule: str | None, n: int) -> list[str]:
    """A few quarantined rows as 'file row N [rule] {values}'."""
    rows = con.execute(sql("validate/examples"), {"table": table, "rule": rule, "n": n}).fetchall()
    return [f"{f} row {r} ({q}) {v[:300]}" for f, r, q, v in rows]


def _table_failures(con: duckdb.DuckDBPyConnection, table: str, as_of: date, cfg: ValidateConfig, health: tuple, absent: frozenset[str]) -> list[TableFailure]:
    """Table-level verdicts: missing table (unless it has no source by design), rejected files, staleness, too many bad rows."""
    total, latest, covered, bad = health
    checks = cfg.checks(table)
    failures = []
    if total == 0 and table not in absent:
        failures.append(TableFailure(table, "missing_table", f"no rows delivered for {table} up to {as_of}"))
    for rel, message in con.execute("SELECT rel, message FROM _scope WHERE table_name = ? AND status = 'rejected' ORDER BY rel", [table]).fetchall():
        failures.append(TableFailure(table, "file_rejected", f"{rel}: {message}"))
    if checks.freshness and total and (as_of - latest).days > checks.max_staleness_days:
        failures.append(TableFailure(table, "freshness", f"latest partition dt={latest} is {(as_of - latest).days} days before {as_of} (limit {checks.max_staleness_days})"))
    if covered and bad / covered > cfg.max_bad_row_fraction:
        by_rule = con.execute(sql("validate/bad_by_rule"), {"table": table}).fetchall()
        rules = ", ".join(f"{r} {n:,}" for r, n in by_rule)
        failures.append(
            TableFailure(
                table,
                "bad_row_fraction",
                f"{bad:,} of {covered:,} rows quarantined ({bad / covered:.1%} > {cfg.max_bad_row_fraction:.1%}); by rule: {rules}",
                _examples(con, table, None, cfg.example_rows),
            )
        )
    return failures


def _write_results(con: duckdb.DuckDBPyConnection, as_of: date, results: list[RuleResult], success: bool) -> None:
    """Append the run's rule results and its run row (the watermark of the next run) to meta.validation_results."""
    now = datetime.now()
    run = RuleResult("*", "run", "run", success, len(results), sum(not r.success for r in results), "")
    frame = pd.DataFrame(
        [
            {"as_of": as_of, "table_name": r.table, "rule": r.rule, "level": r.level, "success": r.success,
             "checked": r.checked, "failed": r.failed, "detail": r.detail, "checked_at": now}
            for r in [*results, run]
        ]
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    con.register("_results_frame", frame)
    con.execute("INSERT INTO meta.validation_results BY NAME SELECT * FROM _results_frame")
    con.unregister("_results_frame")


def _uniqueness(con: duckdb.DuckDBPyConnection, as_of: date, covered: dict[str, int]) -> list[RuleResult]:
    """Flag later copies of keys already in the as-of state (SQL, over all partitions up to D)."""
    results = []
    for table in RAW_TABLES:
        columns = spec(table).unique_columns
        cols = ", ".join(quote(c) for c in columns)
        k_cols = ", ".join(f"k.{quote(c)}" for c in columns)
        con.execute(sql("validate/duplicates").format(table=table, cols=cols, k_cols=k_cols), {"d": as_of})
        results.append(_set_rule(con, table, "unique_key", covered[table]))
    return results


def _orphans(con: duckdb.DuckDBPyConnection, as_of: date, covered: dict[str, int]) -> list[RuleResult]:
    """Flag references to keys never delivered up to D (SQL anti-joins against each referenced key set)."""
    referenced = sorted({ref for t in RAW_TABLES for ref in spec(t).references.values()})
    for ref in referenced:
        con.execute(sql("validate/ref_keys").format(ref_table=ref, ref_key=quote(spec(ref).key[0])), {"d": as_of})
    results = []
    for table in RAW_TABLES:
        for column, ref in spec(table).references.items():
            con.execute(sql("validate/orphans").format(table=table, column=quote(column), column_name=column, ref_table=ref))
            results.append(_set_rule(con, table, f"orphan:{column}->{ref}", covered[table]))
    return results


def _time_rules(con: duckdb.DuckDBPyConnection, as_of: date, covered: dict[str, int]) -> list[RuleResult]:
    """Flag rows that break a cross-table rule: no sales outcome or service event before its customer exists,
    no catalogue row changing an offer's category."""
    con.execute(sql("validate/outcome_before_customer"), {"d": as_of})
    con.execute(sql("validate/service_event_before_customer"), {"d": as_of})
    con.execute(sql("validate/service_category_changed"), {"d": as_of})
    return [
        _set_rule(con, "sales_events", "time:outcome_before_customer", covered["sales_events"]),
        _set_rule(con, "service_events", "time:event_before_customer", covered["service_events"]),
        _set_rule(con, "services", "catalogue:category_changed", covered["services"]),
    ]


def _verdicts(con: duckdb.DuckDBPyConnection, as_of: date, cfg: ValidateConfig, report: ValidationReport, absent: frozenset[str]) -> None:
    """Table-level verdicts once every row rule has run; counts of covered and quarantined rows per table."""
    for table in RAW_TABLES:
        health = con.execute(sql("validate/table_health").format(table=table), {"d": as_of}).fetchall()[0]
        report.covered[table], report.quarantined[table] = health[2], health[3]
        failures = _table_failures(con, table, as_of, cfg, health, absent)
        report.failures.extend(failures)
        fraction = health[3] / health[2] if health[2] else 0.0
        report.results.append(RuleResult(table, "bad_row_fraction", "table", fraction <= cfg.max_bad_row_fraction, health[2], health[3], f"{fraction:.2%}"))
        for rule, n in Counter(f.rule for f in failures if f.rule != "bad_row_fraction").items():
            report.results.append(RuleResult(table, rule, "table", False, n, n, "; ".join(f.message for f in failures if f.rule == rule)[:500]))


def _check(con: duckdb.DuckDBPyConnection, runner: SuiteRunner, as_of: date, cfg: ValidateConfig, report: ValidationReport, absent: frozenset[str]) -> None:
    """All phases, in the caller's transaction; each phase quarantines before the next looks at the as-of state."""
    contract = read_contract(con)
    con.execute(sql("validate/scope"), {"d": as_of})
    con.execute(sql("validate/clear_quarantine"))
    con.execute(sql("validate/flagged"))
    for table in RAW_TABLES:
        report.results.extend(_row_rules(con, runner, table, cfg))
    results, failures = _row_counts(con, runner, as_of, cfg)
    report.results.extend(results)
    report.failures.extend(failures)
    _quarantine_flagged(con, contract, as_of)
    covered = {t: con.execute(sql("validate/table_health").format(table=t), {"d": as_of}).fetchall()[0][2] for t in RAW_TABLES}
    report.results.extend(_uniqueness(con, as_of, covered))
    _quarantine_flagged(con, contract, as_of)
    report.results.extend(_orphans(con, as_of, covered))
    _quarantine_flagged(con, contract, as_of)
    report.results.extend(_time_rules(con, as_of, covered))
    _quarantine_flagged(con, contract, as_of)
    _verdicts(con, as_of, cfg, report, absent)
    _write_results(con, as_of, report.results, report.success)


def _validate_in_transaction(settings: Settings, as_of: date, runner: SuiteRunner) -> ValidationReport:
    """Every check of D in one transaction: quarantine and results are written together or not at all."""
    with connect(settings.paths.warehouse) as con:
        initial = con.execute("SELECT count(*) FROM meta.validation_results WHERE rule = 'run' AND success").fetchall()[0][0] == 0
        report = ValidationReport(as_of, initial)
        con.execute(f"SET memory_limit = '{settings.validate_.memory_limit}'")
        con.execute("BEGIN TRANSACTION")
        try:
            absent = frozenset(t for t in RAW_TABLES if settings.source(t).kind == "none" or t in OFFER_TABLES)
            _check(con, runner, as_of, settings.validate_, report, absent)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return report


def validate(settings: Settings, as_of: date) -> ValidationReport:
    """Validate the files loaded since the last successful validation (all of them on a first run) and partition D."""
    started = time.perf_counter()
    docs_dir = settings.paths.reports / as_of.isoformat() / "validation"
    runner = SuiteRunner(docs_dir if settings.validate_.data_docs else None)
    try:
        report = _validate_in_transaction(settings, as_of, runner)
        report.docs = runner.build_docs()
    finally:
        runner.close()
    docs_dir.mkdir(parents=True, exist_ok=True)
    (docs_dir / "summary.html").write_text(report.to_html(), encoding="utf-8")
    (docs_dir / "summary.json").write_text(
        json.dumps({"as_of": str(as_of), "success": report.success, "failures": [f.__dict__ for f in report.failures]}, indent=2), encoding="utf-8"
    )
    report.seconds = time.perf_counter() - started
    if not report.success:
        raise ValidationFailed(report.failure_message())
    return report


@task(name="validate", cache_policy=NONE, task_run_name="validate-{as_of}")
def validate_task(settings: Settings, as_of: date) -> ValidationReport:
    """Prefect task; the flow retries it only for errors that are not a data failure."""
    return validate(settings, as_of)
