"""A small home for the desk's tests: the hand-made lead world, three published days, runs, checks and a model."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from leadgraph.config import Settings
from leadgraph.warehouse import connect
from tasks import registry, runs
from tasks.desk_snapshot import write_snapshot
from tasks.publish import publish
from tests.lead_world import SIGNED, make_scores, make_world

DAYS = (date(2025, 6, 28), date(2025, 6, 29), date(2025, 6, 30))
HELD_DAY = date(2025, 7, 1)
SCRIPT_NAME = "<script>alert(1)</script>"
SCRIPT_CUSTOMER = 9
PARTNER = 12  # ships with SCRIPT_CUSTOMER and with the contract signer
MODEL_VERSION = "v0001-struchis"
CUSTOMERS = 40


def _add_links(settings: Settings) -> None:
    """Shipments and shared accounts (the lead page's neighbourhood) and a customer named like a script."""
    t = datetime(2025, 6, 10, 9)
    lineage = (date(2025, 6, 10), "hand-made", 1)
    shipments = [(i, a, b, 10, t + timedelta(days=i % 9), 5.0, 9.0, "standard", *lineage)
                 for i, (a, b) in enumerate([(SCRIPT_CUSTOMER, PARTNER)] * 4 + [(SCRIPT_CUSTOMER, SIGNED)] * 2
                                            + [(PARTNER, SIGNED), (3, 4)], start=1)]
    accounts = [(SCRIPT_CUSTOMER, 900, t, *lineage), (15, 900, t, *lineage), (PARTNER, 901, t, *lineage)]
    with connect(settings.paths.warehouse) as con:
        con.executemany("INSERT INTO raw.shipments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", shipments)
        con.executemany("INSERT INTO raw.customer_accounts VALUES (?, ?, ?, ?, ?, ?)", accounts)
        con.execute("UPDATE raw.customers SET name = ? WHERE customer_id = ?", [SCRIPT_NAME, SCRIPT_CUSTOMER])


def _add_checks(settings: Settings) -> None:
    """Validation verdicts (one failed day) and drift numbers as the validate and drift stages record them."""
    now = datetime(2025, 7, 1, 6)
    with connect(settings.paths.warehouse) as con:
        for day in DAYS:
            con.execute("INSERT INTO meta.validation_results VALUES (?, 'shipments', 'run', 'table', true, 10, 0, '', ?)",
                        [day, now])
            con.execute("INSERT INTO meta.drift_metrics VALUES (?, ?, 'score', 'score', 'wasserstein', ?, 0.1, ?, ?)",
                        [day, MODEL_VERSION, 0.3 if day == DAYS[-1] else 0.01, day == DAYS[-1], now])
        con.execute("INSERT INTO meta.validation_results VALUES (?, 'shipments', 'not_null:weight_kg', 'table', false, "
                    "10, 9, '9 of 10 rows', ?)", [HELD_DAY, now])


def _add_reports(settings: Settings) -> None:
    """The last day's Data Docs page and Evidently report, where the validate and drift stages put them."""
    folder = settings.paths.reports / DAYS[-1].isoformat()
    (folder / "validation").mkdir(parents=True)
    (folder / "validation" / "index.html").write_text("<html><body>data docs of the day</body></html>", encoding="utf-8")
    (folder / "drift.html").write_text("<html><body>evidently report of the day</body></html>", encoding="utf-8")


def _register_model(settings: Settings) -> None:
    """A champion with hold-out metrics and stored intervals, through the registry's own registration."""
    staged = registry.staging_folder(settings, MODEL_VERSION)
    metrics = {"test": {"contract": {"ap": 0.31, "auc": 0.88, "ap_ci": [0.22, 0.41], "n": 500, "positives": 9},
                        "high_interest": {"ap": 0.12, "auc": 0.71, "n": 500, "positives": 40}},
               "promotion": {"reason": "first model: promoted"}}
    registry.register(settings, staged, version=MODEL_VERSION, model_name="struchis", trained_as_of=DAYS[0],
                      data_version="dv-desk", metrics=metrics, config={"hidden": 8}, promote=True)


def scores(seed: int):
    """The lead world's scores with real reason codes and sentences, as the explain stage writes them."""
    frame = make_scores(seed, n_customers=CUSTOMERS)
    frame["reason_1"] = "Ships with 1 contract customer(s)"
    frame["reason_2"] = "Active: last shipment 14 day(s) ago"
    frame["reason_3"] = "Model: scores above 90% of today's prospects"
    frame["reason_codes"] = "R02_CONTRACT_PARTNERS|R06_RECENT_ACTIVITY|R09_OVERALL_SCORE"
    return frame


def build(settings: Settings) -> Settings:
    """Publish DAYS (the last one twice, as a re-run would), record their runs and a held day, write the snapshot."""
    settings.publish.top_per_territory = 20
    make_world(settings, n_customers=CUSTOMERS)
    _add_links(settings)
    _add_checks(settings)
    _add_reports(settings)
    _register_model(settings)
    for seed, day in enumerate(DAYS):
        with runs.recorded(settings, "daily-leads", day) as record:
            publish(settings, day, scores(seed), run_id=record.run_id,
                    model_version=MODEL_VERSION, data_version="dv-desk",
                    status={"validation": "passed", "drift": "ok"})
            record.status, record.detail = "published", f"lists of {day}"
        write_snapshot(settings, day)
    with runs.recorded(settings, "daily-leads", HELD_DAY) as record:
        record.status, record.detail = "held", "validation failed, nothing published, earlier lists unchanged"
    write_snapshot(settings, HELD_DAY)
    return settings
