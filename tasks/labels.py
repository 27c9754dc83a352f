"""Anchor dates and labels: which Mondays train, validate and test, and who became high-interest or signed after each.

For an anchor t (a business date; "at t" means up to the end of day t): task 1 is a high_interest
event in (t, t + high_interest_days], task 2 a contract_signed event in (t, t + contract_days], both
in whole business days, i.e. from the start of day t + 1 to the end of the window's last day. The
population is the prospects of t: customers existing at t, with no contract signed by the end of t,
who shipped or received within the activity lookback up to t.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from leadgraph.config import LabelConfig
from leadgraph.sql import sql


@dataclass(frozen=True)
class AnchorPlan:
    """Anchor Mondays: training anchors (oldest first), then the validation and the test anchor."""

    train: list[date]
    val: date
    test: date

    @property
    def all(self) -> list[date]:
        """Every anchor in time order, test last."""
        return [*self.train, self.val, self.test]


def anchor_dates(as_of: date, cfg: LabelConfig) -> AnchorPlan:
    """Mondays whose longest label window closed by D: test = the latest, val one stride before, train before that."""
    if cfg.anchor_stride_days <= 0 or cfg.anchor_stride_days % 7:
        raise ValueError(f"labels.anchor_stride_days must be a positive multiple of 7 so anchors stay Mondays, got {cfg.anchor_stride_days}")
    if cfg.train_anchors < 1:
        raise ValueError(f"labels.train_anchors must be at least 1, got {cfg.train_anchors}")
    last = as_of - timedelta(days=max(cfg.contract_days, cfg.high_interest_days))
    test = last - timedelta(days=last.weekday())
    stride = timedelta(days=cfg.anchor_stride_days)
    val = test - stride
    train = [val - stride * k for k in range(cfg.train_anchors, 0, -1)]
    return AnchorPlan(train=train, val=val, test=test)


def labels_at(con: duckdb.DuckDBPyConnection, anchor: date, cfg: LabelConfig) -> pd.DataFrame:
    """The anchor's population with y_high_interest and y_contract (0/1), ordered by customer_id."""
    frame = con.execute(
        sql("labels/labels_at"),
        {
            "anchor": anchor,
            "lookback": cfg.activity_lookback_days,
            "hi_end": anchor + timedelta(days=cfg.high_interest_days),
            "contract_end": anchor + timedelta(days=cfg.contract_days),
        },
    ).df()
    return frame.astype({"customer_id": "int64", "y_high_interest": "int8", "y_contract": "int8"})
