"""Benchmark `leadgraph simulate` at paper scale: wall time, peak memory, rows per table, the implied graph.

    python -m benchmarks.simulate_paper --home <empty folder>

runs `leadgraph simulate --scale paper --start 2025-07-01 --end 2025-12-27` with LEADGRAPH_HOME set to
the folder under `/usr/bin/time -v` and prints a Markdown block for benchmarks/results/simulate.md.
`--time-log FILE` reports on a run already made (FILE holds its `time -v` output) instead.
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

from leadgraph.config import RAW_TABLES


def _run(home: Path, scale: str, start: str, end: str) -> str:
    """Simulate under /usr/bin/time -v; return its report (stderr)."""
    leadgraph = shutil.which("leadgraph") or str(Path(sys.executable).with_name("leadgraph"))
    cmd = ["/usr/bin/time", "-v", leadgraph, "simulate", "--scale", scale, "--start", start, "--end", end]
    done = subprocess.run(cmd, env={**os.environ, "LEADGRAPH_HOME": str(home)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"simulate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stderr


def _wall_seconds(report: str) -> float:
    """The wall-clock time from a `time -v` report."""
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", report).group(1)
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _peak_gib(report: str) -> float:
    """The maximum resident set size from a `time -v` report, in GiB."""
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1)) / 2**20


def _table_bytes(home: Path) -> dict[str, int]:
    """Bytes of landing files per table."""
    return {t: sum(p.stat().st_size for p in (home / "landing" / t).rglob("*") if p.is_file()) for t in RAW_TABLES}


def render(home: Path, report: str) -> str:
    """The Markdown figures of one run."""
    summary = json.loads((home / "truth" / "summary.json").read_text())
    sizes = _table_bytes(home)
    lines = [
        f"- wall time: {_wall_seconds(report) / 60:.1f} min; peak RSS: {_peak_gib(report):.2f} GiB",
        f"- landing files: {summary['files']}; truth files: {summary['truth_files']}",
        "",
        "| table | rows | MiB on disk |",
        "|---|---:|---:|",
    ]
    lines += [f"| {t} | {summary['rows'][t]:,} | {sizes[t] / 2**20:,.0f} |" for t in RAW_TABLES]
    nodes, edges = summary["nodes"], summary["edges"]
    lines += ["", f"Graph implied at {summary['end']}: {sum(nodes.values()):,} nodes, {sum(edges.values()):,} edges",
              "", "| node / edge type | count |", "|---|---:|"]
    lines += [f"| {name} | {count:,} |" for name, count in {**nodes, **edges}.items()]
    return "\n".join(lines)


def main() -> None:
    """Run (or read) one paper-scale simulation and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--scale", default="paper")
    parser.add_argument("--start", default="2025-07-01")
    parser.add_argument("--end", default="2025-12-27")
    parser.add_argument("--time-log", type=Path, help="report on an existing run's `/usr/bin/time -v` output")
    args = parser.parse_args()
    report = args.time_log.read_text() if args.time_log else _run(args.home, args.scale, args.start, args.end)
    print(render(args.home, report))


if __name__ == "__main__":
    main()
