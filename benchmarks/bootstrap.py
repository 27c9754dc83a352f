"""The hold-out AP interval's bootstrap at paper scale: resampling rows against resampling cells, in one run.

Run: `python -m benchmarks.bootstrap [rows] [positives]` (default the paper-scale contract hold-out of
2026-12-05: 1,493,713 rows, 1,140 positives); writes benchmarks/results/bootstrap.md.

Scores are simulated with a weak signal, so positives are spread through the ranking as a real model's are.
The row route is timed on a few chunks of `ROW_RESAMPLES` and scaled to `cfg.bootstrap_samples`, since a
thousand resamples of it take minutes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import machine
from leadgraph import allocator
from leadgraph.config import AllocatorConfig, QualityConfig
from models.training import Predictions
from tasks.quality_gate import ap_interval, weighted_ap

RESULTS = Path(__file__).resolve().parent / "results" / "bootstrap.md"
ROW_RESAMPLES = 64  # the product's chunk
ROW_CHUNKS = 2


def hold_out(rows: int, positives: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels: `positives` ones among `rows`, scored a little higher on average than the rest."""
    rng = np.random.default_rng(seed)
    y = np.zeros(rows)
    y[rng.choice(rows, positives, replace=False)] = 1.0
    return (rng.normal(size=rows) + 1.5 * y).astype(np.float32), y


def by_rows(p: np.ndarray, y: np.ndarray, chunks: int, seed: int = 0) -> float:
    """Seconds per resample of the row route (a count per row, then the AP of the weighted rows), over `chunks`
    chunks of `ROW_RESAMPLES` after one untimed chunk (the first touches its memory for the first time)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    p = p.astype(np.float64)
    seconds = []
    for _ in range(chunks + 1):
        start = time.perf_counter()
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(ROW_RESAMPLES)])
        weighted_ap(p, y, counts.astype(np.float64))
        seconds.append(time.perf_counter() - start)
    return sum(seconds[1:]) / (chunks * ROW_RESAMPLES)


def main(rows: int = 1_493_713, positives: int = 1_140) -> str:
    """Measure both routes and write the page."""
    # The allocator setting of the train stage, where the interval is computed.
    tuned = allocator.tune(AllocatorConfig())
    p, y = hold_out(rows, positives)
    cfg = QualityConfig()
    per_row_resample = by_rows(p, y, ROW_CHUNKS)
    start = time.perf_counter()
    low, high = ap_interval(Predictions(p, y, np.ones(rows)), cfg)
    cells_s = time.perf_counter() - start
    rows_s = per_row_resample * cfg.bootstrap_samples
    point = float(weighted_ap(p.astype(np.float64), y, np.ones((1, rows)))[0])
    args = "" if (rows, positives) == (1_493_713, 1_140) else f" {rows} {positives}"
    lines = [
        "# The hold-out AP interval's bootstrap: resampling rows against resampling cells",
        "",
        f"- Command: `python -m benchmarks.bootstrap{args}`",
        f"- Machine: {machine.describe()}; both routes in the same run.",
        f"- Date: {machine.now()}",
        f"- Hold-out: {rows:,} rows, {positives:,} positives, simulated scores (AP {point:.4f}); "
        f"{cfg.bootstrap_samples} resamples, confidence {cfg.confidence:.0%}; the train stage's allocator setting "
        f"({'applied' if tuned else 'not applicable here'}).",
        "- Rows: a multinomial count per row for every resample, then the AP of the weighted rows (the route "
        f"before `tasks.quality_gate.rank_cells`), timed on {ROW_CHUNKS} chunks of {ROW_RESAMPLES} resamples after "
        "an untimed one, and scaled.",
        "- Cells: the rows pooled into cells a resample's AP cannot tell apart (the rows between consecutive tie "
        "groups with a positive, by label and weight), counts drawn per cell (`ap_interval` today).",
        "",
        "| route | seconds for the interval | per resample |",
        "|---|---|---|",
        f"| rows | {rows_s:.1f} | {per_row_resample * 1000:.1f} ms |",
        f"| cells | {cells_s:.2f} | {cells_s / cfg.bootstrap_samples * 1000:.2f} ms |",
        "",
        f"Rows / cells: {rows_s / cells_s:.0f}x. The interval by cells: [{low:.4f}, {high:.4f}].",
        "",
    ]
    text = "\n".join(lines)
    RESULTS.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(main(*(int(a) for a in sys.argv[1:3])))
