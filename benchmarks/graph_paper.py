"""One graph snapshot of a home, built fresh and read back the ways training reads it; writes `graph.md`.

    LEADGRAPH_HOME=<home> python -m benchmarks.graph_paper --as-of YYYY-MM-DD [--conditions TEXT]

Builds the snapshot as of D (forced: nothing is reused) and times every `sql/graph/` query, then the
three ways a training run gets an anchor's normalised snapshot: loading the stored snapshot, normalising
it (the normaliser fitted on this snapshot alone, as a problem fits it on its training anchors), and
reading a spilled copy back (`tasks/spill.py`, what every visit after the first does). Figures go to
`benchmarks/results/graph_paper.json` and the page `graph.md`.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from datetime import date
from pathlib import Path

from benchmarks import machine
from leadgraph.config import load_settings
from tasks.dataset import FeatureNormalizer
from tasks.graph import build_snapshot, load_snapshot
from tasks.spill import Spill

RESULTS = Path(__file__).resolve().parent / "results"


class _Queries(logging.Handler):
    """Collects the wall time of each graph query from `tasks.graph_features`' log."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("graph query") and len(record.args) == 2:
            name, seconds = record.args
            self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)


def _timed(step: dict[str, float], name: str, started: float) -> float:
    """Record the seconds since `started` as `name`; returns now."""
    now = time.perf_counter()
    step[name] = round(now - started, 2)
    return now


def _gib(folder: Path) -> float:
    """The size of the files under `folder`, GiB to two decimals."""
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**30, 2)


def measure(as_of: date) -> dict:
    """Build, load, normalise, spill and read back the snapshot as of D; the figures."""
    queries = _Queries()
    logger = logging.getLogger("tasks.graph_features")
    logger.addHandler(queries)
    logger.setLevel(logging.INFO)
    settings = load_settings()
    steps: dict[str, float] = {}
    started = time.perf_counter()
    ref = build_snapshot(settings, as_of, force=True)
    started = _timed(steps, "build", started)
    raw = load_snapshot(ref.path)
    started = _timed(steps, "load", started)
    normalizer = FeatureNormalizer.fit([raw])
    started = _timed(steps, "fit normaliser", started)
    graph = normalizer.transform(raw)
    started = _timed(steps, "normalise", started)
    spill = Spill(settings.paths.spill)
    spill.put(as_of.isoformat(), graph)
    started = _timed(steps, "spill (write)", started)
    del graph, raw
    back = spill.get(as_of.isoformat())
    started = _timed(steps, "spill (read back)", started)
    spilled = _gib(spill.folder)
    spill.close()
    return {
        "as_of": as_of.isoformat(), "machine": machine.describe(), "date": machine.now(),
        "steps_s": steps, "queries_s": {k: round(v, 2) for k, v in sorted(queries.seconds.items(), key=lambda kv: -kv[1])},
        "stored_gib": _gib(ref.path), "spilled_gib": spilled,
        "nodes": ref.node_counts, "edges": ref.edge_counts,
        "customer_features": int(back["customer"].x.shape[1]) if back is not None else None,
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def render(f: dict, conditions: str) -> str:
    """The page."""
    steps = f["steps_s"]
    revisit_before = steps["load"] + steps["normalise"]
    lines = [
        "# One graph snapshot, built and read back", "",
        "Runner: `benchmarks/graph_paper.py` (written by it). Command, from the repository root:", "",
        "```sh", f"LEADGRAPH_HOME=<home> python -m benchmarks.graph_paper --as-of {f['as_of']}", "```", "",
        f"Machine: {f['machine']}. Date: {f['date']}. Conditions: {conditions}.", "",
        f"Nodes {sum(f['nodes'].values()):,} ({', '.join(f'{k} {v:,}' for k, v in f['nodes'].items())}); "
        f"edges {sum(f['edges'].values()):,} in both directions; {f['customer_features']} customer features.", "",
        "| step | wall |", "|---|---|",
        *(f"| {name} | {seconds:.1f} s |" for name, seconds in steps.items()), "",
        f"Stored snapshot {f['stored_gib']:.2f} GiB, its spilled normalised copy {f['spilled_gib']:.2f} GiB; "
        f"peak resident memory of the process {f['peak_rss_gib']:.2f} GiB.", "",
        f"A training run's later visits of an anchor read the spill back: {steps['spill (read back)']:.1f} s against "
        f"{revisit_before:.1f} s to load and normalise it again "
        f"({revisit_before / max(steps['spill (read back)'], 1e-9):.1f}x, in this one run).", "",
        "## Queries (`sql/graph/`)", "", "| query | wall |", "|---|---|",
        *(f"| `{name}` | {seconds:.1f} s |" for name, seconds in f["queries_s"].items()), "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Measure the snapshot as of D and write the figures and the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--conditions", default="not stated", help="what else ran on the machine")
    args = parser.parse_args()
    figures = measure(args.as_of)
    figures["conditions"] = args.conditions
    (RESULTS / "graph_paper.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    (RESULTS / "graph.md").write_text(render(figures, args.conditions), encoding="utf-8")
    print(render(figures, args.conditions))


if __name__ == "__main__":
    main()
