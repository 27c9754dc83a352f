"""Fit, predict, evaluate, save and load any registered model on a `Problem`.

Graphs with at most `cfg.full_batch_max_nodes` nodes train full-batch (one optimiser step per
training graph per epoch). Larger ones train on sampled mini-batches (`models.sampler`, subgraphs
numbered by hop with each node's original index in `n_id`) of a budgeted, weighted draw of the
labelled seeds (`models.seed_sampling`, at most `cfg.max_seeds_per_epoch` per epoch), and predict
through `models.inference.predict_batched`.

Model selection: every `cfg.eval_every` epochs the validation split is scored; the score is the
loss-weight-weighted mean over tasks of AP (binary tasks) or the mean of micro- and macro-F1
(multiclass tasks). The best-scoring weights are kept (with `cfg.selection = "joint_loss"`, the latest
weights under which every task's validation BCE improved or tied); training stops after `cfg.patience`
evaluations without improvement, at `cfg.max_epochs`, or once `cfg.max_train_seconds` is spent (by a model
trained in stages, each stage's share of it, `models.stages`): a mini-batch epoch stops at the first batch
past that deadline (one epoch of a large graph can take longer than the whole budget), a full-batch epoch
is a single step and always completes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
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
from leadgraph.phases import Phases
from models import seed_sampling
from models.device import loading_device, model_device, on_device, resolve_device
from models.losses import default_task_loss
from models.problem import Problem, Split, TaskSpec, largest_graph_nodes, num_nodes
from models.registry import ModelInputs, build, is_graph_model
from models.stages import SINGLE_STAGE, TrainingStage, stage_deadline

log = logging.getLogger(__name__)


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
    test_predictions: dict[str, Predictions] = field(default_factory=dict)
    # The validation predictions behind metrics["val"] (a graph model's kept evaluation): calibration and the gate
    # reuse them instead of scoring the split again (millions of prospects at paper scale).
    val_predictions: dict[str, Predictions] = field(default_factory=dict)
    # Per training stage, the epochs up to its kept weights: what a refit repeats (a staged model's earlier stages
    # keep their own best epoch, not the last stage's).
    stage_epochs: dict[str, int] = field(default_factory=dict)
    # Wall time and memory of fit's own phases (leadgraph.phases), for the training record.
    phases: list[dict] = field(default_factory=list)


def evaluate(probs: np.ndarray, y: np.ndarray, kind: str, weight: np.ndarray | None = None) -> dict[str, float]:
    """Binary: auc and ap (sklearn average_precision_score); multiclass: micro_f1 and macro_f1 of the argmax; both: bce.

    Rows with y = -1 are ignored; `weight` (inverse inclusion probabilities of sampled rows) weights each row.
    """
    probs, y = np.asarray(probs), np.asarray(y)
    keep = y >= 0
    probs, y = probs[keep], y[keep]
    weight = None if weight is None else np.asarray(weight)[keep]
    bce = binary_cross_entropy(probs, y, kind, weight)
    if kind == "binary":
        if y.size == 0 or y.min() == y.max():
            return {"auc": float("nan"), "ap": float("nan"), "bce": bce, "n": int(y.size), "positives": int(y.sum())}
        return {
            "auc": float(roc_auc_score(y, probs, sample_weight=weight)),
            "ap": float(average_precision_score(y, probs, sample_weight=weight)),
            "bce": bce,
            "n": int(y.size),
            "positives": int(y.sum()),
        }
    pred = probs.argmax(-1)
    return {
        "micro_f1": float(f1_score(y, pred, average="micro", sample_weight=weight)),
        "macro_f1": float(f1_score(y, pred, average="macro", sample_weight=weight)),
        "bce": bce,
        "n": int(y.size),
    }


def binary_cross_entropy(probs: np.ndarray, y: np.ndarray, kind: str, weight: np.ndarray | None = None) -> float:
    """Mean BCE of the probabilities against the labels (multiclass: against the one-hot labels, averaged over rows
    and classes, as the reference's DBLP selection loss); NaN without rows. Log terms are floored at -100, as torch's."""
    if y.size == 0:
        return float("nan")
    target = np.eye(probs.shape[1])[y.astype(np.int64)] if kind == "multiclass" else y.astype(float)
    with np.errstate(divide="ignore"):
        terms = -(target * np.maximum(np.log(probs), -100) + (1 - target) * np.maximum(np.log1p(-probs), -100))
    per_row = terms.mean(-1) if kind == "multiclass" else terms
    return float(np.average(per_row, weights=weight))


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


def improves(
    val: dict[str, dict[str, float]], score: float, best_val: dict[str, dict[str, float]] | None, best_score: float,
    tasks: list[TaskSpec], cfg: TrainConfig,
) -> bool:
    """Whether a validation result replaces the kept one under `cfg.selection`: a higher score, or (joint_loss) every
    task's validation BCE lower or tied."""
    if cfg.selection == "score":
        return score > best_score
    return best_val is None or all(val[t.name]["bce"] <= best_val[t.name]["bce"] for t in tasks)


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


def _loss(
    model: nn.Module, task: TaskSpec, logits: Tensor, y: Tensor, pos_weight: float | None, weight: Tensor | None = None
) -> Tensor:
    """The model's own task loss when it defines one, else the default."""
    if hasattr(model, "task_loss"):
        return model.task_loss(task, logits, y, pos_weight, weight)
    return default_task_loss(task, logits, y, pos_weight, weight)


def _with_auxiliary(model: nn.Module, loss: Tensor) -> Tensor:
    """The task loss plus the model's auxiliary objective of its last forward, when it has one."""
    aux = model.auxiliary_loss() if hasattr(model, "auxiliary_loss") else None
    return loss if aux is None else loss + aux


def _full_batch_epoch(model: nn.Module, problem: Problem, opt: torch.optim.Optimizer, pos_w: dict) -> float:
    """One optimiser step per training graph on all its labelled targets; returns the mean loss."""
    model.train()
    device = model_device(model)
    losses = []
    for g, graph in enumerate(problem.train.graphs):
        out = model(on_device(graph, device))
        loss = torch.zeros((), device=device)
        for task in problem.tasks:
            idx, y = _labelled(problem.train.index[task.name][g], problem.train.y[task.name][g])
            if idx.numel():
                idx, y = idx.to(device), y.to(device)
                loss = loss + task.loss_weight * _loss(model, task, out[task.name][idx], y, pos_w[task.name])
        loss = _with_auxiliary(model, loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def _labels_of(split: Split, g: int, tasks: list[TaskSpec], node_type: str) -> tuple[Tensor, dict[str, Tensor]]:
    """The labelled nodes of `node_type` in graph g of a split (any of the tasks), with each task's labels on them (-1: none)."""
    seeds = torch.unique(torch.cat([split.index[t.name][g] for t in tasks]))
    labels = {}
    for task in tasks:
        full = torch.full((split.graphs[g][node_type].num_nodes,), -1.0)
        full[split.index[task.name][g]] = split.y[task.name][g].to(torch.float32)
        labels[task.name] = full[seeds]
    return seeds, labels


def _minibatch_epoch(
    model: nn.Module, problem: Problem, opt: torch.optim.Optimizer, pos_w: dict, cfg: TrainConfig, gen: torch.Generator,
    deadline: float | None = None,
) -> tuple[float, int]:
    """Sampled mini-batches of a budgeted draw of each training graph's labelled seeds, per target node type,
    until the draw is used up or `deadline` (a perf_counter time) has passed; the mean loss and the batch count."""
    from models.sampler import hop_fanouts, sample_batches

    # Every model here reaches at most cfg.layers + 1 hops (StrucHIS: its levels plus the tower).
    fanouts = hop_fanouts(tuple(cfg.fanouts), cfg.layers + 1)
    budget = max(cfg.max_seeds_per_epoch // len(problem.train.graphs), 1)
    model.train()
    device = model_device(model)
    losses = []
    for g in range(len(problem.train.graphs)):
        for node_type in sorted({t.node_type for t in problem.tasks}):
            tasks = [t for t in problem.tasks if t.node_type == node_type]
            seeds, labels = _labels_of(problem.train, g, tasks, node_type)
            drawn, weights = seed_sampling.draw(labels, budget, gen)
            # Indexed in the call, so no name keeps this graph alive while the next one loads.
            batches = sample_batches(problem.train.graphs[g], node_type, seeds[drawn], fanouts, cfg.batch_size, True, gen)
            for batch in batches:
                out = model(on_device(batch.graph, device))
                w = weights[batch.seed_pos].to(device)
                local = batch.seed_local.to(device)
                loss = torch.zeros((), device=device)
                for task in tasks:
                    y = labels[task.name][drawn][batch.seed_pos].to(device)
                    keep = y >= 0
                    if keep.any():
                        logits = out[task.name][local][keep]
                        loss = loss + task.loss_weight * _loss(model, task, logits, y[keep], pos_w[task.name], w[keep])
                loss = _with_auxiliary(model, loss)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                if deadline is not None and time.perf_counter() >= deadline:
                    return float(np.mean(losses)), len(losses)
    return (float(np.mean(losses)) if losses else float("nan")), len(losses)


def predict(
    model: Any, graph: HeteroData, cfg: TrainConfig, rows: dict[str, Tensor] | None = None
) -> dict[str, np.ndarray]:
    """Probabilities of each task ([N] binary, [N, C] multiclass) for all nodes of its type, or for `rows[node type]`."""
    rows = rows or {}
    if is_graph_model(model) and num_nodes(graph) > cfg.full_batch_max_nodes:
        from models.inference import predict_batched

        probs = {}
        for node_type in sorted({t.node_type for t in model.tasks}):
            probs.update(predict_batched(model, graph, node_type, cfg, rows.get(node_type)))
        return probs
    if is_graph_model(model):
        model.eval()
        with torch.no_grad():
            out = model(on_device(graph, model_device(model)))
        kinds = {t.name: t.kind for t in model.tasks}
        probs = {
            name: (torch.sigmoid(z) if kinds[name] == "binary" else torch.softmax(z, -1)).cpu().numpy()
            for name, z in out.items()
        }
    else:
        probs = model.predict(graph)
    types = {t.name: t.node_type for t in model.tasks}
    return {name: p[rows[types[name]].numpy()] if types[name] in rows else p for name, p in probs.items()}


def _evaluation_rows(
    model: Any, split: Split, g: int, tasks: list[TaskSpec], cfg: TrainConfig
) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
    """Per node type the rows to score in graph g, each task's labels and weights on them.

    A large graph scored by sampling (cost per row) is evaluated on a budgeted, weighted draw of its labelled rows.
    """
    from models.inference import is_layerwise

    gen = torch.Generator().manual_seed(cfg.seed + g)
    sampled = (is_graph_model(model) and not is_layerwise(model)
               and num_nodes(split.graphs[g]) > cfg.full_batch_max_nodes)
    rows, labels, weights = {}, {}, {}
    for node_type in sorted({t.node_type for t in tasks}):
        mine = [t for t in tasks if t.node_type == node_type]
        seeds, ys = _labels_of(split, g, mine, node_type)
        drawn, w = seed_sampling.draw(ys, cfg.max_eval_seeds, gen) if sampled else (torch.arange(seeds.numel()), None)
        rows[node_type] = seeds[drawn]
        for task in mine:
            labels[task.name] = ys[task.name][drawn]
            weights[task.name] = w
    return rows, labels, weights


@dataclass
class Predictions:
    """One task's probabilities on a split's labelled rows (graphs pooled), their labels and row weights."""

    probs: np.ndarray
    y: np.ndarray
    weight: np.ndarray

    def metrics(self, kind: str) -> dict[str, float]:
        return evaluate(self.probs, self.y, kind, self.weight)


def split_predictions(model: Any, split: Split, tasks: list[TaskSpec], cfg: TrainConfig) -> dict[str, Predictions]:
    """Each task's predictions on a split's labelled rows, pooling its graphs."""
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {t.name: [] for t in tasks}
    for g in range(len(split.graphs)):
        rows, labels, weights = _evaluation_rows(model, split, g, tasks, cfg)
        # Indexed in the call, so no name keeps this graph alive while the next one loads.
        pred = predict(model, split.graphs[g], cfg, rows)
        for task in tasks:
            y = labels[task.name].numpy()
            w = weights[task.name]
            parts[task.name].append((pred[task.name], y, np.ones(len(y)) if w is None else w.numpy()))
    return {name: Predictions(*(np.concatenate(column) for column in zip(*chunks))) for name, chunks in parts.items()}


def evaluate_split(model: Any, split: Split, tasks: list[TaskSpec], cfg: TrainConfig) -> dict[str, dict[str, float]]:
    """Metrics per task on a split, pooling its graphs."""
    preds = split_predictions(model, split, tasks, cfg)
    return {task.name: preds[task.name].metrics(task.kind) for task in tasks}


def fit(problem: Problem, model_name: str, cfg: TrainConfig, select: bool = True,
        stage_epochs: dict[str, int] | None = None, score_train: bool = True) -> FitResult:
    """Train `model_name` on the problem's train split with early stopping on validation; metrics on all three splits
    (the train split's on each task's `cfg.train_metrics_anchors` most recent graphs; none with `score_train` off).

    With `select=False` (a refit for a known epoch count) a graph model trains exactly `cfg.max_epochs` epochs
    (each stage named in `stage_epochs` that many instead), or until the budget, keeps its last weights and is not
    evaluated (no metrics).
    """
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    inputs = ModelInputs.from_problem(problem)
    model = build(model_name, inputs, cfg)
    timed = Phases(f"fit {model_name}")
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    val_preds: dict[str, Predictions] = {}
    if not is_graph_model(model):
        with timed.phase("training"):
            history = model.fit(problem, cfg)
        best_epoch = -1
    else:
        model.to(resolve_device(cfg.device))
        with timed.phase("training"):
            history, best_epoch, val_preds, kept = _train_graph_model(model, problem, cfg, select, stage_epochs or {})
        timed.done[-1].update(epoch_split(history))
        if not select:
            return FitResult(model, model_name, {}, history, best_epoch, cfg, inputs, time.perf_counter() - start,
                             stage_epochs=kept, phases=timed.done)
        # The kept weights are the best evaluation's, whose validation metrics are already known.
        final = history[-1]["stage"] if history else None
        metrics["val"] = next((h["val"] for h in history if h["epoch"] == best_epoch and h["stage"] == final), None)
    with timed.phase("test scoring"):
        test = split_predictions(model, problem.test, problem.tasks, cfg)
    metrics["test"] = {task.name: test[task.name].metrics(task.kind) for task in problem.tasks}
    if score_train:
        with timed.phase("train scoring"):
            metrics["train"] = evaluate_split(model, problem.train.latest(cfg.train_metrics_anchors), problem.tasks, cfg)
    if metrics.get("val") is None:
        with timed.phase("val scoring"):
            val_preds = split_predictions(model, problem.val, problem.tasks, cfg)
        metrics["val"] = {task.name: val_preds[task.name].metrics(task.kind) for task in problem.tasks}
    log.info("%s trained in %.0fs: best epoch %d, test %s", model_name, time.perf_counter() - start, best_epoch,
             _brief(metrics["test"]))
    metrics = {name: metrics[name] for name in ("train", "val", "test") if name in metrics}
    return FitResult(model, model_name, metrics, history, best_epoch, cfg, inputs, time.perf_counter() - start, test,
                     val_preds, kept if is_graph_model(model) else {}, timed.done)


def epoch_split(history: list[dict]) -> dict[str, float]:
    """The training history's seconds in optimiser epochs and in validation passes, over all stages."""
    return {"epochs_s": round(sum(h.get("train_s", 0.0) for h in history), 2),
            "validation_s": round(sum(h.get("val_s", 0.0) for h in history), 2)}


def kept_epochs_seconds(history: list[dict], stage_epochs: dict[str, int]) -> float:
    """What selection spent training the epochs a refit repeats: per stage, its mean epoch's seconds times the epochs
    it kept."""
    total = 0.0
    for stage, kept in stage_epochs.items():
        rows = [h for h in history if h.get("stage") == stage and "train_s" in h]
        if rows:
            total += sum(h["train_s"] for h in rows) / (rows[-1]["epoch"] + 1) * kept
    return total


def _brief(metrics: dict[str, dict[str, float]]) -> str:
    """Each task's headline metrics, for the log."""
    return ", ".join(
        f"{task} " + " ".join(f"{k} {v:.4f}" for k, v in m.items() if k in ("auc", "ap", "micro_f1", "macro_f1"))
        for task, m in metrics.items()
    )


def _stages(model: nn.Module, cfg: TrainConfig) -> list[TrainingStage]:
    """The model's training stages, or one stage on all its parameters."""
    if hasattr(model, "training_stages"):
        return model.training_stages(cfg)
    return [TrainingStage(SINGLE_STAGE, [{"params": list(model.parameters()), "lr": cfg.lr}], cfg.max_epochs)]


def _train_graph_model(model: nn.Module, problem: Problem, cfg: TrainConfig, select: bool,
                       stage_epochs: dict[str, int]) -> tuple[list[dict], int, dict[str, Predictions], dict[str, int]]:
    """Every training stage in turn, under one time budget; the history of all stages, the last stage's kept epoch,
    its validation predictions and each stage's epochs up to its kept weights (without `select`: each stage's last
    weights after its `stage_epochs` count, no predictions)."""
    pos_w = _pos_weights(problem, cfg)
    minibatch = largest_graph_nodes(problem.train.graphs) > cfg.full_batch_max_nodes
    gen = torch.Generator().manual_seed(cfg.seed)
    deadline = None if cfg.max_train_seconds is None else time.perf_counter() + cfg.max_train_seconds
    history: list[dict] = []
    best_epoch, best_preds, kept = -1, {}, {}
    stages = _stages(model, cfg)
    for i, stage in enumerate(stages):
        if not select and stage.name in stage_epochs:
            stage = dataclasses.replace(stage, max_epochs=stage_epochs[stage.name])
        if hasattr(model, "set_stage"):
            model.set_stage(stage.name)
        opt = torch.optim.AdamW(stage.param_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        # Selection's stages end on patience, so each gets a share of the budget; a refit's epoch counts are known.
        until = deadline if deadline is None or not select else stage_deadline(
            time.perf_counter(), deadline, [s.budget_weight for s in stages[i:]])
        best_epoch, best_preds = _train_stage(model, problem, cfg, stage, opt, pos_w, minibatch, gen, until, history,
                                              select)
        kept[stage.name] = best_epoch + 1
    return history, best_epoch, best_preds, kept


def _train_stage(
    model: nn.Module, problem: Problem, cfg: TrainConfig, stage: TrainingStage, opt: torch.optim.Optimizer,
    pos_w: dict, minibatch: bool, gen: torch.Generator, deadline: float | None, history: list[dict], select: bool,
) -> tuple[int, dict[str, Predictions]]:
    """The epoch loop of one stage with periodic validation, best-weights tracking and patience; its kept epoch and
    that epoch's validation predictions."""
    best_score, best_val, best_epoch, best_state, waited = -np.inf, None, -1, None, 0
    best_preds: dict[str, Predictions] = {}
    started = time.perf_counter()
    # Training seconds since the last history row (epochs between evaluations included): with each row's
    # validation seconds, where an epoch's time goes.
    train_s = 0.0
    for epoch in range(stage.max_epochs):
        epoch_started = time.perf_counter()
        if minibatch:
            loss, batches = _minibatch_epoch(model, problem, opt, pos_w, cfg, gen, deadline)
        else:
            loss, batches = _full_batch_epoch(model, problem, opt, pos_w), len(problem.train.graphs)
        train_s += time.perf_counter() - epoch_started
        out_of_time = deadline is not None and time.perf_counter() >= deadline
        last = epoch == stage.max_epochs - 1 or out_of_time
        cut = out_of_time and epoch < stage.max_epochs - 1
        if not select:
            # A refit for a known epoch count: nothing to select on, the last weights are kept.
            history.append({"stage": stage.name, "epoch": epoch, "loss": loss, "batches": batches,
                            "seconds": time.perf_counter() - started, "train_s": train_s, "cut_by_budget": cut})
            train_s = 0.0
            best_epoch = epoch
            if out_of_time:
                break
            continue
        if epoch % cfg.eval_every and not last:
            continue
        validation_started = time.perf_counter()
        preds = split_predictions(model, problem.val, problem.tasks, cfg)
        val = {task.name: preds[task.name].metrics(task.kind) for task in problem.tasks}
        score = selection_score(val, problem.tasks)
        elapsed = time.perf_counter() - started
        history.append({"stage": stage.name, "epoch": epoch, "loss": loss, "batches": batches, "val_score": score,
                        "val": val, "seconds": elapsed, "train_s": train_s,
                        "val_s": time.perf_counter() - validation_started, "cut_by_budget": cut})
        log.info("%s epoch %d: loss %.4f, validation score %.4f (%s), %.0fs (training %.0fs, validation %.0fs)",
                 stage.name, epoch, loss, score, _brief(val), elapsed, train_s, history[-1]["val_s"])
        train_s = 0.0
        if out_of_time:
            log.info("stopping %s: its share of the training budget of %.0fs is spent", stage.name, cfg.max_train_seconds)
        if improves(val, score, best_val, best_score, problem.tasks, cfg):
            best_score, best_val, best_epoch, best_preds, waited = score, val, epoch, preds, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= cfg.patience:
                break
        if out_of_time:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return best_epoch, best_preds


def save_model(result: FitResult, path: Path) -> None:
    """Write the model without pickles: weights as a state dict at `path`, or LightGBM text files beside it, and
    its name, inputs and config as JSON at `path.with_suffix(".json")`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "model_name": result.model_name,
        "cfg": result.cfg.model_dump(mode="json") if result.cfg else TrainConfig().model_dump(mode="json"),
        "inputs": result.inputs.to_dict() if result.inputs else None,
        "best_epoch": result.best_epoch,
        "metrics": result.metrics,
    }
    if is_graph_model(result.model):
        torch.save(result.model.state_dict(), path)
    else:
        doc["tabular"] = {}
        for task, (text, classes) in result.model.to_text().items():
            name = f"{path.stem}.{task}.lgb.txt"
            (path.parent / name).write_text(text, encoding="utf-8")
            doc["tabular"][task] = {"file": name, "classes": classes}
    path.with_suffix(".json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=float) + "\n", encoding="utf-8")


def load_model(path: Path) -> tuple[Any, str, TrainConfig]:
    """Rebuild a saved model; returns (model in eval mode, model name, config). Never unpickles anything."""
    doc = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    cfg = TrainConfig.model_validate(doc["cfg"])
    name = doc["model_name"]
    inputs = ModelInputs.from_dict(doc["inputs"])
    model = build(name, inputs, cfg)
    if "tabular" in doc:
        model.from_text({task: ((path.parent / entry["file"]).read_text(encoding="utf-8"), entry["classes"])
                         for task, entry in doc["tabular"].items()})
        return model, name, cfg
    model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    model.to(loading_device(cfg.device))
    model.eval()
    return model, name, cfg
