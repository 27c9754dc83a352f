"""Every model on the simulated logistics world, against the oracle (the simulator's true probabilities).

`leadgraph bench logistics --scale tiny --models all` simulates a world into `var/bench-<scale>` under the
repository (skipped when it is already there), ingests and validates everything up to D (the last day
of history), builds the temporal Problem (train anchors, a validation anchor, the test anchor), fits each
model and reports AUC and AP (sklearn average_precision_score) per task on the test anchor's prospects.
The oracle row scores the same prospects with the true label probabilities of
`truth/probabilities/as_of=<test anchor>.parquet`: the ceiling no model can beat on average.
Writes the scale's section of benchmarks/results/logistics.md (the other scale's section is kept) and
records each finished model in logistics.runs.jsonl, so `--resume` completes a long run without refitting.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import machine
from benchmarks.paired_bootstrap import METRICS, REPLICATES, difference_interval, replicates
from benchmarks.records import append_record, read_records, settings_key
from leadgraph.config import Settings, TrainConfig, load_settings
from leadgraph.errors import UsageError
from models.problem import Problem
from models.registry import MODEL_NAMES
from models.training import evaluate, fit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TRUTH_COLUMNS = {"high_interest": "p_high_interest", "contract": "p_contract"}
PAGE = RESULTS / "logistics.md"
RUNS = RESULTS / "logistics.runs.jsonl"
# Below this many test positives an AUC's standard error (about 0.05 at 30) swamps the gaps between models.
FEW_POSITIVES = 30
SCALES = ("tiny", "small")
TITLE = "# Logistics benchmark: every model on the simulated world, next to the oracle"


def bench_settings(scale: str, bench: str = "logistics", folder: str = "bench") -> Settings:
    """Settings for a benchmark's own home (`var/<folder>-<scale>`, ignored by git) on a simulated world."""
    if scale not in ("tiny", "small"):
        raise ValueError(f"bench {bench}: scale must be tiny or small, got {scale!r}")
    settings = load_settings(ROOT / "var" / f"{folder}-{scale}")
    settings.simulate.scale = scale
    return settings


def prepare(settings: Settings) -> Problem:
    """Simulate (unless done), ingest and validate up to the last day, and build the Problem as of that day."""
    from tasks.dataset import build_problem
    from tasks.ingest import ingest
    from simulator.simulate import simulate
    from tasks.validate import validate

    as_of = settings.simulate.end
    if not (settings.paths.truth / "summary.json").is_file():
        simulate(settings)
    ingest(settings, as_of)
    validate(settings, as_of)
    return build_problem(settings, as_of)


def oracle_metrics(settings: Settings, problem: Problem) -> dict[str, dict[str, float]]:
    """AUC/AP of the true probabilities on each task's test anchor's labelled prospects."""
    plan = problem.meta["anchors"]
    anchors = plan.split("test")
    result = {}
    for task in problem.tasks:
        anchor = plan.tasks[task.name].test
        g = anchors.index(anchor)
        path = settings.paths.truth / "probabilities" / f"as_of={anchor.isoformat()}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no truth for the test anchor {anchor} (truth is written every n-th Monday)")
        truth = pd.read_parquet(path).set_index("customer_id")
        rows = problem.test.index[task.name][g].numpy()
        ids = problem.test.graphs[g][task.node_type].node_id.numpy()[rows]
        p = truth[TRUTH_COLUMNS[task.name]].reindex(ids).to_numpy()
        missing = int(np.isnan(p).sum())
        if missing:
            raise ValueError(f"{path}: {missing} of {len(ids)} test prospects have no true probability")
        result[task.name] = evaluate(p, problem.test.y[task.name][g].numpy(), "binary")
    return result


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's standard error of an AUC estimated from the given class counts."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / max(positives * negatives, 1)
    return float(np.sqrt(max(var, 0.0)))


def _row(name: str, test: dict[str, dict[str, float]], tasks: list[str], seconds: float | None, best_epoch: int | None) -> str:
    cells = [f"{test[t][m]:.4f}" for t in tasks for m in ("auc", "ap")]
    extra = [f"{seconds:.0f}" if seconds is not None else "", str(best_epoch) if best_epoch not in (None, -1) else ""]
    return "| " + " | ".join([name, *cells, *extra]) + " |"


def _seeds_row(name: str, runs: list[dict], tasks: list[str], seeds: int) -> str:
    """One model over its seeds: mean ± sample standard deviation of each metric (the value alone for one seed)."""
    if len(runs) == 1:
        r = runs[0]
        label = name if seeds == 1 else f"{name} (1 of {seeds} seeds)"
        return _row(label, r["test"], tasks, r["seconds"], r["best_epoch"])
    cells = []
    for t in tasks:
        for m in ("auc", "ap"):
            values = np.array([r["test"][t][m] for r in runs])
            cells.append(f"{values.mean():.4f} ± {values.std(ddof=1):.4f}")
    epochs = [r["best_epoch"] for r in runs if r["best_epoch"] not in (None, -1)]
    label = name if len(runs) == seeds else f"{name} ({len(runs)} of {seeds} seeds)"
    extra = [f"{np.mean([r['seconds'] for r in runs]):.0f}", ", ".join(str(e) for e in epochs)]
    return "| " + " | ".join([label, *cells, *extra]) + " |"


def run_key(scale: str, settings: Settings, model: str = "") -> str:
    """What shapes a model's result here: the scale, the world's parameters and the training settings (the
    dual-branch section for the dual-branch models only, so the others keep the keys of their recorded runs)."""
    # The descriptive train-split metrics, and whether snapshots are spilled, do not change a run's test figures.
    exclude = {"train_metrics_anchors", "spill_snapshots"} | (set() if model.startswith("dual-branch") else {"dual"})
    # Added after the first records: in the key only when set away from its default.
    if settings.train.device == TrainConfig.model_fields["device"].default:
        exclude.add("device")
    return settings_key(scale + settings.simulate.model_dump_json() + settings.train.model_dump_json(exclude=exclude))


def fit_record(problem: Problem, name: str, settings: Settings, key: str) -> dict:
    """Fit one model with the settings' seed; its record (test metrics per task, fit seconds, best epoch, validation
    curve, date)."""
    result = fit(problem, name, settings.train)
    curve = [[h["epoch"], h["val_score"]] for h in result.history if "val_score" in h]
    return {"model": name, "seed": settings.train.seed, "settings": key, "test": result.metrics["test"],
            "seconds": result.seconds, "best_epoch": result.best_epoch, "curve": curve,
            "bootstrap": test_replicates(result.test_predictions), "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}"}


def test_replicates(predictions: dict) -> dict[str, dict]:
    """Per task, the paired-bootstrap replicates of the test metrics and a digest of the rows they resample (two runs'
    replicates pair up only on the same rows); a task scored on a weighted sample of its rows gets none."""
    out = {}
    for task, pred in predictions.items():
        keep = pred.y >= 0
        if not np.all(pred.weight[keep] == 1):
            continue
        y = pred.y[keep].astype(np.int8)
        out[task] = {"rows": hashlib.sha256(y.tobytes()).hexdigest()[:16], **replicates(pred.probs[keep], y)}
    return out


def bootstrap_lines(by_model: dict[str, list[dict]], tasks: list[str], reference: str = "struchis") -> list[str]:
    """The reference model against every other on each task's AUC and AP: the difference of the seed means and its
    paired-bootstrap 95% interval (the seeds' mean on each resample)."""
    mine = by_model.get(reference, [])
    if not mine:
        return []
    header = "| model | " + " | ".join(f"{t} {m.upper()}" for t in tasks for m in METRICS) + " |"
    rows = []
    for name, runs in by_model.items():
        if name == reference:
            continue
        cells = []
        for t in tasks:
            both = [r for r in [*mine, *runs] if t in r.get("bootstrap", {})]
            paired = len(both) == len(mine) + len(runs) and len({r["bootstrap"][t]["rows"] for r in both}) == 1
            for m in METRICS:
                diff = np.mean([r["test"][t][m] for r in mine]) - np.mean([r["test"][t][m] for r in runs])
                if not paired:
                    cells.append(f"{diff:+.4f} (no interval)")
                    continue
                low, high = difference_interval([r["bootstrap"][t][m] for r in mine], [r["bootstrap"][t][m] for r in runs])
                mark = " *" if low > 0 or high < 0 else ""
                cells.append(f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]{mark}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [f"{reference} minus each model (mean over seeds; paired bootstrap 95% interval over {REPLICATES} resamples "
            "of the test prospects, each resample's figure averaged over the seeds; * the interval excludes zero; "
            "no interval where a run was recorded without replicates):", "", header,
            "|" + "---|" * (1 + len(tasks) * len(METRICS)), *rows, ""]


def curve_lines(records: list[dict]) -> list[str]:
    """Each graph model's validation curve (selection score per evaluated epoch), where its record has one."""
    curves = [r for r in records if r.get("curve")]
    if not curves:
        return []
    lines = ["Validation curves (selection score x100 per evaluated epoch; * the kept epoch):", ""]
    for r in curves:
        points = [f"{epoch}: {100 * score:.2f}" + ("*" if epoch == r["best_epoch"] else "") for epoch, score in r["curve"]]
        lines.append(f"- {r['model']} seed {r.get('seed', 0)}: " + ", ".join(points))
    return [*lines, ""]


def render(scale: str, settings: Settings, problem: Problem, records: list[dict], oracle: dict, command: str,
           started: datetime, reused: Sequence[dict] = (), seeds: int = 1, missing: Sequence[str] = ()) -> str:
    """The results page: table, population, command, machine, date; `missing` names the runs not made in time."""
    tasks = [t.name for t in problem.tasks]
    by_model: dict[str, list[dict]] = {}
    for r in records:
        by_model.setdefault(r["model"], []).append(r)
    plan = problem.meta["anchors"]
    test = records[0]["test"] if records else oracle
    header = "| model | " + " | ".join(f"{t} {m}" for t in tasks for m in ("AUC", "AP")) + " | fit s | best epoch |"
    lines = [
        f"## {scale} world",
        "",
        "Anchors (whole label windows): " + "; ".join(
            f"{k} test {a.test}, validation {a.val}, training {', '.join(str(d) for d in a.train)}" for k, a in plan.tasks.items())
        + ". "
        + "; ".join(f"{t}: {test[t]['n']} prospects, {test[t]['positives']} positives" for t in tasks)
        + ". AP is sklearn `average_precision_score`. The oracle scores the test prospects with the simulator's true "
        "label probabilities.",
        "",
        header,
        "|" + "---|" * (2 * len(tasks) + 3),
        _row("oracle (true probabilities)", oracle, tasks, None, None),
    ]
    lines += [_seeds_row(name, runs, tasks, seeds) for name, runs in by_model.items()]
    lines += [
        "",
        "How far apart two AUCs must be to mean anything: the standard error of an AUC near 0.6 on this test "
        "set (Hanley and McNeil) is " + ", ".join(f"{t} {auc_standard_error(0.6, test[t]['positives'], test[t]['n'] - test[t]['positives']):.3f}"
                                                  for t in tasks) + "."
        + "".join(f" With {test[t]['positives']} {t} positives this world cannot rank models on that task."
                  for t in tasks if test[t]["positives"] < FEW_POSITIVES),
        "",
        *bootstrap_lines(by_model, tasks),
        *curve_lines(records),
        f"Command: `{command}`",
        "",
        f"Machine: {machine.describe()}. "
        f"Date: {started:%Y-%m-%d %H:%M} UTC. Training config: the defaults of `TrainConfig` ("
        + (f"seeds 0 to {seeds - 1}, " if seeds > 1 else "seed 0, ")
        + f"max_epochs={settings.train.max_epochs}, max_train_seconds={settings.train.max_train_seconds:g}); with several "
        "seeds a cell is the mean ± the sample standard deviation over seeds, and best epoch lists each seed's."
        + (f" {len(reused)} runs were recorded by earlier invocations under the same settings (`{RUNS.name}`): "
           + ", ".join(f"{r['model']} seed {r.get('seed', 0)} on {r['date']} UTC" for r in reused) + "." if reused else "")
        + (f" Not run yet (`--max-minutes` had passed): {', '.join(missing)}." if missing else ""),
        "",
    ]
    return "\n".join(lines)


def section_of(page: str, scale: str) -> str | None:
    """The `## <scale> world` section of a rendered page, or None."""
    head = f"## {scale} world"
    if head not in page:
        return None
    body = page.split(head, 1)[1]
    later = [body.find(f"\n## {s} world") for s in SCALES if s != scale]
    ends = [i for i in later if i >= 0]
    return head + (body[: min(ends)] if ends else body).rstrip("\n") + "\n"


def write_section(scale: str, section: str, page: Path = PAGE) -> None:
    """Replace this scale's section of the page, keeping the others, in SCALES order."""
    old = page.read_text(encoding="utf-8") if page.exists() else ""
    sections = {s: section if s == scale else section_of(old, s) for s in SCALES}
    page.write_text("\n".join([TITLE, "", *(sections[s] for s in SCALES if sections[s])]), encoding="utf-8")


def run(scale: str, models: str, max_epochs: int | None = None, max_train_minutes: float | None = None,
        resume: bool = False, seeds: int = 1, max_minutes: float | None = None) -> Path:
    """Prepare the world, fit the models (comma-separated or 'all') with seeds 0 to `seeds` - 1, write the scale's
    section of the page.

    `max_epochs` and `max_train_minutes` cap the graph models' training below the configured defaults; with
    `resume`, runs recorded in RUNS under the same settings (the seed among them) are reused, not refitted. With
    `max_minutes`, no new fit starts after that much wall time (0: the page from the recorded runs alone), so
    several invocations can fill RUNS side by side and one renders them all.
    """
    started = datetime.now(timezone.utc)
    deadline = None if max_minutes is None else time.perf_counter() + 60.0 * max_minutes
    names = list(MODEL_NAMES) if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown:
        raise UsageError(f"bench logistics: unknown models {unknown}; known: {', '.join(MODEL_NAMES)}")
    settings = bench_settings(scale)
    if max_epochs is not None:
        settings.train.max_epochs = max_epochs
    if max_train_minutes is not None:
        settings.train.max_train_seconds = 60.0 * max_train_minutes
    began = time.perf_counter()
    problem = prepare(settings)
    print(f"problem {problem.name} ready in {time.perf_counter() - began:.0f}s", flush=True)
    oracle = oracle_metrics(settings, problem)
    command = f"leadgraph bench logistics --scale {scale} --models {models}" + (
        f" --max-epochs {max_epochs}" if max_epochs is not None else "") + (
        f" --max-train-minutes {max_train_minutes:g}" if max_train_minutes is not None else "") + (
        " --resume" if resume else "") + (f" --seeds {seeds}" if seeds != 1 else "") + (
        f" --max-minutes {max_minutes:g}" if max_minutes is not None else "")
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    records, reused, missing = [], [], []
    for name in names:
        for seed in range(seeds):
            # The seed is part of the training settings, so each seed has its own key.
            settings.train.seed = seed
            key = run_key(scale, settings, name)
            recorded = [r for r in read_records(RUNS, key) if r["model"] == name] if resume else []
            if not recorded and deadline is not None and time.perf_counter() >= deadline:
                missing.append(f"{name} seed {seed}")
                continue
            record = recorded[-1] if recorded else fit_record(problem, name, settings, key)
            if recorded:
                reused.append(record)
            else:
                append_record(RUNS, record)
            records.append(record)
            test = record["test"]
            print(f"{name} seed {seed}: " + ", ".join(f"{t} auc {test[t]['auc']:.4f} ap {test[t]['ap']:.4f}" for t in test)
                  + f" ({record['seconds']:.0f}s{', recorded' if recorded else ''})", flush=True)
            # Rewritten after every run, so a long benchmark leaves the finished rows behind.
            write_section(scale, render(scale, settings, problem, records, oracle, command, started, reused, seeds), PAGE)
    if missing:
        write_section(scale, render(scale, settings, problem, records, oracle, command, started, reused, seeds, missing), PAGE)
    return PAGE
