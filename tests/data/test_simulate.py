"""The simulated world: keys, foreign keys, label prevalence and truth, determinism, defects, and the CLI."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from leadgraph.config import LANDING_FORMAT, RAW_TABLES, ScaleSize, Settings, load_settings
from simulator import defects as catalogue
from simulator.simulate import SimulationError, simulate
from simulator.world_write import SCHEMAS

# A world small enough to simulate three times in a few seconds.
TEST_SIZE = ScaleSize(customers=3_000, companies=450, stations=12, regions=4, pairs=5_400, shipments_per_day=120)
TEST_START, TEST_END = date(2025, 1, 1), date(2025, 4, 10)
TINY_START, TINY_END = date(2025, 1, 1), date(2025, 8, 31)
DUCK_TYPES = {"int64": "BIGINT", "string": "VARCHAR", "double": "DOUBLE", "date32[day]": "DATE",
              "timestamp[s]": "TIMESTAMP"}


def _test_settings(home: Path) -> Settings:
    """Settings with the small test scale registered."""
    settings = load_settings(home)
    settings.simulate.sizes["test"] = TEST_SIZE
    return settings


def _con(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per landing table (typed as the contract says) plus its partition day."""
    con = duckdb.connect()
    for table in RAW_TABLES:
        pattern = f"{settings.paths.landing}/{table}/*/*.{LANDING_FORMAT[table]}"
        if LANDING_FORMAT[table] == "csv":
            cols = ", ".join(f"'{f.name}': '{DUCK_TYPES[str(f.type)]}'" for f in SCHEMAS[table])
            source = f"read_csv('{pattern}', header = true, columns = {{{cols}}}, filename = true)"
        else:
            source = f"read_parquet('{pattern}', filename = true)"
        con.execute(f"CREATE TABLE {table} AS SELECT * EXCLUDE (filename), "
                    f"CAST(regexp_extract(filename, 'dt=([0-9-]+)', 1) AS DATE) AS _dt FROM {source}")
    return con


def _one(con: duckdb.DuckDBPyConnection, query: str):
    """The single value of a query."""
    return con.execute(query).fetchone()[0]


def _digest(home: Path) -> dict[str, str]:
    """sha256 of every file under landing/ and truth/."""
    return {p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("landing", "truth") for p in sorted((home / sub).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_con(tiny_world: Settings) -> duckdb.DuckDBPyConnection:
    """Views over the tiny world's landing files."""
    return _con(tiny_world)


@pytest.fixture(scope="module")
def labelled(tiny_world: Settings, tiny_con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Truth of every anchor whose 90-day window closed inside the history, joined to realised labels and activity."""
    folder = tiny_world.paths.truth / "probabilities"
    return tiny_con.execute(f"""
        WITH truth AS (
            SELECT CAST(regexp_extract(filename, 'as_of=([0-9-]+)', 1) AS DATE) AS anchor, * EXCLUDE (filename)
            FROM read_parquet('{folder}/as_of=*.parquet', filename = true)),
        anchors AS (SELECT DISTINCT anchor FROM truth WHERE anchor + 90 <= DATE '{TINY_END}'),
        daily AS (
            SELECT DISTINCT _dt AS d, c FROM (
                SELECT _dt, sender_customer_id AS c FROM shipments
                UNION ALL SELECT _dt, receiver_customer_id FROM shipments)),
        active AS (
            SELECT DISTINCT a.anchor, d.c FROM anchors a JOIN daily d ON d.d > a.anchor - 90 AND d.d <= a.anchor),
        labels AS (
            SELECT a.anchor, e.customer_id,
                   max(e.outcome = 'high_interest' AND e.event_at < a.anchor + 31) AS y1,
                   max(e.outcome = 'contract_signed') AS y2
            FROM anchors a JOIN sales_events e ON e.event_at >= a.anchor + 1 AND e.event_at < a.anchor + 91
            GROUP BY ALL)
        SELECT t.*, act.c IS NOT NULL AS active,
               CAST(coalesce(l.y1, false) AS INT) AS y1, CAST(coalesce(l.y2, false) AS INT) AS y2
        FROM truth t JOIN anchors USING (anchor)
        LEFT JOIN active act ON act.anchor = t.anchor AND act.c = t.customer_id
        LEFT JOIN labels l ON l.anchor = t.anchor AND l.customer_id = t.customer_id""").df()


def test_keys_are_unique(tiny_con: duckdb.DuckDBPyConnection) -> None:
    for table, key in [("shipments", "shipment_id"), ("sales_events", "event_id")]:
        assert _one(tiny_con, f"SELECT count(*) - count(DISTINCT {key}) FROM {table}") == 0, table
    assert _one(tiny_con, "SELECT count(*) - count(DISTINCT (customer_id, account_id)) FROM customer_accounts") == 0
    for table, key in [("stations", "station_id"), ("companies", "company_id"), ("customers", "customer_id"),
                       ("accounts", "account_id")]:
        # Dimension rows are versions: one per key and change time, and every key's first version is its creation.
        assert _one(tiny_con, f"SELECT count(*) - count(DISTINCT ({key}, updated_at)) FROM {table}") == 0, table
        assert _one(tiny_con, f"SELECT count(*) FROM {table} WHERE CAST(updated_at AS DATE) <> _dt") == 0, table


def test_foreign_keys_resolve_by_their_partition(tiny_con: duckdb.DuckDBPyConnection) -> None:
    # A referenced row is delivered on or before the day of the row that references it.
    checks = [
        ("shipments", "sender_customer_id", "customers", "customer_id"),
        ("shipments", "receiver_customer_id", "customers", "customer_id"),
        ("shipments", "origin_station_id", "stations", "station_id"),
        ("customers", "station_id", "stations", "station_id"),
        ("customers", "company_id", "companies", "company_id"),
        ("customer_accounts", "customer_id", "customers", "customer_id"),
        ("customer_accounts", "account_id", "accounts", "account_id"),
        ("sales_events", "customer_id", "customers", "customer_id"),
    ]
    for table, column, target, key in checks:
        missing = _one(tiny_con, f"""
            SELECT count(*) FROM {table} r WHERE r.{column} IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {target} t WHERE t.{key} = r.{column} AND t._dt <= r._dt)""")
        assert missing == 0, f"{table}.{column} -> {target}"
    late = _one(tiny_con, """
        SELECT count(*) FROM shipments s JOIN customers c ON c.customer_id = s.sender_customer_id
        WHERE c.created_at > s.shipped_at""")
    assert late == 0
    assert _one(tiny_con, "SELECT count(*) FROM shipments WHERE CAST(shipped_at AS DATE) <> _dt") == 0
    assert _one(tiny_con, f"""SELECT count(*) FROM sales_events
                              WHERE CAST(event_at AS DATE) <> _dt AND _dt <> DATE '{TINY_START}'""") == 0


def test_world_has_the_promised_shape(tiny_con: duckdb.DuckDBPyConnection) -> None:
    regions = _one(tiny_con, "SELECT count(DISTINCT region) FROM stations")
    assert 8 <= regions <= 12
    inside = _one(tiny_con, """
        SELECT avg(CAST(a.region = b.region AS INT)) FROM shipments s
        JOIN (SELECT DISTINCT station_id, region FROM stations) a ON a.station_id = s.origin_station_id
        JOIN (SELECT DISTINCT customer_id, station_id FROM customers) c ON c.customer_id = s.receiver_customer_id
        JOIN (SELECT DISTINCT station_id, region FROM stations) b ON b.station_id = c.station_id""")
    assert inside > 0.7
    per_sender = tiny_con.execute("SELECT count(*) AS n FROM shipments GROUP BY sender_customer_id").df()["n"]
    assert per_sender.max() > 20 * per_sender.median()  # heavy-tailed volumes
    siblings = _one(tiny_con, "SELECT max(n) FROM (SELECT count(DISTINCT customer_id) n FROM customers "
                              "WHERE company_id IS NOT NULL GROUP BY company_id)")
    assert siblings >= 5
    shared = tiny_con.execute("""
        SELECT ca.account_id, count(DISTINCT ca.customer_id) AS holders, count(DISTINCT c.company_id) AS companies
        FROM customer_accounts ca JOIN (SELECT DISTINCT customer_id, company_id FROM customers) c USING (customer_id)
        GROUP BY ca.account_id HAVING count(DISTINCT ca.customer_id) > 1""").df()
    assert len(shared) > 100 and (shared["companies"] == 1).all()
    new_per_day = tiny_con.execute(f"""SELECT _dt, count(*) n FROM customers WHERE _dt > DATE '{TINY_START}'
                                       AND created_at >= _dt GROUP BY _dt""").df()
    assert len(new_per_day) == (TINY_END - TINY_START).days
    quiet = _one(tiny_con, f"""SELECT count(*) FROM (SELECT sender_customer_id, max(shipped_at) last FROM shipments
                               GROUP BY 1) WHERE last < DATE '{TINY_END}' - 60""")
    assert quiet > 100
    # Sales reach a fraction of prospects; each high_interest outcome follows a contact of the same customer.
    outcomes = dict(tiny_con.execute("SELECT outcome, count(*) FROM sales_events GROUP BY 1").fetchall())
    assert outcomes["contacted"] > outcomes["high_interest"] > outcomes["contract_signed"] > 0
    unprompted = _one(tiny_con, f"""
        SELECT count(*) FROM sales_events h WHERE h.outcome = 'high_interest' AND h._dt > DATE '{TINY_START}'
        AND NOT EXISTS (SELECT 1 FROM sales_events c WHERE c.customer_id = h.customer_id
                        AND c.outcome = 'contacted' AND c.event_at < h.event_at AND c._dt = h._dt)""")
    assert unprompted == 0


def test_signers_were_high_interest_before_and_stay_customers(tiny_con: duckdb.DuckDBPyConnection) -> None:
    signers = _one(tiny_con, "SELECT count(*) FROM sales_events WHERE outcome = 'contract_signed'")
    unqualified = _one(tiny_con, """
        SELECT count(*) FROM sales_events s WHERE s.outcome = 'contract_signed' AND NOT EXISTS (
            SELECT 1 FROM sales_events h WHERE h.customer_id = s.customer_id AND h.outcome = 'high_interest'
            AND CAST(h.event_at AS DATE) < CAST(s.event_at AS DATE))""")
    assert signers > 0 and unqualified == 0
    assert _one(tiny_con, "SELECT count(*) - count(DISTINCT customer_id) FROM sales_events "
                          "WHERE outcome = 'contract_signed'") == 0
    after = _one(tiny_con, """
        SELECT count(*) FROM sales_events e JOIN sales_events s
          ON s.customer_id = e.customer_id AND s.outcome = 'contract_signed' AND e.event_at > s.event_at""")
    assert after == 0


def test_prevalence_and_truth_agree_with_labels(labelled: pd.DataFrame, tiny_world: Settings) -> None:
    active = labelled[labelled["active"]]
    anchors = active["anchor"].nunique()
    assert anchors >= 10
    # Truth is exact, so its mean has no sampling noise: +-20% around the configured 2% covers only the gap
    # between the calibration population (shipping prospects) and the label population (active in 90 days).
    target = tiny_world.simulate.high_interest_prevalence
    assert 0.8 * target < active["p_high_interest"].mean() < 1.2 * target
    assert 0.8 * target < active["y1"].mean() < 1.2 * target
    assert 0.0002 < active["p_contract"].mean() < 0.001 and active["y2"].mean() < 0.001

    # Calibration on non-overlapping windows: realised counts within 4 Poisson standard deviations of the truth.
    mondays = sorted(labelled["anchor"].unique())
    for days, p, y in [(30, "p_high_interest", "y1"), (90, "p_contract", "y2")]:
        chosen = mondays[:: -(-days // 7)]
        part = labelled[labelled["anchor"].isin(chosen)]
        expected, observed = part[p].sum(), part[y].sum()
        assert abs(observed - expected) <= 4 * np.sqrt(expected) + 1, (y, observed, expected)

    auc1 = roc_auc_score(active["y1"], active["p_high_interest"])
    auc2 = roc_auc_score(active["y2"], active["p_contract"])
    assert 0.7 < auc1 < 0.95 and auc2 > 0.7


def test_truth_covers_mondays_and_only_prospects(tiny_world: Settings, tiny_con: duckdb.DuckDBPyConnection) -> None:
    files = sorted((tiny_world.paths.truth / "probabilities").glob("as_of=*.parquet"))
    days = [date.fromisoformat(p.stem.split("=")[1]) for p in files]
    first_monday = TINY_START + timedelta(days=(7 - TINY_START.weekday()) % 7)
    assert days == [first_monday + timedelta(weeks=i) for i in range(len(days))] and days[-1] > TINY_END - timedelta(7)
    t = days[10]
    truth = pd.read_parquet(files[10])
    assert truth["customer_id"].is_unique
    assert truth[["p_high_interest", "p_contract"]].stack().between(0, 1).all()
    prospects = set(tiny_con.execute(f"""
        SELECT DISTINCT customer_id FROM customers WHERE created_at < DATE '{t}' + 1 AND customer_id NOT IN (
            SELECT customer_id FROM sales_events WHERE outcome = 'contract_signed' AND event_at < DATE '{t}' + 1)
        """).df()["customer_id"])
    assert set(truth["customer_id"]) == prospects


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    runs = {}
    for name, seed in [("a", 11), ("b", 11), ("c", 12)]:
        settings = _test_settings(tmp_path / name)
        simulate(settings, scale="test", start=TEST_START, end=TEST_END, seed=seed, defect_rate=0.0)
        runs[name] = _digest(settings.paths.home)
    assert len(runs["a"]) > 7 * 100 and runs["a"] == runs["b"]
    shipments = [k for k in runs["a"] if k.startswith("landing/shipments/")]
    assert all(runs["a"][k] != runs["c"][k] for k in shipments)


def _read_rows(path: Path) -> list[list[str]] | list[dict]:
    """A landing file's data rows: CSV as raw field lists (physical lines), Parquet as dicts."""
    if path.suffix == ".csv":
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == ""
        return [line.split(",") for line in lines[1:-1]]
    return pq.read_table(path).to_pylist()


def _is_number(text: str) -> bool:
    """Whether a CSV cell parses as a number."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def _is_timestamp(text: str) -> bool:
    """Whether a CSV cell parses as an ISO date or timestamp."""
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        return False


def test_defect_list_matches_what_was_injected(tmp_path: Path) -> None:
    clean = _test_settings(tmp_path / "clean")
    broken = _test_settings(tmp_path / "broken")
    simulate(clean, scale="test", start=TEST_START, end=TEST_END, seed=5, defect_rate=0.0)
    summary = simulate(broken, scale="test", start=TEST_START, end=TEST_END, seed=5, defect_rate=0.01)
    listed = pd.read_parquet(broken.paths.truth / "defects.parquet")
    assert len(listed) == summary.defects > 50
    assert pd.read_parquet(clean.paths.truth / "defects.parquet").empty
    seen = set(listed["defect"])
    assert seen == {k for kinds in catalogue.CATALOGUE.values() for k in kinds}
    assert not set(listed.loc[listed["file"].str.endswith(".parquet"), "defect"]) & catalogue.TEXT_ONLY
    assert _digest(clean.paths.home).keys() == _digest(broken.paths.home).keys()
    assert [p.read_bytes() for p in sorted((clean.paths.truth / "probabilities").iterdir())] == \
        [p.read_bytes() for p in sorted((broken.paths.truth / "probabilities").iterdir())]

    existing = {t: set() for t in ("customers", "stations", "accounts", "companies", "services")}
    for table in existing:
        for path in (clean.paths.landing / table).rglob("*.csv"):
            existing[table] |= {int(r[0]) for r in _read_rows(path)}
    fk_target = {"station_id": "stations", "company_id": "companies", "customer_id": "customers",
                 "account_id": "accounts", "sender_customer_id": "customers",
                 "receiver_customer_id": "customers", "origin_station_id": "stations", "service_id": "services"}

    by_file = {f: g for f, g in listed.groupby("file")}
    for table in RAW_TABLES:
        for clean_path in sorted((clean.paths.landing / table).rglob("part-0.*")):
            rel = clean_path.relative_to(clean.paths.landing).as_posix()
            got = _read_rows(broken.paths.landing / rel)
            want = _read_rows(clean_path)
            rows = by_file.get(rel, listed.iloc[:0])
            header = list(SCHEMAS[table].names)
            defective = {int(r) - 1: r_ for r, r_ in zip(rows["row"], rows.itertuples())}
            copies = {i for i, r in defective.items() if r.defect == "duplicate_key"}
            # Without the listed copies, the file is the clean file with exactly the listed rows changed.
            kept = [i for i in range(len(got)) if i not in copies]
            assert len(kept) == len(want), rel
            for i, original in zip(kept, want):
                if i not in defective:
                    assert got[i] == original, (rel, i + 1)
                else:
                    assert got[i] != original, (rel, i + 1)
            for i, r in defective.items():
                row, col = got[i], r.column
                if r.defect == "duplicate_key":
                    assert row == got[i - 1]
                elif r.defect == "malformed_line":
                    assert len(row) != len(header)
                    continue
                value = row[header.index(col)] if isinstance(row, list) else row[col]
                if r.defect == "null_required":
                    assert value in ("", None)
                elif r.defect == "orphan_fk":
                    assert int(value) not in existing[fk_target[col]]
                elif r.defect == "unparseable_number":
                    assert not _is_number(value)
                elif r.defect == "unparseable_date":
                    assert not _is_timestamp(value)
                elif r.defect == "negative_weight":
                    assert value < 0
                elif r.defect == "future_event":
                    day = date.fromisoformat(rel.split("dt=")[1][:10])
                    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(value)
                    assert stamp.date() >= day + timedelta(days=30)
                elif r.defect == "unknown_category":
                    assert value == catalogue.UNKNOWN[col]
                first = catalogue.KEYS[table][0]
                key = row[header.index(first)] if isinstance(row, list) else row[first]
                if r.defect not in ("null_required", "orphan_fk", "unparseable_number"):
                    assert r.key.split("|")[0] == str(key)


def test_refuses_bad_arguments_and_a_used_home(tmp_path: Path) -> None:
    settings = _test_settings(tmp_path / "home")
    with pytest.raises(SimulationError, match="unknown scale"):
        simulate(settings, scale="huge", start=TEST_START, end=TEST_END, seed=1)
    with pytest.raises(SimulationError, match="before start"):
        simulate(settings, scale="test", start=TEST_END, end=TEST_START, seed=1)
    simulate(settings, scale="test", start=TEST_START, end=TEST_END, seed=1)
    with pytest.raises(SimulationError, match="already holds partitions"):
        simulate(settings, scale="test", start=TEST_START, end=TEST_END, seed=1)


def test_cli_simulate(home: Path) -> None:
    from flows.cli import app

    runner = CliRunner()
    args = ["simulate", "--scale", "tiny", "--start", "2025-01-01", "--end", "2025-04-01", "--seed", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "customers" in result.output and "graph at 2025-04-01" in result.output
    assert (home / "landing" / "shipments" / "dt=2025-04-01" / "part-0.parquet").is_file()
    with (home / "landing" / "customers" / "dt=2025-01-01" / "part-0.csv").open(newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(SCHEMAS["customers"].names)
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already holds partitions" in again.output
