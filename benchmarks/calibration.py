"""Calibration on the simulated world: the product's training day, its calibrated probabilities against the hold-out.

`python -m benchmarks.calibration --scale small` simulates the world into `var/bench-<scale>` (skipped when
it is already there), ingests and validates up to its last day, runs the product's training (fit and
select, calibrate on validation, quality gate, refit, register) and writes benchmarks/results/calibration.md:
per task the hold-out's mean calibrated probability against its observed rate (the bar: within 20%),
Brier score, expected calibration error, the reliability curve, and the gate's verdict.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks import machine
from benchmarks.logistics import RESULTS, bench_settings
from tasks.registry import ModelVersion

PAGE = RESULTS / "calibration.md"
TOLERANCE = 0.2


def render(scale: str, version: ModelVersion, command: str, seconds: float) -> str:
    """The results page of one training day."""
    lines = ["# Calibration: calibrated probabilities on the simulated world's hold-out", "",
             f"Command: `{command}`. Machine: {machine.describe()}. Written {machine.now()}, "
             f"{seconds / 60:.1f} minutes end to end.", "",
             f"Version `{version.version}` ({version.model_name}) trained as of {version.trained_as_of} on the {scale} world; "
             f"quality gate: {version.metrics['gate']['reason']}.", "",
             "| task | method | hold-out positives | mean predicted | observed rate | within 20% | Brier | ECE |",
             "|---|---|---|---|---|---|---|---|"]
    for task, f in version.metrics["calibration"].items():
        ratio = f["mean_predicted"] / f["observed_rate"] if f.get("observed_rate") else float("nan")
        lines.append(f"| {task} | {f['method']} | {f['positives']} | {f['mean_predicted']:.6f} | {f['observed_rate']:.6f} | "
                     f"{'yes' if abs(ratio - 1) < TOLERANCE else 'no'} ({ratio:.2f}x) | {f['brier']:.6f} | {f['ece']:.6f} |")
    lines += ["", "The reliability curves are in the version's training report (`report/reliability.png`).", ""]
    return "\n".join(lines)


def run(scale: str, max_train_minutes: float | None) -> Path:
    """Prepare the world, train as of its last day, write the page."""
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
    command = "python -m benchmarks.calibration " + " ".join(sys.argv[1:])
    PAGE.write_text(render(scale, version, command.strip(), time.perf_counter() - started), encoding="utf-8")
    return PAGE


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("tiny", "small"), default="small")
    parser.add_argument("--max-train-minutes", type=float, default=None)
    args = parser.parse_args()
    print(run(args.scale, args.max_train_minutes))


if __name__ == "__main__":
    main()
