"""The service catalogue and service events: bad rows quarantined under their rule, and no event after D reaches the models."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from leadgraph.config import Settings, load_settings
from tasks.ingest import ingest
from tasks.offer_data import load_holdout, load_offer_data
from tasks.validate import validate
from tests.conftest import TINY_AS_OF
from tests.data.builders import landing_checksums, small_world, write_partition


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def _services(day: date, rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "service_id": [r[0] for r in rows], "name": [r[1] for r in rows], "category": [r[2] for r in rows],
        "destination_region": ["east"] * len(rows), "launched_at": [date(2024, 1, 1)] * len(rows),
        "updated_at": [_at(day, 2)] * len(rows),
    })


def _events(rows: list[tuple[int, int, int, str, datetime]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "customer_id", "service_id", "behaviour", "event_at"])


def _offer_world(settings: Settings) -> list[date]:
    """The small hand-made world plus a two-offer catalogue and a few funnel events, some broken."""
    days = small_world(settings, days=2)
    d0, d1 = days
    write_partition(settings, "services", d0, _services(d0, [(7001, "Cold chain to east", "cold chain"), (7002, "Customs to east", "customs")]))
    write_partition(settings, "services", d1, _services(d1, [(7001, "Cold chain to east", "customs"), (7002, "Customs clearance to east", "customs")]))
    write_partition(settings, "service_events", d0, _events([
        (1, 100, 7001, "enquiry", _at(d0, 8)),
        (2, 101, 7002, "enquiry", _at(d0, 1)),  # customers are created at 03:00
        (3, 102, 7002, "quote", _at(d0, 9)),
    ]))
    write_partition(settings, "service_events", d1, _events([
        (4, 100, 7001, "quote", _at(d1, 8)),
        (5, 100, 7999, "enquiry", _at(d1, 9)),
        (6, 101, 7002, "wishlist", _at(d1, 10)),
        (7, 102, 7002, "adopted", _at(d1, 11)),
        (8, 103, 7001, "trial", _at(d1, 12)),
    ]))
    return days


@pytest.fixture(scope="module")
def offer_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[date], dict[str, str]]:
    """The hand-made offer world, ingested and validated as of its second day (half its service events are bad)."""
    settings = load_settings(tmp_path_factory.mktemp("offers") / "home")
    settings.validate_.data_docs = False
    settings.validate_.max_bad_row_fraction = 0.6
    days = _offer_world(settings)
    before = landing_checksums(settings)
    ingest(settings, days[1])
    validate(settings, days[1])
    return settings, days, before


def test_bad_catalogue_rows_and_events_are_quarantined_under_their_rule(offer_world) -> None:
    settings, (d0, d1), before = offer_world
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        rules = dict(con.execute(
            "SELECT table_name || ':' || row_key, rule FROM meta.quarantine WHERE table_name IN ('services', 'service_events')").fetchall())
        kept = con.execute("SELECT count(*) FROM raw.service_events").fetchall()[0][0]
        catalogue = con.execute("SELECT service_id, name, category FROM asof_services(?) ORDER BY 1", [d1]).fetchall()
        events = [r[0] for r in con.execute("SELECT event_id FROM asof_service_events(?) ORDER BY 1", [d1]).fetchall()]
    assert rules == {
        "service_events:2": "time:event_before_customer",
        "service_events:5": "orphan:service_id->services",
        "service_events:6": "allowed_values:behaviour",
        "services:7001": "catalogue:category_changed",
    }
    # The category change is refused, the renaming (same category) is a legitimate change row.
    assert catalogue == [(7001, "Cold chain to east", "cold chain"), (7002, "Customs clearance to east", "customs")]
    assert events == [1, 3, 4, 7, 8]
    assert kept == 8 and landing_checksums(settings) == before


def test_offer_data_as_of_d_holds_no_later_event(offer_world) -> None:
    settings, (d0, d1), _ = offer_world
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        early = load_offer_data(con, d0)
        late = load_offer_data(con, d1)
        holdout = load_holdout(con, early, days=30, until=d1)
    pairs = lambda data: {(b, int(data.customer_ids[u]), int(data.service_ids[i]))  # noqa: E731
                          for k, b in enumerate(data.interactions.behaviours)
                          for u, i in zip(data.interactions.users[k], data.interactions.items[k])}
    assert pairs(early) == {("enquiry", 100, 7001), ("quote", 102, 7002)}
    assert pairs(late) == pairs(early) | {("quote", 100, 7001), ("adopted", 102, 7002), ("trial", 103, 7001)}
    # The next adoption after d0 is the hold-out, in the as-of-d0 indices.
    assert [(int(early.customer_ids[u]), int(early.service_ids[i])) for u, i in zip(*holdout)] == [(102, 7002)]


def test_offer_data_of_the_tiny_world_stops_at_d(tiny_warehouse: Settings) -> None:
    split = date(2025, 5, 26)
    with duckdb.connect(str(tiny_warehouse.paths.warehouse), read_only=True) as con:
        data = load_offer_data(con, split)
        latest = con.execute(
            "SELECT max(event_at) FROM asof_service_events(?) e JOIN asof_services(?) s USING (service_id)", [split, split]
        ).fetchall()[0][0]
        after = con.execute("SELECT count(*) FROM raw.service_events WHERE event_at >= ?", [split + timedelta(days=1)]).fetchall()[0][0]
        expected = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT customer_id, service_id, behaviour FROM raw.service_events e "
            "WHERE event_at < ? AND service_id IN (SELECT service_id FROM raw.services WHERE updated_at < ?))",
            [split + timedelta(days=1), split + timedelta(days=1)],
        ).fetchall()[0][0]
        launched = con.execute("SELECT count(DISTINCT service_id) FROM raw.services WHERE updated_at < ?", [split + timedelta(days=1)]).fetchall()[0][0]
        holdout = load_holdout(con, data, days=90, until=TINY_AS_OF)
    inter = data.interactions
    assert latest < datetime(2025, 5, 27) and after > 10_000
    assert sum(len(u) for u in inter.users) == expected
    assert len(data.service_ids) == launched < 36 and inter.n_users > 15_000
    # No hold-out pair was already adopted by the split.
    assert len(holdout[0]) > 1_000 and not inter.has(inter.target, *holdout).any()
    assert len(np.unique(holdout[0])) == len(holdout[0])


def test_recommend_never_offers_what_the_customer_already_uses_and_flags_peer_adoptions(offer_world) -> None:
    from tasks.recommend import recommend

    settings, (d0, d1), _ = offer_world
    settings.offers.epochs, settings.offers.batch_users, settings.offers.samples_per_user = 3, 4, 4
    first = recommend(settings, d1, train=True)
    again = recommend(settings, d1, train=False)
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT customer_id, rank, service_id, name, peer_adopted FROM offer_recommendations WHERE as_of = ? "
            "ORDER BY customer_id, rank", [d1]).fetchall()
        adopted = set(con.execute(
            "SELECT customer_id, service_id FROM asof_service_events(?) WHERE behaviour = 'adopted'", [d1]).fetchall())
    assert first.rows == again.rows == len(rows) and first.model_folder == again.model_folder
    assert adopted == {(102, 7002)}
    assert not {(c, s) for c, _, s, _, _ in rows} & adopted
    # Every customer gets both offers but 102, which uses 7002 already; ranks run 1, 2, ... per customer.
    assert {(c, s) for c, _, s, _, _ in rows} == {(c, s) for c in (100, 101, 102, 103) for s in (7001, 7002)} - adopted
    assert [r for c, r, *_ in rows if c == 100] == [1, 2]
    # 101 and 103 ship with 102 (and 103 holds an account with 101): 102's adoption of 7002 is their reason.
    flagged = {(c, s) for c, _, s, _, peer in rows if peer}
    assert flagged == {(101, 7002), (103, 7002)}
    assert {n for *_, n, _ in rows} == {"Cold chain to east", "Customs clearance to east"}


def test_offer_truth_predicts_the_adoptions_that_followed(tiny_world: Settings) -> None:
    home = tiny_world.paths.home
    anchor = date(2025, 3, 3)
    with duckdb.connect() as con:
        expected, seen, hit_mean, miss_mean = con.execute(f"""
            WITH truth AS (SELECT * FROM read_parquet('{home}/truth/offers/as_of={anchor}.parquet')),
            adopted AS (
                SELECT DISTINCT customer_id, service_id
                FROM read_parquet('{home}/landing/service_events/*/*.parquet')
                WHERE behaviour = 'adopted' AND event_at >= TIMESTAMP '{anchor + timedelta(days=1)}'
                  AND event_at < TIMESTAMP '{anchor + timedelta(days=91)}')
            SELECT sum(t.p_adopt), count(a.customer_id),
                   avg(t.p_adopt) FILTER (WHERE a.customer_id IS NOT NULL), avg(t.p_adopt) FILTER (WHERE a.customer_id IS NULL)
            FROM truth t LEFT JOIN adopted a USING (customer_id, service_id)""").fetchall()[0]
        outside = con.execute(f"""
            SELECT count(*) FROM read_parquet('{home}/landing/service_events/*/*.parquet') e
            WHERE behaviour = 'adopted' AND event_at >= TIMESTAMP '{anchor + timedelta(days=1)}'
              AND event_at < TIMESTAMP '{anchor + timedelta(days=91)}'
              AND customer_id IN (SELECT customer_id FROM read_csv('{home}/landing/customers/*/*.csv')
                                  WHERE created_at < TIMESTAMP '{anchor + timedelta(days=1)}')
              AND NOT EXISTS (SELECT 1 FROM read_parquet('{home}/truth/offers/as_of={anchor}.parquet') t
                              WHERE t.customer_id = e.customer_id AND t.service_id = e.service_id)""").fetchall()[0][0]
    # Calibrated in total (within the approximation README states), sharp per pair, and complete: no adoption
    # by a customer existing at the anchor falls outside the pairs the truth lists.
    assert seen > 3_000 and abs(expected - seen) / seen < 0.08
    assert hit_mean > 5 * miss_mean
    assert outside == 0


def test_the_offer_model_keeps_pace_with_the_lead_model_even_after_a_run_died_between_them(offer_world) -> None:
    from tasks.recommend import current_model, model_folder, recommend

    settings, (d0, d1), _ = offer_world
    settings.offers.epochs, settings.offers.batch_users, settings.offers.samples_per_user = 3, 4, 4
    recommend(settings, d0, train=True)
    shutil.rmtree(model_folder(settings, d1), ignore_errors=True)
    assert current_model(settings, d1) == model_folder(settings, d0)
    # A lead model trained on d1 whose run died before recommend: d1's recommend trains the offer model anyway.
    with duckdb.connect(str(settings.paths.warehouse)) as con:
        con.execute("INSERT INTO meta.model_registry VALUES ('v-lead', 'struchis', ?, 'dv', '{}', '{}', 'p', 'champion', now())", [d1])
    try:
        assert current_model(settings, d1) is None
        made = recommend(settings, d1, train=False)
        assert made.model_folder == model_folder(settings, d1) and current_model(settings, d1) == made.model_folder
        assert not list(made.model_folder.parent.glob("*.partial"))
    finally:
        with duckdb.connect(str(settings.paths.warehouse)) as con:
            con.execute("DELETE FROM meta.model_registry WHERE version = 'v-lead'")


def test_the_trained_offer_model_serves_only_when_it_beats_the_funnel_on_validation(tiny_warehouse: Settings, tmp_path) -> None:
    import json

    from tasks.recommend import META, recommend

    home = tmp_path / "home"
    shutil.copytree(tiny_warehouse.paths.home, home, ignore=shutil.ignore_patterns("artifacts", "exports"))
    settings = load_settings(home)
    settings.offers = settings.offers.model_copy(update={"epochs": 2, "train_users": 2_000, "val_users": 2_000, "threads": 1})
    made = recommend(settings, TINY_AS_OF, train=True)
    meta = json.loads((made.model_folder / META).read_text(encoding="utf-8"))
    verdict = meta["gate"]
    assert verdict["model"] == "cigf" and verdict["must_beat"] == "funnel-stage"
    assert verdict["model_ndcg"] == max(h["val"] for h in meta["validation"]["curve"])
    better = "cigf" if verdict["model_ndcg"] > verdict["must_beat_ndcg"] else "funnel-stage"
    assert verdict["served"] == meta["model"] == made.model == better
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        rows, customers = con.execute(
            "SELECT count(*), count(DISTINCT customer_id) FROM offer_recommendations WHERE as_of = ?", [TINY_AS_OF]).fetchall()[0]
    assert rows == made.rows and customers > 15_000
