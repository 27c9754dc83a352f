"""What the allocator setting is worth: one training epoch and one validation pass with glibc's default
allocator against `allocator` as configured, on a world's training problem, in the same run.

    python -m benchmarks.allocator --home <home> --world <tiny|small|paper> --as-of <D> [--repeats 2] [--model struchis]
    python -m benchmarks.allocator --render-only

The home must hold a warehouse ingested and validated up to D (`leadgraph ingest` and `leadgraph validate`
with `--as-of D`). Each measurement is a fresh process (an allocator's state is per process): it builds
D's training problem (the anchor snapshots are reused once built), then times one mini-batch epoch of the
model and one validation pass over the validation split, with its minor page faults and peak resident
memory. The conditions alternate, `--repeats` times each. Figures go to `allocator_<world>.json`; the page
`allocator.md` is rendered from every JSON present.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks import machine
from leadgraph import memory

RESULTS = Path(__file__).resolve().parent / "results"
CONDITIONS = {"glibc default": {"mmap_threshold_mib": 0, "trim_threshold_mib": 0}, "configured": {}}


def _faults() -> int:
    """Minor page faults of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(home: Path, as_of: date, model_name: str, allocator: dict) -> dict:
    """One epoch and one validation pass of `model_name` on D's problem, under `allocator` (overrides)."""
    import torch

    from leadgraph import allocator as alloc
    from leadgraph.config import load_settings
    from models.registry import ModelInputs, build
    from models.training import _minibatch_epoch, _pos_weights, split_predictions
    from tasks.dataset import build_problem

    settings = load_settings(home)
    settings.allocator = settings.allocator.model_copy(update=allocator)
    applied = alloc.tune(settings.allocator)
    cfg = settings.train
    torch.manual_seed(cfg.seed)
    started = time.perf_counter()
    problem = build_problem(settings, as_of)
    problem_s = time.perf_counter() - started
    model = build(model_name, ModelInputs.from_problem(problem), cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    faults, started = _faults(), time.perf_counter()
    _, batches = _minibatch_epoch(model, problem, opt, _pos_weights(problem, cfg), cfg,
                                  torch.Generator().manual_seed(cfg.seed))
    epoch_s, epoch_faults = time.perf_counter() - started, _faults() - faults
    faults, started = _faults(), time.perf_counter()
    split_predictions(model, problem.val, problem.tasks, cfg)
    val_s, val_faults = time.perf_counter() - started, _faults() - faults
    return {"applied": applied, "allocator": settings.allocator.model_dump(), "problem_s": problem_s,
            "batches": batches, "epoch_s": epoch_s, "epoch_faults": epoch_faults, "val_s": val_s,
            "val_faults": val_faults, "peak_gib": memory.peak_rss_gib()}


def _child(home: Path, as_of: date, model_name: str, condition: str) -> dict:
    """`measure` in a fresh process."""
    cmd = [sys.executable, "-m", "benchmarks.allocator", "--home", str(home), "--as-of", as_of.isoformat(),
           "--model", model_name, "--child", condition]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(home: Path, world: str, as_of: date, model_name: str, repeats: int) -> Path:
    """Every condition `repeats` times, alternating; the JSON written."""
    runs = []
    for i in range(repeats):
        for condition in CONDITIONS:
            figures = _child(home, as_of, model_name, condition)
            runs.append({"condition": condition, "repeat": i, **figures})
            print(f"{condition} #{i}: epoch {figures['epoch_s']:.1f}s, validation {figures['val_s']:.1f}s, "
                  f"peak {figures['peak_gib']:.2f} GiB", flush=True)
    doc = {"world": world, "as_of": as_of.isoformat(), "model": model_name, "machine": machine.describe(),
           "date": machine.now(), "command": f"python -m benchmarks.allocator --home <home> --world {world} "
                                              f"--as-of {as_of} --repeats {repeats} --model {model_name}", "runs": runs}
    path = RESULTS / f"allocator_{world}.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def _mean_sd(values: list[float], digits: int = 1) -> str:
    """mean +- standard deviation (just the value for one)."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def render() -> Path:
    """allocator.md from every allocator_*.json."""
    lines = ["# The allocator setting: one epoch and one validation pass, glibc's default against `allocator`", "",
             "Written by `python -m benchmarks.allocator` (module docstring). Each row is one condition's fresh "
             "processes (mean ± standard deviation over repeats, conditions alternating); ratios are configured over "
             "default, from the means of the same run.", ""]
    for path in sorted(RESULTS.glob("allocator_*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        lines += [f"## {doc['world']} world, {doc['model']}, problem as of {doc['as_of']}", "",
                  f"- {doc['date']}; {doc['machine']}; `{doc['command']}`.", "",
                  "| condition | runs | mmap / trim threshold (MiB) | epoch (s) | epoch minor faults (k) | validation (s) | "
                  "validation minor faults (k) | peak (GiB) |", "|---|---|---|---|---|---|---|---|"]
        means = {}
        for condition in CONDITIONS:
            rows = [r for r in doc["runs"] if r["condition"] == condition]
            a = rows[0]["allocator"]
            figures = {k: [r[k] for r in rows] for k in ("epoch_s", "val_s", "epoch_faults", "val_faults", "peak_gib")}
            means[condition] = {k: statistics.mean(v) for k, v in figures.items()}
            thresholds = f"{a['mmap_threshold_mib'] or 'default'} / {a['trim_threshold_mib'] or 'default'}"
            lines.append(f"| {condition} | {len(rows)} | {thresholds} | {_mean_sd(figures['epoch_s'])} | "
                         f"{_mean_sd([f / 1000 for f in figures['epoch_faults']])} | {_mean_sd(figures['val_s'])} | "
                         f"{_mean_sd([f / 1000 for f in figures['val_faults']])} | "
                         f"{_mean_sd(figures['peak_gib'], 2)} |")
        base, tuned = means["glibc default"], means["configured"]
        lines += ["", f"Configured / default: epoch {tuned['epoch_s'] / base['epoch_s']:.2f}x, validation "
                      f"{tuned['val_s'] / base['val_s']:.2f}x, peak {tuned['peak_gib'] / base['peak_gib']:.2f}x.", ""]
    out = RESULTS / "allocator.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def main() -> None:
    """Command line: measure (or one child measurement), then render."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat)
    parser.add_argument("--world", help="the world's name on the page and in the JSON file name (tiny, small, paper)")
    parser.add_argument("--model", default="struchis")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", choices=list(CONDITIONS))
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.home, args.as_of, args.model, CONDITIONS[args.child])))
        return
    if not args.render_only:
        print(run(args.home, args.world, args.as_of, args.model, args.repeats))
    print(render())


if __name__ == "__main__":
    main()
