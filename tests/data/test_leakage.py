"""Leakage proof: nothing after D reaches the snapshot as of D, labels read exactly their windows, and a
customer's own history reaches its features only up to D (its own contract never: it is no prospect then)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import LabelConfig, LabelTask, Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from tasks import vocabulary
from tasks.graph import configure, data_version
from tasks.graph_features import assemble, fetch, params, run
from tasks.labels import check_outcomes, labels_at
from tests.data.graph_world import D, INTEREST_EARLY, build_world, insert, world_frames

AFTER = datetime(D.year, D.month, D.day) + timedelta(days=1)  # the first instant after D


def snapshot(settings: Settings, as_of: date = D) -> HeteroData:
    """The snapshot as of D, assembled on a fresh read-only connection with the home's vocabularies."""
    with connect(settings.paths.warehouse, read_only=True) as con:
        configure(con, settings.graph)
        return assemble(con, as_of, vocabulary.frozen(con, settings, as_of))


def assert_identical(a: HeteroData, b: HeteroData) -> None:
    """Same node and edge types, bit-identical tensors, same feature names."""
    assert a.node_types == b.node_types and a.edge_types == b.edge_types
    for nt in a.node_types:
        assert a[nt].feature_names == b[nt].feature_names
        assert torch.equal(a[nt].x, b[nt].x), nt
        assert torch.equal(a[nt].node_id, b[nt].node_id), nt
    for et in a.edge_types:
        assert torch.equal(a[et].edge_index, b[et].edge_index), et
        if "edge_attr" in a[et]:
            assert torch.equal(a[et].edge_attr, b[et].edge_attr), et


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)
    return settings


def _version(settings: Settings) -> str:
    with connect(settings.paths.warehouse, read_only=True) as con:
        return data_version(con, D, settings.graph)


def test_rows_after_d_change_nothing(world: Settings) -> None:
    before, version = snapshot(world), _version(world)
    with connect(world.paths.warehouse) as con:
        late = f"TIMESTAMP '{AFTER}'"
        # Future facts: rewrite and delete shipments and sales events after D.
        changed = [
            con.execute(statement).fetchall()[0][0]
            for statement in (
                f"UPDATE raw.shipments SET weight_kg = weight_kg * 7, receiver_customer_id = 12, fee = 0 WHERE shipped_at >= {late} AND shipment_id % 2 = 0",
                f"DELETE FROM raw.shipments WHERE shipped_at >= {late} AND shipment_id % 2 = 1",
                f"UPDATE raw.sales_events SET outcome = 'contacted' WHERE event_at >= {late}",
            )
        ]
        assert all(n > 0 for n in changed)
        # Future dimension versions: customers move station and company, a station closes its city, an account changes type.
        moved = world_frames()["customers"].assign(station_id=12, company_id=pd.array([101] * 12, dtype="Int64"), updated_at=AFTER + timedelta(hours=3))
        insert(con, "customers", moved)
        insert(con, "stations", world_frames()["stations"].assign(city="Zz", updated_at=AFTER + timedelta(days=2)))
        insert(con, "accounts", world_frames()["accounts"].assign(account_type="personal", updated_at=AFTER + timedelta(days=9)))
        insert(con, "customer_accounts", pd.DataFrame({"customer_id": [3, 5], "account_id": [501, 502], "linked_at": [AFTER, AFTER + timedelta(days=1)]}))
        # A late delivery: a partition after D holding a shipment timestamped before D.
        late_row = pd.DataFrame({"shipment_id": [9001], "sender_customer_id": [11], "receiver_customer_id": [12], "origin_station_id": [10],
                                 "shipped_at": [AFTER - timedelta(days=2)], "weight_kg": [5.0], "fee": [3.0], "service_level": ["express"]})
        insert(con, "shipments", late_row, dt=D + timedelta(days=1))
    assert_identical(before, snapshot(world))
    assert _version(world) == version


def test_future_row_would_leak_without_the_filter(world: Settings) -> None:
    """A shipment 11 -> 12 timestamped after D but filed in D's partition: invisible as of D, visible unfiltered."""
    before = snapshot(world)
    planted = pd.DataFrame({"shipment_id": [9002], "sender_customer_id": [11], "receiver_customer_id": [12], "origin_station_id": [12],
                            "shipped_at": [AFTER + timedelta(days=3)], "weight_kg": [4000.0], "fee": [900.0], "service_level": ["freight"]})
    with connect(world.paths.warehouse) as con:
        insert(con, "shipments", planted, dt=D)
    assert_identical(before, snapshot(world))

    pairs = sql("graph/ship_pairs")
    unfiltered = pairs.replace("asof_shipments($as_of)", "raw.shipments")
    assert unfiltered != pairs
    with connect(world.paths.warehouse, read_only=True) as con:
        values = params(D, world.graph)
        for name in ("nodes_customer", "nodes_company", "nodes_account", "nodes_station"):
            run(con, name, values)
        con.execute(unfiltered)
        leaked = fetch(con, "edges_ships_to", values)
        ids = con.execute("SELECT customer_id FROM cu ORDER BY idx").fetchnumpy()["customer_id"]
    src, dst = ids[leaked["src"]], ids[leaked["dst"]]
    assert ((src == 11) & (dst == 12)).any()
    edges = before["customer", "ships_to", "customer"].edge_index
    node_id = before["customer"].node_id
    assert not ((node_id[edges[0]] == 11) & (node_id[edges[1]] == 12)).any()


def _row(g: HeteroData, customer_id: int) -> torch.Tensor:
    return g["customer"].x[int((g["customer"].node_id == customer_id).nonzero())]


def _edges_of(g: HeteroData, customer_id: int) -> dict:
    """Every edge touching the customer, with its attributes."""
    i = int((g["customer"].node_id == customer_id).nonzero())
    out = {}
    for et in g.edge_types:
        ei = g[et].edge_index
        mask = torch.zeros(ei.shape[1], dtype=torch.bool)
        if et[0] == "customer":
            mask |= ei[0] == i
        if et[2] == "customer":
            mask |= ei[1] == i
        out[et] = (ei[:, mask], g[et].edge_attr[mask] if "edge_attr" in g[et] else None)
    return out


def _feature(g: HeteroData, customer_id: int, name: str) -> float:
    return float(_row(g, customer_id)[g["customer"].feature_names.index(name)])


def test_own_history_up_to_d_is_a_feature_and_contracts_only_count_for_others(world: Settings) -> None:
    before = snapshot(world)
    customer = 1
    event = pd.DataFrame({"event_id": [901], "customer_id": [customer], "event_at": [AFTER - timedelta(days=5)],
                          "outcome": ["high_interest"], "channel": ["visit"]})
    with connect(world.paths.warehouse) as con:
        insert(con, "sales_events", event)
    after_interest = snapshot(world)
    assert _feature(before, customer, "ever_high_interest") == 0
    assert _feature(after_interest, customer, "ever_high_interest") == 1
    assert _feature(after_interest, customer, "high_interest_events") == 1
    assert _feature(after_interest, customer, "high_interest_recency_days") == 4  # 2025-04-26 to D
    # Customer 2 shares account 500 with customer 1: its co-holder count sees the interest, its own row does not.
    assert _feature(after_interest, 2, "coholders_high_interest") == _feature(before, 2, "coholders_high_interest") + 1
    assert _feature(after_interest, 2, "ever_high_interest") == 0
    # Customer 1's earlier phone contact is its own history too, counted per channel.
    assert _feature(before, customer, "contacts_phone") == 1 and _feature(before, customer, "contacts_visit") == 0

    with connect(world.paths.warehouse) as con:
        insert(con, "sales_events", event.assign(event_id=902, outcome="contract_signed"))
    after = snapshot(world)
    assert torch.equal(_row(after_interest, customer), _row(after, customer))
    for et, (ei, attr) in _edges_of(after_interest, customer).items():
        ei2, attr2 = _edges_of(after, customer)[et]
        assert torch.equal(ei, ei2) and (attr is None or torch.equal(attr, attr2)), et
    # The contract was visible: it shows up in the partners' and the station's counts, not in the customer's own row.
    col = before["customer"].feature_names.index("partners_with_contract")
    assert after["customer"].x[:, col].sum() > before["customer"].x[:, col].sum()
    station_col = before["station"].feature_names.index("contracts")
    assert after["station"].x[:, station_col].sum() == before["station"].x[:, station_col].sum() + 1


@pytest.mark.parametrize("dt_of", ["event", "d"])
def test_outcomes_planted_after_d_leave_the_snapshot_unchanged(world: Settings, dt_of: str) -> None:
    """High interest, contacts and contracts after D, delivered after D or filed in D's partition: invisible as of D."""
    before, version = snapshot(world), _version(world)
    planted = pd.DataFrame({
        "event_id": [911, 912, 913, 914], "customer_id": [1, 4, 4, INTEREST_EARLY],
        "event_at": [AFTER, AFTER + timedelta(hours=2), AFTER + timedelta(days=3), AFTER + timedelta(days=20)],
        "outcome": ["high_interest", "contacted", "contract_signed", "high_interest"],
        "channel": ["visit", "web", "visit", "phone"],
    })
    with connect(world.paths.warehouse) as con:
        insert(con, "sales_events", planted, dt=D if dt_of == "d" else None)
    assert_identical(before, snapshot(world))
    # A file filed in D's partition is part of D's delivery (the version names it); one delivered later is not.
    assert (_version(world) == version) == (dt_of == "event")


def _boundary_world(settings: Settings, anchor: date, events: list[tuple[int, datetime, str]], late: dict[int, date] | None = None,
                    labels: LabelConfig | None = None) -> pd.DataFrame:
    """The small world without its sales events, plus the given ones; returns the anchor's labels."""
    with connect(settings.paths.warehouse) as con:
        for table, frame in world_frames().items():
            if table != "sales_events":
                insert(con, table, frame)
        for i, (customer, at, outcome) in enumerate(events):
            frame = pd.DataFrame({"event_id": [i + 1], "customer_id": [customer], "event_at": [at], "outcome": [outcome], "channel": ["phone"]})
            insert(con, "sales_events", frame, dt=(late or {}).get(customer))
    with connect(settings.paths.warehouse, read_only=True) as con:
        return labels_at(con, anchor, labels or settings.labels).set_index("customer_id")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


@pytest.mark.parametrize("outcome,key", [("high_interest", "high_interest"), ("contract_signed", "contract")])
def test_label_windows_at_their_boundaries(settings: Settings, outcome: str, key: str) -> None:
    anchor = date(2025, 4, 28)
    days = {t.key: t.window_days for t in settings.labels.tasks}[key]
    column = f"y_{key}"
    t = _midnight(anchor)
    end = t + timedelta(days=days + 1)  # the first instant after the window's last day
    events = [
        (1, t + timedelta(days=1) - timedelta(seconds=1), outcome),  # at t (end of its day): excluded
        (3, t + timedelta(days=1), outcome),  # first instant after t: included
        (4, end - timedelta(seconds=1), outcome),  # at t + window (end of its day): included
        (5, end, outcome),  # one second later: excluded
        (6, t + timedelta(days=10), outcome),  # inside, but delivered after the window closed: not known then
    ]
    labels = _boundary_world(settings, anchor, events, late={6: (end + timedelta(days=1)).date()})
    got = {c: int(labels.loc[c, column]) for c in (3, 4, 5, 6)}
    if outcome == "high_interest":
        got[1] = int(labels.loc[1, column])
        assert got == {1: 0, 3: 1, 4: 1, 5: 0, 6: 0}
    else:
        # Signing at t makes customer 1 a contract customer at t: no longer a prospect.
        assert 1 not in labels.index
        assert got == {3: 1, 4: 1, 5: 0, 6: 0}
    other = "y_contract" if column == "y_high_interest" else "y_high_interest"
    assert labels[other].sum() == 0


def test_tasks_come_from_the_settings(settings: Settings) -> None:
    """A funnel of the company's own outcome values: one task counting two values, over its own window."""
    anchor = date(2025, 4, 28)
    t = _midnight(anchor)
    one = LabelConfig(tasks=[LabelTask(key="engaged", name="engaged", outcomes=("high_interest", "contract_signed"), window_days=10)])
    events = [(3, t + timedelta(days=2), "high_interest"), (4, t + timedelta(days=9), "contract_signed"),
              (5, t + timedelta(days=11), "high_interest")]
    labels = _boundary_world(settings, anchor, events, labels=one)
    assert list(labels.columns) == ["y_engaged"]
    assert {c: int(labels.loc[c, "y_engaged"]) for c in (3, 4, 5, 6)} == {3: 1, 4: 1, 5: 0, 6: 0}
    # The last task's outcomes end prospecthood: a customer with high interest before the anchor is no prospect here.
    before = _boundary_world(settings, anchor + timedelta(days=3), [], labels=one)
    assert 3 not in before.index and 5 in before.index


def test_min_shipments_sets_who_is_a_prospect(settings: Settings) -> None:
    anchor = date(2025, 4, 28)
    active = _boundary_world(settings, anchor, [])
    with connect(settings.paths.warehouse, read_only=True) as con:
        everyone = labels_at(con, anchor, settings.labels.model_copy(update={"min_shipments": 0})).set_index("customer_id")
        busy = labels_at(con, anchor, settings.labels.model_copy(update={"min_shipments": 10 ** 6})).set_index("customer_id")
    # 12 never shipped: a prospect only when no activity is required (a lead with no shipment yet).
    assert 12 not in active.index and 12 in everyone.index and set(active.index) < set(everyone.index)
    assert busy.empty


def test_an_outcome_value_that_never_occurs_is_a_clear_error(settings: Settings) -> None:
    _boundary_world(settings, date(2025, 4, 28), [(3, datetime(2025, 3, 1), "high_interest"),
                                                  (4, datetime(2025, 3, 2), "contract_signed")])
    typo = LabelConfig(tasks=[LabelTask(key="high_interest", name="high interest", outcomes=("high_interest",), window_days=30),
                              LabelTask(key="contract", name="contract", outcomes=("contract_signed", "signed"), window_days=90)])
    with connect(settings.paths.warehouse, read_only=True) as con:
        check_outcomes(con, settings.labels, D)
        with pytest.raises(ValueError, match=r"labels\.tasks\[1\]\.outcomes \(contract\): the value 'signed' never occurs"):
            check_outcomes(con, typo, D)
    with pytest.raises(ValueError, match="distinct"):
        LabelConfig(tasks=[typo.tasks[0], typo.tasks[0]])


def test_label_population(settings: Settings) -> None:
    anchor = date(2025, 4, 28)
    labels = _boundary_world(settings, anchor, [(2, _midnight(anchor) + timedelta(hours=12), "contract_signed"),
                                                (3, _midnight(anchor) + timedelta(days=1), "contract_signed")])
    # 2 signed on the anchor day: not a prospect; 3 signs the next day: a prospect and a positive;
    # 12 never shipped: not active; 7 has no events in this world and shipped: a prospect.
    assert 2 not in labels.index and 12 not in labels.index
    assert labels.loc[3, "y_contract"] == 1 and labels.loc[7, "y_contract"] == 0
    assert set(labels.index) == {1, 3, 4, 5, 6, 7, 8, 9, 10, 11}


def test_labels_read_no_event_after_their_window(settings: Settings) -> None:
    """Anchor t with window end t+90: changing anything after t+90 leaves the labels unchanged."""
    anchor = date(2025, 2, 3)
    with connect(settings.paths.warehouse) as con:
        for table, frame in world_frames().items():
            insert(con, table, frame)
    with connect(settings.paths.warehouse, read_only=True) as con:
        before = labels_at(con, anchor, settings.labels)
    cutoff = _midnight(anchor) + timedelta(days=settings.labels.final.window_days + 1)
    with connect(settings.paths.warehouse) as con:
        con.execute("UPDATE raw.sales_events SET outcome = 'contract_signed' WHERE event_at >= $c", {"c": cutoff})
        con.execute("DELETE FROM raw.shipments WHERE shipped_at >= $c", {"c": cutoff})
        assert con.execute("SELECT count(*) FROM raw.sales_events WHERE event_at >= $c", {"c": cutoff}).fetchall()[0][0] > 0
    with connect(settings.paths.warehouse, read_only=True) as con:
        pd.testing.assert_frame_equal(before, labels_at(con, anchor, settings.labels))



def test_sampled_training_neighbourhoods_hold_nothing_after_the_anchor(world: Settings) -> None:
    """Mini-batch training samples inside the anchor's snapshot: future rows change no sampled node, edge or feature."""
    from models.sampler import sample_batches

    def batches(g: HeteroData) -> list[HeteroData]:
        seeds = torch.arange(g["customer"].num_nodes)
        gen = torch.Generator().manual_seed(0)
        return [b.graph for b in sample_batches(g, "customer", seeds, (-1, 3, 3, 2), batch_size=4, shuffle=True, generator=gen)]

    before = batches(snapshot(world))
    with connect(world.paths.warehouse) as con:
        insert(con, "shipments", pd.DataFrame({"shipment_id": [9003], "sender_customer_id": [1], "receiver_customer_id": [12],
                                               "origin_station_id": [10], "shipped_at": [AFTER + timedelta(hours=1)],
                                               "weight_kg": [9000.0], "fee": [1000.0], "service_level": ["freight"]}), dt=D + timedelta(days=1))
        insert(con, "customers", world_frames()["customers"].assign(station_id=12, updated_at=AFTER + timedelta(hours=2)))
    after = batches(snapshot(world))
    assert len(before) == len(after) > 1
    for a, b in zip(before, after):
        for nt in a.node_types:
            assert torch.equal(a[nt].n_id, b[nt].n_id) and torch.equal(a[nt].x, b[nt].x), nt
        for et in a.edge_types:
            assert torch.equal(a[et].edge_index, b[et].edge_index), et
