"""The DBLP multi-task benchmark (StrucHIS protocol) as a `Problem`: author research area and paper venue.

Benchmark data only: the product never needs it. Venue nodes become the paper task's labels and
leave the graph; self-loop relations are the model's business. One graph serves all three splits.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from models.problem import Problem, Split, TaskSpec

# Global id ranges of link.dat (README of the data folder).
ID_SHIFT = {"author": 0, "paper": 4057, "term": 18385, "venue": 26108}
NUM_NODES = {"author": 4057, "paper": 14328, "term": 7723, "venue": 20}
# link.dat type -> PyG edge type (src, rel, dst; dst receives).
LINK_TYPES: dict[int, tuple[str, str, str]] = {
    0: ("author", "writes", "paper"),
    1: ("paper", "has_term", "term"),
    3: ("paper", "written_by", "author"),
    4: ("term", "term_of", "paper"),
}
VENUE_LINK = 2
REQUIRED = ("link.dat", "label.dat", "label.dat.test", "a_feat.npz", "p_feat.npz", "t_feat.npy", "splits.npz")
DEFAULT_LOSS_WEIGHTS = {"author_area": 1.0, "paper_venue": 1.0}


class DblpDataError(ValueError):
    """The DBLP folder is missing a file or a file breaks the documented layout."""


def dblp_folder() -> Path:
    """The DBLP data folder: env LEADGRAPH_DBLP, else ../shared/data/dblp next to the repository root."""
    env = os.environ.get("LEADGRAPH_DBLP")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dblp").resolve()


def dblp_available(folder: Path | None = None) -> bool:
    """True when every file the loader needs is present."""
    folder = folder or dblp_folder()
    return all((folder / name).is_file() for name in REQUIRED)


def _read_links(path: Path) -> np.ndarray:
    """link.dat as an int array [E, 3] of (head, tail, type)."""
    table = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2], names=["h", "t", "type"])
    if table.isna().any().any():
        row = int(table.isna().any(axis=1).to_numpy().argmax())
        raise DblpDataError(f"{path}: line {row + 1} does not have the 'head tail type weight' layout")
    return table.to_numpy(dtype=np.int64)


def _check_range(path: Path, ids: np.ndarray, node_type: str, what: str) -> None:
    """Raise if any local id falls outside its node type."""
    bad = np.flatnonzero((ids < 0) | (ids >= NUM_NODES[node_type]))
    if bad.size:
        raise DblpDataError(f"{path}: row {int(bad[0]) + 1}: {what} id outside the {node_type} range")


def _graph(folder: Path, links: np.ndarray) -> HeteroData:
    """Author, paper and term nodes with their features, and the four non-venue relations."""
    g = HeteroData()
    g["author"].x = torch.from_numpy(sp.load_npz(folder / "a_feat.npz").toarray().astype(np.float32))
    g["paper"].x = torch.from_numpy(sp.load_npz(folder / "p_feat.npz").toarray().astype(np.float32))
    g["term"].x = torch.from_numpy(np.load(folder / "t_feat.npy").astype(np.float32))
    for t in ("author", "paper", "term"):
        if g[t].x.shape[0] != NUM_NODES[t]:
            raise DblpDataError(f"{folder}: {t} features have {g[t].x.shape[0]} rows, expected {NUM_NODES[t]}")
        g[t].node_id = torch.arange(NUM_NODES[t])
    for code, (src, rel, dst) in LINK_TYPES.items():
        rows = links[links[:, 2] == code]
        s, d = rows[:, 0] - ID_SHIFT[src], rows[:, 1] - ID_SHIFT[dst]
        _check_range(folder / "link.dat", s, src, f"type-{code} head")
        _check_range(folder / "link.dat", d, dst, f"type-{code} tail")
        g[src, rel, dst].edge_index = torch.from_numpy(np.stack([s, d]))
    return g


def _venue_labels(folder: Path, links: np.ndarray) -> torch.Tensor:
    """Each paper's venue id (0-19), indexed by paper id rather than by line order."""
    rows = links[links[:, 2] == VENUE_LINK]
    paper, venue = rows[:, 0] - ID_SHIFT["paper"], rows[:, 1] - ID_SHIFT["venue"]
    _check_range(folder / "link.dat", paper, "paper", "paper-venue head")
    _check_range(folder / "link.dat", venue, "venue", "paper-venue tail")
    y = np.full(NUM_NODES["paper"], -1, dtype=np.int64)
    y[paper] = venue
    if (y < 0).any():
        raise DblpDataError(f"{folder / 'link.dat'}: paper {int(np.argmax(y < 0))} has no venue link")
    return torch.from_numpy(y)


def _author_labels(folder: Path) -> torch.Tensor:
    """Author research area (0-3) from label.dat and label.dat.test; -1 for an author in neither."""
    y = np.full(NUM_NODES["author"], -1, dtype=np.int64)
    for name in ("label.dat", "label.dat.test"):
        table = pd.read_csv(folder / name, sep="\t", header=None, names=["id", "name", "type", "cls"], quoting=3)
        ids, cls = table["id"].to_numpy(np.int64), table["cls"].to_numpy(np.int64)
        _check_range(folder / name, ids, "author", "author")
        bad = np.flatnonzero((cls < 0) | (cls > 3))
        if bad.size:
            raise DblpDataError(f"{folder / name}: row {int(bad[0]) + 1}: class {cls[bad[0]]} outside 0-3")
        y[ids] = cls
    return torch.from_numpy(y)


def dblp_tasks(weights: dict[str, float]) -> list[TaskSpec]:
    """DBLP's two tasks (author research area, paper venue) with these loss weights."""
    return [
        TaskSpec("author_area", "author", "multiclass", 4, weights["author_area"]),
        TaskSpec("paper_venue", "paper", "multiclass", 20, weights["paper_venue"]),
    ]


def load_dblp_problem(folder: Path | None = None, loss_weights: dict[str, float] | None = None) -> Problem:
    """DBLP as a two-task Problem: author_area (4 classes) and paper_venue (20 classes), one shared graph."""
    folder = Path(folder) if folder is not None else dblp_folder()
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise DblpDataError(f"{folder}: missing {', '.join(missing)} (set LEADGRAPH_DBLP to the DBLP data folder)")
    weights = {**DEFAULT_LOSS_WEIGHTS, **(loss_weights or {})}
    authors = _author_labels(folder)
    links = _read_links(folder / "link.dat")
    labels = {"author_area": authors, "paper_venue": _venue_labels(folder, links)}
    graph = _graph(folder, links)
    tasks = dblp_tasks(weights)
    masks = np.load(folder / "splits.npz")
    prefix = {"author_area": "author", "paper_venue": "paper"}

    def split(name: str) -> Split:
        index = {t: torch.from_numpy(np.flatnonzero(masks[f"{prefix[t]}_{name}"])) for t in prefix}
        return Split(
            graphs=[graph],
            index={t: [idx] for t, idx in index.items()},
            y={t: [labels[t][idx]] for t, idx in index.items()},
        )

    return Problem(
        name="dblp",
        tasks=tasks,
        train=split("train"),
        val=split("val"),
        test=split("test"),
        meta={"source": str(folder)},
    )
