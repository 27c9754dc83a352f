"""Calibration maps and figures, the quality gate's bootstrap and decisions, on hand-built predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from leadgraph.config import CalibrationConfig, QualityConfig
from models.training import Predictions
from tasks import calibration
from tasks.quality_gate import ap_interval, cells_ap, judge, paired_bootstrap, paired_cells, pool, rank_cells, weighted_ap


def _world(n: int, rate: float, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels at `rate` and raw scores that overstate them (as class-weighted training does), separating by `signal`."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.float64)
    z = rng.normal(size=n) + signal * y + 2.5  # shifted up: raw probabilities far above the true rate
    return 1 / (1 + np.exp(-z)), y


def _pred(p: np.ndarray, y: np.ndarray) -> Predictions:
    return Predictions(p.astype(np.float32), y.astype(np.float32), np.ones(len(y)))


def test_weighted_ap_matches_sklearn_with_ties_and_weights() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.1).astype(float)
    p = np.round(rng.random(400) + 0.3 * y, 1)  # rounded: many ties
    w = rng.integers(0, 4, size=(3, 400)).astype(float)
    for row in w:
        assert weighted_ap(p, y, row[None, :])[0] == pytest.approx(average_precision_score(y, p, sample_weight=row), abs=1e-12)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_undoes_overstated_probabilities(method: str, tmp_path: Path) -> None:
    cfg = CalibrationConfig(method=method)
    p_val, y_val = _world(20_000, 0.02, 1.5, 0)
    p_test, y_test = _world(20_000, 0.02, 1.5, 1)
    cal = calibration.fit(p_val, y_val, cfg)
    raw, calibrated = calibration.figures(p_test, y_test, 10), calibration.figures(cal.apply(p_test), y_test, 10)
    assert raw["mean_predicted"] > 10 * raw["observed_rate"]
    # Mean predicted within 20% of the observed rate on data the map never saw; Brier and ECE improve.
    assert abs(calibrated["mean_predicted"] / calibrated["observed_rate"] - 1) < 0.2
    assert calibrated["brier"] < raw["brier"] and calibrated["ece"] < raw["ece"] / 10
    assert len(calibrated["curve"]) == 10 and sum(b["n"] for b in calibrated["curve"]) == len(y_test)
    # The ranking keeps its order (Platt strictly, isotonic up to ties).
    order = np.argsort(p_test)
    assert np.all(np.diff(cal.apply(p_test)[order]) >= 0)
    calibration.save(tmp_path / calibration.FILE, {"contract": cal}, {"contract": calibrated})
    loaded = calibration.load(tmp_path / calibration.FILE)["contract"]
    assert np.allclose(loaded.apply(p_test), cal.apply(p_test)) and loaded.base_rate == pytest.approx(y_val.mean())
    assert calibration.load_figures(tmp_path / calibration.FILE)["contract"]["ece"] == pytest.approx(calibrated["ece"])


def test_a_map_fitted_on_one_class_gives_the_base_rate() -> None:
    cal = calibration.fit(np.array([0.9, 0.8, 0.7]), np.zeros(3), CalibrationConfig())
    assert cal.method == "constant" and np.all(cal.apply(np.array([0.1, 0.99])) == 0.0)


def test_gate_passes_only_past_the_prevalence_and_the_baseline_beyond_chance() -> None:
    cfg = QualityConfig(bootstrap_samples=300, min_positives=20)
    strong, y = _world(5_000, 0.02, 3.0, 4)
    weak = np.random.default_rng(5).random(len(y))  # a baseline that ranks at random
    val_strong, y_val = _world(5_000, 0.02, 3.0, 6)
    val_weak = np.random.default_rng(7).random(len(y_val))
    won = judge("contract", _pred(strong, y), _pred(val_strong, y_val), _pred(weak, y), _pred(val_weak, y_val), "lightgbm", cfg)
    assert won.passed and won.figures["mode"] == "bootstrap"
    lo, hi = won.figures["intervals"]["vs_baseline"]
    assert 0 < lo < hi and "paired bootstrap" in won.reason
    # Swapped: the random model against the strong baseline fails, and says by how much.
    lost = judge("contract", _pred(weak, y), _pred(val_weak, y_val), _pred(strong, y), _pred(val_strong, y_val), "lightgbm", cfg)
    assert not lost.passed and lost.figures["intervals"]["vs_baseline"][1] < 0 and "does not beat" in lost.reason
    # Without a baseline (the version is the baseline) only the prevalence counts.
    alone = judge("contract", _pred(strong, y), _pred(val_strong, y_val), None, None, "lightgbm", cfg)
    assert alone.passed and "vs_baseline" not in alone.figures["intervals"]


def test_gate_with_too_few_positives_judges_validation_and_test() -> None:
    cfg = QualityConfig(min_positives=20)
    y = np.zeros(500)
    y[[3, 77, 150]] = 1
    good = np.where(y == 1, 0.9, 0.1) + np.linspace(0, 0.01, len(y))
    bad = np.linspace(0.5, 0.4, len(y))
    result = judge("contract", _pred(good, y), _pred(good, y), _pred(bad, y), _pred(bad, y), "lightgbm", cfg)
    assert result.passed and result.figures["mode"] == "validation and test" and "too few for an interval" in result.reason
    # Beating the baseline on test only is not enough.
    mixed = judge("contract", _pred(good, y), _pred(bad, y), _pred(bad, y), _pred(good, y), "lightgbm", cfg)
    assert not mixed.passed
    none = judge("contract", _pred(good, np.zeros(500)), _pred(good, y), None, None, "lightgbm", cfg)
    assert not none.passed and "no positive" in none.reason


def test_the_hold_out_ap_interval_brackets_the_ap_and_narrows_with_more_rows() -> None:
    """The model page's interval: a bootstrap of the hold-out AP that holds the point value and shrinks with n."""
    rng = np.random.default_rng(3)
    widths = []
    for n in (400, 6400):
        y = (rng.random(n) < 0.1).astype(np.int64)
        p = np.clip(0.1 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1)
        pred = Predictions(p, y, np.ones(n))
        low, high = ap_interval(pred, QualityConfig(bootstrap_samples=300))
        point = float(weighted_ap(p, y.astype(np.float64), np.ones((1, n)))[0])
        assert low < point < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2
    assert ap_interval(Predictions(np.full(5, 0.5), np.zeros(5, dtype=np.int64), np.ones(5)), QualityConfig()) is None


def _tied_weighted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rounded scores (many ties), 3% positives and two row weights, as a sampled evaluation gives."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.03).astype(np.float64)
    p = np.round(np.clip(0.1 + 0.2 * y + rng.normal(0, 0.2, n), 0, 1), 2)
    return p, y, np.where(rng.random(n) < 0.5, 1.0, 3.0)


def test_a_ranking_pooled_into_cells_keeps_its_ap() -> None:
    p, y, w = _tied_weighted(5000, 0)
    cells = rank_cells(p, y, w)
    assert len(cells.share) < 500  # thousands of rows, a few hundred cells
    every_row_once = np.round(cells.share * len(y))[None, :]
    assert cells_ap(every_row_once, cells)[0] == pytest.approx(float(weighted_ap(p, y, w[None, :])[0]), abs=1e-12)
    # A positive ranked last leaves no rows after it.
    last = rank_cells(np.array([0.9, 0.5, 0.1]), np.array([0.0, 1.0, 1.0]), np.ones(3))
    assert cells_ap(np.ones((1, len(last.share))), last)[0] == pytest.approx(
        average_precision_score([0, 1, 1], [0.9, 0.5, 0.1]))


def test_resampling_cells_is_the_bootstrap_of_the_rows() -> None:
    p, y, w = _tied_weighted(5000, 1)
    rng = np.random.default_rng(2)
    k, n = 2000, len(y)
    rows = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(k)]).astype(np.float64)
    by_rows = weighted_ap(p, y, rows * w)
    cells = rank_cells(p, y, w)
    by_cells = cells_ap(rng.multinomial(n, cells.share, size=k).astype(np.float64), cells)
    assert abs(by_rows.mean() - by_cells.mean()) < 3 * by_rows.std() / np.sqrt(k / 2)
    assert by_cells.std() == pytest.approx(by_rows.std(), rel=0.1)
    np.testing.assert_allclose(np.percentile(by_cells, [2.5, 97.5]), np.percentile(by_rows, [2.5, 97.5]),
                               atol=0.1 * by_rows.std() * 4)


def _two_rankings(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A version's tied, weighted ranking and a baseline's that agrees with it only in part."""
    p, y, w = _tied_weighted(n, seed)
    noise = np.random.default_rng(seed + 100).normal(0, 0.15, n)
    return p, np.round(np.clip(p + noise, 0, 1), 2), y, w


def test_joint_cells_keep_both_rankings_aps() -> None:
    p, b, y, w = _two_rankings(5000, 4)
    cells = paired_cells(p, b, y, w)
    assert len(cells.share) < len(y)
    every_row_once = np.round(cells.share * len(y))[None, :]
    for ranking, own, into in ((p, cells.version, cells.in_version), (b, cells.baseline, cells.in_baseline)):
        pooled = pool(every_row_once, into, len(own.share))
        np.testing.assert_array_equal(pooled[0], np.round(own.share * len(y)))
        assert cells_ap(pooled, own)[0] == pytest.approx(float(weighted_ap(ranking, y, w[None, :])[0]), abs=1e-12)


def test_resampling_joint_cells_is_the_paired_bootstrap_of_the_rows() -> None:
    p, b, y, w = _two_rankings(5000, 5)
    rng = np.random.default_rng(6)
    k, n = 2000, len(y)
    rows = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(k)]).astype(np.float64) * w
    by_rows = weighted_ap(p, y, rows) - weighted_ap(b, y, rows)
    prevalence = (rows @ y) / rows.sum(axis=1)
    cfg = QualityConfig(bootstrap_samples=k, confidence=0.95, seed=7)
    cells = paired_cells(p, b, y, w)
    counts = np.random.default_rng(8).multinomial(n, cells.share, size=k).astype(np.float64)
    by_cells = (cells_ap(pool(counts, cells.in_version, len(cells.version.share)), cells.version)
                - cells_ap(pool(counts, cells.in_baseline, len(cells.baseline.share)), cells.baseline))
    # The pairing is what makes the difference's spread small: far below either AP's own.
    assert by_rows.std() < 0.8 * weighted_ap(p, y, rows).std()
    assert abs(by_rows.mean() - by_cells.mean()) < 3 * by_rows.std() / np.sqrt(k / 2)
    assert by_cells.std() == pytest.approx(by_rows.std(), rel=0.1)
    intervals = paired_bootstrap(p, b, y, w, cfg)
    tolerance = 0.1 * by_rows.std() * 4
    np.testing.assert_allclose(intervals["vs_baseline"], np.percentile(by_rows, [2.5, 97.5]), atol=tolerance)
    d_prev = weighted_ap(p, y, rows) - prevalence
    np.testing.assert_allclose(intervals["vs_prevalence"], np.percentile(d_prev, [2.5, 97.5]),
                               atol=0.1 * d_prev.std() * 4)
