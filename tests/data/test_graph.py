"""The graph snapshot: contents checked against an independent pandas computation, storage, reuse, versioning, CLI."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from flows.cli import app
from leadgraph.config import Settings
from leadgraph.warehouse import connect
from tasks.graph import build_snapshot, configure, load_snapshot
from tasks.graph_features import assemble
from tests.conftest import TINY_AS_OF
from tests.data.graph_world import D, build_world, world_frames
from tests.data.test_leakage import assert_identical, snapshot

END_OF_D = datetime(D.year, D.month, D.day) + timedelta(days=1)


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)
    return settings


def _feature(g, node_type: str, raw_id: int, name: str) -> float:
    row = int((g[node_type].node_id == raw_id).nonzero())
    return float(g[node_type].x[row, g[node_type].feature_names.index(name)])


def test_snapshot_matches_pandas(world: Settings) -> None:
    g = snapshot(world)
    frames = world_frames()
    ships = frames["shipments"][frames["shipments"]["shipped_at"] < END_OF_D]
    assert g["customer"].node_id.tolist() == list(range(1, 13))
    assert g["station"].node_id.tolist() == [10, 11, 12] and g["account"].node_id.tolist() == [500, 501, 502]

    # ships_to edges: one per pair, count / weight / days since last shipment.
    pairs = ships.groupby(["sender_customer_id", "receiver_customer_id"]).agg(
        n=("shipment_id", "size"), w=("weight_kg", "sum"), last=("shipped_at", "max")).reset_index()
    ei, attr = g["customer", "ships_to", "customer"].edge_index, g["customer", "ships_to", "customer"].edge_attr
    ids = g["customer"].node_id
    got = pd.DataFrame({"s": ids[ei[0]].numpy(), "r": ids[ei[1]].numpy(), "c": attr[:, 0].numpy(), "w": attr[:, 1].numpy(), "d": attr[:, 2].numpy()})
    merged = got.merge(pairs, left_on=["s", "r"], right_on=["sender_customer_id", "receiver_customer_id"], validate="1:1")
    assert len(merged) == len(got) == len(pairs)
    np.testing.assert_allclose(merged["c"], np.log1p(merged["n"]), rtol=1e-6)
    np.testing.assert_allclose(merged["w_x"], np.log1p(merged["w_y"]), rtol=1e-6)
    np.testing.assert_array_equal(merged["d"], (pd.Timestamp(D) - merged["last"].dt.normalize()).dt.days)
    rev = g["customer", "receives_from", "customer"]
    assert torch.equal(rev.edge_index, ei.flip(0)) and torch.equal(rev.edge_attr, attr)

    # Windowed features of customer 1: the last 30 days include D itself.
    age = (pd.Timestamp(D) - ships["shipped_at"].dt.normalize()).dt.days
    sent30 = ships[(ships["sender_customer_id"] == 1) & (age < 30)]
    prev30 = ships[(ships["sender_customer_id"] == 1) & (age >= 30) & (age < 60)]
    assert _feature(g, "customer", 1, "sent_n_30d") == len(sent30)
    assert _feature(g, "customer", 1, "sent_weight_30d") == pytest.approx(sent30["weight_kg"].sum(), rel=1e-6)
    assert _feature(g, "customer", 1, "sent_partners_30d") == sent30["receiver_customer_id"].nunique()
    assert _feature(g, "customer", 1, "sent_growth_30d") == pytest.approx(np.log1p(len(sent30)) - np.log1p(len(prev30)), rel=1e-6)
    recv = ships[ships["receiver_customer_id"] == 4]
    assert _feature(g, "customer", 4, "received_n_total") == len(recv)
    assert _feature(g, "customer", 4, "received_recency_days") == (pd.Timestamp(D) - recv["shipped_at"].max().normalize()).days
    mix = ships[(ships["sender_customer_id"] == 2) & (age < 90)]["service_level"].value_counts(normalize=True)
    assert _feature(g, "customer", 2, "service_share_express") == pytest.approx(mix["express"], rel=1e-6)

    # Customer 12 was created 2025-03-20 and never shipped: tenure stands in for recency, flagged as never.
    assert _feature(g, "customer", 12, "tenure_days") == (D - datetime(2025, 3, 20).date()).days
    assert _feature(g, "customer", 12, "sent_never") == 1.0
    assert _feature(g, "customer", 12, "sent_recency_days") == _feature(g, "customer", 12, "tenure_days")
    assert _feature(g, "customer", 6, "industry_food") == 1.0 and _feature(g, "customer", 7, "industry_toys") == 1.0
    assert _feature(g, "customer", 8, "industry_other") == 1.0  # missing industry
    # Contacts: only the 'contacted' outcome counts (customer 3 has only a high_interest event).
    assert _feature(g, "customer", 1, "contacts") == 1.0 and _feature(g, "customer", 3, "contacts") == 0.0

    # Structure edges and aggregates.
    members = g["customer", "belongs_to", "company"].edge_index
    assert sorted(ids[members[0]].tolist()) == [1, 2, 3, 4, 5]
    assert _feature(g, "company", 100, "members") == 3.0 and _feature(g, "account", 500, "holders") == 2.0
    based = g["company", "based_at", "station"].edge_index
    assert g["station"].node_id[based[1]].tolist() == [10, 11]
    # Customer 7 signed on 2025-02-15, at station 12 (with customers 6, 10, 12).
    assert _feature(g, "station", 12, "contracts") == 1.0
    assert _feature(g, "station", 12, "contract_density") == pytest.approx(1 / 4)


def test_features_are_finite(world: Settings) -> None:
    g = snapshot(world)
    for nt in g.node_types:
        assert g[nt].x.dtype == torch.float32 and torch.isfinite(g[nt].x).all(), nt
        assert len(g[nt].feature_names) == g[nt].x.shape[1]
    for et in g.edge_types:
        assert g[et].edge_index.dtype == torch.int64
        if "edge_attr" in g[et]:
            assert torch.isfinite(g[et].edge_attr).all()


def test_store_reuse_and_version(world: Settings) -> None:
    ref = build_snapshot(world, D)
    assert not ref.reused and ref.path == world.paths.graphs / D.isoformat()
    g = load_snapshot(ref.path)
    assert_identical(g, snapshot(world))
    ids = pq.read_table(ref.path / "ids" / "customer.parquet").to_pandas()
    assert ids["customer_id"].tolist() == g["customer"].node_id.tolist() and ids["idx"].tolist() == list(range(12))
    assert ref.node_counts == {"customer": 12, "company": 2, "account": 3, "station": 3}
    assert ref.edge_counts["customer__located_at__station"] == 12

    stamp = (ref.path / "graph.npz").stat().st_mtime_ns
    again = build_snapshot(world, D)
    assert again.reused and again.data_version == ref.data_version
    assert (again.path / "graph.npz").stat().st_mtime_ns == stamp

    # A quarantined row of a partition up to D changes the data version and the snapshot.
    with connect(world.paths.warehouse) as con:
        con.execute("""INSERT INTO meta.quarantine (table_name, _file, _row, rule)
                       SELECT 'shipments', _file, _row, 'test' FROM raw.shipments WHERE _dt <= $d ORDER BY _dt LIMIT 5""", {"d": D})
    rebuilt = build_snapshot(world, D)
    assert not rebuilt.reused and rebuilt.data_version != ref.data_version
    col = g["customer"].feature_names.index("sent_n_total")
    assert load_snapshot(rebuilt.path)["customer"].x[:, col].sum() == g["customer"].x[:, col].sum() - 5
    assert not list(world.paths.graphs.glob(".*"))


def test_cli_prints_counts_and_path(world: Settings) -> None:
    # The hand-built world was never validated, hence --force.
    result = CliRunner().invoke(app, ["graph", "--as-of", D.isoformat(), "--force"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "customer__ships_to__customer" in result.output and "station" in result.output
    assert D.isoformat() in result.output and (world.paths.graphs / D.isoformat()).exists()


def test_missing_warehouse_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(FileNotFoundError, match="leadgraph ingest"):
        build_snapshot(settings, D)


def test_vocabularies_take_the_data_s_values_and_stay_frozen(world: Settings) -> None:
    """Categories beyond the configured vocabulary get their own columns, learned once per home and then kept."""
    from tasks.vocabulary import vocabulary_file

    narrow = world.model_copy(update={"graph": world.graph.model_copy(update={"industries": ("retail",)})})
    g = load_snapshot(build_snapshot(narrow, D).path)
    industry = [n for n in g["customer"].feature_names if n.startswith("industry_")]
    # Configured first, then the data's other values by frequency (customers and companies together), then `other`.
    assert industry == ["industry_retail", "industry_pharma", "industry_food", "industry_toys", "industry_other"]
    assert _feature(g, "customer", 7, "industry_toys") == 1.0
    stored = vocabulary_file(narrow).read_text()
    # The frozen file wins over later configuration, so every snapshot of the home has the same columns.
    wider = narrow.model_copy(update={"graph": narrow.graph.model_copy(update={"industries": ("retail", "toys")})})
    again = load_snapshot(build_snapshot(wider, D - timedelta(days=1)).path)
    assert [n for n in again["customer"].feature_names if n.startswith("industry_")] == industry
    assert vocabulary_file(narrow).read_text() == stored
    # With learning off, the configured list alone decides: the rest is `other`.
    fixed = narrow.model_copy(update={"graph": narrow.graph.model_copy(update={"learn_vocabularies": False})})
    g_fixed = load_snapshot(build_snapshot(fixed, D, force=True).path)
    assert [n for n in g_fixed["customer"].feature_names if n.startswith("industry_")] == ["industry_retail", "industry_other"]
    assert _feature(g_fixed, "customer", 7, "industry_other") == 1.0


def test_neighbour_interest_counts_each_other_interested_customer_once_per_kind(tiny_warehouse: Settings) -> None:
    """The three neighbour-interest columns against a count over the snapshot's own edges."""
    with connect(tiny_warehouse.paths.warehouse, read_only=True) as con:
        configure(con, tiny_warehouse.graph)
        g = assemble(con, TINY_AS_OF, tiny_warehouse.graph)
    names, x = g["customer"].feature_names, g["customer"].x.numpy()
    interested = np.flatnonzero(x[:, names.index("ever_high_interest")] == 1)

    def others(relation: tuple[str, str, str]) -> dict[int, set[int]]:
        """Per customer, the other customers sharing a node of the relation's far type."""
        members: dict[int, set[int]] = {}
        for c, far in g[relation].edge_index.t().tolist():
            members.setdefault(far, set()).add(c)
        out: dict[int, set[int]] = {}
        for group in members.values():
            for c in group:
                out.setdefault(c, set()).update(group - {c})
        return out

    partners: dict[int, set[int]] = {}
    for a, b in g["customer", "ships_to", "customer"].edge_index.t().tolist():
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    wanted = {"siblings": others(("customer", "belongs_to", "company")),
              "coholders": others(("customer", "holds", "account")), "partners": partners}
    hit = set(interested.tolist())
    for kind, neighbours in wanted.items():
        expected = np.zeros(len(x))
        for c, group in neighbours.items():
            expected[c] = len(group & hit)
        assert expected.max() > 0, kind
        np.testing.assert_array_equal(x[:, names.index(f"{kind}_high_interest")], expected, err_msg=kind)


def test_the_snapshot_runner_times_every_query_and_each_way_of_reading_a_snapshot_back(
        world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import graph_paper

    monkeypatch.setenv("LEADGRAPH_HOME", str(world.paths.home))
    figures = graph_paper.measure(D)
    assert set(figures["queries_s"]) >= {"customer_neighbour_interest", "nodes_customer", "edges_ships_to"}
    assert list(figures["steps_s"]) == ["build", "load", "fit normaliser", "normalise", "spill (write)", "spill (read back)"]
    assert figures["nodes"] == {nt: n for nt, n in load_snapshot(world.paths.graphs / D.isoformat()).num_nodes_dict.items()}
    assert not any(world.paths.spill.iterdir())  # the runner's spill is removed
    page = graph_paper.render(figures, "a test")
    assert "`customer_neighbour_interest`" in page and "spill (read back)" in page and "Conditions: a test." in page
