"""Next best offers as of D: the offer model ranks the catalogue for every customer; top offers into `offer_recommendations`.

The model is trained when asked (the daily flow asks when it trains the lead model), for the epoch count
that a temporal validation split chooses (models/offers/selection.py); it serves only when it beats
`offers.must_beat` (the funnel ranking by default) on that split, else that ranking is stored instead, as
state-dict weights plus the customer and offer ids it was trained on (`artifacts/offers/as_of=D/`);
other days reload the latest stored model and propagate over D's behaviours. An offer the customer
already uses regularly (an `adopted` event by D) is never recommended. `peer_adopted` says whether a
shipping partner, company sibling or account co-holder of the customer had adopted the offer by D
(the reason code the lead list states).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import torch
from prefect import task
from prefect.cache_policies import NONE

from leadgraph import allocator
from leadgraph.config import OfferConfig, Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from models.budget import cut_by_budget
from models.offers.data import Interactions
from models.offers.registry import build_offer_model
from models.offers.selection import Holdout, flattened, holdout, ndcg_on, select_epochs
from models.offers.training import fit, score_blocks
from tasks import registry
from tasks.offer_data import OfferData, load_holdout, load_offer_data

log = logging.getLogger(__name__)

TABLE = "offer_recommendations"
WEIGHTS = "weights.pt"
META = "model.json"


@dataclass(frozen=True)
class OfferRef:
    """Where D's recommendations are and which offer model made them."""

    as_of: date
    table: str
    model_folder: Path | None
    rows: int
    model: str = ""

    def render(self) -> str:
        if self.model_folder is None:
            return f"no offers recommended as of {self.as_of}: no service events or no catalogue"
        return (f"recommended {self.rows:,} offers as of {self.as_of} with {self.model} ({self.model_folder.name}) "
                f"-> warehouse table {self.table}")


def model_folder(settings: Settings, as_of: date) -> Path:
    """The folder of the offer model trained on D."""
    return settings.paths.artifacts / "offers" / f"as_of={as_of.isoformat()}"


def latest_model(settings: Settings, as_of: date) -> Path | None:
    """The newest stored offer model trained on or before D."""
    root = settings.paths.artifacts / "offers"
    folders = sorted(p for p in root.glob("as_of=*") if (p / META).is_file() and p.name <= f"as_of={as_of.isoformat()}")
    return folders[-1] if folders else None


def current_model(settings: Settings, as_of: date) -> Path | None:
    """The stored offer model to serve D, or None when it must be trained: none yet, or older than the newest lead
    model version trained by D (the offer model keeps pace with the lead model, even after a run died in between)."""
    folder = latest_model(settings, as_of)
    lead_days = [v.trained_as_of for v in registry.list_versions(settings) if v.trained_as_of <= as_of]
    if folder is None or (lead_days and folder.name < f"as_of={max(lead_days).isoformat()}"):
        return None
    return folder


def _on_ids(data: OfferData, customer_ids: np.ndarray, service_ids: np.ndarray) -> Interactions:
    """D's behaviours re-indexed onto a stored model's customers and offers (the others dropped)."""
    inter = data.interactions
    users, items = [], []
    for k in range(len(inter.behaviours)):
        cu = data.customer_ids[inter.users[k]]
        sv = data.service_ids[inter.items[k]]
        u = np.searchsorted(customer_ids, cu)
        i = np.searchsorted(service_ids, sv)
        ok = (u < len(customer_ids)) & (i < len(service_ids))
        ok[ok] &= (customer_ids[u[ok]] == cu[ok]) & (service_ids[i[ok]] == sv[ok])
        users.append(u[ok])
        items.append(i[ok])
    return Interactions(len(customer_ids), len(service_ids), inter.behaviours, users, items)


def validation(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> tuple[OfferData, Holdout] | None:
    """The behaviours at D - holdout_days and the next adoptions up to D; None when that window holds none."""
    days = settings.offers.holdout_days
    data = load_offer_data(con, as_of - timedelta(days=days))
    users, items = load_holdout(con, data, days, as_of)
    if not len(users) or not sum(len(u) for u in data.interactions.users):
        return None
    return data, holdout(data.interactions, users, items, settings.offers.val_users, settings.offers.seed)


def gate(cfg: OfferConfig, val: tuple[OfferData, Holdout], curve: list[dict]) -> dict:
    """Which ranking serves: the trained model when its best validation NDCG beats cfg.must_beat's, else that one."""
    inter = val[0].interactions
    baseline = ndcg_on(build_offer_model(cfg.must_beat, inter, cfg), inter, val[1], cfg.top_k)
    best = max(h["val"] for h in curve)
    served = cfg.model if best > baseline else cfg.must_beat
    if served != cfg.model:
        log.warning("offer model %s (validation NDCG %.4f) does not beat %s (%.4f): %s serves",
                    cfg.model, best, cfg.must_beat, baseline, cfg.must_beat)
    return {"model": cfg.model, "model_ndcg": best, "must_beat": cfg.must_beat, "must_beat_ndcg": baseline, "served": served}


def _refit(inter: Interactions, cfg: OfferConfig, served: str, epochs: int,
           spent: float) -> tuple[str, torch.nn.Module, list[dict], dict | None]:
    """(served name, model, history, why the refit did not serve) of `served` fitted on D's behaviours for `epochs`
    in what selection left of the budget; a refit the budget cuts or leaves no time gives way to must_beat's ranking
    (with must_beat "none" the model always serves, so its refit runs whatever the budget)."""
    model = build_offer_model(served, inter, cfg, cfg.seed)
    if cfg.must_beat == "none" or not getattr(model, "trainable", True) or cfg.max_train_seconds is None:
        unbudgeted = cfg.model_copy(update={"epochs": epochs, "max_train_seconds": None})
        return served, model, fit(model, inter, unbudgeted, cfg.seed), None
    left = cfg.max_train_seconds - spent
    budgeted = cfg.model_copy(update={"epochs": epochs, "max_train_seconds": left})
    history = fit(model, inter, budgeted, cfg.seed) if left > 0 else []
    if len(history) == epochs:
        return served, model, history, None
    log.warning("offer model %s: the refit ran %d of %d epochs within the budget: %s serves", served, len(history),
                epochs, cfg.must_beat)
    reason = {"model": served, "epochs_run": len(history), "epochs_kept": epochs, "cut_by_budget": True}
    return cfg.must_beat, build_offer_model(cfg.must_beat, inter, cfg, cfg.seed), [], reason


def train_offers(settings: Settings, data: OfferData, val: tuple[OfferData, Holdout] | None) -> Path:
    """Fit the configured offer model on D's behaviours for the epoch count chosen on `val` (all epochs without one),
    selection and refit within offers.max_train_seconds; it serves when it beats offers.must_beat on `val` and its
    refit finished, else that ranking serves."""
    cfg = settings.offers
    # Deterministic kernels: the multithreaded backward of a row gather accumulates in a varying order, and a
    # re-run of D (after a crash) must publish the same offer scores byte for byte.
    deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(cfg.threads or threads)
    try:
        started = time.perf_counter()
        epochs, curve = select_epochs(cfg.model, val[0].interactions, val[1], cfg, cfg.seed) if val else (cfg.epochs, [])
        verdict = gate(cfg, val, curve) if val and curve and cfg.must_beat != "none" else None
        served = verdict["served"] if verdict else cfg.model
        served, model, history, refit_cut = _refit(data.interactions, cfg, served, epochs, time.perf_counter() - started)
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)
    folder = model_folder(settings, data.as_of)
    # Written aside and moved into place whole: a run killed mid-write leaves no half model to serve.
    staged = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    torch.save(model.state_dict(), staged / WEIGHTS)
    np.save(staged / "customer_ids.npy", data.customer_ids)
    np.save(staged / "service_ids.npy", data.service_ids)
    meta = {"model": served, "as_of": data.as_of.isoformat(), "config": cfg.model_dump(mode="json"), "epochs": epochs,
            "validation": {"as_of": val[0].as_of.isoformat(), "customers": len(val[1].users), "curve": curve,
                           "flattened": flattened(curve, cfg), "cut_by_budget": cut_by_budget(curve)} if val else None,
            "gate": verdict, "refit_cut": refit_cut, "history": history}
    (staged / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staged.rename(folder)
    return folder


def _load_model(settings: Settings, data: OfferData, folder: Path) -> tuple[str, torch.nn.Module, np.ndarray, np.ndarray, Interactions]:
    """(name, model, customer ids, service ids, D's behaviours on those ids) of a stored offer model."""
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    cfg = settings.offers.model_copy(update={k: meta["config"][k] for k in ("dim", "layers", "mult", "mmoe_experts")})
    customers = np.load(folder / "customer_ids.npy")
    services = np.load(folder / "service_ids.npy")
    inter = _on_ids(data, customers, services)
    model = build_offer_model(meta["model"], inter, cfg)
    model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True))
    return meta["model"], model, customers, services, inter


def top_offers(scores: np.ndarray, first_user: int, inter: Interactions, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, rank) of the n best offers of users first_user.. (one row of scores each), never an adopted one."""
    masked = scores.astype(np.float64, copy=True)
    adopters, adopted = inter.users[inter.target], inter.items[inter.target]
    lo, hi = np.searchsorted(adopters, [first_user, first_user + len(scores)])
    masked[adopters[lo:hi] - first_user, adopted[lo:hi]] = -np.inf
    n = min(n, masked.shape[1])
    best = np.argsort(-masked, axis=1, kind="stable")[:, :n]
    rows = np.repeat(np.arange(masked.shape[0]), n)
    items = best.ravel()
    keep = np.isfinite(masked[rows, items])
    return rows[keep] + first_user, items[keep], np.tile(np.arange(1, n + 1), masked.shape[0])[keep]


def recommended(model: torch.nn.Module, inter: Interactions, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, rank, score) of every user's n best offers, scored a block of users at a time to bound memory."""
    parts = []
    for lo, block in score_blocks(model, np.arange(inter.n_users), inter.target):
        users, items, rank = top_offers(block, lo, inter, n)
        parts.append((users, items, rank, block[users - lo, items].astype(np.float64)))
    return tuple(np.concatenate(column) for column in zip(*parts))  # type: ignore[return-value]


def recommend(settings: Settings, as_of: date, train: bool) -> OfferRef:
    """Rank offers for every customer as of D (training the offer model first when asked); D's rows replaced."""
    # The offer model's large tensors change size from step to step (each batch's users, their unique rows), so
    # a heap that keeps them fragments and grows; after training and scoring tuned the allocator in this process,
    # this stage hands every large block back to the system again (README, "The allocator").
    allocator.restore()
    folder = None if train else current_model(settings, as_of)
    with connect(settings.paths.warehouse) as con:
        data = load_offer_data(con, as_of)
        if not len(data.service_ids) or not sum(len(u) for u in data.interactions.users):
            return OfferRef(as_of, TABLE, None, 0)
        val = validation(con, settings, as_of) if folder is None else None
    folder = folder or train_offers(settings, data, val)
    name, model, customers, services, inter = _load_model(settings, data, folder)
    users, items, rank, score = recommended(model, inter, settings.offers.recommend_top)
    frame = pd.DataFrame({"customer_id": customers[users], "rank": rank, "service_id": services[items],
                          "score": np.round(score, settings.offers.score_decimals)})
    with connect(settings.paths.warehouse) as con:
        _write(con, as_of, folder.name, frame)
    return OfferRef(as_of, TABLE, folder, len(frame), name)


def _write(con: duckdb.DuckDBPyConnection, as_of: date, model: str, frame: pd.DataFrame) -> None:
    """Replace D's recommendations, with each offer's name and whether a peer adopted it, in one transaction."""
    con.execute(sql("offers/recommendations_schema"))
    con.register("_offers_frame", frame)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE as_of = ?", [as_of])
        con.execute(sql("offers/peer_adopted"), {"d": as_of})
        con.execute(sql("offers/recommendations_insert"), {"d": as_of, "model": model})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_offers_frame")


@task(name="recommend", cache_policy=NONE, task_run_name="recommend-{as_of}")
def recommend_task(settings: Settings, as_of: date, train: bool) -> OfferRef:
    """Prefect task: D's next best offers (the offer model retrained when the lead model is)."""
    return recommend(settings, as_of, train)
