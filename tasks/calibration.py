"""Calibrated probabilities: a monotone map per task fitted on held-out labels, stored as JSON, and its figures.

Training weights the rare positives up, so a model's raw probabilities overstate them. Each task's map
is fitted on the validation split (Platt: a logistic regression on the raw logit; or isotonic), then
judged on the test split, which it has not seen: Brier score, expected calibration error and a
reliability curve (mean predicted against observed rate per bin of equal count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from leadgraph.config import CalibrationConfig
from tasks.registry import write_json

FILE = "calibration.json"
_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Calibrator:
    """One task's map from raw to calibrated probability, with the base rate of the labels it was fitted on."""

    method: str
    params: dict[str, Any]
    base_rate: float

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (same order); non-decreasing in the raw ones, so rankings keep their order."""
        if self.method == "platt":
            z = self.params["slope"] * _logit(p) + self.params["intercept"]
            return 1.0 / (1.0 + np.exp(-z))
        if self.method == "isotonic":
            return np.interp(np.asarray(p, dtype=np.float64), self.params["x"], self.params["y"])
        # Fitted on one class only: nothing to rank by, the base rate for everyone.
        return np.full(len(p), self.base_rate)

    def to_json(self) -> dict:
        return {"method": self.method, "params": self.params, "base_rate": self.base_rate}

    @classmethod
    def from_json(cls, doc: dict) -> Calibrator:
        return cls(doc["method"], dict(doc["params"]), float(doc["base_rate"]))


def fit(p: np.ndarray, y: np.ndarray, cfg: CalibrationConfig) -> Calibrator:
    """A calibrator of raw probabilities `p` against 0/1 labels `y` (one class only: the base rate, constant)."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    base = float(y.mean()) if y.size else float("nan")
    if y.size == 0 or y.min() == y.max():
        return Calibrator("constant", {}, base)
    if cfg.method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return Calibrator("isotonic", {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}, base)
    reg = LogisticRegression(C=cfg.platt_c).fit(_logit(p)[:, None], y)
    # A negative slope would reverse the model's ranking: keep the order, flatten towards the base rate.
    slope = max(float(reg.coef_[0, 0]), cfg.min_slope)
    return Calibrator("platt", {"slope": slope, "intercept": float(reg.intercept_[0])}, base)


def figures(p: np.ndarray, y: np.ndarray, bins: int) -> dict[str, Any]:
    """Brier score, expected calibration error, mean predicted vs observed rate and the reliability curve."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return {"n": 0}
    order = np.argsort(p, kind="stable")
    curve, ece = [], 0.0
    for chunk in np.array_split(order, min(bins, y.size)):
        mean_p, rate = float(p[chunk].mean()), float(y[chunk].mean())
        curve.append({"mean_predicted": mean_p, "observed_rate": rate, "n": int(chunk.size)})
        ece += chunk.size / y.size * abs(mean_p - rate)
    return {"n": int(y.size), "positives": int(y.sum()), "brier": float(np.mean((p - y) ** 2)), "ece": float(ece),
            "mean_predicted": float(p.mean()), "observed_rate": float(y.mean()), "curve": curve}


def save(path: Path, calibrators: dict[str, Calibrator], figures_by_task: dict[str, dict]) -> None:
    """Write the calibrators and their held-out figures as JSON."""
    doc = {"tasks": {k: c.to_json() for k, c in calibrators.items()}, "figures": figures_by_task}
    write_json(path, doc)


def load(path: Path) -> dict[str, Calibrator]:
    """The calibrators of a model version; none for a version saved without them (raw probabilities then)."""
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {k: Calibrator.from_json(v) for k, v in doc["tasks"].items()}


def load_figures(path: Path) -> dict[str, dict]:
    """The held-out calibration figures stored with a model version (empty without them)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("figures", {})
