"""`leadgraph simulate`: write a simulated logistics world into landing/ and its true probabilities into truth/.

The world's structure is drawn in simulator/world.py, its days (shipping, sales events, the label
mechanism and the truth recursion) in simulator/world_days.py, turned into partitions by
simulator/world_write.py and optionally broken by simulator/defects.py. Same seed, same bytes.

Outputs under the home folder:
- landing/<table>/dt=YYYY-MM-DD/part-0.<csv|parquet> for every day of [start, end];
- truth/probabilities/as_of=YYYY-MM-DD.parquet (customer_id, p_high_interest, p_contract) for
  every Monday of the history (every n-th Monday at scales that say so), over all prospects then;
- truth/offers/as_of=YYYY-MM-DD.parquet (customer_id, service_id, p_adopt): each customer's chance of
  adopting each of its candidate offers in the next 90 days, every n-th Monday (offers.truth_every_mondays);
- truth/defects.parquet (one row per injected defect; empty without --defects);
- truth/summary.json (parameters, row counts, the graph implied at the last day).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from leadgraph.config import LANDING_FORMAT, RAW_TABLES, Settings
from simulator import defects as defect_mod
from simulator.world import CUSTOMER_ID0, World, build_world, distinct
from simulator.world_days import CONTRACT_WINDOW, DayEvents, Dynamics, run
from simulator.world_offers import SERVICE_ID0, OfferTruth, OfferWorld, run_offers
from simulator.world_offers_write import OfferPartitions
from simulator.world_truth import Truth
from simulator.world_write import PartitionBuilder, csv_bytes, day_date, write_parquet

TRUTH_SCHEMA = pa.schema([("customer_id", pa.int64()), ("p_high_interest", pa.float64()), ("p_contract", pa.float64())])
DEFECT_SCHEMA = pa.schema([("table_name", pa.string()), ("file", pa.string()), ("row", pa.int64()),
                           ("key", pa.string()), ("defect", pa.string()), ("column", pa.string())])
OFFER_TRUTH_SCHEMA = pa.schema([("customer_id", pa.int64()), ("service_id", pa.int64()), ("p_adopt", pa.float64())])
DEFECT_STREAM = 99
OFFER_STREAM = 98


class SimulationError(ValueError):
    """Arguments or a home folder that a world cannot be written with."""


@dataclass
class SimulationSummary:
    """What one simulation wrote."""

    home: str
    scale: str
    seed: int
    start: date
    end: date
    defect_rate: float
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    defects: int = 0
    truth_files: int = 0
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def render(self) -> str:
        """A short human-readable account."""
        lines = [
            f"simulated {self.scale} world, seed {self.seed}, {self.start} .. {self.end}, into {self.home}",
            f"{self.files} landing files, {self.truth_files} truth files, {self.defects} injected defects, "
            f"{self.seconds:.1f} s",
        ]
        lines += [f"  {table:<18} {count:>12,} rows" for table, count in self.rows.items()]
        lines.append(f"graph at {self.end}: {sum(self.nodes.values()):,} nodes, {sum(self.edges.values()):,} edges")
        lines += [f"  {name:<18} {count:>12,}" for name, count in {**self.nodes, **self.edges}.items()]
        return "\n".join(lines)


def anchor_days(start: date, days: int, every: int) -> list[int]:
    """Day offsets of the Mondays in the history, every n-th one from the first."""
    first = (7 - start.weekday()) % 7
    return list(range(first, days, 7 * every))


def implied_graph(world: World, shipped: np.ndarray) -> tuple[dict[str, int], dict[str, int]]:
    """Node and edge counts of the graph as of the last written day."""
    linked = np.floor(world.ln_linked) < world.days
    nodes = {
        "customer": len(world.cu_created),
        "company": int((world.co_created < world.days).sum()),
        "account": int((np.floor(world.ac_created) < world.days).sum()),
        "station": len(world.st_region),
    }
    edges = {
        "ships_to": int(shipped.sum()),
        "holds": int(distinct(world.ln_customer[linked] * len(world.ac_created) + world.ln_account[linked]).size),
        "located_at": len(world.cu_created),
        "belongs_to": int((world.cu_company >= 0).sum()),
        "based_at": nodes["company"],
    }
    return nodes, edges


def _check(settings: Settings, scale: str, start: date, end: date, defect_rate: float) -> None:
    """Refuse arguments or a landing folder that would give a broken or mixed world."""
    sizes = settings.simulate.sizes
    if scale not in sizes:
        raise SimulationError(f"unknown scale {scale!r}; choose one of {', '.join(sizes)}")
    if end < start:
        raise SimulationError(f"end {end} is before start {start}")
    if (end - start).days + 1 < CONTRACT_WINDOW:
        raise SimulationError(f"the history {start} .. {end} is shorter than the {CONTRACT_WINDOW}-day label window")
    if not 0.0 <= defect_rate < 1.0:
        raise SimulationError(f"--defects must be in [0, 1), got {defect_rate}")
    for table in RAW_TABLES:
        folder = settings.paths.landing / table
        if folder.is_dir() and any(folder.iterdir()):
            raise SimulationError(f"{folder} already holds partitions; simulate into an empty LEADGRAPH_HOME "
                                  "(landing files are never overwritten)")


class _Writer:
    """Writes partitions (with defects when asked) and truth files, and counts what it wrote."""

    def __init__(self, settings: Settings, start: date, seed: int, defect_rate: float):
        self.paths, self.start, self.seed, self.rate = settings.paths, start, seed, defect_rate
        self.rows = {table: 0 for table in RAW_TABLES}
        self.files = 0
        self.truth_files = 0
        self.defects: list[dict] = []

    def partition(self, table: str, day: int, data: pa.Table) -> None:
        """One table's file for one day."""
        fmt = LANDING_FORMAT[table]
        folder = self.paths.partition(table, day_date(self.start, day))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-0.{fmt}"
        rel = path.relative_to(self.paths.landing).as_posix()
        stream = np.random.SeedSequence([self.seed, DEFECT_STREAM, RAW_TABLES.index(table), day])
        rng = np.random.default_rng(stream)
        out, malformed, records = defect_mod.inject(table, fmt, data, self.rate, rel, day_date(self.start, day), rng)
        if fmt == "csv":
            payload = csv_bytes(out)
            if malformed:
                payload = defect_mod.corrupt_lines(payload, malformed, rng)
            path.write_bytes(payload)
        else:
            write_parquet(out, path)
        self.rows[table] += out.num_rows
        self.files += 1
        self.defects += records

    def day(self, tables: dict[str, pa.Table], ev: DayEvents) -> None:
        """Every table's file for one day."""
        for table in RAW_TABLES:
            self.partition(table, ev.day, tables[table])

    def truth(self, t: Truth) -> None:
        """One anchor's true probabilities."""
        folder = self.paths.truth / "probabilities"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table([pa.array(CUSTOMER_ID0 + t.customer), pa.array(t.p_high_interest), pa.array(t.p_contract)],
                         schema=TRUTH_SCHEMA)
        write_parquet(table, folder / f"as_of={day_date(self.start, t.day).isoformat()}.parquet")
        self.truth_files += 1

    def offer_truth(self, t: OfferTruth) -> None:
        """One anchor's true adoption probabilities of every candidate offer."""
        folder = self.paths.truth / "offers"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table([pa.array(CUSTOMER_ID0 + t.customer), pa.array(SERVICE_ID0 + t.service), pa.array(t.p_adopt)],
                         schema=OFFER_TRUTH_SCHEMA)
        write_parquet(table, folder / f"as_of={day_date(self.start, t.day).isoformat()}.parquet")
        self.truth_files += 1

    def finish(self) -> None:
        """The defect list."""
        self.paths.truth.mkdir(parents=True, exist_ok=True)
        columns = {name: [r[name] for r in self.defects] for name in DEFECT_SCHEMA.names}
        write_parquet(pa.table(columns, schema=DEFECT_SCHEMA), self.paths.truth / "defects.parquet")


def simulate(settings: Settings, scale: str | None = None, start: date | None = None, end: date | None = None,
             seed: int | None = None, defect_rate: float | None = None) -> SimulationSummary:
    """Write a deterministic simulated world (landing/ and truth/) into the settings' home folder."""
    cfg = settings.simulate
    scale = scale or cfg.scale
    start = start or cfg.start
    end = end or cfg.end
    seed = cfg.seed if seed is None else seed
    defect_rate = cfg.defect_rate if defect_rate is None else defect_rate
    _check(settings, scale, start, end, defect_rate)
    began = time.perf_counter()

    size = cfg.sizes[scale]
    days = (end - start).days + 1
    world_stream, days_stream = np.random.SeedSequence(seed).spawn(2)
    world = build_world(size, cfg, days, days + CONTRACT_WINDOW, np.random.default_rng(world_stream))
    builder = PartitionBuilder(world, start)
    writer = _Writer(settings, start, seed, defect_rate)
    anchors = set(anchor_days(start, days, size.truth_every_mondays))
    dyn = Dynamics(world, cfg, np.random.default_rng(days_stream))
    # The offers draw from their own stream, so the other tables keep the bytes they had before offers existed.
    offers = OfferWorld(world, cfg.offers, cfg.offers.services.get(scale, cfg.offers.default_services), np.random.default_rng(np.random.SeedSequence([seed, OFFER_STREAM])))
    offer_anchors = set(anchor_days(start, days, cfg.offers.truth_every_mondays))
    offer_events = run_offers(offers, (7 - start.weekday()) % 7, offer_anchors, writer.offer_truth)
    offer_builder = OfferPartitions(offers.cat, offer_events, start, days)
    # Files are written on a second thread while the next day is simulated; one day in flight bounds memory.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future | None = None
        for ev in run(dyn, start.weekday(), anchors, writer.truth):
            tables = {**builder.build(ev), **offer_builder.build(ev.day)}
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.day, tables, ev)
        if pending is not None:
            pending.result()
    writer.finish()

    nodes, edges = implied_graph(world, dyn.shipped)
    summary = SimulationSummary(
        home=str(settings.paths.home), scale=scale, seed=seed, start=start, end=end, defect_rate=defect_rate,
        rows=writer.rows, files=writer.files, defects=len(writer.defects), truth_files=writer.truth_files,
        nodes=nodes, edges=edges, seconds=time.perf_counter() - began,
    )
    _write_summary(settings.paths.truth / "summary.json", summary, cfg.model_dump(mode="json"))
    return summary


def _write_summary(path: Path, summary: SimulationSummary, parameters: dict) -> None:
    """Parameters and counts of the world, for benchmarks (the pipeline never reads truth/)."""
    # Without the home folder and the run time, so that the same seed gives the same bytes here too.
    body = {**asdict(summary), "start": summary.start.isoformat(), "end": summary.end.isoformat(),
            "parameters": parameters}
    del body["home"], body["seconds"]
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")


@task(name="simulate", cache_policy=NONE)
def simulate_task(settings: Settings, scale: str, start: date, end: date, seed: int,
                  defect_rate: float) -> SimulationSummary:
    """Prefect task around simulate()."""
    return simulate(settings, scale, start, end, seed, defect_rate)
