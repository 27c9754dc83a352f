"""Calibration on the simulated world: the product's training day, its calibrated probabilities against the hold-out.

`python -m benchmarks.calibration --scale small` simulates the world into `var/bench-<scale>` (skipped when
it is already there), ingests and validates up to its last day, runs the product's training (fit and
select, calibrate on validation, quality gate, refit, register) and writes benchmarks/results/calibration.md:
per task the hold-out's mean calibrated probability against its observed rate (the bar: within 20%) and
that rate's 95% Wilson interval (a hold-out with few positives knows its rate only roughly), Brier
score, expected calibration error, the reliability curve, and the gate's verdict. The run's figures go
to `calibration.json` beside the page; `--render-only` rewrites the page from them and the registry.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from benchmarks import machine
from benchmarks.logistics import RESULTS, bench_settings
from tasks.registry import ModelVersion, get_version

PAGE = RESULTS / "calibration.md"
FIGURES = RESULTS / "calibration.json"
TOLERANCE = 0.2
Z95 = 1.959964


def wilson_interval(positives: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a rate observed as `positives` out of `n`."""
    if n <= 0:
        return (float("nan"), float("nan"))
    rate = positives / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def render(run: dict, version: ModelVersion) -> str:
    """The results page of one training day."""
    lines = ["# Calibration: calibrated probabilities on the simulated world's hold-out", "",
             f"Command: `{run['command']}`. Machine: {run['machine']}. Written {run['date']}, "
             f"{run['seconds'] / 60:.1f} minutes end to end.", "",
             f"Version `{version.version}` ({version.model_name}) trained as of {version.trained_as_of} on the {run['scale']} world; "
             f"quality gate: {version.metrics['gate']['reason']}.", "",
             "| task | method | hold-out positives / rows | mean predicted | observed rate (95% interval) | within 20% "
             "| inside the interval | Brier | ECE |",
             "|---|---|---|---|---|---|---|---|---|"]
    for task, f in version.metrics["calibration"].items():
        ratio = f["mean_predicted"] / f["observed_rate"] if f.get("observed_rate") else float("nan")
        lo, hi = wilson_interval(f["positives"], f["n"])
        lines.append(f"| {task} | {f['method']} | {f['positives']:,} / {f['n']:,} | {f['mean_predicted']:.6f} | "
                     f"{f['observed_rate']:.6f} ({lo:.6f} to {hi:.6f}) | {'yes' if abs(ratio - 1) < TOLERANCE else 'no'} "
                     f"({ratio:.2f}x) | {'yes' if lo <= f['mean_predicted'] <= hi else 'no'} | {f['brier']:.6f} | {f['ece']:.6f} |")
    lines += ["", "The reliability curves are in the version's training report (`report/reliability.png`).", ""]
    return "\n".join(lines)


def run(scale: str, max_train_minutes: float | None) -> Path:
    """Prepare the world, train as of its last day, write the figures and the page."""
    from simulator.simulate import simulate
    from tasks.ingest import ingest
    from tasks.train import train_and_register
    from tasks.validate import validate

    started = time.perf_counter()
    settings = bench_settings(scale)
    if max_train_minutes is not None:
        settings.train.max_train_seconds = 60.0 * max_train_minutes
    as_of = settings.simulate.end
    if not (settings.paths.truth / "summary.json").is_file():
        simulate(settings)
    ingest(settings, as_of)
    validate(settings, as_of)
    version = train_and_register(settings, as_of)
    figures = {"scale": scale, "version": version.version, "seconds": time.perf_counter() - started,
               "command": ("python -m benchmarks.calibration " + " ".join(sys.argv[1:])).strip(),
               "machine": machine.describe(), "date": machine.now()}
    FIGURES.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    PAGE.write_text(render(figures, version), encoding="utf-8")
    return PAGE


def render_only() -> Path:
    """Rewrite the page from the recorded figures and the version they name in the benchmark home's registry."""
    figures = json.loads(FIGURES.read_text(encoding="utf-8"))
    PAGE.write_text(render(figures, get_version(bench_settings(figures["scale"]), figures["version"])), encoding="utf-8")
    return PAGE


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("tiny", "small"), default="small")
    parser.add_argument("--max-train-minutes", type=float, default=None)
    parser.add_argument("--render-only", action="store_true", help="Rewrite the page from calibration.json and the registry.")
    args = parser.parse_args()
    print(render_only() if args.render_only else run(args.scale, args.max_train_minutes))


if __name__ == "__main__":
    main()
