"""Drift detection with real Evidently runs: planted drift is found, unplanted drift is not, the policy acts."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from leadgraph.config import Settings
from leadgraph.warehouse import connect
from tasks.drift import compute_drift, policy_action, run_drift

D = date(2025, 6, 30)
FEATURES = ("ship_out_30d", "weight_out_30d", "days_since_last", "n_accounts", "company_size")
PLANTED = {"ship_out_30d", "weight_out_30d", "score", "p_high_interest"}


def _frame(seed: int, n: int = 1500, drift: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features, scores) of n prospects; with drift, volumes jump and scores shift up."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    features = pd.DataFrame({
        "customer_id": ids,
        "ship_out_30d": rng.poisson(12 if drift else 4, n).astype(float),
        "weight_out_30d": rng.lognormal(3.0 if drift else 2.0, 1.0, n),
        "days_since_last": rng.uniform(0, 90, n),
        "n_accounts": rng.integers(1, 4, n).astype(float),
        "company_size": rng.choice([0.0, 1.0, 2.0, 3.0], n, p=[0.4, 0.3, 0.2, 0.1]),
    })
    p_hi = rng.beta(4 if drift else 1, 20, n)
    p_c = rng.beta(1, 500, n)
    scores = pd.DataFrame({"customer_id": ids, "p_high_interest": p_hi, "p_contract": p_c,
                           "score": 100 * (0.3 * p_hi + 0.7 * rng.uniform(0, 1, n) * 0.2)})
    if drift:
        scores["score"] += 25
    return features, scores


def _joined(seed: int, drift: bool = False) -> pd.DataFrame:
    features, scores = _frame(seed, drift=drift)
    return scores.merge(features, on="customer_id")


def _metrics(settings: Settings) -> pd.DataFrame:
    with connect(settings.paths.warehouse, read_only=True) as con:
        return con.execute("SELECT * FROM meta.drift_metrics ORDER BY column_name").df()


def test_planted_drift_is_detected_and_is_severe(settings: Settings) -> None:
    result = compute_drift(settings, D, "m1", _joined(2, drift=True), _joined(1))
    assert set(result.drifted_columns) == PLANTED
    assert result.share_drifted == pytest.approx(len(PLANTED) / 8)
    assert result.severe and result.action == "retrain" and result.status == "severe"
    assert result.report_path is not None and result.report_path.stat().st_size > 100_000
    assert result.report_path == settings.paths.reports / "2025-06-30" / "drift.html"
    metrics = _metrics(settings)
    assert len(metrics) == 8
    assert set(metrics.loc[metrics["drifted"], "column_name"]) == PLANTED
    assert set(metrics.loc[metrics["kind"] == "score", "column_name"]) == {"score", "p_high_interest", "p_contract"}
    assert (metrics["method"] == "wasserstein").all() and (metrics["threshold"] == 0.1).all()
    assert ((metrics["value"] >= 0.1) == metrics["drifted"]).all()


def test_same_distribution_is_not_drift(settings: Settings) -> None:
    result = compute_drift(settings, D, "m1", _joined(3), _joined(1))
    assert result.drifted_columns == [] and result.share_drifted == 0.0
    assert not result.severe and result.action == "none" and result.status == "ok"
    assert not _metrics(settings)["drifted"].any()


def test_policy_is_configurable(settings: Settings) -> None:
    settings.drift.on_severe = "hold"
    assert policy_action(settings, 0.5) == (True, "hold")
    assert policy_action(settings, 0.49) == (False, "none")
    settings.drift.severe_share_drifted = 0.9
    result = compute_drift(settings, D, "m1", _joined(2, drift=True), _joined(1))
    assert result.drifted_columns and not result.severe and result.action == "none" and result.status == "drift"


def test_rerun_replaces_the_days_metrics(settings: Settings) -> None:
    compute_drift(settings, D, "m1", _joined(2, drift=True), _joined(1))
    compute_drift(settings, D, "m1", _joined(3), _joined(1))
    metrics = _metrics(settings)
    assert len(metrics) == 8 and not metrics["drifted"].any()


def test_daily_stage_builds_a_rolling_reference_per_champion(settings: Settings) -> None:
    settings.drift.reference_days = 3
    first = run_drift(settings, D - timedelta(days=2), "m1", *_frame(1))
    assert first.baseline and first.action == "none" and first.report_path is None
    calm = run_drift(settings, D - timedelta(days=1), "m1", *_frame(3))
    assert not calm.baseline and calm.drifted_columns == []
    shifted = run_drift(settings, D, "m1", *_frame(4, drift=True))
    assert set(shifted.drifted_columns) == PLANTED and shifted.severe
    # A new champion starts its own baseline; frames older than the window are not a reference.
    assert run_drift(settings, D, "m2", *_frame(5)).baseline
    assert run_drift(settings, D + timedelta(days=10), "m1", *_frame(6)).baseline


def test_scores_from_a_warehouse_table(settings: Settings) -> None:
    features, scores = _frame(1)
    with connect(settings.paths.warehouse) as con:
        con.register("incoming", pd.concat([scores.assign(as_of=D), _frame(2, drift=True)[1].assign(as_of=D - timedelta(days=1))]))
        con.execute("CREATE TABLE main.scores AS SELECT * FROM incoming")
    run_drift(settings, D - timedelta(days=1), "m1", features, _frame(7)[1])
    result = run_drift(settings, D, "m1", features, "main.scores")
    assert not result.baseline and result.drifted_columns == []


def test_features_read_from_a_stored_graph_snapshot(settings: Settings, tmp_path) -> None:
    import torch
    from torch_geometric.data import HeteroData

    from tasks.graph import save_snapshot

    features, scores = _frame(1)
    graph = HeteroData()
    graph["customer"].x = torch.from_numpy(features[list(FEATURES)].to_numpy(np.float32))
    graph["customer"].node_id = torch.from_numpy(features["customer_id"].to_numpy(np.int64))
    graph["customer"].feature_names = list(FEATURES)
    folder = tmp_path / "snapshot"
    save_snapshot(graph, folder, D, "dv")
    run_drift(settings, D - timedelta(days=1), "m1", *_frame(2, drift=True))
    result = run_drift(settings, D, "m1", folder, scores)
    assert set(result.drifted_columns) == PLANTED
    kinds = {c.column: c.kind for c in result.columns}
    assert {k for k, v in kinds.items() if v == "feature"} == set(FEATURES)


def _offers(settings: Settings, day: date, seed: int, shift: float) -> None:
    """D's top-3 offer rows for most of the prospects, scores shifted by `shift`."""
    from leadgraph.sql import sql

    rng = np.random.default_rng(seed)
    ids = np.arange(1, 1301)
    frame = pd.DataFrame({"as_of": day, "offer_model": "as_of=2025-06-01", "customer_id": np.repeat(ids, 3),
                          "rank": np.tile([1, 2, 3], len(ids)), "service_id": 1, "name": "express",
                          "score": np.repeat(rng.normal(5 + shift, 1, len(ids)), 3) - np.tile([0.0, 0.5, 1.0], len(ids)),
                          "peer_adopted": False})
    with connect(settings.paths.warehouse) as con:
        con.execute(sql("offers/recommendations_schema"))
        con.register("incoming", frame)
        con.execute("INSERT INTO offer_recommendations SELECT * FROM incoming")


def test_offer_scores_are_watched_when_the_day_has_offers(settings: Settings) -> None:
    _offers(settings, D - timedelta(days=1), 1, 0.0)
    run_drift(settings, D - timedelta(days=1), "m1", *_frame(1))
    _offers(settings, D, 2, 3.0)
    result = run_drift(settings, D, "m1", *_frame(3))
    kinds = {c.column: c.kind for c in result.columns}
    assert {kinds[c] for c in ("offer_score_1", "offer_score_2", "offer_score_3")} == {"score"}
    # Prospects without offers (200 of 1500) leave gaps, not a failed report; only the offer scores moved.
    assert set(result.drifted_columns) == {"offer_score_1", "offer_score_2", "offer_score_3"}
    assert result.share_drifted == pytest.approx(3 / 11)


def test_a_day_without_offers_watches_the_lead_scores_only(settings: Settings) -> None:
    _offers(settings, D - timedelta(days=1), 1, 0.0)
    run_drift(settings, D - timedelta(days=1), "m1", *_frame(1))
    result = run_drift(settings, D, "m1", *_frame(3))
    assert not any(c.column.startswith("offer_") for c in result.columns) and result.drifted_columns == []
