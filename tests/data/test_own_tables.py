"""A company's own tables: the worked example (files and SQLite) through check, ingest and validate, and each bad input."""

from __future__ import annotations

import copy
from collections import Counter
import hashlib
import shutil
import tomllib
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadgraph.config import Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from tasks.check import check_sources
from tasks.ingest import ingest
from tasks.publish import publish
from tasks.validate import ValidationFailed, validate
from tests import own_data
from tests.data.builders import small_world

EXAMPLE = Path(__file__).resolve().parent.parent / "own_tables"
AS_OF = date(2025, 8, 31)


def _mapping(name: str) -> dict:
    """A worked example's mapping file, parsed."""
    return tomllib.loads((EXAMPLE / name).read_text(encoding="utf-8"))


def _settings(home: Path, mapping: dict) -> Settings:
    """Settings of a home folder with a mapping's sections."""
    return Settings.model_validate({"paths": {"home": home}, **mapping})


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def crm_world() -> own_data.CrmWorld:
    """The example world, smaller than the README's (the data path is under test here, not the models)."""
    return own_data.build(leads=120)


@pytest.fixture(scope="module")
def crm_files(crm_world: own_data.CrmWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's exports, written once; tests copy them into their own home."""
    return own_data.write_files(tmp_path_factory.mktemp("crm_files"), crm_world)


@pytest.fixture
def crm_home(crm_files: Path, tmp_path: Path) -> Path:
    """A private home holding the example's exports."""
    home = tmp_path / "home"
    shutil.copytree(crm_files, home)
    return home


def _counts(settings: Settings) -> dict[str, int]:
    with connect(settings.paths.warehouse) as con:
        return {t: con.execute(f"SELECT count(*) FROM raw.{t}").fetchall()[0][0] for t in ("stations", "customers", "shipments", "sales_events", "companies")}


def test_check_reports_the_worked_example(crm_home: Path, crm_world: own_data.CrmWorld) -> None:
    report = check_sources(_settings(crm_home, _mapping("leadgraph.toml")))
    assert report.blocking == []
    tables = {t.table: t for t in report.tables}
    customers = tables["customers"]
    assert customers.rows == len(crm_world.leads)
    assert [c.column for c in customers.mapping.by_how("defaulted")] == ["customer_type"]
    assert [c.column for c in customers.mapping.by_how("empty")] == ["company_id"]
    assert tables["shipments"].rows == len(crm_world.consignments)
    assert tables["shipments"].first_day == date(2025, 1, 1) and tables["shipments"].last_day == AS_OF
    assert tables["companies"].mapping is None and "optional" in tables["companies"].notes[0]
    segments = Counter(r["segment"] for r in crm_world.leads)
    assert customers.unknown_categories == {"industry": {"robotics": segments["robotics"], "wine": segments["wine"]}}
    text = report.render()
    assert "customer_id<-lead_ref" in text and "check: no blocking problem" in text
    assert "industry: 2 value(s) beyond graph.industries (" in text and "the home's first snapshot learns them" in text
    assert not (crm_home / "warehouse.duckdb").exists()


def test_worked_example_ingests_validates_and_reloads_the_same(crm_home: Path, crm_world: own_data.CrmWorld) -> None:
    before = _digests(crm_home)
    settings = _settings(crm_home, _mapping("leadgraph.toml"))
    ingest(settings, AS_OF)
    report = validate(settings, AS_OF)
    assert report.success and sum(report.quarantined.values()) == 0
    counts = _counts(settings)
    assert counts == {"stations": 6, "customers": len(crm_world.leads), "shipments": len(crm_world.consignments),
                      "sales_events": len(crm_world.activities), "companies": 0}
    with connect(settings.paths.warehouse) as con:
        ids = dict(con.execute("SELECT original, id FROM meta.id_map WHERE domain = 'customer'").fetchall())
        outcomes = dict(con.execute("SELECT outcome, count(*) FROM raw.sales_events GROUP BY ALL").fetchall())
        lead = crm_world.leads[0]
        row = con.execute("SELECT name, customer_type, created_at FROM raw.customers WHERE customer_id = ?", [ids[lead["lead_ref"]]]).fetchall()[0]
    assert set(ids) == {r["lead_ref"] for r in crm_world.leads}
    assert sorted(ids.values()) == list(range(1, len(ids) + 1))
    assert set(outcomes) == {"contacted", "high_interest", "contract_signed"}
    assert row[0] == lead["company_name"] and row[1] == "business" and row[2].strftime(own_data.STAMP) == lead["first_contact"]
    # A second run re-reads the sources and replaces their rows: same counts, same surrogate keys, raw files untouched.
    ingest(settings, AS_OF)
    assert _counts(settings) == counts
    with connect(settings.paths.warehouse) as con:
        assert dict(con.execute("SELECT original, id FROM meta.id_map WHERE domain = 'customer'").fetchall()) == ids
    after = _digests(crm_home)
    assert {k: after.get(k) for k in before} == before


def test_rows_dated_after_d_wait_for_a_later_run(crm_home: Path, crm_world: own_data.CrmWorld) -> None:
    settings = _settings(crm_home, _mapping("leadgraph.toml"))
    early = date(2025, 5, 31)
    ingest(settings, early)
    with connect(settings.paths.warehouse) as con:
        latest = con.execute("SELECT max(_dt), max(event_at) FROM raw.sales_events").fetchall()[0]
    assert latest[0] <= early and latest[1].date() <= early
    assert _counts(settings)["shipments"] == sum(r["booked_at"].date() <= early for r in crm_world.consignments)


def test_the_sqlite_example_maps_the_same_world(crm_world: own_data.CrmWorld, tmp_path: Path) -> None:
    home = tmp_path / "home"
    own_data.write_sqlite(home / "crm.sqlite", crm_world)
    settings = _settings(home, _mapping("sqlite.toml"))
    assert check_sources(settings).blocking == []
    ingest(settings, AS_OF)
    assert validate(settings, AS_OF).success
    assert _counts(settings) == {"stations": 6, "customers": len(crm_world.leads), "shipments": len(crm_world.consignments),
                                 "sales_events": len(crm_world.activities), "companies": 0}
    with connect(settings.paths.warehouse) as con:
        lineage = con.execute("SELECT DISTINCT _file FROM raw.customers").fetchall()
    assert lineage == [("source:customers/sqlite:crm.sqlite:leads",)]


@pytest.fixture(scope="module")
def loaded_home(crm_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example ingested and validated as of D once; tests copy the whole home."""
    home = tmp_path_factory.mktemp("crm_loaded") / "home"
    shutil.copytree(crm_files, home)
    settings = _settings(home, {**_mapping("leadgraph.toml"), "validate": {"data_docs": False}})
    ingest(settings, AS_OF)
    validate(settings, AS_OF)
    return home


def _loaded_then(loaded_home: Path, tmp_path: Path, change) -> tuple[Settings, dict[str, int], Settings]:
    """A copy of the loaded example and the same home with a changed mapping: both settings and the counts before."""
    home = tmp_path / "home"
    shutil.copytree(loaded_home, home)
    good = _settings(home, _mapping("leadgraph.toml"))
    mapping = copy.deepcopy(_mapping("leadgraph.toml"))
    change(mapping)
    mapping["validate"] = {"data_docs": False}
    return good, _counts(good), _settings(home, mapping)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["sources"]["customers"].update(path="crm/leads_2026.csv"), "customers: source files crm/leads_2026.csv: no file matches crm/leads_2026.csv"),
        (lambda m: m["sources"]["customers"]["columns"].update(industry="sector"),
         "customers: source files crm/leads.csv: column 'sector' (for contract column industry) not found"),
        (lambda m: m["sources"].update(sales_events={"kind": "database", "database_type": "sqlite", "path": "crm/activities.csv", "table": "activities"}),
         "sales_events: source sqlite crm/activities.csv table activities: cannot read the SQLite database (file is not a database)"),
        (lambda m: m["sources"].update(sales_events={"kind": "database", "database_type": "duckdb", "path": "crm/missing.duckdb", "table": "activities"}),
         "sales_events: source duckdb crm/missing.duckdb table activities: cannot open the database: no file crm/missing.duckdb"),
    ],
    ids=["missing-file", "missing-column", "not-a-database", "no-database-file"],
)
def test_a_source_that_cannot_be_read_blocks_and_loses_nothing(loaded_home: Path, tmp_path: Path, change, expected: str) -> None:
    good, counts, bad = _loaded_then(loaded_home, tmp_path, change)
    report = check_sources(bad)
    assert any(expected in b for b in report.blocking), report.blocking
    loaded = ingest(bad, AS_OF)
    rejected = loaded.with_status("rejected")
    assert len(rejected) == 1 and rejected[0].message.startswith(expected)
    # The table keeps what its source delivered before; nothing else changed either.
    assert _counts(good) == counts


def test_a_rejected_source_stops_the_run_at_validation(loaded_home: Path, tmp_path: Path) -> None:
    good, counts, bad = _loaded_then(loaded_home, tmp_path, lambda m: m["sources"]["customers"].update(path="crm/leads_2026.csv"))
    ingest(bad, AS_OF)
    with pytest.raises(ValidationFailed) as failure:
        validate(bad, AS_OF)
    assert "customers: rule file_rejected: source:customers/files crm/leads_2026.csv: customers: source files crm/leads_2026.csv: no file matches" in str(failure.value)
    assert _counts(good) == counts


def test_a_cast_failing_on_some_rows_quarantines_them_naming_table_source_and_column(crm_home: Path) -> None:
    path = crm_home / "shipping" / "consignments" / "dt=2025-08-30" / "part-0.parquet"
    table = pq.read_table(path)
    kg = [str(v) for v in table.column("kg").to_pylist()]
    kg[0], kg[2] = "heavy", "12,5"
    pq.write_table(table.set_column(table.schema.get_field_index("kg"), "kg", pa.array(kg)), path)
    settings = _settings(crm_home, _mapping("leadgraph.toml"))
    report = check_sources(settings)
    shipments = next(t for t in report.tables if t.table == "shipments")
    assert report.blocking == [] and shipments.type_problems == {"weight_kg": 2}
    ingest(settings, AS_OF)
    validate(settings, AS_OF)
    with connect(settings.paths.warehouse) as con:
        rejects = con.execute("SELECT _file, _row, error, raw_values FROM meta.ingest_rejects ORDER BY _row").fetchall()
        quarantined = con.execute("SELECT _file, _row, rule FROM meta.quarantine ORDER BY _row").fetchall()
        loaded = con.execute("SELECT count(*) FROM raw.shipments WHERE _file = 'source:shipments/dt=2025-08-30/part-0.parquet'").fetchall()[0][0]
    rel = "source:shipments/dt=2025-08-30/part-0.parquet"
    assert [(f, r) for f, r, _, _ in rejects] == [(rel, 1), (rel, 3)]
    assert rejects[0][2] == "cast failed: weight_kg (source column kg) in shipments from files shipping/consignments/dt=*/*.parquet"
    assert '"kg":"heavy"' in rejects[0][3]
    assert {(f, r) for f, r, rule in quarantined if rule == "parsed_and_typed"} == {(rel, 1), (rel, 3)}
    assert {(f, r) for f, r, _ in quarantined} == {(rel, 1), (rel, 3)}
    assert loaded == len(kg)


def test_an_outcome_before_its_customer_exists_is_quarantined(crm_home: Path, crm_world: own_data.CrmWorld) -> None:
    won = next(a for a in crm_world.activities if a["result"] == "won")
    lead = next(r for r in crm_world.leads if r["lead_ref"] == won["lead_ref"])
    rows = [dict(a) for a in crm_world.activities]
    rows.append({"activity_id": "A999999", "lead_ref": lead["lead_ref"], "happened_at": "2024-10-01 09:00:00", "result": "won", "via": "phone"})
    own_data.write_csv(crm_home / "crm" / "activities.csv", rows)
    settings = _settings(crm_home, _mapping("leadgraph.toml"))
    ingest(settings, AS_OF)
    report = validate(settings, AS_OF)
    assert report.quarantined["sales_events"] == 1
    with connect(settings.paths.warehouse) as con:
        quarantined = con.execute("SELECT _row, rule FROM meta.quarantine WHERE table_name = 'sales_events'").fetchall()
    assert quarantined == [(len(rows), "time:outcome_before_customer")]


def test_a_vocabulary_that_lists_the_data_s_values_leaves_nothing_unknown(crm_home: Path) -> None:
    mapping = {**_mapping("leadgraph.toml"), "graph": {"industries": list(own_data.SEGMENTS)}}
    report = check_sources(_settings(crm_home, mapping))
    assert all(t.unknown_categories == {} for t in report.tables)


def test_label_outcomes_that_never_occur_are_reported(crm_home: Path) -> None:
    mapping = _mapping("leadgraph.toml")
    mapping["sources"]["sales_events"]["values"]["outcome"] = {"call": "contacted", "mql": "high_interest", "Won": "contract_signed"}
    sales = next(t for t in check_sources(_settings(crm_home, mapping)).tables if t.table == "sales_events")
    assert sales.blocking == []
    assert "outcome contract_signed never occurs: its task has no positives" in sales.warnings
    assert any("outcome values outside" in w and "'won'" in w for w in sales.warnings)
    mapping["sources"]["sales_events"]["values"]["outcome"] = {"call": "contacted"}
    report = check_sources(_settings(crm_home, mapping))
    assert report.blocking == ["sales_events: no label outcome (high_interest, contract_signed) occurs in outcome: there is nothing to learn from"]


def test_settings_refuse_sources_that_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sources for unknown table"):
        _settings(tmp_path, {"sources": {"leads": {"kind": "files", "path": "x.csv"}}})
    with pytest.raises(ValueError, match='customers: a required table cannot have kind = "none"'):
        _settings(tmp_path, {"sources": {"customers": {"kind": "none"}}})


def _prospect_scores(settings: Settings) -> pd.DataFrame:
    """Made-up scores for every prospect of D (publish is under test, not a model)."""
    with connect(settings.paths.warehouse) as con:
        ids = [r[0] for r in con.execute(sql("labels/prospects"),
                                         {"as_of": AS_OF, "final": list(settings.labels.final.outcomes)}).fetchall()]
    n = len(ids)
    return pd.DataFrame({"customer_id": ids, "p_high_interest": [0.5] * n, "p_contract": [(i + 1) / (n + 1) for i in range(n)],
                         "score": [100.0 * (i + 1) / (n + 1) for i in range(n)], "reason_1": "r", "reason_2": None,
                         "reason_3": None, "reason_codes": "R01"})


@pytest.mark.parametrize(("territory", "values"), [("station.region", set(own_data.AREAS)), ("customer.industry", set(own_data.SEGMENTS))])
def test_lists_are_cut_by_the_configured_territory_and_name_the_source_ids(loaded_home: Path, tmp_path: Path, crm_world: own_data.CrmWorld,
                                                                          territory: str, values: set[str]) -> None:
    home = tmp_path / "home"
    shutil.copytree(loaded_home, home)
    settings = _settings(home, {**_mapping("leadgraph.toml"), "publish": {"territory": territory}})
    result = publish(settings, AS_OF, _prospect_scores(settings), run_id="r1", model_version="m1", data_version="d1",
                     status={"validation": "passed", "drift": "none"})
    leads = pd.read_parquet(result.folder / "leads.parquet")
    assert set(leads["territory"]) == values
    lead_of = {r["lead_ref"]: r for r in crm_world.leads}
    assert set(leads["customer_id"]) <= set(lead_of)
    row = leads.iloc[0]
    assert row["customer_name"] == lead_of[row["customer_id"]]["company_name"] and row["station_id"] == lead_of[row["customer_id"]]["home_depot"]
    if territory == "customer.industry":
        assert (leads["territory"] == leads["customer_id"].map(lambda ref: lead_of[ref]["segment"])).all()
    # A second day's list finds day one's customers again through their text ids.
    again = publish(settings, date(2025, 9, 1), _prospect_scores(settings), run_id="r2", model_version="m1", data_version="d1",
                    status={"validation": "passed", "drift": "none"})
    assert pd.read_parquet(again.folder / "leads.parquet")["previous_rank"].notna().all()


def test_a_territory_must_name_a_customer_or_station_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="territory 'station.owner' is not one of"):
        _settings(tmp_path, {"publish": {"territory": "station.owner"}})


def test_row_count_and_freshness_are_settings_per_table(loaded_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(loaded_home, home)
    quiet = date(2025, 9, 2)  # no consignments delivered after 2025-08-31
    mapping = {**_mapping("leadgraph.toml"), "validate": {"data_docs": False}}
    ingest(_settings(home, mapping), quiet)
    with pytest.raises(ValidationFailed, match="shipments: rule row_count_vs_trailing_median: partition dt=2025-09-02 has 0 rows"):
        validate(_settings(home, mapping), quiet)
    mapping["validate"]["tables"] = {"shipments": {"row_count": False}}
    assert validate(_settings(home, mapping), quiet).success
    mapping["validate"]["tables"] = {"shipments": {"row_count": False, "max_staleness_days": 1}}
    with pytest.raises(ValidationFailed, match="shipments: rule freshness: latest partition dt=2025-08-31 is 2 days before 2025-09-02 \\(limit 1\\)"):
        validate(_settings(home, mapping), quiet)


def test_check_reads_the_landing_folder_when_no_source_is_configured(settings: Settings) -> None:
    days = small_world(settings, days=2)
    report = check_sources(settings)
    assert report.blocking == []
    customers = next(t for t in report.tables if t.table == "customers")
    delivered = sum(len(pd.read_csv(p)) for p in (settings.paths.landing / "customers").rglob("*.csv"))
    assert customers.source == "landing/customers (delivery folders)" and customers.rows == delivered
    shipments = next(t for t in report.tables if t.table == "shipments")
    assert (shipments.first_day, shipments.last_day) == (days[0], days[1])
    assert not settings.paths.warehouse.exists()
