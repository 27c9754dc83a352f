"""Time `make run` on a fresh home: simulate the default tiny world, then the daily flow for 2025-12-31.

Usage: LEADGRAPH_HOME=<empty folder> /usr/bin/time -v python -m benchmarks.daily_run
Prints the seconds of each step; peak memory comes from /usr/bin/time (Maximum resident set size).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from leadgraph.config import load_settings

AS_OF = "2025-12-31"


def main() -> None:
    """Run the two commands of `make run` and print their wall-clock times."""
    settings = load_settings()
    leadgraph = str(Path(sys.executable).with_name("leadgraph"))
    steps = [] if settings.paths.landing.exists() else [[leadgraph, "simulate"]]
    steps.append([leadgraph, "run", "--as-of", AS_OF])
    total = time.perf_counter()
    for cmd in steps:
        started = time.perf_counter()
        subprocess.run(cmd, check=True)
        print(f"{' '.join(cmd[1:])}: {time.perf_counter() - started:.1f}s", flush=True)
    print(f"total: {time.perf_counter() - total:.1f}s")


if __name__ == "__main__":
    main()
