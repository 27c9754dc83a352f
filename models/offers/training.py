"""One training loop for every offer model (MODELS.md 4.4): sampled BPR on each trained behaviour, Adam, staircase decay."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from leadgraph.config import OfferConfig
from models.offers.data import Interactions, sample_pairs, sample_subgraph

log = logging.getLogger(__name__)


def samples_subgraphs(data: Interactions, cfg: OfferConfig) -> bool:
    """Whether training steps propagate sampled subgraphs rather than the whole graph."""
    return cfg.subgraph_above is not None and data.n_users > cfg.subgraph_above


def epoch_loss(model: nn.Module, data: Interactions, users: np.ndarray, cfg: OfferConfig, rng: np.random.Generator) -> torch.Tensor:
    """BPR summed over the model's behaviours on one batch of users, plus the L2 penalty on the rows propagated
    (the full tables, or the sampled subgraph's rows past cfg.subgraph_above users)."""
    pairs = [sample_pairs(data, k, users, cfg.samples_per_user, rng) for k in model.tasks]
    rows = np.concatenate([np.concatenate([u, data.n_users + pos, data.n_users + neg]) for u, pos, neg in pairs])
    sub = None
    if samples_subgraphs(data, cfg):
        items = np.concatenate([np.concatenate([pos, neg]) for _, pos, neg in pairs])
        sub = sample_subgraph(data, users, items, cfg.subgraph_users, rng)
        rows = sub.local(rows)
    tables = model.propagate(sub)
    # Every row the batch touches is gathered once: each gather's backward writes a gradient the size of the
    # whole table, so gathering per behaviour and per role cost more than the propagation itself.
    nodes, local = np.unique(rows, return_inverse=True)
    sub_rows = [t[torch.from_numpy(nodes)] for t in tables]
    local = torch.from_numpy(local.reshape(-1))
    loss, at = torch.zeros(()), 0
    for k, (u, _, _) in zip(model.tasks, pairs):
        n = len(u)
        lu, lp, ln = local[at:at + n], local[at + n:at + 2 * n], local[at + 2 * n:at + 3 * n]
        at += 3 * n
        diff = model.node_scores(sub_rows, lu, lp, k) - model.node_scores(sub_rows, lu, ln, k)
        loss = loss + F.softplus(-diff).mean()
    reg = cfg.reg if getattr(model, "reference_setting", True) else cfg.baseline_reg
    return loss + reg * sum((w * w).sum() for w in model.reg_weights(sub))


def fit(model: nn.Module, data: Interactions, cfg: OfferConfig, seed: int,
        validate: Callable[[nn.Module], float] | None = None) -> list[dict]:
    """Train up to cfg.epochs, each epoch up to train_users random users (baselines: baseline_train_users; with
    sampled subgraphs: subgraph_train_users) in batches; the history per epoch.

    With `validate` (higher is better) the model is scored after every epoch and training stops once
    cfg.patience epochs in a row bring no better score: the validation curve has flattened. Training also
    stops after the epoch that ends past cfg.max_train_seconds; that epoch's entry says `cut_by_budget`.
    """
    if not getattr(model, "trainable", True):
        return []
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    reference = getattr(model, "reference_setting", True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr if reference else cfg.baseline_lr)
    if samples_subgraphs(data, cfg):
        per_epoch = cfg.subgraph_train_users
    else:
        per_epoch = cfg.train_users if reference else (cfg.baseline_train_users or data.n_users)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.decay_steps, gamma=cfg.lr_decay)
    history: list[dict] = []
    best, stale = -np.inf, 0
    deadline = None if cfg.max_train_seconds is None else time.perf_counter() + cfg.max_train_seconds
    for epoch in range(cfg.epochs):
        began = time.perf_counter()
        users = rng.permutation(data.n_users)[:per_epoch]
        total = 0.0
        for lo in range(0, len(users), cfg.batch_users):
            opt.zero_grad()
            loss = epoch_loss(model, data, users[lo:lo + cfg.batch_users], cfg, rng)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        history.append({"epoch": epoch + 1, "loss": total, "seconds": time.perf_counter() - began})
        if validate is None:
            log.info("offer model epoch %d: loss %.4f, %.0fs", epoch + 1, total, history[-1]["seconds"])
        else:
            history[-1]["val"] = score = validate(model)
            log.info("offer model epoch %d: loss %.4f, validation NDCG %.4f, %.0fs", epoch + 1, total, score,
                     history[-1]["seconds"])
            best, stale = (score, 0) if score > best else (best, stale + 1)
            if stale >= cfg.patience:
                break
        if deadline is not None and time.perf_counter() > deadline and epoch + 1 < cfg.epochs:
            history[-1]["cut_by_budget"] = True
            log.info("offer model: the training budget of %.0fs is spent after epoch %d", cfg.max_train_seconds, epoch + 1)
            break
    return history


@torch.no_grad()
def score_blocks(model: nn.Module, users: np.ndarray, task: int,
                 batch: int = 2048) -> Iterator[tuple[int, np.ndarray]]:
    """Target-task scores of every item, one block of users at a time: (offset into users, [block, n_items])."""
    model.eval()
    try:
        tables = model.propagate()
        for lo in range(0, len(users), batch):
            block = model.block_scores(tables, torch.from_numpy(users[lo:lo + batch]), task)
            yield lo, np.ascontiguousarray(block.numpy(), dtype=np.float32)
    finally:
        model.train()


def score_items(model: nn.Module, users: np.ndarray, n_items: int, task: int, batch: int = 2048) -> np.ndarray:
    """Target-task scores of every item for the given users: [len(users), n_items]."""
    out = np.empty((len(users), n_items), dtype=np.float32)
    for lo, block in score_blocks(model, users, task, batch):
        out[lo:lo + len(block)] = block
    return out
