"""Drift of customer features and scores on day D against the champion's reference window, with Evidently.

Reference (documented in README "Drift policy"): the prospects' features and scores that the same champion
version saw on the previous `drift.reference_days` days (rolling window, frames kept under
artifacts/drift/<model_version>/). A champion's first scored day has no reference: it becomes the baseline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from leadgraph.config import Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect

SCORE_COLUMNS: tuple[str, ...] = ("p_high_interest", "p_contract", "score")
# The recommend stage's top offers' scores (sql/offers/scores_by_rank.sql), watched when D has offers.
OFFER_SCORE_COLUMNS: tuple[str, ...] = ("offer_score_1", "offer_score_2", "offer_score_3")
KEY = "customer_id"


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift test."""

    column: str
    kind: str  # feature | score
    method: str
    value: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """The day's drift verdict and what the policy says to do about it."""

    as_of: date
    severe: bool
    share_drifted: float
    action: str  # none | retrain | hold | warn
    report_path: Path | None
    columns: list[ColumnDrift] = field(default_factory=list)
    baseline: bool = False

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def status(self) -> str:
        """One word for the manifest: baseline, ok, drift or severe."""
        if self.baseline:
            return "baseline"
        return "severe" if self.severe else "drift" if self.drifted_columns else "ok"

    def render(self) -> str:
        """A short human summary."""
        if self.baseline:
            return f"drift {self.as_of}: no reference yet for this champion; today's frame is the baseline"
        head = (f"drift {self.as_of}: {len(self.drifted_columns)}/{len(self.columns)} columns drifted "
                f"(share {self.share_drifted:.2f}), {'SEVERE' if self.severe else 'not severe'}, action {self.action}")
        return "\n".join([head] + [f"  {c.kind} {c.column}: {c.method} {c.value:.4f} >= {c.threshold}"
                                   for c in self.columns if c.drifted] + [f"  report: {self.report_path}"])


def report_path(settings: Settings, as_of: date) -> Path:
    """Where the day's drift HTML goes."""
    return settings.paths.reports / as_of.isoformat() / "drift.html"


def frame_dir(settings: Settings, model_version: str) -> Path:
    """Where the frames a champion scored are kept as the rolling reference."""
    return settings.paths.artifacts / "drift" / model_version


def policy_action(settings: Settings, share_drifted: float) -> tuple[bool, str]:
    """(severe, action): severe when the share of drifted columns reaches drift.severe_share_drifted."""
    severe = share_drifted >= settings.drift.severe_share_drifted
    return severe, settings.drift.on_severe if severe else "none"


def drift_columns(current: pd.DataFrame, reference: pd.DataFrame) -> list[str]:
    """The numeric columns both frames share, minus the key."""
    shared = [c for c in current.columns if c in reference.columns and c != KEY]
    return [c for c in shared if pd.api.types.is_numeric_dtype(current[c]) and pd.api.types.is_numeric_dtype(reference[c])]


def evidently_drift(current: pd.DataFrame, reference: pd.DataFrame, columns: Sequence[str], method: str,
                    threshold: float, html_path: Path | None) -> tuple[dict[str, float], float]:
    """Run Evidently's DataDriftPreset: ({column: value}, share of drifted columns); saves the HTML if asked."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(columns))
    snapshot = Report([DataDriftPreset(columns=list(columns), method=method, threshold=threshold)]).run(
        Dataset.from_pandas(current[list(columns)], data_definition=definition),
        Dataset.from_pandas(reference[list(columns)], data_definition=definition),
    )
    values: dict[str, float] = {}
    share = float("nan")
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            values[config["column"]] = float(metric["value"])
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    return values, share


def compute_drift(settings: Settings, as_of: date, model_version: str, current: pd.DataFrame,
                  reference: pd.DataFrame, score_columns: Sequence[str] = SCORE_COLUMNS + OFFER_SCORE_COLUMNS) -> DriftResult:
    """Compare D's frame with the reference frame; record per-column numbers in meta.drift_metrics and the HTML.

    Both frames hold one row per prospect: numeric feature columns plus the score columns.
    """
    cfg = settings.drift
    columns = drift_columns(current, reference)
    if not columns:
        raise ValueError(f"drift for {as_of}: the current and reference frames share no numeric column")
    html = report_path(settings, as_of)
    values, share = evidently_drift(current, reference, columns, cfg.method, cfg.threshold, html)
    # Every allowed method is a distance: larger is more different, drifted from the threshold up.
    results = [ColumnDrift(column=c, kind="score" if c in score_columns else "feature", method=cfg.method,
                           value=values[c], threshold=cfg.threshold,
                           drifted=bool(np.isfinite(values[c]) and values[c] >= cfg.threshold)) for c in columns]
    severe, action = policy_action(settings, share)
    _record(settings, as_of, model_version, results)
    return DriftResult(as_of=as_of, severe=severe, share_drifted=share, action=action, report_path=html,
                       columns=results)


def _record(settings: Settings, as_of: date, model_version: str, results: Sequence[ColumnDrift]) -> None:
    """Replace D's rows for this model version in meta.drift_metrics."""
    computed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [[as_of, model_version, r.kind, r.column, r.method, r.value, r.threshold, r.drifted, computed_at]
            for r in results]
    with connect(settings.paths.warehouse) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM meta.drift_metrics WHERE as_of = ? AND model_version = ?", [as_of, model_version])
        con.executemany("INSERT INTO meta.drift_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")


def current_frame(features: pd.DataFrame, scores: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """The scored prospects' features and scores, one row each, sampled to at most `max_rows` reproducibly."""
    frame = scores[[KEY, *SCORE_COLUMNS]].merge(features, on=KEY, how="inner", validate="one_to_one")
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=0)
    return frame.sort_values(KEY).reset_index(drop=True)


def with_offer_scores(settings: Settings, as_of: date, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with D's top offer scores by rank beside it (unchanged when D has no recommendations)."""
    if not settings.paths.warehouse.exists():
        return frame
    with connect(settings.paths.warehouse, read_only=True) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'offer_recommendations'").fetchone()[0]:
            return frame
        offers = con.execute(sql("offers/scores_by_rank"), [as_of]).df()
    if offers.empty:
        return frame
    return frame.merge(offers, on=KEY, how="left", validate="one_to_one")


def save_frame(settings: Settings, model_version: str, as_of: date, frame: pd.DataFrame) -> Path:
    """Keep D's frame as part of this champion's future reference window."""
    path = frame_dir(settings, model_version) / f"as_of={as_of.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def reference_frame(settings: Settings, model_version: str, as_of: date) -> pd.DataFrame | None:
    """The frames this champion scored in [D - reference_days, D), pooled; None when there are none."""
    start = as_of - timedelta(days=settings.drift.reference_days)
    folder = frame_dir(settings, model_version)
    days = [start + timedelta(days=i) for i in range(settings.drift.reference_days)]
    paths = [p for p in (folder / f"as_of={d.isoformat()}.parquet" for d in days) if p.exists()]
    if not paths:
        return None
    pooled = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    if len(pooled) > settings.drift.max_rows:
        pooled = pooled.sample(n=settings.drift.max_rows, random_state=0)
    return pooled


def snapshot_features(snapshot_path: Path) -> pd.DataFrame:
    """The customer features of a graph snapshot as a frame: customer_id plus one column per feature."""
    from tasks.graph import load_snapshot

    graph = load_snapshot(snapshot_path)
    store = graph["customer"]
    frame = pd.DataFrame(store.x.numpy(), columns=list(store.feature_names))
    frame.insert(0, KEY, store.node_id.numpy())
    return frame


def _scores_frame(settings: Settings, scores: str | pd.DataFrame, as_of: date) -> pd.DataFrame:
    """D's scores from a frame or a warehouse table (rows of D when it has an as_of column)."""
    if isinstance(scores, pd.DataFrame):
        return scores
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", scores):
        raise ValueError(f"not a warehouse table name: {scores!r}")
    with connect(settings.paths.warehouse, read_only=True) as con:
        columns = [row[0] for row in con.execute(f"DESCRIBE {scores}").fetchall()]
        if "as_of" in columns:
            return con.execute(f"SELECT * FROM {scores} WHERE as_of = ?", [as_of]).df()
        return con.execute(f"SELECT * FROM {scores}").df()


def run_drift(settings: Settings, as_of: date, model_version: str, features: Path | pd.DataFrame,
              scores: str | pd.DataFrame) -> DriftResult:
    """The drift stage of the daily run: D's frame against the champion's rolling reference, then keep D's frame.

    `features` is a graph snapshot path or a frame (customer_id + feature columns); `scores` a frame or a
    warehouse table of D's scores (customer_id, p_high_interest, p_contract, score). D's offer scores join them
    when the recommend stage wrote any.
    """
    feature_frame = snapshot_features(features) if isinstance(features, Path) else features
    current = current_frame(feature_frame, _scores_frame(settings, scores, as_of), settings.drift.max_rows)
    current = with_offer_scores(settings, as_of, current)
    reference = reference_frame(settings, model_version, as_of)
    save_frame(settings, model_version, as_of, current)
    if reference is None:
        return DriftResult(as_of=as_of, severe=False, share_drifted=0.0, action="none", report_path=None,
                           baseline=True)
    return compute_drift(settings, as_of, model_version, current, reference)


drift_task = task(run_drift, name="drift", cache_policy=NONE, task_run_name="drift-{as_of}")
