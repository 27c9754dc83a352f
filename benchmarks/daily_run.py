"""Time `make run` on a fresh home: simulate the default tiny world, then the daily flow for 2025-12-31.

Usage: LEADGRAPH_HOME=<empty folder> python -m benchmarks.daily_run
Each command runs under `/usr/bin/time -v` (wall time and peak memory); writes benchmarks/results/daily_run.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from benchmarks import machine
from leadgraph.config import load_settings

AS_OF = "2025-12-31"
RESULTS = Path(__file__).resolve().parent / "results" / "daily_run.md"


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak GiB, last stdout line) of a command run under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    wall = 0.0
    for part in clock.split(":"):
        wall = wall * 60 + float(part)
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 2**20
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return wall, peak, lines[-1] if lines else ""


def main() -> None:
    """Run the two commands of `make run`, print and record their wall time and peak memory."""
    settings = load_settings()
    leadgraph = str(Path(sys.executable).with_name("leadgraph"))
    steps = [] if settings.paths.landing.exists() else [[leadgraph, "simulate"]]
    steps.append([leadgraph, "run", "--as-of", AS_OF])
    rows = []
    for cmd in steps:
        wall, peak, last = _timed(cmd)
        rows.append((" ".join(["leadgraph", *cmd[1:]]), wall, peak, last.replace(str(settings.paths.home), "<home>")))
        print(f"{rows[-1][0]}: {wall:.1f}s, {peak:.2f} GiB", flush=True)
    total = sum(r[1] for r in rows)
    lines = ["# `make run` on a fresh home", "", "Command: `LEADGRAPH_HOME=<empty folder> python -m benchmarks.daily_run` "
             "(the two commands `make run` runs after setting up the environment).", "",
             f"Machine: {machine.describe()}. Date: {machine.now()}.", "",
             "| command | wall | peak memory |", "|---|---|---|"]
    lines += [f"| `{name}` | {wall:.1f} s | {peak:.2f} GiB |" for name, wall, peak, _ in rows]
    lines += [f"| total | {total:.1f} s ({total / 60:.1f} min) | |", "", f"Last line of the run: `{rows[-1][3]}`", ""]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"total: {total:.1f}s")


if __name__ == "__main__":
    main()
