"""DBLP benchmark runner: every model over several seeds, test micro/macro-F1 (x100) next to the paper's numbers.

`leadgraph bench dblp --models all --seeds 5` writes benchmarks/results/dblp.md. A row is a model under a recipe
(`model@recipe`; a bare name is the product recipe). The product recipe (`dblp_config`, `LOSS_WEIGHTS`) is what
every baseline runs with: lr 1e-2 with weight decay and validation-based early stopping on F1, chosen on
StrucHIS's validation score (seed 0) among lr 2e-3 / 5e-3 / 1e-2, weight decay 0 / 5e-4 / 1e-2, dropout
0.3 / 0.5 / 0.6, hidden 64 / 128, task weights 1:1 / 0.2:0.8, faithful against product mode. The reference
recipe is the StrucHIS code's (MODELS.md §1.8) at lr 1e-3 instead of 5e-5, whose 2000 epochs would not end:
faithful mode, loss weights 0.005 : 0.995, no weight decay, a checkpoint kept only when every task's validation
BCE improves or ties, patience 40 evaluations of every 10 epochs, no time limit, dropout masks per role. Each
`reference-no-<factor>` recipe puts one factor back to the product recipe's, so the page shows what it is worth;
`reference-full` is the reference at its own lr 5e-5. The strongest baseline, `shared-hgb`, and the single-task
baseline the paper's claim is made against, `stl-hgb`, also run under `reference` and `reference-no-selection`
(faithful mode is the reference code's Simple-HGN loss; it draws no dropout masks per role, so these two stand for
StrucHIS's four rows with and without masks), so they get the same choice. PLE and MMoE run under
`reference-no-selection` too, the reference recipe that scored higher on validation for each of the three models
that ran both. `shared-hgt@long` and `stl-hgt@long`, the product recipe with a 400-epoch limit, train the HGT
baselines whose product runs the 150-epoch limit cut until patience ends them. Which recipe of a model the page
puts forward is decided on validation scores alone (`recipe_choice_lines`); StrucHIS is compared with every model
under the same recipe (`same_recipe_lines`) and with the other chosen rows, paired by seed. The page also names
the rows whose runs the epoch limit cut (`epoch_limit_lines`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from benchmarks import machine
from benchmarks.records import append_record, read_all, settings_key as hash_settings
from leadgraph.config import TrainConfig
from leadgraph.errors import UsageError
from models.problem import Problem
from models.registry import MODEL_NAMES
from models.training import fit, selection_score
from datasets.dblp import dblp_tasks, load_dblp_problem

# Headline models first, so a partial report already holds the comparison that matters; LightGBM
# (a 20-class booster on 4,231 bag-of-words columns) is the slowest and goes last.
# The dual-branch family comes after the StrucHIS comparison, its cheap GCN-only ablation first, so that a run
# capped by --max-minutes on a busy machine still records some of its rows.
BENCH_ORDER = ("struchis@reference", "struchis", "stl-hgb", "shared-hgb", "ple", "mmoe", "stl-hgt", "shared-hgt",
               "struchis-no-relation", "struchis-output-only", "dual-branch-gcn", "dual-branch", "dual-branch-hgt",
               "dual-branch-concat", "dual-branch-one-way", "dual-branch-no-pretrain",
               *(f"struchis@reference-no-{factor}" for factor in ("faithful", "weights", "selection", "masks", "budget")),
               "struchis@reference-no-masks-no-selection", "struchis@reference-full",
               "shared-hgb@reference", "shared-hgb@reference-no-selection",
               "stl-hgb@reference", "stl-hgb@reference-no-selection", "ple@reference-no-selection",
               "mmoe@reference-no-selection", "shared-hgt@long", "stl-hgt@long",
               *(f"{model}@tuned" for model in ("struchis", "shared-hgb", "stl-hgb", "ple", "mmoe", "shared-hgt")),
               "lightgbm")
DUAL_PREFIX = "dual-branch"
RESULTS = Path(__file__).resolve().parent / "results" / "dblp.md"
# One JSON line per finished (model, seed) run beside the report, so `--resume` can finish a long benchmark
# over several invocations without rerunning what is done.
RUNS_SUFFIX = ".runs.jsonl"
COLUMNS = [("author_area", "micro_f1"), ("author_area", "macro_f1"), ("paper_venue", "micro_f1"), ("paper_venue", "macro_f1")]
# The StrucHIS slides' DBLP table as reconstructed in MODELS.md §3.7 (None: not legible there;
# a "~" marks a value whose micro/macro column or row assignment is uncertain).
PAPER: dict[str, tuple[str, str, str, str]] = {
    "stl-hgt": ("~82.67", "-", "35.39", "18.63"),
    "stl-hgb": ("~85.51", "-", "37.39", "19.10"),
    "shared-hgt": ("-", "83.59", "32.90", "12.86"),
    "shared-hgb": ("~91.0", "90.34", "36.34", "14.21"),
    "mmoe": ("~91.0", "90.29", "35.18", "13.12"),
    "ple": ("~91.0", "90.38", "35.59", "14.23"),
    "struchis": ("91.43", "90.56", "38.25", "20.92"),
    "struchis-no-relation": ("91.25", "-", "36.21", "-"),
    "struchis-output-only": ("91.11", "-", "35.76", "-"),
}


# Like the reference (0.005 : 0.995), the venue task gets most of the weight; it also weighs the model selection.
LOSS_WEIGHTS = {"author_area": 0.2, "paper_venue": 0.8}
REFERENCE_WEIGHTS = {"author_area": 0.005, "paper_venue": 0.995}
PRODUCT = "product"


def dblp_config(seed: int) -> TrainConfig:
    """The shared optimisation settings of the benchmark (the product recipe)."""
    return TrainConfig(
        hidden=64,
        layers=3,
        dropout=0.5,
        attn_dropout=0.5,
        lr=1e-2,
        weight_decay=5e-4,
        max_epochs=150,
        eval_every=5,
        patience=8,
        seed=seed,
        # Mini-batch settings, never read on DBLP's full batch, at the values the recorded runs' keys hold.
        fanouts=(10, 5, 5, 3),
        max_seeds_per_epoch=100_000,
    )


@dataclass(frozen=True)
class Recipe:
    """Settings that differ from the product recipe's, and the task loss weights."""

    overrides: dict
    loss_weights: dict[str, float]


# `model@tuned`: the product recipe with a longer epoch limit, and the settings the model chose in its tuning
# (benchmarks/dblp_tuning.py), the same candidates for every model.
TUNED = "tuned"
TUNING_BASE = {"max_epochs": 400}
TUNING_RUNS = RESULTS.with_name("dblp_tuning.runs.jsonl")
TUNING_PAGE = RESULTS.with_name("dblp_tuning.md")
LONG = "long"


# Each factor of the reference recipe with its product-recipe value: the settings it consists of.
FACTORS: dict[str, dict] = {
    "faithful": {"struchis_mode": "product"},
    "selection": {"selection": "score"},
    "masks": {"dropout_masks": "per_node_type"},
    "budget": {"lr": 1e-2, "weight_decay": 5e-4, "max_epochs": 150, "eval_every": 5, "patience": 8,
               "max_train_seconds": 3600.0},
}
REFERENCE = {"struchis_mode": "faithful", "selection": "joint_loss", "dropout_masks": "per_role",
             "lr": 1e-3, "weight_decay": 0.0, "max_epochs": 2000, "eval_every": 10, "patience": 40,
             "max_train_seconds": None}
RECIPES: dict[str, Recipe] = {
    PRODUCT: Recipe({}, LOSS_WEIGHTS),
    "reference": Recipe(REFERENCE, REFERENCE_WEIGHTS),
    "reference-no-weights": Recipe(REFERENCE, LOSS_WEIGHTS),
    **{f"reference-no-{name}": Recipe({**REFERENCE, **change}, REFERENCE_WEIGHTS) for name, change in FACTORS.items()},
    # The two factors whose product-recipe values each helped one task, together; whether it is kept is decided
    # on validation scores (`recipe_choice_lines`), not on the test columns that suggested it.
    "reference-no-masks-no-selection": Recipe({**REFERENCE, **FACTORS["masks"], **FACTORS["selection"]},
                                              REFERENCE_WEIGHTS),
    # The reference code's own learning rate, at which a run may take all 2000 epochs.
    "reference-full": Recipe({**REFERENCE, "lr": 5e-5}, REFERENCE_WEIGHTS),
    TUNED: Recipe(TUNING_BASE, LOSS_WEIGHTS),
    # The product recipe with the tuning's epoch limit, for rows the 150-epoch limit ends with patience left: its
    # first 150 epochs are the product run's (no schedule reads the limit), so it only lets the curve flatten.
    LONG: Recipe(TUNING_BASE, LOSS_WEIGHTS),
}


def tuning_key(model: str, overrides: dict) -> str:
    """The settings key of one tuning run: the model's product-recipe key under the candidate's settings."""
    cfg = dblp_config(0).model_copy(update={**TUNING_BASE, **overrides})
    return hash_settings(model + cfg.model_dump_json(exclude=KEY_EXCLUDES | set(LATE_SETTINGS))
                         + json.dumps(LOSS_WEIGHTS, sort_keys=True))


def tuning_runs(model: str, records: list[dict] | None = None) -> dict[int, dict]:
    """The model's recorded tuning runs under the current settings (of `records`, else of the file), by candidate."""
    return {r["candidate"]: r for r in (read_all(TUNING_RUNS) if records is None else records)
            if r["model"] == model and r["settings"] == tuning_key(model, r["overrides"])}


def chosen_overrides(model: str) -> dict | None:
    """The candidate settings `model` chose on validation; None while it has tried fewer candidates than the most
    any model tried."""
    records = read_all(TUNING_RUNS)
    count = max((r["candidate"] for r in records), default=-1) + 1
    mine = tuning_runs(model, records)
    if count == 0 or len(mine) < count:
        return None
    return mine[best_candidate({i: r["val_score"] for i, r in mine.items()})]["overrides"]


def not_run_reason(row: str) -> str:
    """Why a row holds no runs: its tuning is unfinished, or the time budget was spent before it."""
    model, recipe = parse_row(row)
    if recipe == TUNED and chosen_overrides(model) is None:
        return f"not run: its tuning is unfinished (`{TUNING_PAGE.name}`)"
    return "not run: the time budget (--max-minutes) was spent"


def best_candidate(scores: dict[int, float]) -> int:
    """The candidate with the best validation score, the earliest on a tie."""
    return max(sorted(scores), key=lambda i: scores[i])


def parse_row(row: str) -> tuple[str, str]:
    """(model, recipe) of a row name `model` or `model@recipe`."""
    model, _, recipe = row.partition("@")
    return model, recipe or PRODUCT


def row_config(row: str, seed: int) -> TrainConfig:
    """The training settings of one row and seed."""
    model, recipe = parse_row(row)
    overrides = RECIPES[recipe].overrides
    if recipe == TUNED:
        chosen = chosen_overrides(model)
        if chosen is None:
            raise UsageError(f"{row}: its tuning is unfinished ({TUNING_RUNS.name}); "
                             f"run `leadgraph bench dblp-tune --models {model} --resume` first")
        overrides = {**overrides, **chosen}
    return dblp_config(seed).model_copy(update=overrides)


# Left out of the settings key: the seed (per run), the dual-branch section (added for those models only),
# daily-product settings added after the first records (refit, single_task_model) that no DBLP run reads, and
# how many anchors the descriptive train-split metrics score (no test figure depends on it), and whether the
# logistics snapshots are spilled (DBLP has none).
KEY_EXCLUDES = {"seed", "dual", "refit", "single_task_model", "train_metrics_anchors", "spill_snapshots"}
# Settings added after the first records: in the key only when a recipe changes them, so older records stay valid.
LATE_SETTINGS = ("selection", "dropout_masks", "device")
# The same for the dual-branch section: the stage shares of the time budget never bind on DBLP's short runs.
LATE_DUAL_SETTINGS = ("fine_tune_budget_share",)


def _at_default(section: BaseModel, names: tuple[str, ...]) -> set[str]:
    """The settings among `names` that `section` holds at their default."""
    return {name for name in names if getattr(section, name) == type(section).model_fields[name].default}


def settings_key(row: str = "") -> str:
    """A short hash of the benchmark's settings for a row (seed aside): runs recorded under other settings are
    never reused. The dual-branch section counts for the dual-branch models only, so the other models' keys
    stay those of the runs recorded before it existed."""
    model, recipe = parse_row(row)
    cfg = row_config(row, 0)
    late = _at_default(cfg, LATE_SETTINGS)
    text = cfg.model_dump_json(exclude=KEY_EXCLUDES | late) + json.dumps(RECIPES[recipe].loss_weights, sort_keys=True)
    if model.startswith(DUAL_PREFIX):
        text += cfg.dual.model_dump_json(exclude=_at_default(cfg.dual, LATE_DUAL_SETTINGS))
    return hash_settings(text)


def load_runs(path: Path) -> dict[tuple[str, int], dict]:
    """Recorded runs under the current settings, by (row, seed); empty when the file is absent."""
    rows = {f"{m}@{r}" for m in MODEL_NAMES for r in RECIPES if r != TUNED}
    rows |= set(MODEL_NAMES) | {f"{m}@{TUNED}" for m in MODEL_NAMES if chosen_overrides(m) is not None}
    keys = {row: settings_key(row) for row in rows}
    return {(r["model"], r["seed"]): r for r in read_all(path) if keys.get(r["model"]) == r["settings"]}


def _mean_epoch(epochs: list[int]) -> str:
    """The mean best epoch, blank for a model without epochs (LightGBM reports -1)."""
    return f"{np.mean(epochs):.0f}" if min(epochs) >= 0 else ""


@dataclass
class ModelRuns:
    """Test metrics of one model over seeds."""

    name: str
    scores: list[list[float]] = field(default_factory=list)  # per seed, the four COLUMNS x100
    best_epochs: list[int] = field(default_factory=list)
    epochs_run: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    error: str | None = None
    val_scores: list[list[float] | None] = field(default_factory=list)  # per seed; None in records made before them
    first_seed: int = 0  # the seed of the lists' first entries


@dataclass
class DblpBench:
    """All runs of one invocation."""

    command: str
    seeds: int
    runs: list[ModelRuns]
    started: datetime
    wall_seconds: float
    threads: int
    planned: list[str] = field(default_factory=list)
    reused: int = 0  # runs taken from earlier invocations (--resume)

    def render(self) -> str:
        """The Markdown report."""
        cfg = dblp_config(0)
        lines = [
            "# DBLP benchmark (StrucHIS protocol)",
            "",
            f"- Command: `{self.command}`",
            f"- Machine: {machine.describe()}.",
            f"- Date: {self.started:%Y-%m-%d %H:%M} UTC; wall time so far {self.wall_seconds / 60:.1f} min; "
            f"models done {len(self.runs)} of {len(self.planned)}"
            + ("" if len(self.runs) == len(self.planned) else f" (still to run: {', '.join(self.planned[len(self.runs):])})")
            + "."
            + (f" {self.reused} runs were recorded by earlier invocations under the same settings "
               f"(`{RESULTS.stem + RUNS_SUFFIX}`); the wall time counts this invocation only." if self.reused else ""),
            f"- Seeds: {self.seeds} (seed s sets torch.manual_seed(s) for run s). Values: test-set F1 x100 at the best "
            "validation evaluation, mean ± population std over seeds (a row run on one seed shows no spread).",
            f"- Settings (all graph models, the product recipe): hidden {cfg.hidden}, {cfg.layers} layers, dropout "
            f"{cfg.dropout}, attention dropout {cfg.attn_dropout}, AdamW lr {cfg.lr}, weight decay {cfg.weight_decay}, "
            f"at most {cfg.max_epochs} epochs, validation every {cfg.eval_every} epochs, patience {cfg.patience} "
            "evaluations; full batch; StrucHIS in product mode (cross-entropy on raw logits, no L2 normalisation), "
            "one dropout mask per node type and layer. Task loss weights "
            f"{LOSS_WEIGHTS['author_area']} : {LOSS_WEIGHTS['paper_venue']}. Model selection: the validation score is "
            "the loss-weighted mean over both tasks of (micro-F1 + macro-F1) / 2.",
            *recipe_lines(self.planned),
            "",
            "| model | T1 micro | T1 macro | T2 micro | T2 macro | best epoch | s / run | paper T1 micro | paper T1 macro | paper T2 micro | paper T2 macro |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.runs:
            paper = PAPER.get(parse_row(r.name)[0], ("-",) * 4)
            if r.error or not r.scores:
                why = f"failed: {r.error}" if r.error else not_run_reason(r.name)
                lines.append(f"| {r.name} | {why} | | | | | | {' | '.join(paper)} |")
                continue
            arr = np.array(r.scores)
            cells = [f"{m:.2f}" + (f" ± {s:.2f}" if len(arr) > 1 else "") for m, s in zip(arr.mean(0), arr.std(0))]
            name = r.name if len(r.scores) == self.seeds else f"{r.name} ({len(r.scores)} of {self.seeds} seeds)"
            lines.append(
                f"| {name} | {' | '.join(cells)} | {_mean_epoch(r.best_epochs)} | {np.mean(r.seconds):.0f} | {' | '.join(paper)} |"
            )
        lines += [
            "",
            "Paper columns: the StrucHIS slides' DBLP table as reconstructed in shared/design/MODELS.md §3.7; a `~` marks "
            "a value whose column or row assignment is uncertain there, `-` a cell not legible; the ablation rows come "
            "from the slides' ablation table (read as micro-F1). The lightgbm row uses each task's own node features only "
            "(no graph). The s / run column is a row's mean over its recorded runs, which may come from other "
            "invocations, machines and thread counts: it is not a speed comparison (`step_time.md` is one).",
            "",
            *epoch_limit_lines(self.runs),
            *dual_branch_note(self.runs),
            *factor_lines(self.runs),
            *(line for model in dict.fromkeys(parse_row(r.name)[0] for r in self.runs)
              for line in recipe_choice_lines(self.runs, model)),
            *same_recipe_lines(self.runs),
            *chosen_rows_lines(self.runs),
            "Per-seed test scores (T1 micro, T1 macro, T2 micro, T2 macro; best epoch; epochs run):",
            "",
        ]
        for r in self.runs:
            for seed, (score, best, ran) in enumerate(zip(r.scores, r.best_epochs, r.epochs_run), start=r.first_seed):
                lines.append(f"- {r.name} seed {seed}: {', '.join(f'{v:.2f}' for v in score)}"
                             + (f"; best {best}; ran {ran}" if best >= 0 else ""))
        return "\n".join(lines) + "\n"


def stopped_by_limit(cfg: TrainConfig, best_epoch: int, ran: int) -> bool:
    """Whether a run trained its recipe's whole epoch limit with its patience not yet run out.

    A staged model's best epoch counts within its last stage while `ran` counts every stage, so its wait looks
    longer than it was and a capped staged run may go unflagged."""
    return best_epoch >= 0 and ran >= cfg.max_epochs and ran - 1 - best_epoch < cfg.patience * cfg.eval_every


def epoch_limit_lines(runs: list[ModelRuns]) -> list[str]:
    """The rows with runs that the epoch limit ended while the validation score was still improving."""
    cut = {}
    for r in runs:
        if r.scores and not r.error:
            cfg = row_config(r.name, 0)
            cut[r.name] = (sum(stopped_by_limit(cfg, b, n) for b, n in zip(r.best_epochs, r.epochs_run)), len(r.scores))
    named = [f"{name} {k} of {n}" for name, (k, n) in cut.items() if k]
    if not named:
        return ["No run reached its recipe's epoch limit with patience left.", ""]
    return ["Runs that the epoch limit ended while their patience had not run out (the validation score had improved "
            "within the last `patience` evaluations, so the curve may not have flattened; such a row may be "
            "understated): " + ", ".join(named) + ".", ""]


def recipe_lines(rows: list[str]) -> list[str]:
    """One line per recipe other than the product's among `rows`: what it changes."""
    recipes = sorted({parse_row(row)[1] for row in rows} - {PRODUCT})
    lines = []
    for name in recipes:
        recipe = RECIPES[name]
        changes = [f"{key} {value}" for key, value in recipe.overrides.items()]
        if name == TUNED:
            changes.append(f"and the candidate settings each model chose on validation (`{TUNING_PAGE.name}`)")
        weights = " : ".join(f"{recipe.loss_weights[task]:g}" for task, _ in COLUMNS[::2])
        lines.append(f"- Recipe `{name}`: {', '.join(changes) or 'the product settings'}; task loss weights {weights}.")
    return lines


def factor_lines(runs: list[ModelRuns]) -> list[str]:
    """What each factor of the reference recipe is worth: the reference row minus each `reference-no-<factor>` row,
    seed by seed on the seeds both hold (mean difference, ± its standard error from two seeds on)."""
    by_name = {r.name: r for r in runs if r.scores and not r.error}
    reference = by_name.get("struchis@reference")
    if reference is None:
        return []
    lines = []
    for name in sorted(by_name):
        if not (name.startswith("struchis@reference-no-") or name == "struchis@reference-full"):
            continue
        seeds, cells = paired_cells(reference, by_name[name])
        factor = "lr 1e-3 (against `full`'s 5e-5)" if name.endswith("-full") else name.removeprefix("struchis@reference-no-")
        if seeds:
            lines.append(f"| {factor} | {seeds} | {' | '.join(cells)} |")
    if not lines:
        return []
    return ["What each factor of the reference recipe is worth (test F1 x100 of `struchis@reference` minus the row "
            "with that factor put back to the product recipe's, or for the learning rate to the reference code's, "
            "paired by seed; ± the standard error of the mean difference from two seeds on, none with one seed):", "",
            "| factor | seeds | T1 micro | T1 macro | T2 micro | T2 macro |", "|---|---|---|---|---|---|", *lines, ""]


def validation_score(scores: list[float]) -> float:
    """The benchmark's selection score (`selection_score`) of four F1 columns x100, under the product recipe's task
    loss weights."""
    metrics: dict[str, dict[str, float]] = {}
    for (task, metric), value in zip(COLUMNS, scores):
        metrics.setdefault(task, {})[metric] = value
    return selection_score(metrics, dblp_tasks(LOSS_WEIGHTS))


def recipe_choice(runs: list[ModelRuns], model: str
                  ) -> tuple[str, list[int], dict[str, np.ndarray], dict[str, list[float]]] | None:
    """`model`'s recipe chosen on validation alone: (chosen row, the seeds every candidate recorded validation
    scores for, each candidate's validation F1 columns on those seeds, one row per seed, and its validation score
    on each of them); None with fewer than two candidates or no such seed."""
    candidates = {r.name: r for r in runs if parse_row(r.name)[0] == model and parse_row(r.name)[1] != TUNED
                  and not r.error and any(v is not None for v in r.val_scores)}
    val = {name: {s: v for s, v in enumerate(r.val_scores, start=r.first_seed) if v is not None}
           for name, r in candidates.items()}
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in val.values()))) if val else []
    if len(candidates) < 2 or not seeds:
        return None
    columns = {name: np.array([val[name][s] for s in seeds]) for name in candidates}
    per_seed = {name: [validation_score(v) for v in values] for name, values in columns.items()}
    chosen = max(sorted(per_seed), key=lambda name: np.mean(per_seed[name]))
    return chosen, seeds, columns, per_seed


def recipe_choice_lines(runs: list[ModelRuns], model: str) -> list[str]:
    """The section on `model`'s recipe choice: every candidate's mean validation score and validation F1, and the
    chosen row's test figures over all its seeds."""
    choice = recipe_choice(runs, model)
    if choice is None:
        return []
    chosen, seeds, columns, per_seed = choice
    val = {name: values.mean(0) for name, values in columns.items()}
    score = {name: float(np.mean(values)) for name, values in per_seed.items()}
    spread = {name: f" ± {np.std(values, ddof=1):.2f}" if len(seeds) > 1 else "" for name, values in per_seed.items()}
    test = np.array(next(r.scores for r in runs if r.name == chosen))
    lines = [f"| {name}{' (chosen)' if name == chosen else ''} | {score[name]:.2f}{spread[name]} | "
             + " | ".join(f"{v:.2f}" for v in val[name]) + " |"
             for name in sorted(per_seed, key=lambda name: -score[name])]
    paper = f" (the paper: {', '.join(PAPER[model])})" if model in PAPER else ""
    return [f"{model}'s recipe chosen on validation alone: each recipe's validation scores (F1 x100 at its kept "
            f"checkpoint) on seed(s) {', '.join(map(str, seeds))}, the seeds for which every recipe has them; the "
            "score is the benchmark's selection score under the product recipe's task weights "
            f"{LOSS_WEIGHTS['author_area']} : {LOSS_WEIGHTS['paper_venue']}. The candidates are {model}'s rows with "
            "recorded validation scores (runs recorded before they were kept have none). "
            + ("With one seed the scores have no spread, so a lead smaller than a seed's variation is chance."
               if len(seeds) == 1 else "± the sample standard deviation over those seeds."), "",
            "| row | validation score | T1 micro | T1 macro | T2 micro | T2 macro |", "|---|---|---|---|---|---|",
            *lines, "",
            f"The chosen row `{chosen}` on test over {len(test)} seeds: "
            + ", ".join(f"{label} {m:.2f} ± {sd:.2f}" for label, m, sd in
                        zip(("T1 micro", "T1 macro", "T2 micro", "T2 macro"), test.mean(0), test.std(0)))
            + f"{paper}.", ""]


def paired_cells(mine: ModelRuns, theirs: ModelRuns) -> tuple[int, list[str]]:
    """Seeds both rows hold, and per column the mean of `mine` minus `theirs` paired by seed, ± the standard error
    of the mean difference from two seeds on."""
    a = dict(enumerate(mine.scores, start=mine.first_seed))
    b = dict(enumerate(theirs.scores, start=theirs.first_seed))
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return 0, []
    diff = np.array([np.subtract(a[s], b[s]) for s in seeds])
    se = diff.std(0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else [None] * diff.shape[1]
    return len(seeds), [f"{d:+.2f}" + (f" ± {e:.2f}" if e is not None else "") for d, e in zip(diff.mean(0), se)]


def same_recipe_lines(runs: list[ModelRuns]) -> list[str]:
    """StrucHIS against every other model under the same recipe: the test difference paired by seed."""
    by_name = {r.name: r for r in runs if r.scores and not r.error}
    lines = []
    for name, r in by_name.items():
        model, recipe = parse_row(name)
        mine = by_name.get("struchis" if recipe == PRODUCT else f"struchis@{recipe}")
        if model == "struchis" or model.startswith("struchis-") or mine is None:
            continue
        seeds, cells = paired_cells(mine, r)
        if seeds:
            lines.append(f"| {name} | {recipe} | {seeds} | {' | '.join(cells)} |")
    if not lines:
        return []
    return ["StrucHIS against each other model under the same recipe (StrucHIS's row minus the model's, test F1 x100 "
            "paired by seed; ± the standard error of the mean difference, none with one seed):", "",
            "| row | recipe | seeds | T1 micro | T1 macro | T2 micro | T2 macro |", "|---|---|---|---|---|---|---|",
            *lines, ""]


def chosen_rows_lines(runs: list[ModelRuns]) -> list[str]:
    """StrucHIS's chosen row against every other model's chosen row, each model having had a recipe choice: the test
    difference paired by seed, ± the standard error of the mean difference."""
    chosen = {m: c[0] for m in sorted({parse_row(r.name)[0] for r in runs}) if (c := recipe_choice(runs, m)) is not None}
    if "struchis" not in chosen or len(chosen) < 2:
        return []
    by_name = {r.name: r for r in runs}
    lines = []
    for model, row in chosen.items():
        seeds, cells = paired_cells(by_name[chosen["struchis"]], by_name[row])
        if model != "struchis" and seeds:
            lines.append(f"| {row} | {seeds} | {' | '.join(cells)} |")
    if not lines:
        return []
    return [f"The chosen rows against each other (`{chosen['struchis']}` minus each other model's chosen row, test "
            "F1 x100 paired by seed; ± the standard error of the mean difference, none with one seed). Only models "
            "that ran under more than one recipe had a choice; the others run the product recipe alone:", "",
            "| other model's chosen row | seeds | T1 micro | T1 macro | T2 micro | T2 macro |",
            "|---|---|---|---|---|---|", *lines, ""]


def dual_branch_note(runs: list[ModelRuns]) -> list[str]:
    """Where the dual-branch model beats StrucHIS and where not: per column the difference of the means with its
    standard error (sample standard deviations over seeds; none with a single seed on either side)."""
    by_name = {r.name: np.array(r.scores) for r in runs if r.scores and not r.error}
    if "struchis" not in by_name or "dual-branch" not in by_name:
        return []
    mine, theirs = by_name["dual-branch"], by_name["struchis"]
    diff = mine.mean(0) - theirs.mean(0)
    se = (np.sqrt(mine.var(0, ddof=1) / len(mine) + theirs.var(0, ddof=1) / len(theirs))
          if len(mine) > 1 and len(theirs) > 1 else None)
    labels = ["T1 micro", "T1 macro", "T2 micro", "T2 macro"]
    cells = [f"{label} {d:+.2f}" + (f" ± {e:.2f}" if se is not None else "") for label, d, e in
             zip(labels, diff, se if se is not None else diff)]

    def verdict(d: float, e: float | None) -> str:
        if e is None:
            return "ahead" if d > 0 else "behind"
        return "ahead" if d > 2 * e else "behind" if d < -2 * e else "level"

    calls = {label: verdict(d, None if se is None else e) for label, d, e in
             zip(labels, diff, se if se is not None else diff)}
    groups = {v: [label for label, c in calls.items() if c == v] for v in ("ahead", "level", "behind")}
    rule = ("'ahead' and 'behind' mean beyond two standard errors" if se is not None
            else "with a single seed on one side there is no standard error, so these are unweighed signs")
    return [
        f"Dual-branch against StrucHIS ({len(mine)} against {len(theirs)} seeds; difference of the means"
        + (", ± its standard error" if se is not None else "") + "): " + ", ".join(cells) + ". "
        + "; ".join(f"{v} on {', '.join(g)}" for v, g in groups.items() if g) + f" ({rule}).",
        "",
    ]


def epochs_run(history: list[dict]) -> int:
    """Epochs a graph model trained, over all its training stages; 0 for LightGBM, whose history holds boosting
    rounds per task instead."""
    last = {h.get("stage", ""): h["epoch"] + 1 for h in history if "epoch" in h}
    return sum(last.values())


def with_loss_weights(problem: Problem, weights: dict[str, float]) -> Problem:
    """The same problem with other task loss weights."""
    return replace(problem, tasks=[replace(task, loss_weight=weights[task.name]) for task in problem.tasks])


def _fit_one(name: str, seed: int, problem: Problem) -> dict:
    """Train one row with one seed; its record (test and validation scores x100, epochs, seconds).

    The validation scores are those of the kept checkpoint, so a choice between recipes can be made on them alone.
    """
    model, recipe = parse_row(name)
    result = fit(with_loss_weights(problem, RECIPES[recipe].loss_weights), model, row_config(name, seed))
    test, val = result.metrics["test"], result.metrics["val"]
    return {"model": name, "seed": seed, "settings": settings_key(name),
            "scores": [100 * test[task][metric] for task, metric in COLUMNS],
            "val_scores": [100 * val[task][metric] for task, metric in COLUMNS], "best_epoch": result.best_epoch,
            "epochs_run": epochs_run(result.history), "seconds": result.seconds}


def _one(name: str, seeds: int, problem, done: dict[tuple[str, int], dict], log: Path,
         deadline: float | None = None, from_seed: int = 0) -> ModelRuns:
    """Seeds `from_seed` to `seeds - 1` of one model, reusing the recorded ones in `done` and recording each new one
    in `log`; no new run starts past `deadline` (a perf_counter time), so the model may end with fewer seeds."""
    runs = ModelRuns(name, first_seed=from_seed)
    for seed in range(from_seed, seeds):
        record = done.get((name, seed))
        if record is None:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            record = _fit_one(name, seed, problem)
            append_record(log, record)
        runs.scores.append(record["scores"])
        runs.best_epochs.append(record["best_epoch"])
        runs.epochs_run.append(record["epochs_run"])
        runs.seconds.append(record["seconds"])
        runs.val_scores.append(record.get("val_scores"))
        print(f"{name} seed {seed}: {record['scores']} best {record['best_epoch']} in {record['seconds']:.0f}s", flush=True)
    return runs


def run(models: str, seeds: int, out: Path = RESULTS, resume: bool = False, max_minutes: float | None = None,
        rerun: tuple[str, ...] = (), from_seed: int = 0) -> DblpBench:
    """Run the models (comma-separated names or 'all') on DBLP and write the report to `out`.

    With `resume`, runs already recorded beside `out` under the same settings are reused, not rerun; the rows in
    `rerun` are trained again for the first `seeds` seeds all the same (a record made before validation scores
    were kept gets them this way; the newer record is the one read). With `max_minutes`, no new run starts after
    that much wall time: later models keep their recorded runs only. With `from_seed`, the seeds before it are
    left to another invocation (two can share one long row, each on its own core).
    """
    names = list(BENCH_ORDER) if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
    unknown = [n for n in names if parse_row(n)[0] not in MODEL_NAMES or parse_row(n)[1] not in RECIPES]
    unknown += [n for n in rerun if n not in names]
    if unknown:
        raise UsageError(f"unknown model(s) or recipe(s), or a rerun row not among --models: {unknown}; "
                         f"known models: {', '.join(MODEL_NAMES)}; "
                         f"recipes (model@recipe): {', '.join(RECIPES)}")
    threads = machine.torch_threads()
    torch.set_num_threads(threads)
    started, start = datetime.now(timezone.utc), time.perf_counter()
    problem = load_dblp_problem(loss_weights=LOSS_WEIGHTS)
    log = out.with_name(out.stem + RUNS_SUFFIX)
    done = {key: r for key, r in load_runs(log).items() if key[0] not in rerun} if resume else {}
    if not resume:
        log.unlink(missing_ok=True)
    command = f"leadgraph bench dblp --models {models} --seeds {seeds}" + (" --resume" if resume else "") + (
        f" --max-minutes {max_minutes:g}" if max_minutes is not None else "") + (
        f" --rerun {','.join(rerun)}" if rerun else "") + (f" --from-seed {from_seed}" if from_seed else "")
    deadline = None if max_minutes is None else start + 60.0 * max_minutes
    bench = DblpBench(command, seeds, [], started, 0.0, threads, names, reused=len(done))
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            bench.runs.append(_one(name, seeds, problem, done, log, deadline, from_seed))
        except Exception as err:  # one failing model must not lose the others' results
            bench.runs.append(ModelRuns(name, error=f"{type(err).__name__}: {err}"))
        # Rewritten after every model, so a long run leaves a readable partial report.
        bench.wall_seconds = time.perf_counter() - start
        out.write_text(bench.render())
    return bench
