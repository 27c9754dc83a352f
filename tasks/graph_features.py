"""Assemble the heterogeneous graph as of D from the `sql/graph/` queries: nodes, raw features, edges.

Every query reads the raw tables only through the as-of macros, so the snapshot depends on nothing
delivered after D or timestamped after the end of D. Node rows are numbered by DuckDB (ascending raw
id); queries return those row numbers, and numpy scatters the values into place, so nothing here loops
over rows. A customer's own history up to D (its contacts per channel, its high_interest events, their
recency) is a feature; contract facts appear only as counts over other customers (partners, company
members, station customers), since a customer who signed is no longer a prospect.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import date

import duckdb
import numpy as np
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import GraphConfig
from leadgraph.sql import sql

NODE_TYPES: tuple[str, ...] = ("customer", "company", "account", "station")
ID_COLUMNS: dict[str, str] = {"customer": "customer_id", "company": "company_id", "account": "account_id", "station": "station_id"}
NODE_TABLES: dict[str, str] = {"customer": "cu", "company": "co", "account": "ac", "station": "st"}

# (forward edge type, reverse relation name, query) for the five relations.
RELATIONS: tuple[tuple[tuple[str, str, str], str, str], ...] = (
    (("customer", "ships_to", "customer"), "receives_from", "edges_ships_to"),
    (("customer", "holds", "account"), "held_by", "edges_holds"),
    (("customer", "located_at", "station"), "serves", "edges_located_at"),
    (("customer", "belongs_to", "company"), "has_member", "edges_belongs_to"),
    (("company", "based_at", "station"), "hosts", "edges_based_at"),
)
log = logging.getLogger(__name__)

SHIP_ATTRS: tuple[str, ...] = ("log_count", "log_weight", "days_since_last")
SIDES: tuple[str, ...] = ("sent", "received")

# Queries that set up the temp tables the feature and edge queries read, in order.
SETUP: tuple[str, ...] = ("nodes_customer", "nodes_company", "nodes_account", "nodes_station", "ship_pairs", "signed")
FEATURE_QUERIES: tuple[str, ...] = (
    "customer_attributes", "customer_windows", "customer_totals", "customer_service_mix", "customer_contacts",
    "customer_partner_contracts", "customer_own_history", "customer_neighbour_interest", "company_features", "account_features", "station_features",
)


def query_names() -> tuple[str, ...]:
    """Every graph query a snapshot depends on (their text is part of the data version)."""
    return SETUP + FEATURE_QUERIES + tuple(q for _, _, q in RELATIONS)


def params(as_of: date, cfg: GraphConfig) -> dict:
    """Named parameters available to the graph queries."""
    return {
        "as_of": as_of,
        "windows": list(cfg.windows_days),
        "max_window": max(cfg.windows_days),
        "industries": list(cfg.industries),
        "levels": list(cfg.service_levels),
        "account_types": list(cfg.account_types),
        "payment_methods": list(cfg.payment_methods),
        "size_bands": list(cfg.size_bands),
        "kinds": list(cfg.station_kinds),
        "channels": list(cfg.channels),
    }


def run(con: duckdb.DuckDBPyConnection, name: str, values: dict) -> duckdb.DuckDBPyConnection:
    """Execute `sql/graph/<name>.sql` with the parameters it names."""
    text = sql(f"graph/{name}")
    used = set(re.findall(r"\$([a-z_]+)", re.sub(r"--[^\n]*", "", text)))
    started = time.perf_counter()
    result = con.execute(text, {k: v for k, v in values.items() if k in used})
    log.info("graph query %s: %.1fs", name, time.perf_counter() - started)
    return result


def fetch(con: duckdb.DuckDBPyConnection, name: str, values: dict) -> dict[str, np.ndarray]:
    """A graph query's result as numpy columns."""
    return {k: np.asarray(v) for k, v in run(con, name, values).fetchnumpy().items()}


def _scatter(n: int, idx: np.ndarray, values: np.ndarray, fill: float | np.ndarray = 0.0) -> np.ndarray:
    """A length-n float64 column holding `values` at rows `idx` and `fill` elsewhere."""
    out = np.array(np.broadcast_to(np.asarray(fill, dtype=np.float64), (n,)))
    out[idx.astype(np.int64)] = values.astype(np.float64)
    return out


def _one_hot(codes: np.ndarray, vocab: tuple[str, ...], prefix: str) -> tuple[list[str], list[np.ndarray]]:
    """One column per vocabulary entry plus `other` for code 0 (unseen or missing)."""
    names = [f"{prefix}_{v}" for v in vocab] + [f"{prefix}_other"]
    codes = codes.astype(np.int64)
    cols = [(codes == i + 1).astype(np.float64) for i in range(len(vocab))] + [(codes == 0).astype(np.float64)]
    return names, cols


class _Columns:
    """Named float64 columns of one node type, stacked into a float32 matrix at the end."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.names: list[str] = []
        self.cols: list[np.ndarray] = []

    def add(self, name: str, col: np.ndarray) -> None:
        self.names.append(name)
        # Kept as float32 at once: at paper scale a float64 copy of every customer column costs gigabytes.
        self.cols.append(col.astype(np.float32))

    def extend(self, names: list[str], cols: list[np.ndarray]) -> None:
        for name, col in zip(names, cols):
            self.add(name, col)

    def matrix(self) -> np.ndarray:
        x = np.empty((self.n, len(self.cols)), dtype=np.float32)
        for j, col in enumerate(self.cols):
            x[:, j] = col
        return x


def _customer_features(con: duckdb.DuckDBPyConnection, n: int, values: dict, cfg: GraphConfig) -> _Columns:
    """Attributes, windowed and all-history shipping behaviour, service mix, contacts, partner contracts."""
    out = _Columns(n)
    a = fetch(con, "customer_attributes", values)
    idx = a["idx"]
    out.add("is_business", _scatter(n, idx, a["is_business"]))
    out.extend(*_one_hot(_scatter(n, idx, a["industry_code"]), cfg.industries, "industry"))
    out.add("has_company", _scatter(n, idx, a["has_company"]))
    tenure = _scatter(n, idx, a["tenure_days"])
    out.add("tenure_days", tenure)
    out.add("n_accounts", _scatter(n, idx, a["n_accounts"]))

    w = fetch(con, "customer_windows", values)
    for side_code, side in enumerate(SIDES):
        for days in cfg.windows_days:
            m = (w["side"] == side_code) & (w["days"] == days)
            i = w["idx"][m]
            count = _scatter(n, i, w["n"][m])
            prev = _scatter(n, i, w["n_prev"][m])
            out.add(f"{side}_n_{days}d", count)
            out.add(f"{side}_weight_{days}d", _scatter(n, i, w["weight"][m]))
            out.add(f"{side}_fee_{days}d", _scatter(n, i, w["fee"][m]))
            out.add(f"{side}_partners_{days}d", _scatter(n, i, w["partners"][m]))
            out.add(f"{side}_growth_{days}d", np.log1p(count) - np.log1p(prev))

    t = fetch(con, "customer_totals", values)
    for side_code, side in enumerate(SIDES):
        m = t["side"] == side_code
        i = t["idx"][m]
        for col in ("n", "weight", "fee", "partners"):
            out.add(f"{side}_{col}_total", _scatter(n, i, t[col][m]))
        # Never shipped on this side: as stale as the customer's whole tenure, flagged separately.
        out.add(f"{side}_recency_days", _scatter(n, i, t["recency_days"][m], fill=tenure))
        out.add(f"{side}_never", _scatter(n, i, np.zeros(int(m.sum())), fill=1.0))

    s = fetch(con, "customer_service_mix", values)
    width = len(cfg.service_levels) + 1
    counts = np.bincount(s["idx"].astype(np.int64) * width + s["code"].astype(np.int64),
                         weights=s["n"].astype(np.float64), minlength=n * width).reshape(n, width)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    for j, level in enumerate(("other",) + tuple(cfg.service_levels)):
        out.add(f"service_share_{level}", shares[:, j])

    c = fetch(con, "customer_contacts", values)
    out.add("contacts", _scatter(n, c["idx"], c["contacts"]))
    out.add("contacts_recent", _scatter(n, c["idx"], c["contacts_recent"]))
    out.add("contact_recency_days", _scatter(n, c["idx"], c["contact_recency_days"], fill=tenure))

    p = fetch(con, "customer_partner_contracts", values)
    out.add("partners_with_contract", _scatter(n, p["idx"], p["partners_with_contract"]))
    _own_history(con, out, values, cfg, tenure)
    return out


NEIGHBOUR_KINDS: tuple[str, ...] = ("siblings", "coholders", "partners")


def _own_history(con: duckdb.DuckDBPyConnection, out: _Columns, values: dict, cfg: GraphConfig, tenure: np.ndarray) -> None:
    """The customer's high_interest events and contacts per channel up to D, their recency, and interest around it."""
    n = out.n
    h = fetch(con, "customer_own_history", values)
    hi = h["kind"] == 0
    events = np.bincount(h["idx"][hi].astype(np.int64), weights=h["n"][hi].astype(np.float64), minlength=n)
    last = np.full(n, np.inf)
    np.minimum.at(last, h["idx"][hi].astype(np.int64), h["recency_days"][hi].astype(np.float64))
    out.add("high_interest_events", events)
    out.add("ever_high_interest", (events > 0).astype(np.float64))
    # Never high-interest: as stale as the customer's whole tenure (the flag above tells the two apart).
    out.add("high_interest_recency_days", np.where(np.isfinite(last), last, tenure))
    for code, channel in enumerate(("other",) + tuple(cfg.channels)):
        m = (h["kind"] == 1) & (h["channel_code"] == code)
        i = h["idx"][m]
        out.add(f"contacts_{channel}", _scatter(n, i, h["n"][m]))
        out.add(f"contact_recency_days_{channel}", _scatter(n, i, h["recency_days"][m], fill=tenure))
    g = fetch(con, "customer_neighbour_interest", values)
    for code, kind in enumerate(NEIGHBOUR_KINDS):
        m = g["kind"] == code
        out.add(f"{kind}_high_interest", _scatter(n, g["idx"][m], g["n"][m]))


def _company_features(con: duckdb.DuckDBPyConnection, n: int, values: dict, cfg: GraphConfig) -> _Columns:
    """Size, industry, capital and member aggregates (contracts: other members', signed by D)."""
    out = _Columns(n)
    f = fetch(con, "company_features", values)
    idx = f["idx"]
    out.extend(*_one_hot(_scatter(n, idx, f["size_code"]), cfg.size_bands, "size"))
    out.extend(*_one_hot(_scatter(n, idx, f["industry_code"]), cfg.industries, "industry"))
    members = _scatter(n, idx, f["members"])
    signed = _scatter(n, idx, f["members_with_contract"])
    out.add("registered_capital", _scatter(n, idx, f["registered_capital"]))
    out.add("members", members)
    out.add("business_members", _scatter(n, idx, f["business_members"]))
    out.add("members_with_contract", signed)
    out.add("contract_share", signed / np.maximum(members, 1.0))
    out.add("member_shipments", _scatter(n, idx, f["member_shipments"]))
    return out


def _account_features(con: duckdb.DuckDBPyConnection, n: int, values: dict, cfg: GraphConfig) -> _Columns:
    """Account type, payment method, age and number of holders."""
    out = _Columns(n)
    f = fetch(con, "account_features", values)
    idx = f["idx"]
    out.extend(*_one_hot(_scatter(n, idx, f["type_code"]), cfg.account_types, "type"))
    out.extend(*_one_hot(_scatter(n, idx, f["payment_code"]), cfg.payment_methods, "payment"))
    out.add("age_days", _scatter(n, idx, f["age_days"]))
    out.add("holders", _scatter(n, idx, f["holders"]))
    return out


def _station_features(con: duckdb.DuckDBPyConnection, n: int, values: dict, cfg: GraphConfig) -> _Columns:
    """Kind, location, age, customers, companies, recent volume and contract density (contracts by D)."""
    out = _Columns(n)
    f = fetch(con, "station_features", values)
    idx = f["idx"]
    out.extend(*_one_hot(_scatter(n, idx, f["kind_code"]), cfg.station_kinds, "kind"))
    customers = _scatter(n, idx, f["customers"])
    contracts = _scatter(n, idx, f["contracts"])
    for col in ("lat", "lon", "age_days"):
        out.add(col, _scatter(n, idx, f[col]))
    out.add("customers", customers)
    out.add("companies", _scatter(n, idx, f["companies"]))
    out.add("shipments_recent", _scatter(n, idx, f["shipments_recent"]))
    out.add("contracts", contracts)
    out.add("contract_density", contracts / np.maximum(customers, 1.0))
    return out


FEATURES = {"customer": _customer_features, "company": _company_features, "account": _account_features, "station": _station_features}


def node_ids(con: duckdb.DuckDBPyConnection, node_type: str) -> np.ndarray:
    """Raw ids of one node type's temp table in row order (row i has idx i)."""
    table, col = NODE_TABLES[node_type], ID_COLUMNS[node_type]
    return con.execute(f"SELECT {col} FROM {table} ORDER BY idx").fetchnumpy()[col].astype(np.int64)


def assemble(con: duckdb.DuckDBPyConnection, as_of: date, cfg: GraphConfig) -> HeteroData:
    """The snapshot as of D in memory: raw features (float32), raw node ids, edges in both directions."""
    values = params(as_of, cfg)
    for name in SETUP:
        run(con, name, values)
    g = HeteroData()
    for nt in NODE_TYPES:
        ids = node_ids(con, nt)
        cols = FEATURES[nt](con, len(ids), values, cfg)
        g[nt].x = torch.from_numpy(cols.matrix())
        g[nt].node_id = torch.from_numpy(ids)
        g[nt].feature_names = cols.names
    for edge_type, reverse, query in RELATIONS:
        e = fetch(con, query, values)
        index = torch.from_numpy(np.stack([e["src"].astype(np.int64), e["dst"].astype(np.int64)]))
        g[edge_type].edge_index = index
        g[edge_type[2], reverse, edge_type[0]].edge_index = index.flip(0).contiguous()
        if edge_type[1] == "ships_to":
            attr = torch.from_numpy(np.stack([e[c].astype(np.float32) for c in SHIP_ATTRS], axis=1))
            g[edge_type].edge_attr = attr
            g[edge_type[2], reverse, edge_type[0]].edge_attr = attr.clone()
    return g
