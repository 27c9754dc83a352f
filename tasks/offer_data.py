"""The offer models' input as of D: every customer and catalogue offer, and their behaviours, from the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np

from leadgraph.contract import BEHAVIOURS
from leadgraph.sql import sql
from models.offers.data import Interactions


@dataclass
class OfferData:
    """Interactions indexed by the as-of customer and offer orders, with the ids and names behind the indices."""

    as_of: date
    customer_ids: np.ndarray
    service_ids: np.ndarray
    service_names: list[str]
    interactions: Interactions


def load_offer_data(con: duckdb.DuckDBPyConnection, as_of: date) -> OfferData:
    """Customers, offers and service events with event time up to the end of D (nothing later, nothing quarantined)."""
    ids = con.execute(sql("offers/ids"), {"d": as_of}).fetchall()
    customers = np.array([i for kind, i, _ in ids if kind == "customer"], dtype=np.int64)
    services = [(i, name) for kind, i, name in ids if kind == "service"]
    rows = con.execute(sql("offers/interactions"), {"d": as_of}).fetchnumpy()
    users, items, behaviour = rows["u"].astype(np.int64), rows["i"].astype(np.int64), np.asarray(rows["behaviour"])
    inter = Interactions(
        n_users=len(customers), n_items=len(services), behaviours=BEHAVIOURS,
        users=[users[behaviour == b] for b in BEHAVIOURS], items=[items[behaviour == b] for b in BEHAVIOURS],
    )
    return OfferData(as_of, customers, np.array([i for i, _ in services], dtype=np.int64), [n for _, n in services], inter)


def load_holdout(con: duckdb.DuckDBPyConnection, data: OfferData, days: int, until: date) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's next adoption in (D, D + days] (events known by `until`), as (user, item) indices of `data`;
    customers or offers that did not exist at D are left out."""
    rows = con.execute(sql("offers/holdout"), {"split": data.as_of, "days": days, "until": until}).fetchnumpy()
    cust, serv = rows["customer_id"].astype(np.int64), rows["service_id"].astype(np.int64)
    u = np.searchsorted(data.customer_ids, cust)
    i = np.searchsorted(data.service_ids, serv)
    known = (u < len(data.customer_ids)) & (i < len(data.service_ids))
    known[known] &= (data.customer_ids[u[known]] == cust[known]) & (data.service_ids[i[known]] == serv[known])
    return u[known], i[known]
