"""The territory list: changes since the previous list, filters, search, sort, and its rows rendered once.

A published list never changes, so each territory's rows are rendered to HTML once per published file
(escaped by the same Jinja environment as the pages) and a request only filters, sorts and joins them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment
from markupsafe import Markup

SORTABLE = ("rank_in_territory", "customer_id", "customer_name", "company_id", "industry", "score", "score_band",
            "p_contract", "p_high_interest", "change")
OFFER_COLUMNS = ("offer_1", "offer_2", "offer_3")
# Rendered rows always begin with this; a cell's text cannot contain it, since `<` is escaped.
ROW_START = '<tr data-customer="'


def change(previous: Any, rank: int) -> tuple[str, str]:
    """(kind, text) of a lead's move since the previous list: new, up n, down n or same."""
    if previous is None or pd.isna(previous):
        return "new", "new"
    moved = int(previous) - int(rank)
    if moved > 0:
        return "up", f"up {moved}"
    return ("down", f"down {-moved}") if moved < 0 else ("same", "same")


def with_changes(frame: pd.DataFrame) -> pd.DataFrame:
    """The list with change_kind, change_text and a sortable `change` (new first, then the biggest climbers)."""
    out = frame.copy()
    previous = out["previous_rank"].astype("Float64")
    moved = (previous - out["rank_in_territory"]).astype("Float64")
    out["change"] = moved.fillna(np.inf).astype(float)
    kinds = np.select([previous.isna().to_numpy(bool), (moved > 0).fillna(False).to_numpy(bool),
                       (moved < 0).fillna(False).to_numpy(bool)], ["new", "up", "down"], "same")
    out["change_kind"] = kinds
    steps = moved.abs().fillna(0).astype(int).astype(str)
    out["change_text"] = np.where(kinds == "up", "up " + steps, np.where(kinds == "down", "down " + steps, kinds))
    return out


def offer_columns(frame: pd.DataFrame) -> list[str]:
    """The offer columns to show: those of the list's schema, when any lead of the list has an offer at all."""
    present = [c for c in OFFER_COLUMNS if c in frame.columns]
    return present if any(frame[c].notna().any() for c in present) else []


def render_rows(env: Environment, frame: pd.DataFrame, day: Any) -> pd.Series:
    """Each lead's table row as escaped HTML, aligned with `frame`'s index."""
    offers = offer_columns(frame)
    records = frame.to_dict("records")
    html = env.get_template("rows.html").render(rows=records, day=day, offers=offers)
    parts = html.split(ROW_START)[1:]
    if len(parts) != len(frame):
        raise AssertionError(f"rendered {len(parts)} rows for {len(frame)} leads")
    return pd.Series([Markup(ROW_START + p.strip()) for p in parts], index=frame.index)


def filter_and_sort(frame: pd.DataFrame, band: str, industry: str, q: str, sort: str, order: str) -> pd.DataFrame:
    """The territory list as asked: band and industry filters, search by name or id, sorted by any column."""
    out = frame
    if band:
        out = out[out["score_band"] == band]
    if industry:
        out = out[out["industry"].fillna("") == industry]
    if q:
        needle = q.strip().casefold()
        # An id is matched whole (searching 12 should not bring up 112); names by any part.
        out = out[out["customer_name"].fillna("").str.casefold().str.contains(needle, regex=False)
                  | (out["customer_id"].astype(str) == needle)]
    column = sort if sort in SORTABLE else "rank_in_territory"
    descending = order == "desc"
    # "change" sorts biggest climb first when descending; new leads count as the biggest climb.
    return out.sort_values([column, "rank_in_territory"], ascending=[not descending, True], na_position="last",
                           kind="stable")
