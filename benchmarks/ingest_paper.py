"""Benchmark: ingest + validate the paper-scale world in place: the initial load up to one day, then the next day.

Run from the repository root, on an otherwise idle machine, with LEADGRAPH_HOME at a paper-scale home
(`leadgraph simulate --scale paper --start 2025-07-01 --end 2025-12-27`):

    LEADGRAPH_HOME=<paper home> .venv/bin/python -m benchmarks.ingest_paper

Each phase runs in its own process so its peak resident memory is its own. The warehouse is rebuilt
from the landing folder (which is only read); results go to benchmarks/results/ingest.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from benchmarks import machine
from leadgraph.config import RAW_TABLES, load_settings

INITIAL = date(2025, 12, 26)
INCREMENT = date(2025, 12, 27)
RESULTS = Path(__file__).resolve().parent / "results" / "ingest.md"


def run_phase(as_of: date) -> dict:
    """Ingest and validate as of one day in this process; timings, rows and peak memory."""
    from tasks.ingest import ingest
    from tasks.validate import ValidationFailed, validate

    settings = load_settings()
    started = time.perf_counter()
    loaded = ingest(settings, as_of)
    ingested = time.perf_counter()
    try:
        checked = validate(settings, as_of)
        verdict, quarantined = "passed", sum(checked.quarantined.values())
        covered = sum(checked.covered.values())
    except ValidationFailed as failure:
        verdict, quarantined, covered = f"FAILED: {str(failure).splitlines()[0]}", -1, -1
    finished = time.perf_counter()
    return {
        "as_of": str(as_of),
        "rows": loaded.rows_loaded,
        "files": len(loaded.with_status("loaded")),
        "ingest_s": ingested - started,
        "validate_s": finished - ingested,
        "covered": covered,
        "quarantined": quarantined,
        "verdict": verdict,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
        "tables": {t: sum(o.rows for o in loaded.with_status("loaded") if o.table == t) for t in RAW_TABLES},
        "first_partition": str(min((o.dt for o in loaded.with_status("loaded")), default=as_of)),
    }


def render(phases: list[dict], command: str, machine: str, when: str) -> str:
    """The results page."""
    lines = [
        "# Ingest and validate at paper scale",
        "",
        "Command (from the repository root, on a paper-scale home):",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Machine: {machine}. Date: {when}.",
        "Each phase runs in a fresh process; peak memory is that process's maximum resident set size",
        "(DuckDB's buffers included; `ingest.memory_limit` caps DuckDB at 6 GB).",
        "",
        "| phase | as of | files | rows loaded | ingest | validate | total | CPU (user+sys) | rows/s (ingest) | rows/s (ingest+validate) | rows validated | quarantined | peak memory | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in zip(("initial load", "daily increment"), phases):
        total = p["ingest_s"] + p["validate_s"]
        lines.append(
            f"| {name} | {p['as_of']} | {p['files']:,} | {p['rows']:,} | {p['ingest_s']:.1f} s | {p['validate_s']:.1f} s | {total:.1f} s | {p['cpu_s']:.0f} s "
            f"| {p['rows'] / p['ingest_s']:,.0f} | {p['rows'] / total:,.0f} | {p['covered']:,} | {p['quarantined']:,} | {p['peak_rss_mb'] / 1024:.2f} GB | {p['verdict']} |"
        )
    initial = phases[0]
    lines += [
        "",
        "Targets: initial load under 5 minutes, daily increment under 1 minute, peak memory under 8 GB.",
        "",
        f"Rows per table in the initial load (partitions {initial['first_partition']} .. {initial['as_of']}):",
        "",
        "| table | rows |",
        "|---|---|",
        *(f"| {t} | {n:,} |" for t, n in initial["tables"].items()),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Rebuild the warehouse from landing, run both phases in child processes, write the results page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", help="internal: run one phase (YYYY-MM-DD) and print its figures as JSON")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_phase(date.fromisoformat(args.phase))))
        return
    settings = load_settings()
    for stale in settings.paths.home.glob("warehouse.duckdb*"):
        stale.unlink()
    phases = []
    for day in (INITIAL, INCREMENT):
        out = subprocess.run([sys.executable, "-m", "benchmarks.ingest_paper", "--phase", str(day)], check=True, capture_output=True, text=True)
        phases.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(phases[-1], flush=True)
    command = "LEADGRAPH_HOME=<paper home> .venv/bin/python -m benchmarks.ingest_paper"
    RESULTS.write_text(render(phases, command, machine.describe(), machine.now()), encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
