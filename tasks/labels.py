"""Anchor dates and labels: which Mondays train, validate and test, and who became high-interest or signed after each.

For an anchor t (a business date; "at t" means up to the end of day t): task 1 is a high_interest
event in (t, t + high_interest_days], task 2 a contract_signed event in (t, t + contract_days], both
in whole business days, i.e. from the start of day t + 1 to the end of the window's last day. The
population is the prospects of t: customers existing at t, with no contract signed by the end of t,
who shipped or received within the activity lookback up to t.

Splits never share outcomes. Anchors are two weeks apart but the windows are 30 and 90 days long, so
a training anchor's window would run into the validation and test windows: the same signing would
be a training positive and a test positive of the same customer, and the hold-out would reward
remembering customers instead of predicting them (on the tiny world: validation AUC 0.74 against a
test AUC of 0.56 for high interest). So each split's windows are cut at the next split's anchor:
training labels count outcomes up to the validation anchor, validation labels up to the test
anchor, and the test labels, like the scores of a real morning, whole windows that closed by D.
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

    def cutoff(self, anchor: date) -> date | None:
        """The last day whose outcomes count for the anchor's labels: the next split's anchor (None for test)."""
        if anchor == self.test:
            return None
        return self.test if anchor == self.val else self.val


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


def labels_at(con: duckdb.DuckDBPyConnection, anchor: date, cfg: LabelConfig, cutoff: date | None = None) -> pd.DataFrame:
    """The anchor's population with y_high_interest and y_contract (0/1), ordered by customer_id.

    With `cutoff`, outcomes after the end of that day do not count (the windows end there at the latest).
    """
    if cutoff is not None and cutoff <= anchor:
        raise ValueError(f"label cutoff {cutoff} must come after the anchor {anchor}")

    def window_end(days: int) -> date:
        end = anchor + timedelta(days=days)
        return end if cutoff is None else min(end, cutoff)

    frame = con.execute(
        sql("labels/labels_at"),
        {
            "anchor": anchor,
            "lookback": cfg.activity_lookback_days,
            "hi_end": window_end(cfg.high_interest_days),
            "contract_end": window_end(cfg.contract_days),
        },
    ).df()
    return frame.astype({"customer_id": "int64", "y_high_interest": "int8", "y_contract": "int8"})
