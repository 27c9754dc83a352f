"""The quality gate: does a version beat the prevalence and the tabular baseline on the final task, beyond chance?

On the version's own hold-out (its test split), the final task's average precision is compared with
the prevalence (the AP of ranking at random) and with the LightGBM baseline trained on the same split,
by a paired bootstrap over the hold-out rows: the version passes when the lower end of both intervals
of the AP difference is above zero. A hold-out with fewer positives than `quality.min_positives` is too
small for an interval; the version must then beat both on validation and on test, and the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leadgraph.config import QualityConfig
from models.training import Predictions

_CHUNK = 64


@dataclass(frozen=True)
class GateResult:
    """Whether the version passed, why, and the figures behind it."""

    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, **self.figures}


def labelled(pred: Predictions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probabilities, labels, row weights) of the labelled rows only."""
    keep = pred.y >= 0
    return pred.probs[keep].astype(np.float64), pred.y[keep].astype(np.float64), pred.weight[keep].astype(np.float64)


def weighted_ap(p: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (sklearn's definition, ties as one threshold) for each row of `weights` ([k, n])."""
    order = np.argsort(-p, kind="stable")
    p, y, weights = p[order], y[order], weights[:, order]
    # The last row of each group of tied scores closes one threshold.
    ends = np.flatnonzero(np.r_[p[1:] != p[:-1], True])
    return ap_at_thresholds(np.cumsum(weights * y, axis=1)[:, ends], np.cumsum(weights, axis=1)[:, ends])


def ap_at_thresholds(tp: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """AP of each row from the weighted true positives and rows seen at each threshold, in ranking order ([k, t])."""
    total = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(seen > 0, tp / seen, 0.0)
        recall = np.where(total > 0, tp / total, 0.0)
    gain = np.diff(np.concatenate([np.zeros((len(tp), 1)), recall], axis=1), axis=1)
    return (gain * precision).sum(axis=1)


@dataclass(frozen=True)
class RankCells:
    """A ranking's rows pooled into cells that a resample's AP cannot tell apart.

    Lump j holds the rows ranked after the (j-1)-th tie group with a positive, up to and including the j-th (the
    last lump: the rows after the last such group); a cell is the rows of one lump with one label and one weight.
    AP only reads the weighted counts of positives and of all rows at the end of each group with a positive, so
    a resample's AP depends on its counts per cell alone, and those counts are multinomial over the cells.
    """

    share: np.ndarray  # each cell's fraction of the rows
    weight: np.ndarray
    positive: np.ndarray
    starts: np.ndarray  # the first cell of each lump (cells are sorted by lump)
    lumps_with_positive: int


def rank_cells(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> RankCells:
    """The cells of the ranking of `p` (labels `y`, row weights `w`)."""
    return _cells_of_rows(p, y, w)[0]


def _cells_of_rows(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[RankCells, np.ndarray]:
    """The cells of the ranking of `p`, and each row's cell (rows in their given order)."""
    order = np.argsort(-p, kind="stable")
    p, y, w = p[order], y[order], w[order]
    group = np.r_[0, np.cumsum(p[1:] != p[:-1])]
    with_positive = np.unique(group[y == 1])
    lump = np.searchsorted(with_positive, group, side="left")
    cells, of_sorted, sizes = np.unique(np.column_stack([lump, y, w]), axis=0, return_inverse=True,
                                        return_counts=True)
    of_row = np.empty(len(p), dtype=np.int64)
    of_row[order] = of_sorted.reshape(-1)
    starts = np.flatnonzero(np.r_[True, cells[1:, 0] != cells[:-1, 0]])
    return RankCells(sizes / sizes.sum(), cells[:, 2], cells[:, 1], starts, len(with_positive)), of_row


@dataclass(frozen=True)
class PairedCells:
    """Two rankings of the same rows pooled into joint cells: rows in the same cell of both rankings."""

    version: RankCells
    baseline: RankCells
    share: np.ndarray  # each joint cell's fraction of the rows
    in_version: np.ndarray  # the version's cell of each joint cell
    in_baseline: np.ndarray


def paired_cells(p: np.ndarray, baseline: np.ndarray, y: np.ndarray, w: np.ndarray) -> PairedCells:
    """The joint cells of the rankings of `p` and `baseline` (labels `y`, row weights `w`)."""
    version, version_of_row = _cells_of_rows(p, y, w)
    other, other_of_row = _cells_of_rows(baseline, y, w)
    joint, sizes = np.unique(np.column_stack([version_of_row, other_of_row]), axis=0, return_counts=True)
    return PairedCells(version, other, sizes / sizes.sum(), joint[:, 0], joint[:, 1])


def pool(counts: np.ndarray, into: np.ndarray, cells: int) -> np.ndarray:
    """Counts per joint cell ([k, joint]) summed into `cells` cells, joint cell j going to `into[j]`."""
    k = len(counts)
    flat = (np.arange(k)[:, None] * cells + into[None, :]).reshape(-1)
    return np.bincount(flat, weights=counts.reshape(-1), minlength=k * cells).reshape(k, cells)


def cells_ap(counts: np.ndarray, cells: RankCells) -> np.ndarray:
    """The AP of each resample ([k] from `counts`, [k, cells]), as `weighted_ap` gives it on the resampled rows."""
    weighted = counts * cells.weight
    keep = cells.lumps_with_positive
    tp = np.cumsum(np.add.reduceat(weighted * cells.positive, cells.starts, axis=1), axis=1)[:, :keep]
    seen = np.cumsum(np.add.reduceat(weighted, cells.starts, axis=1), axis=1)[:, :keep]
    return ap_at_thresholds(tp, seen)


def paired_bootstrap(p: np.ndarray, baseline: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: QualityConfig
                     ) -> dict[str, list[float]]:
    """Intervals of AP(version) - AP(baseline) and AP(version) - prevalence over resamples of the rows.

    Both APs must see the same resample, so counts are drawn per joint cell (`paired_cells`) and pooled into
    each ranking's cells: the same bootstrap as drawing a count per row.
    """
    cells = paired_cells(p, baseline, y, w)
    version = cells.version
    rng = np.random.default_rng(cfg.seed)
    d_base, d_prev = [], []
    for start in range(0, cfg.bootstrap_samples, _CHUNK):
        k = min(_CHUNK, cfg.bootstrap_samples - start)
        counts = rng.multinomial(len(y), cells.share, size=k).astype(np.float64)
        in_version = pool(counts, cells.in_version, len(version.share))
        ap = cells_ap(in_version, version)
        d_base.append(ap - cells_ap(pool(counts, cells.in_baseline, len(cells.baseline.share)), cells.baseline))
        weighted = in_version * version.weight
        d_prev.append(ap - (weighted @ version.positive) / weighted.sum(axis=1))
    alpha = (1 - cfg.confidence) / 2
    q = [alpha * 100, (1 - alpha) * 100]
    return {"vs_baseline": np.percentile(np.concatenate(d_base), q).tolist(),
            "vs_prevalence": np.percentile(np.concatenate(d_prev), q).tolist()}


def ap_interval(pred: Predictions, cfg: QualityConfig) -> list[float] | None:
    """A `cfg.confidence` bootstrap interval of a binary task's hold-out AP (None without positives).

    Each resample draws its counts per cell (`rank_cells`) instead of per row: the same bootstrap, and at paper
    scale (1.5M hold-out rows, about a thousand positives) thousands of cells instead of millions of rows.
    """
    p, y, w = labelled(pred)
    if p.ndim != 1 or y.sum() == 0:
        return None
    cells = rank_cells(p, y, w)
    rng = np.random.default_rng(cfg.seed)
    aps = []
    for start in range(0, cfg.bootstrap_samples, _CHUNK):
        k = min(_CHUNK, cfg.bootstrap_samples - start)
        counts = rng.multinomial(len(y), cells.share, size=k).astype(np.float64)
        aps.append(cells_ap(counts, cells))
    alpha = (1 - cfg.confidence) / 2
    return np.percentile(np.concatenate(aps), [alpha * 100, (1 - alpha) * 100]).tolist()


def _point(pred: Predictions, baseline: Predictions | None) -> dict[str, float]:
    p, y, w = labelled(pred)
    one = w[None, :]
    out = {"ap": float(weighted_ap(p, y, one)[0]), "prevalence": float(np.average(y, weights=w)) if y.size else float("nan"),
           "positives": int(y.sum())}
    if baseline is not None:
        b, _, _ = labelled(baseline)
        out["baseline_ap"] = float(weighted_ap(b, y, one)[0])
    return out


def judge(task: str, test: Predictions, val: Predictions, baseline_test: Predictions | None,
          baseline_val: Predictions | None, baseline_name: str, cfg: QualityConfig) -> GateResult:
    """The gate on the final task; without a baseline (the version is the baseline) only the prevalence counts."""
    on_test, on_val = _point(test, baseline_test), _point(val, baseline_val)
    figures: dict[str, Any] = {"task": task, "baseline": baseline_name if baseline_test is not None else None,
                               "test": on_test, "val": on_val, "confidence": cfg.confidence}
    against = f"the prevalence and {baseline_name}" if baseline_test is not None else "the prevalence"
    if on_test["positives"] == 0 or on_test["prevalence"] != on_test["prevalence"]:
        return GateResult(False, f"{task}: no positive in the hold-out, nothing to judge by", figures)
    if on_test["positives"] >= cfg.min_positives:
        p, y, w = labelled(test)
        b = labelled(baseline_test)[0] if baseline_test is not None else p
        intervals = paired_bootstrap(p, b, y, w, cfg)
        if baseline_test is None:
            intervals.pop("vs_baseline")
        figures.update(mode="bootstrap", intervals=intervals)
        passed = all(lo > 0 for lo, _ in intervals.values())
        shown = "; ".join(f"{k.replace('_', ' ')} [{lo:+.4f}, {hi:+.4f}]" for k, (lo, hi) in intervals.items())
        verb = "beats" if passed else "does not beat"
        return GateResult(passed, f"{task} AP {on_test['ap']:.4f} {verb} {against} on the hold-out "
                                  f"({cfg.confidence:.0%} paired bootstrap intervals of the AP difference: {shown})", figures)
    figures["mode"] = "validation and test"

    def beats(m: dict[str, float]) -> bool:
        return m["ap"] > m["prevalence"] and ("baseline_ap" not in m or m["ap"] > m["baseline_ap"])

    passed = beats(on_test) and beats(on_val)
    verb = "beats" if passed else "does not beat"
    return GateResult(passed, f"{task}: {on_test['positives']} hold-out positives are too few for an interval "
                              f"(quality.min_positives {cfg.min_positives}); AP {on_val['ap']:.4f} on validation and "
                              f"{on_test['ap']:.4f} on test {verb} {against} on both", figures)
