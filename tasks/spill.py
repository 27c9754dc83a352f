"""Normalised snapshots spilled to disk as plain arrays while a problem lives, then removed.

A training loop revisits each anchor's snapshot every epoch and evaluation, and a problem holds one in
memory at a time. Reloading a stored paper-scale snapshot and normalising it again takes about 8 s
(most of it the normalisation); reading back its normalised arrays takes a fraction of a second
(benchmarks/results/graph.md). A spill folder belongs to one process (`<pid>-<n>` under `artifacts/spill/`)
and is removed when its owner is garbage collected or the process exits; a folder left by a killed process
is removed by the next one. The arrays are named as in a stored snapshot (`tasks.graph.graph_arrays`), one
plain `.npy` file each.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import weakref
from pathlib import Path

import numpy as np
from torch_geometric.data import HeteroData

from tasks.graph import edge_key, graph_arrays, graph_from_arrays

DONE = "done.json"
_numbers = itertools.count()


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_orphans(root: Path) -> None:
    """Remove the spill folders under `root` whose process has ended (killed before it could clean up)."""
    for folder in root.glob("*-*") if root.exists() else []:
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class Spill:
    """A process-owned folder of spilled graphs, one subfolder per key, removed with its owner."""

    def __init__(self, root: Path) -> None:
        clear_orphans(root)
        self.folder = root / f"{os.getpid()}-{next(_numbers)}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, True)

    def get(self, key: str) -> HeteroData | None:
        """The graph spilled under `key`, or None when none was (completely and readably) written."""
        folder = self.folder / key
        try:
            meta = json.loads((folder / DONE).read_text(encoding="utf-8"))
            return graph_from_arrays(lambda name: np.load(folder / f"{name}.npy"), meta["nodes"], meta["edges"])
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, g: HeteroData) -> None:
        """Write `g` under `key`; its marker goes last, so a write cut short is never read back."""
        folder = self.folder / key
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name, array in graph_arrays(g).items():
            np.save(folder / f"{name}.npy", array)
        meta = {"nodes": {nt: list(g[nt].feature_names) for nt in g.node_types},
                "edges": {edge_key(et): "edge_attr" in g[et] for et in g.edge_types}}
        (folder / DONE).write_text(json.dumps(meta), encoding="utf-8")

    def close(self) -> None:
        """Remove the folder now."""
        self._cleanup()
