"""Where a graph model computes: the configured device, resolved against what this machine has.

Graphs, labels and the sampler's indexes stay on the CPU; a model moves to its device once, and each
graph or sampled batch is copied there just before a forward. Outputs come back to the CPU as numpy.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn
from torch_geometric.data import HeteroData

log = logging.getLogger(__name__)
AUTO = "auto"


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when torch sees a GPU, else the CPU; any other name as given, refused when it is absent here."""
    if name == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device = {name!r}, but torch sees no CUDA device on this machine (use 'auto' or 'cpu')")
    return device


def loading_device(name: str) -> torch.device:
    """The device a stored model scores on: its configured one when present here, else the CPU (a model trained
    on a GPU still scores on a machine without one)."""
    try:
        return resolve_device(name)
    except ValueError:
        log.warning("the model was configured for %s, which this machine lacks: scoring on the CPU", name)
        return torch.device("cpu")


def model_device(model: object) -> torch.device:
    """The device of a torch model's parameters; the CPU for anything else."""
    if isinstance(model, nn.Module):
        first = next(model.parameters(), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


def graph_device(graph: HeteroData) -> torch.device:
    """Where a graph's tensors are (the CPU for a graph without any)."""
    for store in graph.stores:
        for value in store.values():
            if isinstance(value, torch.Tensor):
                return value.device
    return torch.device("cpu")


def on_device(graph: HeteroData, device: torch.device) -> HeteroData:
    """`graph` with its tensors on `device`; the caller's graph is never moved (a CPU graph bound for the CPU is
    returned as is, any other is a copy with its own stores)."""
    if device.type == "cpu":
        return graph
    return copy.copy(graph).to(device)
