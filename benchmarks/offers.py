"""Next best offer: every offer model on the simulated world's service funnel, next to the oracle.

`leadgraph bench offers --scale tiny` simulates a world into `var/bench-offers-<scale>` under the repository
(skipped when it is already there), ingests and validates everything up to its last day, and splits at
the latest Monday S with offer truth whose 90-day window closes inside the history. Models train on
every behaviour as of S; each customer's next adoption in (S, S + 90 days] of an offer it had not
adopted is its test positive. Metrics: HR@10 / NDCG@10 against `eval_negatives` sampled negatives
(never a training adoption or the positive; one fixed sampling seed for every model), and Recall@10 /
NDCG@10 over the whole catalogue minus the user's training adoptions. The oracle ranks by the true
adoption probabilities of `truth/offers/as_of=S.parquet`. Writes benchmarks/results/offers.md, and one
line per finished (model, seed) beside it (`offers.runs.jsonl`), so `--resume` finishes a long run.
Torch threads: `--threads` (default 1), with torch's deterministic algorithms.
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
from benchmarks.records import append_record, page_under, read_records, settings_key
from leadgraph.config import OfferConfig, Settings
from models.offers.baselines import funnel_stage
from models.offers.evaluate import full_metrics, sampled_metrics
from models.offers.data import Interactions
from models.offers.registry import OFFER_MODELS, UNTRAINED, build_offer_model
from models.offers.training import fit, score_items
from models.offers.selection import Holdout, flattened, holdout, select_epochs
from tasks.offer_data import OfferData, load_holdout, load_offer_data
from tasks.recommend import validation

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# The sampled negatives are drawn once, with this seed, for every model and training seed alike.
EVAL_SEED = 12345
COLUMNS = ("hr", "ndcg", "recall", "ndcg_full")
# Epochs per model in the page's back-to-back epoch timing (their median is reported).
TIMED_EPOCHS = 3
APART = ("recall_touched", "recall_new")


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


def prepare(settings: Settings) -> tuple[OfferData, np.ndarray, np.ndarray, tuple[OfferData, Holdout]]:
    """Simulate (unless done), ingest and validate to the last day; the training data at the split, the hold-out,
    and the validation split (behaviours at split - holdout_days, next adoptions up to the split)."""
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
        val = validation(con, settings, split)
    if val is None:
        raise ValueError(f"no adoptions in the {settings.offers.holdout_days} days before the split {split} to validate on")
    return data, users, items, val


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


def metrics(scores: np.ndarray, items: np.ndarray, seen: list[np.ndarray], cfg: OfferConfig,
            touched: np.ndarray) -> dict[str, float]:
    """Sampled HR/NDCG and full-catalogue Recall/NDCG at cfg.top_k; the full Recall also apart for the positives
    the customer had touched (enquiry, quote or trial on that offer by the split) and for the others."""
    sampled = sampled_metrics(scores, items, seen, cfg.eval_negatives, cfg.top_k, EVAL_SEED)
    full = full_metrics(scores, items, seen, cfg.top_k)
    apart = {}
    for column, rows in (("recall_touched", np.flatnonzero(touched)), ("recall_new", np.flatnonzero(~touched))):
        apart[column] = full_metrics(scores[rows], items[rows], [seen[r] for r in rows], cfg.top_k)["recall"] if len(rows) else float("nan")
    return {"hr": sampled["hr"], "ndcg": sampled["ndcg"], "recall": full["recall"], "ndcg_full": full["ndcg"], **apart}


def _cell(values: list[float]) -> str:
    """mean ± sample std over seeds, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def _epochs(runs: list[dict]) -> str:
    """Selected epochs over seeds and how many seeds stopped on a flat validation curve."""
    chosen = [r["epochs"] for r in runs if r["epochs"] is not None]
    if not chosen:
        return "–"
    return f"{np.mean(chosen):.1f} ({sum(bool(r['flattened']) for r in runs)}/{len(runs)} flat)"


def _versus(results: dict[str, list[dict]], lead: str, column: str) -> list[str]:
    """Rows: the lead model's mean minus each other model's, with two standard errors of that difference."""
    ours = np.array([r[column] for r in results[lead]])
    rows = []
    for name, runs in results.items():
        if name == lead:
            continue
        theirs = np.array([r[column] for r in runs])
        diff = ours.mean() - theirs.mean()
        if len(ours) < 2 and len(theirs) < 2:
            rows.append(f"{diff:+.4f} (one run each: no spread, no verdict)")
            continue
        se = np.sqrt(sum(v.var(ddof=1) / len(v) for v in (ours, theirs) if len(v) > 1))
        verdict = "yes" if diff > 2 * se else "below" if diff < -2 * se else "no"
        rows.append(f"{diff:+.4f} ± {2 * se:.4f} ({verdict})")
    return rows


def page(settings: Settings, data: OfferData, stage: np.ndarray, results: dict[str, list[dict]], oracle: dict[str, float],
         command: str, cfg: OfferConfig, seeds: int, val: tuple[OfferData, Holdout], pending: Sequence[str] = (),
         timing: dict[str, float] | None = None) -> str:
    """The results page: table, comparison with CIGF, validation curves, population, settings, command, machine, date."""
    inter = data.interactions
    n_test = len(stage)
    counts = ", ".join(f"{b} {len(inter.users[k]):,}" for k, b in enumerate(inter.behaviours))
    negatives = min(cfg.eval_negatives, inter.n_items - 1)
    k = cfg.top_k
    lines = [
        "# Next best offer: offer models on the simulated service funnel, next to the oracle",
        "",
        f"Written by `{command}` on {machine.now()}; {machine.describe()}."
        + (f" Models still to run when this was written: {', '.join(pending)}." if pending else ""),
        "",
        f"World: `{settings.simulate.scale}` scale, seed {settings.simulate.seed}, {settings.simulate.start} .. {settings.simulate.end}. "
        f"Split at {data.as_of}: {inter.n_users:,} customers, {inter.n_items} offers, training pairs per behaviour: {counts}. "
        f"Test: {n_test:,} customers with a next adoption in the following {settings.offers.holdout_days} days.",
        "",
        f"HR@{k} / NDCG@{k}: the positive against {negatives} sampled negatives"
        + (f" ({cfg.eval_negatives} asked; a catalogue of {inter.n_items} offers has fewer, so every offer the customer has not "
           "adopted is a candidate and the sampled figures equal the full-ranking ones)" if negatives < cfg.eval_negatives else "")
        + f", never a training adoption, drawn once with seed {EVAL_SEED} for every model. "
        f"Recall@{k} / NDCG@{k} (full): over the whole catalogue minus the customer's training adoptions. "
        f"{seeds} training seeds, mean ± sample std; s/epoch is the mean wall time of one epoch of the final fit as each run recorded it (runs recorded at different times and loads; the same-run comparison is further down).",
        "",
        f"Training, the same budget for every model: each seed first trains on the behaviours known at {val[0].as_of} "
        f"(the split minus {settings.offers.holdout_days} days) and is scored after every epoch on full-catalogue NDCG@{k} of "
        f"{len(val[1].users):,} customers' next adoptions up to the split; it stops once {cfg.patience} epochs bring no better "
        f"score (at most {cfg.epochs}), and the model trained on the split's behaviours then runs the best epoch count "
        "(*epochs*: its mean over seeds; *flat*: seeds whose validation curve flattened before the epoch limit). "
        f"{cfg.batch_users} users per batch, {cfg.samples_per_user} positive/negative pairs per user and behaviour, "
        f"up to {cfg.train_users:,} users per epoch; CIGF family: d = {cfg.dim}, {cfg.layers} layers, lr {cfg.lr} (x{cfg.lr_decay} every {cfg.decay_steps} steps), "
        f"L2 {cfg.reg} on the full tables, score x{cfg.mult}; MF-BPR and LightGCN: lr {cfg.baseline_lr}, L2 {cfg.baseline_reg}, "
        + (f"{cfg.baseline_train_users:,} users per epoch." if cfg.baseline_train_users else
           "every user in every epoch (their steps are cheap; MF-BPR would leave a skipped user's embedding random)."),
        "",
        f"| model | HR@{k} | NDCG@{k} | Recall@{k} (full) | NDCG@{k} (full) | epochs | s/epoch | seeds |",
        "|---|---|---|---|---|---|---|---|",
        f"| oracle (truth) | {oracle['hr']:.4f} | {oracle['ndcg']:.4f} | {oracle['recall']:.4f} | {oracle['ndcg_full']:.4f} | – | – | – |",
    ]
    for name, runs in results.items():
        cells = " | ".join(_cell([r[c] for r in runs]) for c in COLUMNS)
        per_epoch = np.mean([r["seconds_per_epoch"] for r in runs]) if runs[0]["seconds_per_epoch"] is not None else None
        lines.append(f"| {name} | {cells} | {_epochs(runs)} | {'–' if per_epoch is None else f'{per_epoch:.2f}'} | {len(runs)} |")
    lead = "cigf"
    if lead in results and len(results) > 1:
        others = [n for n in results if n != lead]
        lines += ["", "## CIGF against each model", "",
                  f"Difference of means (CIGF minus the model) ± two standard errors of the difference (seeds); *yes* when CIGF "
                  "is above by more than two standard errors, *below* when it is below by more, *no* otherwise.", "",
                  f"| model | HR@{k} | NDCG@{k} |", "|---|---|---|"]
        hr, ndcg = _versus(results, lead, "hr"), _versus(results, lead, "ndcg")
        lines += [f"| {name} | {a} | {b} |" for name, a, b in zip(others, hr, ndcg)]
    shares = ", ".join(f"{b} {np.mean(stage == s + 1):.1%}" for s, b in enumerate(inter.behaviours[:-1]))
    lines += ["", "## Offers the customer had touched, and the others", "",
              f"By the split, {np.mean(stage > 0):.1%} of the {n_test:,} test positives were offers the customer had already "
              f"touched (furthest behaviour on that offer: {shares}); {np.mean(stage == 0):.1%} were offers it had never "
              f"touched. Recall@{k} (full) apart for each (mean over seeds):", "",
              "| model | touched | never touched |", "|---|---|---|",
              f"| oracle (truth) | {oracle['recall_touched']:.4f} | {oracle['recall_new']:.4f} |"]
    lines += [f"| {name} | " + " | ".join(f"{np.mean([r[c] for r in runs]):.4f}" for c in APART) + " |"
              for name, runs in results.items()]
    unseeded = sum("init" not in r for runs in results.values() for r in runs if r["epochs"] is not None)
    if unseeded:
        lines += ["", f"{unseeded} of the trained runs above were recorded before the model that picks the epoch count was "
                  "initialised from the run's seed (its first weights came from whatever earlier work in the process had left "
                  "in torch's generator): each is still one draw of the training randomness, but rerunning its seed may choose "
                  "another epoch count. The final fit was seeded in every run."]
    lines += timing_section(timing or {}, cfg.threads or 1)
    lines += ["", "## Validation curves (seed 0, NDCG@10 per epoch)", ""]
    lines += [f"- {name}: {' '.join(f'{v:.4f}' for v in runs[0]['curve'])}" for name, runs in results.items() if runs[0]["curve"]]
    return "\n".join(lines) + "\n"


def epoch_seconds(names: Sequence[str], inter: Interactions, cfg: OfferConfig) -> dict[str, float]:
    """Median wall time of one training epoch of each trained model, measured back to back in this process."""
    seconds = {}
    for name in names:
        if name in UNTRAINED:
            continue
        history = fit(build_offer_model(name, inter, cfg, seed=0), inter, cfg.model_copy(update={"epochs": TIMED_EPOCHS}), seed=0)
        seconds[name] = float(np.median([h["seconds"] for h in history]))
    return seconds


def timing_section(seconds: dict[str, float], threads: int) -> list[str]:
    """The page's epoch-time table: one run, so the ratios hold whatever else the machine was doing."""
    if not seconds:
        return []
    lead = seconds.get("cigf")
    lines = ["", "## Fit time per epoch, measured in this run", "",
             f"Each trained model's median epoch over {TIMED_EPOCHS} epochs on the split's behaviours, back to back in the process that "
             f"wrote this page ({threads} torch thread(s)); the ratio is to CIGF's epoch in the same run.", "",
             "| model | s/epoch | / CIGF |", "|---|---|---|"]
    lines += [f"| {name} | {s:.2f} | {'–' if not lead else f'{s / lead:.2f}'} |" for name, s in seconds.items()]
    return lines


def bench_config(settings: Settings, overrides: dict | None) -> OfferConfig:
    """The offer settings of a benchmark run: the configured ones with the command's overrides."""
    # A benchmark trains to its epoch limit or patience: the daily stage's wall-clock budget would cut long runs.
    return settings.offers.model_copy(update={"max_train_seconds": None,
                                              **{k: v for k, v in (overrides or {}).items() if v is not None}})


def run_key(settings: Settings, cfg: OfferConfig) -> str:
    """The settings a run's result depends on (the world, the training and evaluation settings), hashed."""
    serving = {"model", "must_beat", "seed", "recommend_top", "score_decimals"}
    # The daily stage's budget came after the first records; unset, as the benchmark leaves it, it keeps their keys.
    late = {"max_train_seconds"} if cfg.max_train_seconds is None else set()
    # So did the subgraph steps; a world with no more customers than subgraph_above never takes one.
    customers = settings.simulate.sizes[settings.simulate.scale].customers
    if cfg.subgraph_above is not None and customers <= cfg.subgraph_above:
        late |= {"subgraph_above", "subgraph_users", "subgraph_train_users"}
    return settings_key(settings.simulate.model_dump_json() + cfg.model_dump_json(exclude=serving | late) + str(EVAL_SEED)
                        + ",".join(APART))


def one_run(name: str, seed: int, data: OfferData, users: np.ndarray, items: np.ndarray, seen: list[np.ndarray],
            touched: np.ndarray, val: tuple[OfferData, Holdout], cfg: OfferConfig) -> dict:
    """Choose the epoch count on the validation split, fit on the split's behaviours, score the test customers."""
    began = time.perf_counter()
    epochs, curve = select_epochs(name, val[0].interactions, val[1], cfg, seed)
    inter = data.interactions
    model = build_offer_model(name, inter, cfg, seed)
    history = fit(model, inter, cfg.model_copy(update={"epochs": epochs}), seed)
    scores = score_items(model, users, inter.n_items, inter.target)
    return {**metrics(scores, items, seen, cfg, touched),
            "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None,
            "seconds": time.perf_counter() - began, "epochs": epochs if curve else None,
            "flattened": flattened(curve, cfg) if curve else None,
            "curve": [round(h["val"], 4) for h in curve], "init": "seed"}


def run(scale: str, models: str, seeds: int, overrides: dict | None = None, command: str = "", resume: bool = False,
        max_minutes: float | None = None, page_name: str = "offers.md") -> Path:
    """Fit every named model for each seed, score the test customers, and write the results page.

    With `resume`, (model, seed) runs recorded under the same settings are reused, not rerun. With `max_minutes`,
    no new run starts after that much wall time (0: the page from the recorded runs alone); models short of
    their seeds are named on the page. `page_name` (a file name under benchmarks/results/) keeps a run under
    other settings from overwriting the main page; its runs file sits beside it."""
    page_path = page_under(RESULTS, page_name)
    runs_path = page_path.with_suffix(".runs.jsonl")
    deadline = None if max_minutes is None else time.perf_counter() + 60.0 * max_minutes
    settings = bench_settings(scale)
    names: Sequence[str] = list(OFFER_MODELS) if models == "all" else [m.strip() for m in models.split(",")]
    unknown = [m for m in names if m not in OFFER_MODELS]
    if unknown:
        raise ValueError(f"unknown offer model(s) {', '.join(unknown)}; choose from {', '.join(OFFER_MODELS)}")
    cfg = bench_config(settings, overrides)
    torch.set_num_threads(cfg.threads or 1)
    torch.use_deterministic_algorithms(True)
    data, users, items, (val_data, val_hold) = prepare(settings)
    inter = data.interactions
    seen = holdout(inter, users, items).seen
    stage = funnel_stage(inter, users, items)
    oracle = metrics(oracle_scores(settings, data, users), items, seen, cfg, stage > 0)
    key = run_key(settings, cfg)
    done = {(r["model"], r["seed"]): r for r in read_records(runs_path, key)} if resume else {}
    if not resume:
        runs_path.unlink(missing_ok=True)
    results: dict[str, list[dict]] = {}
    short: list[str] = []
    for name in names:
        wanted = 1 if name in UNTRAINED else seeds
        for seed in range(wanted):
            record = done.get((name, seed))
            if record is None and (deadline is None or time.perf_counter() < deadline):
                record = one_run(name, seed, data, users, items, seen, stage > 0, (val_data, val_hold), cfg)
                append_record(runs_path, {"settings": key, "model": name, "seed": seed, **record})
            if record is None:
                continue
            results.setdefault(name, []).append(record)
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {record[k]}" for k in (*COLUMNS, "epochs", "seconds")), flush=True)
        if len(results.get(name, [])) < wanted:
            short.append(f"{name} ({len(results.get(name, []))} of {wanted} seeds)")
        page_path.parent.mkdir(parents=True, exist_ok=True)
        pending = short + names[names.index(name) + 1:]
        page_path.write_text(page(settings, data, stage, results, oracle, command, cfg, seeds, (val_data, val_hold), pending),
                        encoding="utf-8")
    timing = epoch_seconds([n for n in names if n in results], inter, cfg)
    page_path.write_text(page(settings, data, stage, results, oracle, command, cfg, seeds, (val_data, val_hold), short, timing),
                    encoding="utf-8")
    return page_path
