"""The spill of normalised snapshots: a round trip, a write cut short, and folders left by killed processes."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import torch
from torch_geometric.data import HeteroData

from tasks.spill import DONE, Spill


def _graph() -> HeteroData:
    g = HeteroData()
    g["customer"].x = torch.randn(5, 3)
    g["customer"].node_id = torch.arange(10, 15)
    g["customer"].feature_names = ["a", "b", "c"]
    g["station"].x = torch.randn(2, 1)
    g["station"].node_id = torch.arange(2)
    g["station"].feature_names = ["kind"]
    g["customer", "located_at", "station"].edge_index = torch.tensor([[0, 1, 4], [0, 1, 1]])
    g["customer", "ships_to", "customer"].edge_index = torch.tensor([[0, 2], [1, 3]])
    g["customer", "ships_to", "customer"].edge_attr = torch.randn(2, 3)
    return g


def test_a_spilled_graph_reads_back_equal(tmp_path: Path) -> None:
    spill, g = Spill(tmp_path), _graph()
    assert spill.get("2025-01-06") is None
    spill.put("2025-01-06", g)
    back = spill.get("2025-01-06")
    assert back is not None and set(back.node_types) == set(g.node_types) and set(back.edge_types) == set(g.edge_types)
    for nt in g.node_types:
        assert torch.equal(back[nt].x, g[nt].x) and torch.equal(back[nt].node_id, g[nt].node_id)
        assert back[nt].feature_names == g[nt].feature_names
    for et in g.edge_types:
        assert torch.equal(back[et].edge_index, g[et].edge_index)
        assert ("edge_attr" in back[et]) == ("edge_attr" in g[et])
    assert torch.equal(back["customer", "ships_to", "customer"].edge_attr, g["customer", "ships_to", "customer"].edge_attr)


def test_a_write_cut_short_is_never_read_back(tmp_path: Path) -> None:
    spill = Spill(tmp_path)
    spill.put("2025-01-06", _graph())
    (spill.folder / "2025-01-06" / DONE).unlink()
    assert spill.get("2025-01-06") is None


def test_a_damaged_spill_reads_as_none_so_the_snapshot_is_reloaded(tmp_path: Path) -> None:
    spill = Spill(tmp_path)
    spill.put("2025-01-06", _graph())
    (spill.folder / "2025-01-06" / "customer.x.npy").write_bytes(b"\x93NUMPY broken")
    assert spill.get("2025-01-06") is None
    spill.put("2025-01-13", _graph())
    (spill.folder / "2025-01-13" / "station.node_id.npy").unlink()
    assert spill.get("2025-01-13") is None


def test_the_folder_goes_with_its_owner_and_a_killed_process_folder_with_the_next_spill(tmp_path: Path) -> None:
    spill = Spill(tmp_path)
    spill.put("2025-01-06", _graph())
    mine = spill.folder
    del spill
    gc.collect()
    assert not mine.exists()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    orphan = tmp_path / f"{int(ended.stdout)}-0"
    (orphan / "2025-01-06").mkdir(parents=True)
    living = tmp_path / f"{os.getpid()}-99"
    living.mkdir()
    Spill(tmp_path)
    assert not orphan.exists() and living.exists()
