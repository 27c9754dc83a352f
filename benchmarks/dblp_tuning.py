"""The same tuning budget for every DBLP model: each tries the same candidate settings, chosen on validation only.

`leadgraph bench dblp-tune --models struchis,stl-hgb,... --candidates 8` trains every listed model once (seed 0)
under each of the first `--candidates` entries of one fixed list: the product recipe first, then distinct draws
from `SPACE` in an order fixed by `DRAW_SEED`. A model keeps the candidate with the best validation score (the
benchmark's selection score); the test split is never read for the choice. Each finished (model, candidate) run
is one line of `dblp_tuning.runs.jsonl`, so `--resume` finishes it in parts. The page
benchmarks/results/dblp_tuning.md lists every candidate's validation score; the DBLP page's `model@tuned` rows
train with each model's chosen candidate.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import torch

from benchmarks import dblp, machine
from benchmarks.dblp import LOSS_WEIGHTS, TUNING_BASE, best_candidate, dblp_config, tuning_key, tuning_runs, with_loss_weights
from benchmarks.records import append_record
from datasets.dblp import load_dblp_problem
from leadgraph.errors import UsageError
from models.registry import MODEL_NAMES
from models.training import fit, selection_score

SPACE: dict[str, tuple] = {
    "lr": (1e-3, 3e-3, 1e-2),
    "weight_decay": (0.0, 5e-4, 5e-3),
    "dropout": (0.2, 0.35, 0.5),
    "hidden": (64, 128),
}
DRAW_SEED = 0


def candidates(count: int) -> list[dict]:
    """The first `count` candidate settings: the product recipe's values, then distinct draws from SPACE."""
    base = dblp_config(0)
    first = {name: getattr(base, name) for name in SPACE}
    grid = [dict(zip(SPACE, values)) for values in itertools.product(*SPACE.values())]
    order = np.random.default_rng(DRAW_SEED).permutation(len(grid))
    rest = [grid[i] for i in order if grid[i] != first]
    if not 1 <= count <= len(rest) + 1:
        raise UsageError(f"--candidates must be between 1 and {len(rest) + 1}")
    return [first, *rest[: count - 1]]


@dataclass
class Tried:
    """One model's tuning runs: validation score per candidate index."""

    model: str
    scores: dict[int, float]

    def chosen(self) -> int:
        """The candidate the model keeps."""
        return best_candidate(self.scores)


def _try(model: str, index: int, overrides: dict, problem) -> dict:
    """Train `model` once (seed 0) under one candidate; its record."""
    result = fit(problem, model, dblp_config(0).model_copy(update={**TUNING_BASE, **overrides}))
    return {"model": model, "candidate": index, "overrides": overrides, "settings": tuning_key(model, overrides),
            "val_score": selection_score(result.metrics["val"], problem.tasks), "best_epoch": result.best_epoch,
            "seconds": result.seconds}


def render(tried: list[Tried], cands: list[dict], command: str, started: datetime, wall: float) -> str:
    """The tuning page: every candidate, every model's validation score under it, the choice."""
    lines = [
        "# DBLP: the same tuning budget for every model", "",
        f"- Command: `{command}`",
        f"- Machine: {machine.describe()}.",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; wall time {wall / 60:.1f} min (this invocation).",
        f"- Every model trains once (seed 0) under each of the {len(cands)} candidates below, with the product recipe's "
        f"other settings ({', '.join(f'{k} {v}' for k, v in TUNING_BASE.items())}); it keeps the candidate with the best "
        "validation score (the loss-weighted mean over tasks of (micro-F1 + macro-F1) / 2, x100). Candidate 0 is the "
        "product recipe, chosen earlier on StrucHIS's validation score from a wider search.", "",
        "| candidate | " + " | ".join(SPACE) + " |", "|---|" + "---|" * len(SPACE),
        *(f"| {i} | " + " | ".join(f"{c[k]:g}" for k in SPACE) + " |" for i, c in enumerate(cands)), "",
        "| model | " + " | ".join(str(i) for i in range(len(cands))) + " | chosen |", "|---|" + "---|" * (len(cands) + 1),
    ]
    for t in tried:
        cells = [f"{100 * t.scores[i]:.2f}" if i in t.scores else "" for i in range(len(cands))]
        done = len(t.scores) == len(cands)
        lines.append(f"| {t.model} | {' | '.join(cells)} | "
                     + (f"{t.chosen()} |" if done else f"not yet: {len(t.scores)} of {len(cands)} tried |"))
    return "\n".join(lines) + "\n"


def run(models: str, count: int, resume: bool = False, max_minutes: float | None = None) -> list[Tried]:
    """Tune the listed models and write the page; with `max_minutes`, no run starts after that much wall time."""
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise UsageError(f"unknown model(s) {unknown}; known: {', '.join(MODEL_NAMES)}")
    cands = candidates(count)
    torch.set_num_threads(machine.torch_threads())
    started, start = datetime.now(timezone.utc), time.perf_counter()
    problem = with_loss_weights(load_dblp_problem(), LOSS_WEIGHTS)
    runs = dblp.TUNING_RUNS
    if not resume:
        runs.unlink(missing_ok=True)
    command = (f"leadgraph bench dblp-tune --models {models} --candidates {count}" + (" --resume" if resume else "")
               + (f" --max-minutes {max_minutes:g}" if max_minutes is not None else ""))
    tried: list[Tried] = []
    for name in names:
        done = {i: r for i, r in tuning_runs(name).items() if i < len(cands) and r["overrides"] == cands[i]}
        for i, overrides in enumerate(cands):
            if i in done or (max_minutes is not None and time.perf_counter() - start >= 60 * max_minutes):
                continue
            done[i] = _try(name, i, overrides, problem)
            append_record(runs, done[i])
            print(f"{name} candidate {i} {json.dumps(overrides)}: validation {done[i]['val_score']:.4f}", flush=True)
        tried.append(Tried(name, {i: r["val_score"] for i, r in done.items()}))
        runs.with_name(dblp.TUNING_PAGE.name).write_text(render(tried, cands, command, started, time.perf_counter() - start))
    return tried
