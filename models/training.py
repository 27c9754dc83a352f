"""Fit, predict, evaluate, save and load any registered model on a `Problem`.

Graphs with at most `cfg.full_batch_max_nodes` nodes train full-batch (one optimiser step per
training graph per epoch); larger ones train on the scale helper's sampled mini-batches
(`models.sampler.sample_batches`, whose subgraphs carry each node's original index in `n_id`)
and predict through `models.inference.predict_batched`.

Model selection: every `cfg.eval_every` epochs the validation split is scored; the score is the
loss-weight-weighted mean over tasks of AP (binary tasks) or the mean of micro- and macro-F1
(multiclass tasks). The best-scoring weights are kept; training stops after `cfg.patience`
evaluations without improvement or at `cfg.max_epochs`.
"""

from __future__ import annotations

import copy
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.losses import default_task_loss
from models.problem import Problem, Split, TaskSpec
from models.registry import ModelInputs, build, is_graph_model


@dataclass
class FitResult:
    """A trained model with its metrics per split and task, the training history and the chosen epoch."""

    model: Any
    model_name: str
    metrics: dict[str, dict[str, dict[str, float]]]
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    cfg: TrainConfig | None = None
    inputs: ModelInputs | None = None
    seconds: float = 0.0


def num_nodes(graph: HeteroData) -> int:
    """Total nodes over all node types."""
    return int(sum(graph[t].num_nodes for t in graph.node_types))


def evaluate(probs: np.ndarray, y: np.ndarray, kind: str) -> dict[str, float]:
    """Binary: auc and ap (sklearn average_precision_score); multiclass: micro_f1 and macro_f1 of the argmax. Rows with y = -1 are ignored."""
    probs, y = np.asarray(probs), np.asarray(y)
    keep = y >= 0
    probs, y = probs[keep], y[keep]
    if kind == "binary":
        if y.size == 0 or y.min() == y.max():
            return {"auc": float("nan"), "ap": float("nan"), "n": int(y.size), "positives": int(y.sum())}
        return {
            "auc": float(roc_auc_score(y, probs)),
            "ap": float(average_precision_score(y, probs)),
            "n": int(y.size),
            "positives": int(y.sum()),
        }
    pred = probs.argmax(-1)
    return {
        "micro_f1": float(f1_score(y, pred, average="micro")),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "n": int(y.size),
    }


def selection_score(metrics: dict[str, dict[str, float]], tasks: list[TaskSpec]) -> float:
    """Loss-weighted mean over tasks of AP (binary) or (micro-F1 + macro-F1) / 2 (multiclass); NaN tasks are skipped."""
    total, weight = 0.0, 0.0
    for task in tasks:
        m = metrics[task.name]
        value = m["ap"] if task.kind == "binary" else (m["micro_f1"] + m["macro_f1"]) / 2
        if np.isfinite(value):
            total += task.loss_weight * value
            weight += task.loss_weight
    return total / weight if weight else float("nan")


def _pos_weights(problem: Problem, cfg: TrainConfig) -> dict[str, float | None]:
    """Per binary task (negatives / positives) ** cfg.pos_weight_power on the train labels."""
    weights: dict[str, float | None] = {}
    for task in problem.tasks:
        if task.kind != "binary":
            weights[task.name] = None
            continue
        y = torch.cat(problem.train.y[task.name])
        pos, neg = float((y == 1).sum()), float((y == 0).sum())
        weights[task.name] = (neg / pos) ** cfg.pos_weight_power if pos > 0 and neg > 0 else None
    return weights


def _labelled(index: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Drop unlabelled (-1) targets."""
    keep = y >= 0
    return index[keep], y[keep]


def _loss(model: nn.Module, task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None) -> Tensor:
    """The model's own task loss when it defines one, else the default."""
    if hasattr(model, "task_loss"):
        return model.task_loss(task, logits, y, pos_weight)
    return default_task_loss(task, logits, y, pos_weight)


def _full_batch_epoch(model: nn.Module, problem: Problem, opt: torch.optim.Optimizer, pos_w: dict) -> float:
    """One optimiser step per training graph on all its labelled targets; returns the mean loss."""
    model.train()
    losses = []
    for g, graph in enumerate(problem.train.graphs):
        out = model(graph)
        loss = torch.zeros(())
        for task in problem.tasks:
            idx, y = _labelled(problem.train.index[task.name][g], problem.train.y[task.name][g])
            if idx.numel():
                loss = loss + task.loss_weight * _loss(model, task, out[task.name][idx], y, pos_w[task.name])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def _minibatch_epoch(
    model: nn.Module, problem: Problem, opt: torch.optim.Optimizer, pos_w: dict, cfg: TrainConfig, gen: torch.Generator
) -> float:
    """One pass over sampled mini-batches of each training graph's labelled seeds, per target node type."""
    from models.sampler import hop_fanouts, sample_batches

    # Every model here reaches at most cfg.layers + 1 hops (StrucHIS: its levels plus the tower).
    fanouts = hop_fanouts(tuple(cfg.fanouts), cfg.layers + 1)
    model.train()
    losses = []
    for g, graph in enumerate(problem.train.graphs):
        for node_type in sorted({t.node_type for t in problem.tasks}):
            tasks = [t for t in problem.tasks if t.node_type == node_type]
            full = {}
            for task in tasks:
                y = torch.full((graph[node_type].num_nodes,), -1.0)
                y[problem.train.index[task.name][g]] = problem.train.y[task.name][g].to(torch.float32)
                full[task.name] = y
            seeds = torch.unique(torch.cat([problem.train.index[t.name][g] for t in tasks]))
            for batch in sample_batches(graph, node_type, seeds, fanouts, cfg.batch_size, True, gen):
                out = model(batch.graph)
                global_ids = batch.graph[node_type].n_id[batch.seed_local]
                loss = torch.zeros(())
                for task in tasks:
                    idx, y = _labelled(batch.seed_local, full[task.name][global_ids])
                    if idx.numel():
                        loss = loss + task.loss_weight * _loss(model, task, out[task.name][idx], y, pos_w[task.name])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else float("nan")


def predict(model: Any, graph: HeteroData, cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Probabilities for all nodes of each task's node type: [N] for binary, [N, C] for multiclass."""
    if not is_graph_model(model):
        return model.predict(graph)
    if num_nodes(graph) > cfg.full_batch_max_nodes:
        from models.inference import predict_batched

        probs: dict[str, np.ndarray] = {}
        for node_type in sorted({t.node_type for t in model.tasks}):
            probs.update(predict_batched(model, graph, node_type, cfg))
        return probs
    model.eval()
    with torch.no_grad():
        out = model(graph)
    kinds = {t.name: t.kind for t in model.tasks}
    return {
        name: (torch.sigmoid(z) if kinds[name] == "binary" else torch.softmax(z, -1)).numpy()
        for name, z in out.items()
    }


def evaluate_split(model: Any, split: Split, tasks: list[TaskSpec], cfg: TrainConfig) -> dict[str, dict[str, float]]:
    """Metrics per task on a split, pooling its graphs."""
    preds = [predict(model, graph, cfg) for graph in split.graphs]
    result = {}
    for task in tasks:
        probs = np.concatenate([preds[g][task.name][split.index[task.name][g].numpy()] for g in range(len(split.graphs))])
        y = np.concatenate([split.y[task.name][g].numpy() for g in range(len(split.graphs))])
        result[task.name] = evaluate(probs, y, task.kind)
    return result


def fit(problem: Problem, model_name: str, cfg: TrainConfig) -> FitResult:
    """Train `model_name` on the problem's train split with early stopping on validation; metrics on all three splits."""
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    inputs = ModelInputs.from_problem(problem)
    model = build(model_name, inputs, cfg)
    if not is_graph_model(model):
        history = model.fit(problem, cfg)
        best_epoch = -1
    else:
        history, best_epoch = _train_graph_model(model, problem, cfg)
    metrics = {
        name: evaluate_split(model, split, problem.tasks, cfg)
        for name, split in (("train", problem.train), ("val", problem.val), ("test", problem.test))
    }
    return FitResult(model, model_name, metrics, history, best_epoch, cfg, inputs, time.perf_counter() - start)


def _train_graph_model(model: nn.Module, problem: Problem, cfg: TrainConfig) -> tuple[list[dict], int]:
    """The epoch loop with periodic validation, best-weights tracking and patience."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    pos_w = _pos_weights(problem, cfg)
    minibatch = max(num_nodes(g) for g in problem.train.graphs) > cfg.full_batch_max_nodes
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    best_score, best_epoch, best_state, waited = -np.inf, -1, None, 0
    for epoch in range(cfg.max_epochs):
        if minibatch:
            loss = _minibatch_epoch(model, problem, opt, pos_w, cfg, gen)
        else:
            loss = _full_batch_epoch(model, problem, opt, pos_w)
        last = epoch == cfg.max_epochs - 1
        if epoch % cfg.eval_every and not last:
            continue
        val = evaluate_split(model, problem.val, problem.tasks, cfg)
        score = selection_score(val, problem.tasks)
        history.append({"epoch": epoch, "loss": loss, "val_score": score, "val": val})
        if score > best_score:
            best_score, best_epoch, waited = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history, best_epoch


def save_model(result: FitResult, path: Path) -> None:
    """Write the model (weights, or the pickled tabular model), its name, inputs and config to one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "model_name": result.model_name,
        "cfg": result.cfg.model_dump(mode="json") if result.cfg else TrainConfig().model_dump(mode="json"),
        "inputs": result.inputs.to_dict() if result.inputs else None,
        "best_epoch": result.best_epoch,
        "metrics": result.metrics,
    }
    if is_graph_model(result.model):
        payload["state_dict"] = result.model.state_dict()
    else:
        payload["tabular"] = pickle.dumps(result.model)
    torch.save(payload, path)


def load_model(path: Path) -> tuple[Any, str, TrainConfig]:
    """Rebuild a saved model; returns (model in eval mode, model name, config)."""
    # The file is one leadgraph wrote itself (a tabular model is a pickle inside it).
    payload = torch.load(path, weights_only=False)
    cfg = TrainConfig.model_validate(payload["cfg"])
    name = payload["model_name"]
    if "tabular" in payload:
        return pickle.loads(payload["tabular"]), name, cfg
    inputs = ModelInputs.from_dict(payload["inputs"])
    model = build(name, inputs, cfg)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, name, cfg
