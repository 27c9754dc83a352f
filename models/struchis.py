"""StrucHIS (KDD 2025): parallel task stacks that share information inside every relation of every layer.

Per level l, task i and receiving node type s (MODELS.md §1.4-§1.7):
  1. task i's relation-split attention layer gives one message per relation, M_i [N_s, R_s, d];
  2. a structure-aware gate, conditioned on task i's own dropped-out features, mixes the same
     relation's messages of all tasks: softmax over tasks, separately per relation;
  3. node-level attention over the mixed relation messages, plus a linear residual (levels >= 2), ELU.
A tower per task (one more layer, one softmax over all relations, linear residual) reads the task's
target node type. Self-loop relations are added for every target node type.

Sharing modes (`share`): "relation" is StrucHIS; the ablations follow MODELS.md §1.10:
  * "layer" (`struchis-no-relation`, the slides' "w/o R"): no relation gate (each task keeps its own
    relation messages); after each level, a per-node gate mixes the tasks' whole-node outputs
    (softmax over tasks, one scalar per task), computed from task i's own level output;
  * "output" (`struchis-output-only`, "w/o R&L"): independent task stacks; the same whole-node gate is
    applied once, to the final embeddings that feed the towers.

Modes (`cfg.struchis_mode`):
  * "faithful": the reference computation: gate input is the duplicated dropped-out features,
    L2-normalised tower logits, BCE on softmax probabilities; raw edge attributes are ignored.
    A binary task uses two class logits (one L2-normalised logit would collapse to +-1) and returns
    their difference, so its sigmoid equals the two-class softmax.
  * "product": one logit per binary task and raw logits for multiclass (no L2 normalisation, so
    probabilities are not bounded), the default weighted BCE / cross-entropy losses of
    `models.losses`, gate input the plain dropped-out features, and raw edge attributes (e.g. the
    logistics shipping volumes) entering the edge logits.
Dropout masks (`cfg.dropout_masks`) are drawn per node type and layer call, or per role as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.device import model_device, on_device
from models.layers import LayerOutput, RelationAttention, SparseAwareLinear, relation_table
from models.losses import mode_loss
from models.problem import TaskSpec
from models.registry import ModelInputs, register
from models.sampler import receiver_rows

ShareMode = Literal["relation", "layer", "output"]
GATE_HIDDEN = 64
GATE_INIT_STD = 1e-4


@dataclass
class RelationView:
    """What one task's target nodes drew on: relation names, attention [N, R], and gates [N, R, tasks] (None without)."""

    names: list[str]
    attention: Tensor
    gates: Tensor | None


class Gate(nn.Module):
    """MLP -> ReLU -> bias-free linear to `groups x tasks` scores, softmax over the tasks of each group."""

    def __init__(self, in_dim: int, groups: int, tasks: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_dim, GATE_HIDDEN)
        nn.init.normal_(self.hidden.weight, std=GATE_INIT_STD)
        self.out = nn.Linear(GATE_HIDDEN, groups * tasks, bias=False)
        self.groups, self.tasks = groups, tasks

    def forward(self, x: Tensor) -> Tensor:
        """Mixing weights [N, groups, tasks], layout of the scores: group * tasks + task."""
        scores = self.out(F.relu(self.hidden(x)))
        return torch.softmax(scores.view(-1, self.groups, self.tasks), dim=-1)


class StrucHIS(nn.Module):
    """StrucHIS and its two sharing ablations over any heterogeneous graph with node-level tasks."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig, share: ShareMode = "relation") -> None:
        super().__init__()
        self.tasks = list(inputs.tasks)
        self.share = share
        self.faithful = cfg.struchis_mode == "faithful"
        self.node_types = sorted(inputs.in_dims)
        targets = sorted({t.node_type for t in self.tasks})
        self.relations = relation_table(inputs.edge_types, targets)
        attr_dims = {} if self.faithful else inputs.edge_attr_dims
        d, n_tasks = cfg.hidden, len(self.tasks)
        self.receivers = [s for s in self.node_types if any(r.edge_type[2] == s for r in self.relations)]
        self.num_rel = {s: sum(r.edge_type[2] == s for r in self.relations) for s in self.receivers}
        self.proj = nn.ModuleDict({t: SparseAwareLinear(dim, d) for t, dim in inputs.in_dims.items()})
        per_role = cfg.dropout_masks == "per_role"

        def expert(level: int) -> RelationAttention:
            return RelationAttention(
                self.receivers, d, d, self.relations, split=True, residual=level > 0,
                dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, edge_emb_dim=d, edge_attr_dims=attr_dims,
                masks_per_role=per_role,
            )

        gate_in = 2 * d if self.faithful else d
        self.experts = nn.ModuleList(nn.ModuleList(expert(level) for _ in self.tasks) for level in range(cfg.layers))
        gated_levels = {"relation": range(cfg.layers), "layer": range(cfg.layers), "output": [cfg.layers - 1]}[share]
        self.gated_levels = set(gated_levels)
        self.gates = nn.ModuleDict(
            {
                str(level): nn.ModuleList(
                    nn.ModuleDict(
                        {s: Gate(gate_in, self.num_rel[s] if share == "relation" else 1, n_tasks) for s in self.receivers}
                    )
                    for _ in self.tasks
                )
                for level in gated_levels
            }
        )
        self.towers = nn.ModuleList(
            RelationAttention(
                [t.node_type], d, self._out_dim(t), self.relations, split=False, residual=True,
                dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, edge_emb_dim=d, edge_attr_dims=attr_dims,
                masks_per_role=per_role,
            )
            for t in self.tasks
        )
        self.checkpoint_levels = cfg.checkpoint_levels
        self._trace: list[dict[str, list[tuple[Tensor, Tensor | None]]]] | None = None

    def _out_dim(self, task: TaskSpec) -> int:
        """Tower width: C for multiclass; binary gets 2 class logits when faithful, one logit otherwise."""
        if task.kind == "multiclass":
            return task.num_classes
        return 2 if self.faithful else 1

    def _gate_input(self, x: Tensor) -> Tensor:
        """The reference feeds the dropped-out own features twice ([x; x]); product mode feeds them once."""
        return torch.cat([x, x], -1) if self.faithful else x

    def _level(
        self, level: int, hs: list[dict[str, Tensor]], graph: HeteroData, receivers: dict[str, int] | None = None
    ) -> list[dict[str, Tensor]]:
        """One level for every task: experts, then per receiver type gates, relation attention, residual, ELU.

        With `receivers` (a sampled subgraph) only those leading rows of each type are updated and kept.
        """
        experts = self.experts[level]
        outs: list[dict[str, LayerOutput]] = [experts[i](hs[i], graph, receivers) for i in range(len(self.tasks))]
        new: list[dict[str, Tensor]] = [
            {t: v if receivers is None else v[: receivers[t]] for t, v in h.items()} for h in hs
        ]
        for s in self.receivers:
            for i, h in enumerate(self.combine(level, s, [o[s] for o in outs])):
                new[i][s] = h
        return new

    def combine(self, level: int, s: str, outs: list[LayerOutput]) -> list[Tensor]:
        """Every task's new representation of receiver type s from all tasks' relation messages at one level.

        Row-wise in the nodes of s, so it can run on any chunk of them (layer-wise inference does).
        """
        new = []
        for i, expert in enumerate(self.experts[level]):
            mine = outs[i]
            weights = None
            if self.share == "relation":
                weights = self.gates[str(level)][i][s](self._gate_input(mine.x_drop))  # [N, R, T]
                o, beta = expert.gated_relation_attention(mine.q, weights, [out.messages for out in outs])
            else:
                o, beta = expert.relation_attention(mine.q, mine.messages)
            if mine.residual is not None:
                o = o + mine.residual
            new.append(F.elu(o))
            if self._trace is not None:
                self._trace[i].setdefault(s, []).append((beta, weights))
        if self.share != "relation" and level in self.gated_levels:
            new = self._mix_tasks(level, s, new)
        return new

    def _mix_tasks(self, level: int, s: str, hs: list[Tensor]) -> list[Tensor]:
        """Whole-node sharing (the ablations): task i's representation becomes a per-node convex mix of all tasks'."""
        stacked = torch.stack(hs, dim=1)  # [N, T, d]
        mixed = []
        for i in range(len(self.tasks)):
            weights = self.gates[str(level)][i][s](self._gate_input(hs[i]))[:, 0]  # [N, T]
            mixed.append((weights.unsqueeze(-1) * stacked).sum(1))
        return mixed

    def tower_logits(self, i: int, out: LayerOutput) -> Tensor:
        """Task i's logits from its tower layer's output: [N] binary, [N, C] multiclass."""
        task = self.tasks[i]
        y = out.messages + out.residual
        if self.faithful:
            y = F.normalize(y, p=2, dim=-1, eps=1e-12)
        if task.kind == "binary":
            y = y[:, 1] - y[:, 0] if self.faithful else y[:, 0]
        return y

    def forward(self, graph: HeteroData) -> dict[str, Tensor]:
        """Logits for all nodes of each task's node type: [N] for binary, [N, C] for multiclass.

        On a sampled subgraph (nodes numbered by hop), only its seeds' rows: each step updates just the nodes
        that can still reach a seed, so the outer hops cost their features and edges, not their updates."""
        h0 = {t: self.proj[t](graph[t].x) for t in self.node_types}
        hs = [h0 for _ in self.tasks]
        limits = receiver_rows(graph, len(self.experts) + 1) or [None] * (len(self.experts) + 1)
        for level in range(len(self.experts)):
            if self.training and torch.is_grad_enabled() and self.checkpoint_levels:
                # A level keeps tasks x relations x hidden per node for its backward pass; recomputing it
                # there (same dropout masks: the RNG state is restored) keeps only one level's worth alive.
                hs = checkpoint(self._level, level, hs, graph, limits[level], use_reentrant=False)
            else:
                hs = self._level(level, hs, graph, limits[level])
        return {
            task.name: self.tower_logits(i, self.towers[i](hs[i], graph, limits[-1])[task.node_type])
            for i, task in enumerate(self.tasks)
        }

    def task_loss(
        self, task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None, weight: Tensor | None = None
    ) -> Tensor:
        """Faithful: BCE on probabilities (the reference); product: weighted BCE-with-logits / cross-entropy."""
        return mode_loss(self.faithful, task, logits, y, pos_weight, weight)

    @torch.no_grad()
    def relation_view(self, graph: HeteroData) -> dict[str, RelationView]:
        """Per task, its target type's relation attention and relation gates, averaged over levels (eval mode), on
        the CPU."""
        was_training = self.training
        self.eval()
        self._trace = [{} for _ in self.tasks]
        try:
            self.forward(on_device(graph, model_device(self)))
            result = {}
            for i, task in enumerate(self.tasks):
                s = task.node_type
                names = [r.edge_type[1] for r in self.relations if r.edge_type[2] == s]
                levels = self._trace[i][s]
                # On a sampled subgraph later levels update fewer rows; the seeds lead in every level.
                rows = min(beta.shape[0] for beta, _ in levels)
                attention = torch.stack([beta[:rows] for beta, _ in levels]).mean(0)
                gates = None
                if levels[0][1] is not None:
                    gates = torch.stack([gate[:rows] for _, gate in levels]).mean(0)
                result[task.name] = RelationView(names, attention.cpu(), None if gates is None else gates.cpu())
            return result
        finally:
            self._trace = None
            self.train(was_training)

    def relation_weights(self, graph: HeteroData) -> dict[str, tuple[list[str], Tensor]]:
        """Relation attention beta of each task's target node type, averaged over levels: (relation names, [N, R])."""
        return {name: (view.names, view.attention) for name, view in self.relation_view(graph).items()}


@register("struchis")
def _build_struchis(inputs: ModelInputs, cfg: TrainConfig) -> StrucHIS:
    """StrucHIS: relation-wise sharing at every layer."""
    return StrucHIS(inputs, cfg, share="relation")


@register("struchis-no-relation")
def _build_no_relation(inputs: ModelInputs, cfg: TrainConfig) -> StrucHIS:
    """Ablation w/o R: whole-node sharing at every layer."""
    return StrucHIS(inputs, cfg, share="layer")


@register("struchis-output-only")
def _build_output_only(inputs: ModelInputs, cfg: TrainConfig) -> StrucHIS:
    """Ablation w/o R&L: independent task stacks, whole-node sharing of the final embeddings only."""
    return StrucHIS(inputs, cfg, share="output")
