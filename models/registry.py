"""Models by name: what every model is built from, and `build(name, inputs, cfg)`.

Contract for a registered graph model (an `nn.Module`):
  * built by a builder `fn(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module`, registered with
    `@register("name")` in its own module (the module is imported lazily by `build`);
  * `forward(graph: HeteroData) -> dict[task_name, Tensor]`: logits for ALL nodes of the task's
    node type in `graph`: shape [N] for binary tasks (one logit, sigmoid gives the probability),
    [N, C] for multiclass (softmax gives the probabilities);
  * `model.tasks` holds the TaskSpecs (`build` sets it when the model does not);
  * optionally `task_loss(task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None,
    weight: Tensor | None = None) -> Tensor` on the labelled rows only (`weight`: one per row, the
    inverse inclusion probabilities of sampled seeds); without it `models.training` uses
    cross-entropy (multiclass) and BCE-with-logits with `pos_weight` (binary).

A tabular model (lightgbm) is not an `nn.Module`: its builder returns an object with
`fit(problem: Problem, cfg: TrainConfig) -> list[dict]` (the history) and
`predict(graph: HeteroData) -> dict[task_name, np.ndarray]` (probabilities for all nodes of the
task's node type); `to_text()` / `from_text()` store it without pickles (LightGBM's text format).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from leadgraph.config import TrainConfig
from models.problem import Problem, TaskSpec

EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class ModelInputs:
    """What a model is built from: feature widths, edge types (PyG direction: dst receives), edge-attribute widths, tasks."""

    in_dims: dict[str, int]
    edge_types: list[EdgeType]
    edge_attr_dims: dict[EdgeType, int]
    tasks: list[TaskSpec]

    @classmethod
    def from_problem(cls, problem: Problem) -> "ModelInputs":
        """The inputs of a problem, read from its first training graph."""
        g = problem.train.graphs[0]
        attr_dims = {
            tuple(et): int(g[et].edge_attr.shape[1])
            for et in g.edge_types
            if "edge_attr" in g[et] and g[et].edge_attr is not None and g[et].edge_attr.dim() == 2
        }
        return cls(
            in_dims=problem.in_dims,
            edge_types=[tuple(et) for et in g.edge_types],
            edge_attr_dims=attr_dims,
            tasks=list(problem.tasks),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form, for saving next to the weights."""
        return {
            "in_dims": dict(self.in_dims),
            "edge_types": [list(et) for et in self.edge_types],
            "edge_attr_dims": [[list(et), d] for et, d in self.edge_attr_dims.items()],
            "tasks": [vars(t).copy() for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelInputs":
        """Inverse of `to_dict`."""
        return cls(
            in_dims={k: int(v) for k, v in data["in_dims"].items()},
            edge_types=[tuple(et) for et in data["edge_types"]],
            edge_attr_dims={tuple(et): int(d) for et, d in data["edge_attr_dims"]},
            tasks=[TaskSpec(**t) for t in data["tasks"]],
        )


Builder = Callable[[ModelInputs, TrainConfig], Any]

# Which module registers which name; `build` imports it on first use, so a model module can
# import `register` from here without an import cycle.
_MODULE_OF: dict[str, str] = {
    "struchis": "models.struchis",
    "struchis-no-relation": "models.struchis",
    "struchis-output-only": "models.struchis",
    "stl-hgt": "models.hgt",
    "stl-hgb": "models.hgb",
    "shared-hgt": "models.hgt",
    "shared-hgb": "models.hgb",
    "mmoe": "models.mtl",
    "ple": "models.mtl",
    "lightgbm": "models.tabular",
    "dual-branch": "models.dual_branch",
    "dual-branch-gcn": "models.dual_branch",
    "dual-branch-hgt": "models.dual_branch",
    "dual-branch-concat": "models.dual_branch",
    "dual-branch-one-way": "models.dual_branch",
    "dual-branch-no-pretrain": "models.dual_branch",
}
MODEL_NAMES: tuple[str, ...] = tuple(_MODULE_OF)
GRAPH_FREE_MODELS: frozenset[str] = frozenset({"lightgbm"})

_BUILDERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator: register a builder under a model name from MODEL_NAMES."""
    if name not in _MODULE_OF:
        raise ValueError(f"unknown model name {name!r}; add it to models.registry._MODULE_OF first")

    def deco(fn: Builder) -> Builder:
        _BUILDERS[name] = fn
        return fn

    return deco


def build(name: str, inputs: ModelInputs, cfg: TrainConfig) -> Any:
    """Build the model registered under `name` (an nn.Module, or a tabular model for lightgbm)."""
    if name not in _MODULE_OF:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
    if name not in _BUILDERS:
        importlib.import_module(_MODULE_OF[name])
    if name not in _BUILDERS:
        raise RuntimeError(f"module {_MODULE_OF[name]} did not register model {name!r}")
    model = _BUILDERS[name](inputs, cfg)
    if is_graph_model(model) and not hasattr(model, "tasks"):
        # predict() reads each task's kind from model.tasks.
        model.tasks = list(inputs.tasks)
    return model


def is_graph_model(model: Any) -> bool:
    """True for nn.Module graph models, False for tabular ones."""
    return isinstance(model, nn.Module)
