"""Single-task and shared-backbone multi-task wrappers over any graph encoder, plus what all baselines share.

An encoder maps a graph to node embeddings of every node type (`dict[node_type, Tensor[N, d]]`);
a head maps those embeddings (and the graph, for a Simple-HGN output layer) to one task's raw
output columns. On a sampled subgraph every message-passing step updates only the nodes that can
still reach a seed (`models.sampler.receiver_rows`): an encoder has `depth` steps and takes their
row limits, a head that passes messages (`passes_messages`) takes one more step's. `SingleTask` holds one encoder and one head per task, so each task's logits come
from its own parameters only (STL-*); `SharedBackbone` feeds one encoder to every head (Shared-*).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.losses import mode_loss
from models.problem import TaskSpec
from models.sampler import receiver_rows

Embeddings = dict[str, Tensor]
EncoderFactory = Callable[[], nn.Module]
HeadFactory = Callable[[TaskSpec], nn.Module]


def head_width(task: TaskSpec, two_class_binary: bool) -> int:
    """Output columns of a task's head: C for multiclass; 2 class logits or 1 logit for binary."""
    if task.kind == "multiclass":
        return task.num_classes
    return 2 if two_class_binary else 1


def to_task_logits(y: Tensor, task: TaskSpec, l2_normalise: bool) -> Tensor:
    """Raw head output [N, width] -> the forward contract ([N] binary, [N, C] multiclass).

    With L2 normalisation (Simple-HGN's output) a binary task has two class logits and returns their
    difference, so its sigmoid equals the two-class softmax; one normalised logit would collapse to +-1.
    """
    if l2_normalise:
        y = F.normalize(y, p=2, dim=-1, eps=1e-12)
    if task.kind == "multiclass":
        return y
    return y[:, 1] - y[:, 0] if y.shape[1] == 2 else y[:, 0]


def step_limits(graph: HeteroData, steps: int) -> list[dict[str, int] | None]:
    """Per message-passing step, the leading rows of each type it must update (None: all, on a whole graph)."""
    return receiver_rows(graph, steps) or [None] * steps


class LinearHead(nn.Module):
    """A per-task linear classifier on the task's node type (the HGT baselines' head)."""

    passes_messages = False

    def __init__(self, task: TaskSpec, hidden: int) -> None:
        super().__init__()
        self.node_type = task.node_type
        self.lin = nn.Linear(hidden, head_width(task, False))

    def forward(self, h: Embeddings, graph: HeteroData, receivers: dict[str, int] | None = None) -> Tensor:
        """Raw output columns [N, width]."""
        return self.lin(h[self.node_type])


class BaselineModule(nn.Module):
    """The loss every baseline uses: the reference's BCE on probabilities in faithful mode, else the default weighted losses."""

    def __init__(self, tasks: list[TaskSpec], cfg: TrainConfig, l2_normalise: bool) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.faithful = cfg.struchis_mode == "faithful"
        self.l2_normalise = l2_normalise

    def task_loss(
        self, task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None, weight: Tensor | None = None
    ) -> Tensor:
        """Loss on the labelled rows of one task."""
        return mode_loss(self.faithful, task, logits, y, pos_weight, weight)


class SingleTask(BaselineModule):
    """STL: T independent encoders and heads in one module; task i's logits depend only on encoder i and head i."""

    def __init__(
        self, tasks: list[TaskSpec], cfg: TrainConfig, encoder: EncoderFactory, head: HeadFactory, l2_normalise: bool
    ) -> None:
        super().__init__(tasks, cfg, l2_normalise)
        self.encoders = nn.ModuleList(encoder() for _ in self.tasks)
        self.heads = nn.ModuleList(head(t) for t in self.tasks)

    def forward(self, graph: HeteroData) -> dict[str, Tensor]:
        """Each task's logits from its own encoder (on a sampled subgraph: the seeds' rows)."""
        out = {}
        for i, task in enumerate(self.tasks):
            encoder, head = self.encoders[i], self.heads[i]
            limits = step_limits(graph, encoder.depth + head.passes_messages)
            h = encoder(graph, limits[: encoder.depth])
            out[task.name] = to_task_logits(head(h, graph, limits[-1]), task, self.l2_normalise)
        return out


class SharedBackbone(BaselineModule):
    """Shared-backbone MTL: one encoder, one head per task."""

    def __init__(
        self, tasks: list[TaskSpec], cfg: TrainConfig, encoder: EncoderFactory, head: HeadFactory, l2_normalise: bool
    ) -> None:
        super().__init__(tasks, cfg, l2_normalise)
        self.encoder = encoder()
        self.heads = nn.ModuleList(head(t) for t in self.tasks)

    def forward(self, graph: HeteroData) -> dict[str, Tensor]:
        """Every task's logits from the one shared encoder (on a sampled subgraph: the seeds' rows)."""
        depth = self.encoder.depth
        limits = step_limits(graph, depth + max(head.passes_messages for head in self.heads))
        h = self.encoder(graph, limits[:depth])
        return {
            task.name: to_task_logits(self.heads[i](h, graph, limits[-1]), task, self.l2_normalise)
            for i, task in enumerate(self.tasks)
        }
