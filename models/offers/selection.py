"""The epoch count of an offer model, chosen on a temporal validation split (as the lead models' refit does).

The model trains on the behaviours known at V = D - holdout_days and is scored after every epoch on each
customer's next adoption in (V, D]; training stops once the curve has flattened, and the best epoch is
the count the model trained on D's behaviours then runs. Nothing after D is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from leadgraph.config import OfferConfig
from models.offers.data import Interactions
from models.offers.evaluate import full_metrics
from models.offers.registry import build_offer_model
from models.offers.training import fit, score_items


@dataclass(frozen=True)
class Holdout:
    """Each held-out customer's next adoption, and the offers it had adopted in training (never a candidate)."""

    users: np.ndarray
    items: np.ndarray
    seen: list[np.ndarray]


def holdout(inter: Interactions, users: np.ndarray, items: np.ndarray, limit: int | None = None, seed: int = 0) -> Holdout:
    """The hold-out of (user, item) next adoptions, at most `limit` customers drawn with a fixed seed."""
    if limit is not None and len(users) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(users), size=limit, replace=False))
        users, items = users[keep], items[keep]
    target = inter.target
    start = np.searchsorted(inter.users[target], users, side="left")
    stop = np.searchsorted(inter.users[target], users, side="right")
    return Holdout(users, items, [inter.items[target][a:b] for a, b in zip(start, stop)])


def ndcg_on(model: nn.Module, inter: Interactions, hold: Holdout, k: int) -> float:
    """Full-catalogue NDCG@k of the model's target scores on the hold-out."""
    scores = score_items(model, hold.users, inter.n_items, inter.target)
    return full_metrics(scores, hold.items, hold.seen, k)["ndcg"]


def select_epochs(name: str, inter: Interactions, hold: Holdout, cfg: OfferConfig, seed: int) -> tuple[int, list[dict]]:
    """(best epoch, validation history) of model `name` trained on the validation split; (cfg.epochs, []) untrained."""
    model = build_offer_model(name, inter, cfg, seed)
    history = fit(model, inter, cfg, seed, lambda m: ndcg_on(m, inter, hold, cfg.top_k))
    if not history:
        return cfg.epochs, []
    return max(history, key=lambda h: h["val"])["epoch"], history


def flattened(history: list[dict], cfg: OfferConfig) -> bool:
    """Whether training stopped because the validation curve flattened, not because cfg.epochs ran out."""
    return bool(history) and len(history) - max(history, key=lambda h: h["val"])["epoch"] >= cfg.patience
