"""The one interface every model trains through: a multi-task node problem on heterogeneous graphs.

A `Problem` holds the tasks and three `Split`s. On DBLP the three splits share one
graph and differ in their target nodes; on the logistics world each split is its
own as-of snapshot (train anchors, a later validation anchor, the last test anchor),
so nothing after an anchor can reach its examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch_geometric.data import HeteroData

TaskKind = Literal["binary", "multiclass"]


@dataclass(frozen=True)
class TaskSpec:
    """One prediction task on one node type."""

    name: str
    node_type: str
    kind: TaskKind
    num_classes: int = 2
    loss_weight: float = 1.0


@dataclass
class Split:
    """Graphs with labelled target nodes per task.

    `graphs` is a sequence so that several training anchors can be stacked (any sequence: a stored world
    loads each graph when it is indexed); `index[task][g]` are node indices of the task's node type in
    `graphs[g]`, and `y[task][g]` their labels (class ids for multiclass, 0/1 floats for binary; -1 means
    unlabelled and is ignored).
    """

    graphs: Sequence[HeteroData]
    index: dict[str, list[torch.Tensor]]
    y: dict[str, list[torch.Tensor]]

    def latest(self, count: int | None) -> Split:
        """The split on each task's `count` most recent labelled graphs only (None: all of them); graphs stay
        loaded on demand."""
        if count is None:
            return self
        picked: set[int] = set()
        for rows in self.index.values():
            picked.update([g for g, idx in enumerate(rows) if idx.numel()][-count:])
        keep = sorted(picked)
        return Split(graphs=_Picked(self.graphs, keep), index={k: [v[g] for g in keep] for k, v in self.index.items()},
                     y={k: [v[g] for g in keep] for k, v in self.y.items()})


def num_nodes(graph: HeteroData) -> int:
    """Total nodes over all node types."""
    return int(sum(graph[t].num_nodes for t in graph.node_types))


def largest_graph_nodes(graphs: Sequence[HeteroData]) -> int:
    """Total nodes of the largest graph; a sequence that knows its graphs' sizes (`node_totals`) loads none."""
    totals = getattr(graphs, "node_totals", None)
    if totals is not None:
        return max(totals())
    # Indexed in the call, so a lazily loaded sequence holds one graph at a time.
    return max(num_nodes(graphs[i]) for i in range(len(graphs)))


class _Picked(Sequence[HeteroData]):
    """Some of a sequence's graphs, indexed through it (so a lazily loaded sequence stays lazy)."""

    def __init__(self, graphs: Sequence[HeteroData], keep: list[int]) -> None:
        self.graphs = graphs
        self.keep = keep

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, i: int) -> HeteroData:  # type: ignore[override]
        return self.graphs[self.keep[i]]


@dataclass
class Problem:
    """A multi-task node-level problem: tasks plus train / validation / test splits."""

    name: str
    tasks: list[TaskSpec]
    train: Split
    val: Split
    test: Split
    meta: dict = field(default_factory=dict)

    @property
    def node_types(self) -> list[str]:
        return list(self.train.graphs[0].node_types)

    @property
    def edge_types(self) -> list[tuple[str, str, str]]:
        return list(self.train.graphs[0].edge_types)

    @property
    def in_dims(self) -> dict[str, int]:
        g = self.train.graphs[0]
        return {t: int(g[t].x.shape[1]) for t in g.node_types}
