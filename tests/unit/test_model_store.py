"""The model store: checksums per file checked on load, a broken champion demoted by name, no pickle ever loaded."""

from __future__ import annotations

import json
import pickle
from datetime import date

import pytest

from benchmarks.minibatch_throughput import synthetic_graph
from leadgraph.config import Settings, TrainConfig
from leadgraph.errors import ModelStoreError
from models.problem import TaskSpec
from models.registry import ModelInputs
from models.training import load_model
from tasks import registry

DAY = date(2025, 6, 30)


def _register(settings: Settings, version: str, promote: bool = True) -> registry.ModelVersion:
    """A version with stand-in files (their content is not read here, only checksummed)."""
    staged = registry.staging_folder(settings, version)
    (staged / registry.MODEL_FILE).write_bytes(f"weights of {version}".encode())
    registry.write_json(staged / registry.CONFIG_FILE, {"version": version})
    (staged / "report").mkdir()
    (staged / "report" / "report.md").write_text("# report\n")
    return registry.register(settings, staged, version=version, model_name="struchis", trained_as_of=DAY,
                             data_version="dv", metrics={}, config={}, promote=promote)


def test_a_corrupt_or_incomplete_champion_is_demoted_and_the_previous_one_takes_over(settings: Settings) -> None:
    for v in ("v0001-struchis", "v0002-struchis", "v0003-struchis"):
        _register(settings, v)
    assert registry.demote_broken(settings) == [] and registry.verified(settings, "v0003-struchis")
    v3 = registry.get_version(settings, "v0003-struchis").folder(settings)
    (v3 / registry.MODEL_FILE).write_bytes(b"flipped bits")
    with pytest.raises(ModelStoreError, match="v0003-struchis.*model.pt does not match its recorded sha256"):
        registry.verified(settings, "v0003-struchis")
    (registry.get_version(settings, "v0002-struchis").folder(settings) / "report" / "report.md").unlink()

    notes = registry.demote_broken(settings)
    # v0002 is broken too, so the latest healthy earlier version is v0001.
    assert len(notes) == 1 and "v0003-struchis demoted to corrupt" in notes[0] and "model.pt" in notes[0]
    assert notes[0].endswith("v0001-struchis is champion again")
    assert registry.champion(settings).version == "v0001-struchis"
    statuses = {v.version: v.status for v in registry.list_versions(settings)}
    assert statuses == {"v0001-struchis": "champion", "v0002-struchis": "retired", "v0003-struchis": "corrupt"}

    (registry.get_version(settings, "v0001-struchis").folder(settings) / registry.CONFIG_FILE).write_text("{}")
    assert "no healthy version left" in registry.demote_broken(settings)[0]
    assert registry.champion(settings) is None


class _Payload:
    """Unpickling this runs code: the store must never do it."""

    def __reduce__(self):
        return (exec, ("import builtins; builtins.leadgraph_pwned = True",))


def test_a_pickle_in_place_of_weights_is_refused_unexecuted(tmp_path) -> None:
    import builtins

    graph = synthetic_graph(40, seed=1)
    inputs = ModelInputs(in_dims={t: int(graph[t].x.shape[1]) for t in graph.node_types}, edge_types=list(graph.edge_types),
                         edge_attr_dims={}, tasks=[TaskSpec("high_interest", "customer", "binary")])
    path = tmp_path / "model.pt"
    path.with_suffix(".json").write_text(json.dumps({
        "model_name": "stl-hgt", "cfg": TrainConfig(hidden=8, layers=1).model_dump(mode="json"), "best_epoch": 0,
        "metrics": {}, "inputs": inputs.to_dict()}))
    path.write_bytes(pickle.dumps({"state": _Payload()}))
    with pytest.raises(pickle.UnpicklingError):
        load_model(path)
    assert not getattr(builtins, "leadgraph_pwned", False)
