"""Next best offer: every offer model on the simulated world's service funnel, next to the oracle.

`leadgraph bench offers --scale tiny` simulates a world into `var/bench-offers-<scale>` under the repository
(skipped when it is already there), ingests and validates everything up to its last day, and splits at
the latest Monday S with offer truth whose 90-day window closes inside the history. Models train on
every behaviour as of S; each customer's next adoption in (S, S + 90 days] of an offer it had not
adopted is its test positive. Metrics: HR@10 / NDCG@10 against `eval_negatives` sampled negatives
(never a training adoption or the positive; one fixed sampling seed for every model), and Recall@10 /
NDCG@10 over the whole catalogue minus the user's training adoptions. The oracle ranks by the true
adoption probabilities of `truth/offers/as_of=S.parquet`. Writes benchmarks/results/offers.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import torch

from benchmarks import machine
from benchmarks.logistics import bench_settings as world_settings
from leadgraph.config import OfferConfig, Settings
from models.offers.evaluate import full_metrics, sampled_metrics
from models.offers.registry import OFFER_MODELS, build_offer_model
from models.offers.training import fit, score_items
from tasks.offer_data import OfferData, load_holdout, load_offer_data

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "benchmarks" / "results" / "offers.md"
# The sampled negatives are drawn once, with this seed, for every model and training seed alike.
EVAL_SEED = 12345
COLUMNS = ("hr", "ndcg", "recall", "ndcg_full")


def bench_settings(scale: str) -> Settings:
    """Settings for the offer benchmark's own home (`var/bench-offers-<scale>`)."""
    return world_settings(scale, bench="offers", folder="bench-offers")


def split_day(settings: Settings) -> date:
    """The latest offer-truth Monday whose hold-out window closes by the last day of history."""
    days = settings.offers.holdout_days
    anchors = sorted(p.name.removeprefix("as_of=").removesuffix(".parquet") for p in (settings.paths.truth / "offers").glob("as_of=*.parquet"))
    usable = [a for a in anchors if pd.Timestamp(a).date() + timedelta(days=days) <= settings.simulate.end]
    if not usable:
        raise ValueError(f"no offer truth anchor leaves {days} days of history before {settings.simulate.end}")
    return pd.Timestamp(usable[-1]).date()


def prepare(settings: Settings) -> tuple[OfferData, np.ndarray, np.ndarray]:
    """Simulate (unless done), ingest and validate to the last day; the training data at the split and the hold-out."""
    from simulator.simulate import simulate
    from tasks.ingest import ingest
    from tasks.validate import validate

    end = settings.simulate.end
    if not (settings.paths.truth / "summary.json").is_file():
        simulate(settings)
    ingest(settings, end)
    validate(settings, end)
    split = split_day(settings)
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        data = load_offer_data(con, split)
        users, items = load_holdout(con, data, settings.offers.holdout_days, end)
    return data, users, items


def oracle_scores(settings: Settings, data: OfferData, users: np.ndarray) -> np.ndarray:
    """The true adoption probabilities at the split for the test users (0 for offers they can never adopt)."""
    truth = pd.read_parquet(settings.paths.truth / "offers" / f"as_of={data.as_of.isoformat()}.parquet")
    u = np.searchsorted(data.customer_ids, truth["customer_id"].to_numpy())
    i = np.searchsorted(data.service_ids, truth["service_id"].to_numpy())
    ok = (u < len(data.customer_ids)) & (i < len(data.service_ids))
    ok[ok] &= (data.customer_ids[u[ok]] == truth["customer_id"].to_numpy()[ok]) & (data.service_ids[i[ok]] == truth["service_id"].to_numpy()[ok])
    row_of = np.full(len(data.customer_ids), -1)
    row_of[users] = np.arange(len(users))
    scores = np.zeros((len(users), len(data.service_ids)), dtype=np.float64)
    rows = row_of[u[ok]]
    keep = rows >= 0
    scores[rows[keep], i[ok][keep]] = truth["p_adopt"].to_numpy()[ok][keep]
    return scores


def metrics(scores: np.ndarray, items: np.ndarray, seen: list[np.ndarray], cfg: OfferConfig) -> dict[str, float]:
    """Sampled HR/NDCG and full-catalogue Recall/NDCG at cfg.top_k."""
    sampled = sampled_metrics(scores, items, seen, cfg.eval_negatives, cfg.top_k, EVAL_SEED)
    full = full_metrics(scores, items, seen, cfg.top_k)
    return {"hr": sampled["hr"], "ndcg": sampled["ndcg"], "recall": full["recall"], "ndcg_full": full["ndcg"]}


def _cell(values: list[float]) -> str:
    """mean ± sample std over seeds, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def page(settings: Settings, data: OfferData, n_test: int, results: dict[str, list[dict]], oracle: dict[str, float],
         command: str, cfg: OfferConfig, seeds: int) -> str:
    """The results page: table, population, settings, command, machine, date."""
    inter = data.interactions
    counts = ", ".join(f"{b} {len(inter.users[k]):,}" for k, b in enumerate(inter.behaviours))
    negatives = min(cfg.eval_negatives, inter.n_items - 1)
    lines = [
        "# Next best offer: offer models on the simulated service funnel, next to the oracle",
        "",
        f"Written by `{command}` on {machine.now()}; {machine.describe()}.",
        "",
        f"World: `{settings.simulate.scale}` scale, seed {settings.simulate.seed}, {settings.simulate.start} .. {settings.simulate.end}. "
        f"Split at {data.as_of}: {inter.n_users:,} customers, {inter.n_items} offers, training pairs per behaviour: {counts}. "
        f"Test: {n_test:,} customers with a next adoption in the following {settings.offers.holdout_days} days.",
        "",
        f"HR@{cfg.top_k} / NDCG@{cfg.top_k}: the positive against {negatives} sampled negatives "
        f"({cfg.eval_negatives} asked; a catalogue of {inter.n_items} offers has fewer, so every offer the customer has not adopted is a candidate "
        "and the sampled figures equal the full-ranking ones). "
        f"Recall@{cfg.top_k} / NDCG@{cfg.top_k} (full): over the whole catalogue minus the customer's training adoptions. "
        f"{seeds} training seeds, mean ± sample std; s/epoch is the mean wall time of one epoch.",
        "",
        f"Training: {cfg.epochs} epochs, {cfg.batch_users} users per batch, {cfg.samples_per_user} positive/negative pairs per user and behaviour, "
        f"up to {cfg.train_users:,} users per epoch; CIGF family: d = {cfg.dim}, {cfg.layers} layers, lr {cfg.lr} (x{cfg.lr_decay} every {cfg.decay_steps} steps), "
        f"L2 {cfg.reg} on the full tables, score x{cfg.mult}; MF-BPR and LightGCN: lr {cfg.baseline_lr}, L2 {cfg.baseline_reg}.",
        "",
        f"| model | HR@{cfg.top_k} | NDCG@{cfg.top_k} | Recall@{cfg.top_k} (full) | NDCG@{cfg.top_k} (full) | s/epoch | seeds |",
        "|---|---|---|---|---|---|---|",
        f"| oracle (truth) | {oracle['hr']:.4f} | {oracle['ndcg']:.4f} | {oracle['recall']:.4f} | {oracle['ndcg_full']:.4f} | – | – |",
    ]
    for name, runs in results.items():
        cells = " | ".join(_cell([r[c] for r in runs]) for c in COLUMNS)
        per_epoch = np.mean([r["seconds_per_epoch"] for r in runs]) if runs[0]["seconds_per_epoch"] is not None else None
        lines.append(f"| {name} | {cells} | {'–' if per_epoch is None else f'{per_epoch:.2f}'} | {len(runs)} |")
    return "\n".join(lines) + "\n"


def run(scale: str, models: str, seeds: int, overrides: dict | None = None, command: str = "") -> Path:
    """Fit every named model for each seed, score the test customers, and write the results page."""
    torch.set_num_threads(1)
    settings = bench_settings(scale)
    names: Sequence[str] = list(OFFER_MODELS) if models == "all" else [m.strip() for m in models.split(",")]
    unknown = [m for m in names if m not in OFFER_MODELS]
    if unknown:
        raise ValueError(f"unknown offer model(s) {', '.join(unknown)}; choose from {', '.join(OFFER_MODELS)}")
    cfg = settings.offers.model_copy(update={k: v for k, v in (overrides or {}).items() if v is not None})
    data, users, items = prepare(settings)
    inter = data.interactions
    target = inter.target
    start = np.searchsorted(inter.users[target], users, side="left")
    stop = np.searchsorted(inter.users[target], users, side="right")
    seen = [inter.items[target][a:b] for a, b in zip(start, stop)]
    oracle = metrics(oracle_scores(settings, data, users), items, seen, cfg)
    results: dict[str, list[dict]] = {}
    for name in names:
        for seed in range(seeds if name != "popularity" else 1):
            torch.manual_seed(seed)
            model = build_offer_model(name, inter, cfg)
            began = time.perf_counter()
            history = fit(model, inter, cfg, seed)
            scores = score_items(model, users, inter.n_items, target)
            record = {**metrics(scores, items, seen, cfg),
                      "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None,
                      "seconds": time.perf_counter() - began}
            results.setdefault(name, []).append(record)
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if v is not None), flush=True)
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(page(settings, data, len(users), results, oracle, command, cfg, seeds), encoding="utf-8")
    return PAGE
