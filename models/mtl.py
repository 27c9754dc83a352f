"""Mixture-of-experts multi-task baselines with graph experts: MMoE and PLE.

Experts are Simple-HGN (default) or HGT encoders, chosen by `cfg.moe_expert`; towers are small MLPs
on the task's node type giving raw logits (no L2 normalisation); the loss follows `cfg.struchis_mode`
like every baseline.

* **MMoE** (Ma et al., KDD'18): `cfg.mmoe_experts` full, independent `cfg.layers`-layer encoders
  e_k(v); task i's gate is a per-node softmax over the experts computed from the node's input
  features, g_i(v) = softmax(W_i x_v); h_i(v) = sum_k g_ik(v) e_k(v) feeds tower i.
* **PLE** (Tang et al., RecSys'20), graph adaptation of MODELS.md §2: one graph layer per expert per
  level, `cfg.layers` levels (progressive extraction), `cfg.ple_task_experts` experts per task and
  `cfg.ple_shared_experts` shared experts per level. At every level and for every node type, task i's
  gate (softmax over [its own experts, shared experts], conditioned on task i's current input) gives
  task i's next input; the shared gate (softmax over all experts, conditioned on the shared input)
  gives the shared experts' next input. After the last level task i's mixture feeds tower i. The
  level-1 experts all read the same per-type input projection.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.backbones import BaselineModule, Embeddings, head_width, step_limits, to_task_logits
from models.hgb import HGBEncoder, HGBLayer, edge_attr_dims, hgb_relations
from models.hgt import HGTEncoder, HGTLayer
from models.problem import TaskSpec
from models.registry import ModelInputs, register


def _tower(task: TaskSpec, cfg: TrainConfig) -> nn.Module:
    """Linear -> ReLU -> dropout -> linear to the task's output width."""
    return nn.Sequential(
        nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
        nn.Linear(cfg.hidden, head_width(task, two_class_binary=False)),
    )


def _mix(weights: Tensor, experts: list[Tensor]) -> Tensor:
    """Per-node convex combination: weights [N, E], experts E x [N, d] -> [N, d]."""
    return (weights.unsqueeze(-1) * torch.stack(experts, dim=1)).sum(1)


def _encoder(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """One full graph encoder of the configured expert kind."""
    return HGBEncoder(inputs, cfg) if cfg.moe_expert == "hgb" else HGTEncoder(inputs, cfg)


def _layer(inputs: ModelInputs, cfg: TrainConfig, level: int) -> nn.Module:
    """One graph layer of the configured expert kind (Simple-HGN layers get a residual from the second level on)."""
    if cfg.moe_expert == "hgt":
        return HGTLayer(inputs, cfg)
    return HGBLayer(sorted(inputs.in_dims), hgb_relations(inputs), cfg, residual=level > 0,
                    attr_dims=edge_attr_dims(inputs, cfg))


class MMoE(BaselineModule):
    """Multi-gate mixture of full graph-encoder experts with per-node, per-task softmax gates."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig) -> None:
        super().__init__(inputs.tasks, cfg, l2_normalise=False)
        self.experts = nn.ModuleList(_encoder(inputs, cfg) for _ in range(cfg.mmoe_experts))
        self.gates = nn.ModuleList(nn.Linear(inputs.in_dims[t.node_type], cfg.mmoe_experts) for t in self.tasks)
        self.towers = nn.ModuleList(_tower(t, cfg) for t in self.tasks)

    def gate_weights(self, graph: HeteroData) -> dict[str, Tensor]:
        """Each task's expert weights [N, experts] for every node of its node type (a sampled subgraph's seeds)."""
        seeds = step_limits(graph, self.experts[0].depth)[-1]
        return {
            t.name: torch.softmax(self.gates[i](graph[t.node_type].x[: seeds[t.node_type] if seeds else None]), -1)
            for i, t in enumerate(self.tasks)
        }

    def forward(self, graph: HeteroData) -> dict[str, Tensor]:
        """Logits of every task from its gated mixture of the experts."""
        limits = step_limits(graph, self.experts[0].depth)
        embeddings = [expert(graph, limits) for expert in self.experts]
        gates = self.gate_weights(graph)
        out = {}
        for i, task in enumerate(self.tasks):
            h = _mix(gates[task.name], [e[task.node_type] for e in embeddings])
            out[task.name] = to_task_logits(self.towers[i](h), task, l2_normalise=False)
        return out


class PLE(BaselineModule):
    """Progressive layered extraction: task-specific and shared one-layer graph experts per level, gated per node."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig) -> None:
        super().__init__(inputs.tasks, cfg, l2_normalise=False)
        self.node_types = sorted(inputs.in_dims)
        self.levels = cfg.layers
        n_task, n_shared, n_tasks = cfg.ple_task_experts, cfg.ple_shared_experts, len(self.tasks)
        self.proj = nn.ModuleDict({t: nn.Linear(d, cfg.hidden) for t, d in inputs.in_dims.items()})
        self.task_experts = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(_layer(inputs, cfg, level) for _ in range(n_task)) for _ in self.tasks)
            for level in range(self.levels)
        )
        self.shared_experts = nn.ModuleList(
            nn.ModuleList(_layer(inputs, cfg, level) for _ in range(n_shared)) for level in range(self.levels)
        )
        # The last level only needs each task's own target type; the shared path ends one level earlier.
        self.task_gates = nn.ModuleList(
            nn.ModuleList(
                nn.ModuleDict(
                    {s: nn.Linear(cfg.hidden, n_task + n_shared) for s in self._gated_types(level, t)}
                )
                for t in self.tasks
            )
            for level in range(self.levels)
        )
        self.shared_gates = nn.ModuleList(
            nn.ModuleDict({s: nn.Linear(cfg.hidden, n_tasks * n_task + n_shared) for s in self.node_types})
            for _ in range(self.levels - 1)
        )
        self.towers = nn.ModuleList(_tower(t, cfg) for t in self.tasks)

    def _gated_types(self, level: int, task: TaskSpec) -> list[str]:
        """Node types whose task gate is needed at a level."""
        return [task.node_type] if level == self.levels - 1 else self.node_types

    def _run(self, graph: HeteroData) -> tuple[list[Embeddings], list[dict[str, Tensor]]]:
        """Every task's final mixture, and the gate weights (task gates then shared gate) of every level."""
        h0 = {t: lin(graph[t].x) for t, lin in self.proj.items()}
        task_in, shared_in = [h0 for _ in self.tasks], h0
        gates: list[dict[str, Tensor]] = []
        for level, receivers in enumerate(step_limits(graph, self.levels)):
            task_out = [[expert(task_in[i], graph, receivers) for expert in self.task_experts[level][i]]
                        for i in range(len(self.tasks))]
            shared_out = [expert(shared_in, graph, receivers) for expert in self.shared_experts[level]]
            level_gates: dict[str, Tensor] = {}
            new_task_in = []
            for i, task in enumerate(self.tasks):
                mixed = {}
                for s, gate in self.task_gates[level][i].items():
                    # A gate reads its own input's rows that this level updated (all of them on a whole graph).
                    w = torch.softmax(gate(task_in[i][s][: task_out[i][0][s].shape[0]]), -1)
                    level_gates[f"{task.name}/{s}"] = w
                    mixed[s] = _mix(w, [e[s] for e in task_out[i] + shared_out])
                new_task_in.append(mixed)
            if level < self.levels - 1:
                every = [e for outs in task_out for e in outs] + shared_out
                new_shared = {}
                for s, gate in self.shared_gates[level].items():
                    w = torch.softmax(gate(shared_in[s][: every[0][s].shape[0]]), -1)
                    level_gates[f"shared/{s}"] = w
                    new_shared[s] = _mix(w, [e[s] for e in every])
                shared_in = new_shared
            task_in = new_task_in
            gates.append(level_gates)
        return task_in, gates

    def gate_weights(self, graph: HeteroData) -> list[dict[str, Tensor]]:
        """Per level, every gate's weights ('task/node_type' or 'shared/node_type' -> [N, experts])."""
        return self._run(graph)[1]

    def forward(self, graph: HeteroData) -> dict[str, Tensor]:
        """Logits of every task from its last-level mixture."""
        final, _ = self._run(graph)
        return {
            task.name: to_task_logits(self.towers[i](final[i][task.node_type]), task, l2_normalise=False)
            for i, task in enumerate(self.tasks)
        }


@register("mmoe")
def _build_mmoe(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """MMoE with full graph-encoder experts."""
    return MMoE(inputs, cfg)


@register("ple")
def _build_ple(inputs: ModelInputs, cfg: TrainConfig) -> nn.Module:
    """PLE with one graph layer per expert per level."""
    return PLE(inputs, cfg)
