"""Graph models are device-agnostic: they train and score where their weights are, and leave the caller's graph alone.

No GPU is needed to check the forwards: on PyTorch's meta device (shapes, no data) a tensor that a forward creates on
the CPU instead of beside the weights fails the first operation that meets it, as it would on a GPU. Sampled
subgraphs and layer-wise inference use operations meta tensors lack (data-dependent shapes, bincount); the last test
trains and scores through them on CUDA itself where a GPU is present.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch_geometric.data import HeteroData

from benchmarks.minibatch_throughput import synthetic_graph
from leadgraph.config import DualBranchConfig, TrainConfig
from models.device import loading_device, on_device, resolve_device
from models.losses import default_task_loss
from models.problem import Problem, Split
from models.registry import MODEL_NAMES
from models.training import fit, load_model, predict, save_model
from tests.model.test_inference import TASKS, _model

META = torch.device("meta")
# Every registered graph model (the tabular baseline has no torch weights).
GRAPH_MODELS = [name for name in MODEL_NAMES if name != "lightgbm"]
# The held-out link draw of the dual-branch GCN keeps a data-dependent number of edges, which meta tensors cannot
# hold; on a GPU the last test covers it.
CFG = TrainConfig(hidden=16, layers=2, dual=DualBranchConfig(link_weight=0.0))


@pytest.fixture(scope="module")
def graph() -> HeteroData:
    """A small logistics-shaped graph: 300 customers on two hub stations."""
    return synthetic_graph(300, seed=1)


def test_auto_is_cuda_only_where_there_is_one_and_a_missing_gpu_is_refused() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda:0") == torch.device("cuda:0")
    else:
        with pytest.raises(ValueError, match="train.device = 'cuda'.*no CUDA device"):
            resolve_device("cuda")
        # A model trained on a GPU still scores here, on the CPU.
        assert loading_device("cuda") == torch.device("cpu")


def test_settings_refuse_a_device_torch_would_not_know() -> None:
    with pytest.raises(ValidationError, match="device"):
        TrainConfig(device="gpu")


def test_a_graph_is_copied_to_the_device_and_the_callers_stays(graph: HeteroData) -> None:
    assert on_device(graph, torch.device("cpu")) is graph
    moved = on_device(graph, META)
    assert moved["customer"].x.device == META and graph["customer"].x.device.type == "cpu"
    assert all(store.edge_index.device.type == "cpu" for store in graph.edge_stores)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_a_training_forward_and_its_loss_stay_on_the_device_of_the_weights(graph: HeteroData, name: str) -> None:
    model = _model(name, graph, CFG).train().to(META)
    out = model(on_device(graph, META))
    assert {z.device for z in out.values()} == {META}
    binary = TASKS[0]
    y = torch.zeros(out[binary.name].shape[0], device=META)
    assert default_task_loss(binary, out[binary.name], y, pos_weight=3.0).device == META


@pytest.mark.skipif(not torch.cuda.is_available(), reason="trains on CUDA: needs a GPU, which this machine lacks")
@pytest.mark.parametrize("name", ["struchis", "dual-branch", "shared-hgt"])
def test_training_on_cuda_scores_like_the_cpu_and_reloads(graph: HeteroData, name: str, tmp_path) -> None:
    y = (torch.rand(300, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    split = Split([graph], {"high_interest": [torch.arange(300)]}, {"high_interest": [y]})
    problem = Problem("device", [TASKS[0]], split, split, split)
    results, probs = {}, {}
    for device in ("cuda", "cpu"):
        # No dropout: the CPU draws its masks from numpy, CUDA from torch, so only dropout-free runs can agree.
        cfg = TrainConfig(hidden=16, layers=2, max_epochs=3, dropout=0.0, attn_dropout=0.0, device=device,
                          full_batch_max_nodes=10, inference_fanouts=(3, 3, 3))
        results[device] = fit(problem, name, cfg)
        probs[device] = predict(results[device].model, graph, cfg)["high_interest"]
        assert next(results[device].model.parameters()).device.type == device
    np.testing.assert_allclose(probs["cuda"], probs["cpu"], atol=5e-3)
    save_model(results["cuda"], tmp_path / "model.pt")
    loaded, _, cfg = load_model(tmp_path / "model.pt")
    assert next(loaded.parameters()).device.type == "cuda"
    np.testing.assert_allclose(predict(loaded, graph, cfg)["high_interest"], probs["cuda"], atol=1e-6)
