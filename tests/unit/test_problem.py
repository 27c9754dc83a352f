"""A split restricted to each task's most recent labelled graphs."""

from collections.abc import Sequence

import torch

from models.problem import Split


class CountingGraphs(Sequence):
    """Stands in for lazily loaded snapshots: records which graphs were read."""

    def __init__(self, n: int) -> None:
        self.n, self.read = n, []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        self.read.append(i)
        return f"graph {i}"


def test_latest_keeps_each_task_its_most_recent_labelled_graphs_and_loads_none_until_read() -> None:
    rows = lambda *sizes: [torch.arange(k) for k in sizes]  # noqa: E731
    graphs = CountingGraphs(5)
    split = Split(graphs=graphs, index={"a": rows(3, 2, 0, 0, 0), "b": rows(0, 0, 4, 1, 0)},
                  y={"a": rows(3, 2, 0, 0, 0), "b": rows(0, 0, 4, 1, 0)})
    one = split.latest(1)
    assert graphs.read == [] and len(one.graphs) == 2
    assert [one.graphs[i] for i in range(2)] == ["graph 1", "graph 3"] and graphs.read == [1, 3]
    assert [len(x) for x in one.index["a"]] == [2, 0] and [len(x) for x in one.y["b"]] == [0, 1]
    assert [len(x) for x in split.latest(2).index["b"]] == [0, 0, 4, 1]
    assert split.latest(None) is split
