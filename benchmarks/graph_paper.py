"""Time one graph snapshot build of the home in LEADGRAPH_HOME (paper scale: the shared paper world).

Run under `/usr/bin/time -v` for the peak resident memory of the whole process; this script also
prints its own peak (getrusage), the wall time of every query and of the build, and the counts.
Usage: LEADGRAPH_HOME=<home> python -m benchmarks.graph_paper --as-of YYYY-MM-DD
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from datetime import date

from leadgraph.config import load_settings
from tasks.graph import build_snapshot, load_snapshot


def main() -> None:
    """Build (forced, so nothing is reused) and load the snapshot as of D; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    args = parser.parse_args()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    queries = logging.getLogger("tasks.graph_features")
    queries.addHandler(handler)
    queries.setLevel(logging.INFO)
    queries.propagate = False
    settings = load_settings()
    started = time.perf_counter()
    ref = build_snapshot(settings, args.as_of, force=True)
    built = time.perf_counter() - started
    started = time.perf_counter()
    g = load_snapshot(ref.path)
    loaded = time.perf_counter() - started
    size = sum(f.stat().st_size for f in ref.path.rglob("*") if f.is_file())
    print(ref.render())
    print(f"build wall {built:.1f}s; load wall {loaded:.1f}s; stored {size / 2**30:.2f} GiB")
    print(f"nodes {sum(ref.node_counts.values()):,}; edges {sum(ref.edge_counts.values()):,} "
          f"({sum(ref.edge_counts.values()) // 2:,} per direction); customer features {g['customer'].x.shape[1]}")
    print(f"peak RSS (getrusage) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
