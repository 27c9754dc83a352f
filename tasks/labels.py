"""Anchor dates and labels: which Mondays train, validate and test each task, and who reached its outcome after each.

For an anchor t (a business date; "at t" means up to the end of day t) and a task of window w (settings
`labels.tasks`): the label is one of the task's outcomes in (t, t + w], in whole business days, i.e. from
the start of day t + 1 to the end of day t + w. The population is the prospects of t: customers existing
at t, without the final task's outcome by the end of t, with at least `labels.min_shipments` shipments in
the activity lookback up to t.

Every label counts its task's whole window, and splits never share an outcome: per task, the test
anchor is the latest Monday whose window closed by D, the validation anchor the latest Monday whose
window closed by the test anchor, and the training anchors, a stride apart, those whose windows closed by
the validation anchor. (Cutting windows at the next split's anchor instead would train and select the
sparse task on a fraction of its positives, with labels unlike the ones it is tested on.) So the 30-day
task's anchors sit closer to D than the 90-day task's; a snapshot serves every task whose split holds it.
The production model may then be refit on each task's most recent anchors whose windows closed by D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from leadgraph.config import LabelConfig, LabelTask
from leadgraph.sql import sql

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class TaskAnchors:
    """One task's anchor Mondays: training anchors (oldest first), then the validation and the test anchor."""

    train: list[date]
    val: date
    test: date

    def of(self, split: str) -> list[date]:
        """The anchors of one split."""
        return {"train": self.train, "val": [self.val], "test": [self.test]}[split]


@dataclass(frozen=True)
class AnchorPlan:
    """Every task's anchors; a split's snapshots are the union of its tasks' anchors."""

    tasks: dict[str, TaskAnchors]
    # Per task, the most recent anchors whose windows closed by D: the refit of the production model.
    refit: dict[str, list[date]]

    def split(self, name: str) -> list[date]:
        """The anchors of one split over all tasks, oldest first."""
        return sorted({a for t in self.tasks.values() for a in t.of(name)})

    def tasks_at(self, split: str, anchor: date) -> list[str]:
        """The tasks whose split `split` uses `anchor`."""
        return [k for k, t in self.tasks.items() if anchor in t.of(split)]

    @property
    def all(self) -> list[date]:
        """Every anchor of the three splits, oldest first."""
        return sorted({a for s in SPLITS for a in self.split(s)})

    def as_json(self) -> dict:
        """Per task and split, the ISO dates (for the registry and reports)."""
        return {k: {"train": [a.isoformat() for a in t.train], "val": t.val.isoformat(), "test": t.test.isoformat(),
                    "refit": [a.isoformat() for a in self.refit[k]]} for k, t in self.tasks.items()}


def _monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())


def task_anchors(as_of: date, window_days: int, cfg: LabelConfig) -> tuple[TaskAnchors, list[date]]:
    """A task's split anchors and its refit anchors, each window whole and closed before the next split's anchor."""
    window, stride = timedelta(days=window_days), timedelta(days=cfg.anchor_stride_days)
    test = _monday_on_or_before(as_of - window)
    val = _monday_on_or_before(test - window)
    last_train = _monday_on_or_before(val - window)
    train = [last_train - stride * k for k in range(cfg.train_anchors - 1, -1, -1)]
    refit = [test - stride * k for k in range(cfg.train_anchors - 1, -1, -1)]
    return TaskAnchors(train=train, val=val, test=test), refit


def anchor_dates(as_of: date, cfg: LabelConfig) -> AnchorPlan:
    """Per task: Mondays whose windows are whole, test closing by D, validation by test, training by validation."""
    if cfg.anchor_stride_days <= 0 or cfg.anchor_stride_days % 7:
        raise ValueError(f"labels.anchor_stride_days must be a positive multiple of 7 so anchors stay Mondays, got {cfg.anchor_stride_days}")
    if cfg.train_anchors < 1:
        raise ValueError(f"labels.train_anchors must be at least 1, got {cfg.train_anchors}")
    tasks, refit = {}, {}
    for task in cfg.tasks:
        tasks[task.key], refit[task.key] = task_anchors(as_of, task.window_days, cfg)
    return AnchorPlan(tasks=tasks, refit=refit)


def check_history(plan: AnchorPlan, cfg: LabelConfig, first_day: date | None, as_of: date) -> None:
    """A clear error when the oldest anchor a task needs comes before the history starts."""
    if first_day is None:
        raise ValueError(f"no shipments or sales events by {as_of}: nothing to label")
    for task in cfg.tasks:
        oldest = plan.tasks[task.key].train[0]
        if oldest < first_day:
            raise ValueError(
                f"labels.tasks[{task.key}]: {cfg.train_anchors} training anchor(s), then validation and test, each "
                f"with a whole {task.window_days}-day window, need history from {oldest} but it starts on {first_day}: "
                f"train as of a later D (from about {as_of + (first_day - oldest)}), or lower labels.train_anchors "
                f"or the task's window_days")


def check_outcomes(con: duckdb.DuckDBPyConnection, cfg: LabelConfig, as_of: date) -> None:
    """Every configured outcome value must occur in sales_events by D: a typo would silently train on no positives."""
    seen = dict(con.execute(sql("labels/outcomes_seen"), {"as_of": as_of}).fetchall())
    for i, task in enumerate(cfg.tasks):
        for value in task.outcomes:
            if value not in seen:
                raise ValueError(
                    f"labels.tasks[{i}].outcomes ({task.name}): the value {value!r} never occurs in sales_events.outcome "
                    f"by {as_of}; values seen: {', '.join(f'{k} ({v})' for k, v in seen.items()) or 'none'}")


def population(con: duckdb.DuckDBPyConnection, anchor: date, cfg: LabelConfig) -> pd.DataFrame:
    """The anchor's prospects (customer_id), ordered by customer_id."""
    frame = con.execute(sql("labels/population"), {
        "anchor": anchor, "lookback": cfg.activity_lookback_days, "min_shipments": cfg.min_shipments,
        "final": list(cfg.final.outcomes),
    }).df()
    return frame.astype({"customer_id": "int64"})


def positives(con: duckdb.DuckDBPyConnection, anchor: date, task: LabelTask) -> set[int]:
    """Customers with one of the task's outcomes in its whole window after the anchor."""
    rows = con.execute(sql("labels/positives"), {
        "anchor": anchor, "window_end": anchor + timedelta(days=task.window_days), "outcomes": list(task.outcomes),
    }).fetchall()
    return {int(r[0]) for r in rows}


def label_column(key: str) -> str:
    """The label column of a task in a labels frame."""
    return f"y_{key}"


def labels_at(con: duckdb.DuckDBPyConnection, anchor: date, cfg: LabelConfig, keys: list[str] | None = None) -> pd.DataFrame:
    """The anchor's population with y_<task key> (0/1) for the given tasks (default: all), ordered by customer_id."""
    frame = population(con, anchor, cfg)
    for task in cfg.tasks:
        if keys is None or task.key in keys:
            hits = positives(con, anchor, task)
            frame[label_column(task.key)] = frame["customer_id"].isin(hits).astype("int8")
    return frame
