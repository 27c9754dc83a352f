"""Benchmark `leadgraph simulate` at paper scale: wall time, peak memory, rows per table, the implied graph.

    python -m benchmarks.simulate_paper --home <empty folder>

runs `leadgraph simulate --scale paper --start 2025-01-01 --end 2025-12-27` with LEADGRAPH_HOME set to
the folder under `/usr/bin/time -v` and writes benchmarks/results/simulate.md (the `time -v` output is
kept beside the home as `<home>.time.log`). `--time-log FILE` reports on a run already made instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks import machine
from leadgraph.config import RAW_TABLES

PAGE = Path(__file__).resolve().parent / "results" / "simulate.md"
# A year: the contract task's whole 90-day windows (training, validation and test anchors one after another)
# and the features' 90-day lookback before the oldest training anchor need about 360 days of history.
PAPER_HISTORY = ("2025-01-01", "2025-12-27")
# The paper's graph (StrucHIS, KDD 2025), for comparison.
PAPER_NODES, PAPER_EDGES = 6_142_839, 11_592_443
TARGET_MINUTES, TARGET_GB = 15, 8


def _run(home: Path, scale: str, start: str, end: str) -> str:
    """Simulate under /usr/bin/time -v; return its report (stderr)."""
    leadgraph = shutil.which("leadgraph") or str(Path(sys.executable).with_name("leadgraph"))
    cmd = ["/usr/bin/time", "-v", leadgraph, "simulate", "--scale", scale, "--start", start, "--end", end]
    done = subprocess.run(cmd, env={**os.environ, "LEADGRAPH_HOME": str(home)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"simulate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stderr


def wall_seconds(report: str) -> float:
    """The wall-clock time from a `time -v` report."""
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", report).group(1)
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def peak_gib(report: str) -> float:
    """The maximum resident set size from a `time -v` report, in GiB."""
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1)) / 2**20


def _table_bytes(home: Path) -> dict[str, int]:
    """Bytes of landing files per table."""
    return {t: sum(p.stat().st_size for p in (home / "landing" / t).rglob("*") if p.is_file()) for t in RAW_TABLES}


def render(home: Path, report: str, command: str) -> str:
    """The results page of one run."""
    summary = json.loads((home / "truth" / "summary.json").read_text())
    sizes = _table_bytes(home)
    minutes, peak = wall_seconds(report) / 60, peak_gib(report)
    within = "within both" if minutes < TARGET_MINUTES and peak * 2**30 < TARGET_GB * 1e9 else "NOT within both"
    lines = [
        "# `leadgraph simulate` at paper scale", "",
        f"Written by `{command}` on {machine.now()}; {machine.describe()}.", "",
        f"It ran `leadgraph simulate --scale paper --start {summary['start']} --end {summary['end']}` under "
        f"`/usr/bin/time -v` (seed {summary['seed']}, the scale's default world, defect rate {summary['defect_rate']:g}). "
        "The simulation also "
        "runs the unwritten days after the end that the last truth windows need.", "",
        f"- wall time: {minutes:.1f} min; peak RSS: {peak:.2f} GiB (targets: under {TARGET_MINUTES} min and under "
        f"{TARGET_GB} GB: {within})",
        f"- landing files: {summary['files']:,}; truth files: {summary['truth_files']}; landing: "
        f"{sum(sizes.values()) / 2**30:.1f} GiB",
        "",
        "| table | rows | MiB on disk |",
        "|---|---:|---:|",
    ]
    lines += [f"| {t} | {summary['rows'][t]:,} | {sizes[t] / 2**20:,.0f} |" for t in RAW_TABLES]
    nodes, edges = summary["nodes"], summary["edges"]
    lines += ["", "Dimension rows include their change rows (a customer renamed twice has three rows), so they exceed "
              "the node counts below; sales_events include the backlog from before the history on day 0.", "",
              f"Graph implied at {summary['end']}: {sum(nodes.values()):,} nodes, {sum(edges.values()):,} edges "
              f"(the paper: {PAPER_NODES:,} and {PAPER_EDGES:,}).",
              "", "| node / edge type | count |", "|---|---:|"]
    lines += [f"| {name} | {count:,} |" for name, count in {**nodes, **edges}.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run (or read) one paper-scale simulation and write its page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--scale", default="paper")
    parser.add_argument("--start", default=PAPER_HISTORY[0])
    parser.add_argument("--end", default=PAPER_HISTORY[1])
    parser.add_argument("--time-log", type=Path, help="report on an existing run's `/usr/bin/time -v` output")
    args = parser.parse_args()
    if args.time_log:
        report = args.time_log.read_text()
    else:
        report = _run(args.home, args.scale, args.start, args.end)
        args.home.with_name(args.home.name + ".time.log").write_text(report)
    command = "python -m benchmarks.simulate_paper --home <home>" + ("" if args.scale == "paper" else f" --scale {args.scale}")
    PAGE.write_text(render(args.home, report, command), encoding="utf-8")
    print(PAGE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
