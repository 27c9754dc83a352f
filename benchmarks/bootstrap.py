"""The gate's and the hold-out AP interval's bootstraps at paper scale: resampling rows against cells, in one run.

Run: `python -m benchmarks.bootstrap [rows] [positives]` (default the paper-scale contract hold-out of
2026-12-05: 1,493,713 rows, 1,140 positives); writes benchmarks/results/bootstrap.md.

Scores are simulated with a weak signal, so positives are spread through the ranking as a real model's are.
The row route is timed on a few chunks of `ROW_RESAMPLES` and scaled to `cfg.bootstrap_samples`, since a
thousand resamples of it take minutes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import machine
from leadgraph import allocator
from leadgraph.config import AllocatorConfig, QualityConfig
from models.training import Predictions
from tasks.quality_gate import ap_interval, paired_bootstrap, weighted_ap

RESULTS = Path(__file__).resolve().parent / "results" / "bootstrap.md"
ROW_RESAMPLES = 64  # the product's chunk
ROW_CHUNKS = 2


def hold_out(rows: int, positives: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Version scores, baseline scores and labels: `positives` ones among `rows`, scored a little higher on
    average than the rest; the baseline shares half of the version's noise, as two models of one world do."""
    rng = np.random.default_rng(seed)
    y = np.zeros(rows)
    y[rng.choice(rows, positives, replace=False)] = 1.0
    noise = rng.normal(size=rows)
    baseline = np.sqrt(0.5) * (noise + rng.normal(size=rows)) + 1.3 * y
    return (noise + 1.5 * y).astype(np.float32), baseline.astype(np.float32), y


def by_rows(rankings: list[np.ndarray], y: np.ndarray, chunks: int, seed: int = 0) -> float:
    """Seconds per resample of the row route (a count per row, then the AP of the weighted rows for each
    ranking), over `chunks` chunks of `ROW_RESAMPLES` after one untimed chunk (the first touches its memory)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    seconds = []
    for _ in range(chunks + 1):
        start = time.perf_counter()
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(ROW_RESAMPLES)])
        for p in rankings:
            weighted_ap(p.astype(np.float64), y, counts.astype(np.float64))
        seconds.append(time.perf_counter() - start)
    return sum(seconds[1:]) / (chunks * ROW_RESAMPLES)


def timed(run: Callable[[], object]) -> tuple[float, object]:
    """Seconds `run` takes, and what it returns."""
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def main(rows: int = 1_493_713, positives: int = 1_140) -> str:
    """Measure both routes of both bootstraps and write the page."""
    # The allocator setting of the train stage, where both bootstraps run.
    tuned = allocator.tune(AllocatorConfig())
    p, b, y = hold_out(rows, positives)
    cfg = QualityConfig()
    n = cfg.bootstrap_samples
    interval_rows = by_rows([p], y, ROW_CHUNKS) * n
    interval_cells, (low, high) = timed(lambda: ap_interval(Predictions(p, y, np.ones(rows)), cfg))
    paired_rows = by_rows([p, b], y, ROW_CHUNKS) * n
    paired_cells_s, intervals = timed(lambda: paired_bootstrap(p.astype(np.float64), b.astype(np.float64), y,
                                                               np.ones(rows), cfg))
    point = float(weighted_ap(p.astype(np.float64), y, np.ones((1, rows)))[0])
    base_point = float(weighted_ap(b.astype(np.float64), y, np.ones((1, rows)))[0])
    args = "" if (rows, positives) == (1_493_713, 1_140) else f" {rows} {positives}"

    def row(name: str, seconds: float) -> str:
        return f"| {name} | {seconds:.1f} | {seconds / n * 1000:.2f} ms |"

    lines = [
        "# The gate's and the hold-out AP interval's bootstraps: resampling rows against resampling cells",
        "",
        f"- Command: `python -m benchmarks.bootstrap{args}`",
        f"- Machine: {machine.describe()}; every route in the same run.",
        f"- Date: {machine.now()}",
        f"- Hold-out: {rows:,} rows, {positives:,} positives, simulated scores (version AP {point:.4f}, baseline AP "
        f"{base_point:.4f}, the baseline sharing half the version's noise); {n} resamples, confidence "
        f"{cfg.confidence:.0%}; the train stage's allocator setting ({'applied' if tuned else 'not applicable here'}).",
        "- Rows: a multinomial count per row for every resample, then the AP of the weighted rows (one ranking for "
        "the interval, the version's and the baseline's for the gate: the routes before "
        f"`tasks.quality_gate.rank_cells` and `paired_cells`), timed on {ROW_CHUNKS} chunks of {ROW_RESAMPLES} "
        "resamples after an untimed one, and scaled.",
        "- Cells: the rows pooled into cells a resample's AP cannot tell apart (the rows between consecutive tie "
        "groups with a positive, by label and weight), counts drawn per cell: `ap_interval` today; for the gate's "
        "paired bootstrap, per joint cell of both rankings and pooled into each ranking's cells (`paired_bootstrap` "
        "today).",
        "",
        "| bootstrap | route | seconds | per resample |",
        "|---|---|---|---|",
        row("hold-out AP interval | rows", interval_rows),
        row("hold-out AP interval | cells", interval_cells),
        row("gate, paired | rows", paired_rows),
        row("gate, paired | joint cells", paired_cells_s),
        "",
        f"Rows / cells: {interval_rows / interval_cells:.0f}x for the interval, {paired_rows / paired_cells_s:.0f}x "
        f"for the gate. The interval by cells: [{low:.4f}, {high:.4f}]; the gate's intervals by joint cells: "
        f"vs baseline [{intervals['vs_baseline'][0]:+.4f}, {intervals['vs_baseline'][1]:+.4f}], vs prevalence "
        f"[{intervals['vs_prevalence'][0]:+.4f}, {intervals['vs_prevalence'][1]:+.4f}].",
        "",
    ]
    text = "\n".join(lines)
    RESULTS.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(main(*(int(a) for a in sys.argv[1:3])))
