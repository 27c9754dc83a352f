"""Build, version, store and load the heterogeneous graph snapshot as of D.

A snapshot lives in `artifacts/graphs/<D>/`: `graph.npz` (uncompressed arrays, fast to load),
`meta.json` (feature names, counts, data version) and `ids/<node type>.parquet` (raw id -> row).
Its data version hashes what the snapshot depends on: the ingested files and quarantined rows of
partitions up to D, the raw row counts up to D, the graph queries' text and the graph settings.
Building D again with the same data version reuses the stored snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from prefect import task
from prefect.cache_policies import NONE
from torch_geometric.data import HeteroData

from leadgraph.config import GraphConfig, Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from tasks import vocabulary
from tasks.graph_features import ID_COLUMNS, SHIP_ATTRS, assemble, query_names

FORMAT_VERSION = 1
ARRAYS = "graph.npz"
META = "meta.json"


def edge_key(edge_type: tuple[str, str, str]) -> str:
    """An edge type as one string, e.g. customer__ships_to__customer."""
    return "__".join(edge_type)


@dataclass
class SnapshotRef:
    """Where a stored snapshot is and what it holds."""

    as_of: date
    path: Path
    data_version: str
    node_counts: dict[str, int]
    edge_counts: dict[str, int]
    reused: bool = False
    seconds: float = field(default=0.0, compare=False)

    def render(self) -> str:
        """Node and edge counts per type, the path and the data version, for the CLI."""
        how = "reused" if self.reused else f"built in {self.seconds:.1f}s"
        lines = [f"graph snapshot as of {self.as_of} ({how})", f"  path          {self.path}", f"  data version  {self.data_version[:16]}"]
        lines.append(f"  nodes {sum(self.node_counts.values()):>14,}")
        lines += [f"    {nt:<40} {n:>12,}" for nt, n in self.node_counts.items()]
        lines.append(f"  edges {sum(self.edge_counts.values()):>14,}")
        lines += [f"    {et:<40} {n:>12,}" for et, n in self.edge_counts.items()]
        return "\n".join(lines)


def configure(con: duckdb.DuckDBPyConnection, cfg: GraphConfig) -> None:
    """Bound DuckDB's memory and threads for graph queries."""
    con.execute(f"SET memory_limit = '{cfg.memory_limit}'")
    con.execute(f"SET threads = {int(cfg.threads)}")


def data_version(con: duckdb.DuckDBPyConnection, as_of: date, cfg: GraphConfig) -> str:
    """sha256 over the inputs of the snapshot as of D (see the module docstring)."""
    files, quarantined, counts = con.execute(sql("graph/data_version"), {"as_of": as_of}).fetchall()[0]
    h = hashlib.sha256()
    # DuckDB's memory and thread limits change how a snapshot is computed, not what it holds.
    settings_json = cfg.model_dump_json(exclude={"memory_limit", "threads"})
    for part in (f"format {FORMAT_VERSION}", as_of.isoformat(), files, quarantined, counts, settings_json):
        h.update(part.encode("utf-8") + b"\0")
    for name in query_names():
        h.update(sql(f"graph/{name}").encode("utf-8") + b"\0")
    return h.hexdigest()


def snapshot_dir(settings: Settings, as_of: date) -> Path:
    """The folder of the snapshot as of D."""
    return settings.paths.graphs / as_of.isoformat()


def _counts(g: HeteroData) -> tuple[dict[str, int], dict[str, int]]:
    return ({nt: int(g[nt].num_nodes) for nt in g.node_types},
            {edge_key(et): int(g[et].edge_index.shape[1]) for et in g.edge_types})


def save_snapshot(g: HeteroData, folder: Path, as_of: date, version: str) -> None:
    """Write a snapshot into `folder` (which must not exist yet)."""
    (folder / "ids").mkdir(parents=True)
    for nt in g.node_types:
        ids = g[nt].node_id.numpy()
        pq.write_table(pa.table({ID_COLUMNS[nt]: ids, "idx": np.arange(len(ids), dtype=np.int64)}), folder / "ids" / f"{nt}.parquet")
    np.savez(folder / ARRAYS, **graph_arrays(g))
    nodes, edges = _counts(g)
    meta = {
        "format": FORMAT_VERSION,
        "as_of": as_of.isoformat(),
        "data_version": version,
        "node_counts": nodes,
        "edge_counts": edges,
        "feature_names": {nt: list(g[nt].feature_names) for nt in g.node_types},
        "edge_attr_names": {edge_key(et): list(SHIP_ATTRS) for et in g.edge_types if "edge_attr" in g[et]},
    }
    (folder / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def graph_arrays(g: HeteroData) -> dict[str, np.ndarray]:
    """A graph's arrays by name: `<node type>.x`, `<node type>.node_id`, `<edge key>.edge_index`, `<edge key>.edge_attr`."""
    arrays: dict[str, np.ndarray] = {}
    for nt in g.node_types:
        arrays[f"{nt}.x"] = g[nt].x.numpy()
        arrays[f"{nt}.node_id"] = g[nt].node_id.numpy()
    for et in g.edge_types:
        arrays[f"{edge_key(et)}.edge_index"] = g[et].edge_index.numpy()
        if "edge_attr" in g[et]:
            arrays[f"{edge_key(et)}.edge_attr"] = g[et].edge_attr.numpy()
    return arrays


def graph_from_arrays(read: Callable[[str], np.ndarray], feature_names: dict[str, list[str]],
                      edge_attrs: dict[str, bool]) -> HeteroData:
    """The graph whose arrays `read` returns by `graph_arrays`' names: these node types with their feature names, these
    edge keys, with an edge_attr where marked."""
    g = HeteroData()
    for nt, names in feature_names.items():
        g[nt].x = torch.from_numpy(read(f"{nt}.x"))
        g[nt].node_id = torch.from_numpy(read(f"{nt}.node_id"))
        g[nt].feature_names = list(names)
    for key, has_attr in edge_attrs.items():
        et = tuple(key.split("__"))
        g[et].edge_index = torch.from_numpy(read(f"{key}.edge_index"))
        if has_attr:
            g[et].edge_attr = torch.from_numpy(read(f"{key}.edge_attr"))
    return g


def load_snapshot(path: Path) -> HeteroData:
    """Load a stored snapshot folder into a HeteroData."""
    meta = json.loads((Path(path) / META).read_text(encoding="utf-8"))
    names = {nt: meta["feature_names"][nt] for nt in meta["node_counts"]}
    attrs = {key: key in meta["edge_attr_names"] for key in meta["edge_counts"]}
    with np.load(Path(path) / ARRAYS) as z:
        return graph_from_arrays(z.__getitem__, names, attrs)


def load_node_ids(path: Path, node_type: str) -> np.ndarray:
    """One node type's raw ids in row order, read without the rest of the stored snapshot."""
    with np.load(Path(path) / ARRAYS) as z:
        return z[f"{node_type}.node_id"]


def _stored(folder: Path) -> dict | None:
    """The meta of a complete stored snapshot, or None."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if (folder / ARRAYS).exists() else None


def _publish(tmp: Path, folder: Path) -> None:
    """Move a finished snapshot into place, replacing an outdated one."""
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old)
    else:
        tmp.rename(folder)


def build_snapshot(settings: Settings, as_of: date, force: bool = False) -> SnapshotRef:
    """The snapshot as of D: reused when stored with the same data version (unless forced), else built and stored."""
    started = time.perf_counter()
    cfg = settings.graph
    folder = snapshot_dir(settings, as_of)
    if not settings.paths.warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {settings.paths.warehouse}: run `leadgraph ingest --as-of {as_of}` first")
    with connect(settings.paths.warehouse, read_only=True) as con:
        configure(con, cfg)
        cfg = vocabulary.frozen(con, settings, as_of)
        version = data_version(con, as_of, cfg)
        meta = _stored(folder)
        if meta is not None and meta["data_version"] == version and not force:
            return SnapshotRef(as_of, folder, version, meta["node_counts"], meta["edge_counts"], reused=True)
        g = assemble(con, as_of, cfg)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_snapshot(g, tmp, as_of, version)
    _publish(tmp, folder)
    nodes, edges = _counts(g)
    return SnapshotRef(as_of, folder, version, nodes, edges, seconds=time.perf_counter() - started)


@task(name="graph", cache_policy=NONE, task_run_name="graph-{as_of}")
def graph_task(settings: Settings, as_of: date) -> SnapshotRef:
    """Prefect task: build or reuse the snapshot as of D."""
    return build_snapshot(settings, as_of)

