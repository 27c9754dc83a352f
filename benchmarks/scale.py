"""The daily job at tiny, small and paper scale, stage by stage: wall time and peak memory, and how they grow with size.

    python -m benchmarks.scale --scale tiny --home <folder>      # simulates first when <folder> has no landing/
    python -m benchmarks.scale --scale paper --home <folder> --max-train-minutes 30   # a shorter training budget
    python -m benchmarks.scale --scale paper --home <folder> --model dual-branch     # another champion model
    python -m benchmarks.scale --render-only                                         # the page from the recorded figures

On the home's simulated world (its warehouse, artifacts and exports are removed first; landing/ is
only read) a first load and three days run, each in a fresh process:

0. the first load: the history up to the day before T ingested and validated, as an installation's
   first run does once (its own figures, not part of any day);
1. the training day T (the end of history minus two days), a retraining day of a running
   installation: every stage of the daily flow as plain function calls (ingest and validate take T's
   own rows), with no champion yet, so `train` builds the anchor snapshots and trains the first
   champion;
2. the next day with that champion: the stages of a normal morning (no training due);
3. the last day through the real Prefect flow, `leadgraph run --as-of`, under `/usr/bin/time -v`.

A stage's peak is the highest resident set size sampled (every 20 ms) while it ran, in its day's
process. Figures go to `benchmarks/results/scale_<scale>.json` (`scale_<scale>-<model>.json` for a model
other than the configured one); `benchmarks/results/scale.md` is rendered from every JSON present.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

from benchmarks import machine
from benchmarks.simulate_paper import PAPER_HISTORY, peak_gib, wall_seconds
from leadgraph import memory

RESULTS = Path(__file__).resolve().parent / "results"
HISTORY = {"tiny": ("2025-01-01", "2025-12-31"), "small": ("2025-01-01", "2025-12-31"), "paper": PAPER_HISTORY}


class Meter:
    """Wall time and sampled peak resident memory of named stages run one after another in this process."""

    def __init__(self) -> None:
        self.stages: list[dict] = []
        self._peak = 0.0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._peak = max(self._peak, memory.rss_gib())

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time the enclosed block as stage `name`; the yielded dict takes extra figures."""
        self._peak = memory.rss_gib()
        extra: dict = {}
        started = time.perf_counter()
        yield extra
        self.stages.append({"stage": name, "wall_s": time.perf_counter() - started,
                            "peak_gib": max(self._peak, memory.rss_gib()), **extra})


def run_day(home: Path, day: date, train: bool, max_train_minutes: float | None = None, load_only: bool = False) -> dict:
    """The daily flow's stages for D as plain calls (training first when asked, within the budget given), metered;
    with `load_only`, ingest and validate alone."""
    from leadgraph.config import load_settings
    from tasks import registry, runs
    from tasks.drift import run_drift
    from tasks.explain import explain
    from tasks.graph import build_snapshot
    from tasks.ingest import ingest
    from tasks.publish import model_quality_doc, publish
    from tasks.recommend import recommend
    from tasks.score import score
    from tasks.train import train_and_register
    from tasks.validate import validate

    settings = load_settings(home)
    if max_train_minutes is not None:
        settings.train.max_train_seconds = 60.0 * max_train_minutes
    meter = Meter()
    with meter.stage("ingest") as extra:
        extra["rows"] = ingest(settings, day).rows_loaded
    with meter.stage("validate"):
        validate(settings, day)
    if load_only:
        return _day_figures(meter, day, train)
    with meter.stage("graph") as extra:
        snapshot = build_snapshot(settings, day)
        extra.update(nodes=sum(snapshot.node_counts.values()), edges=sum(snapshot.edge_counts.values()))
    if train:
        with meter.stage("train") as extra:
            version = train_and_register(settings, day)
            extra.update(version=version.version, model=version.model_name, test=version.metrics.get("test"),
                         best_epoch=version.metrics.get("best_epoch"), fit_s=version.metrics.get("seconds"),
                         curves=version.metrics.get("validation_curves"), gate=version.metrics.get("gate"),
                         calibration=version.metrics.get("calibration"), refit=version.config["selection"].get("refit"),
                         phases=version.metrics.get("phases"))
    champion = registry.serving(settings)
    with meter.stage("score") as extra:
        scored = score(settings, day, champion.version)
        extra["prospects"] = scored.rows
    with meter.stage("explain"):
        explain(settings, scored)
    with meter.stage("recommend") as extra:
        made = recommend(settings, day, train=train)
        extra["rows"] = made.rows
        if train and made.model_folder is not None:
            extra["offer_model"] = _offer_summary(made.model_folder)
    with meter.stage("drift") as extra:
        extra["status"] = run_drift(settings, day, champion.version, snapshot.path, scored.table).status
    with meter.stage("publish") as extra:
        run_id = runs.current_run_id()
        result = publish(settings, day, scored.table, run_id, champion.version, snapshot.data_version,
                         {"validation": "passed", "drift": "benchmark", "training": "benchmark"},
                         quality=model_quality_doc(settings, champion))
        extra["leads"] = result.total_rows
    return _day_figures(meter, day, train)


def _day_figures(meter: Meter, day: date, train: bool) -> dict:
    """Stop the meter; the day's stages, total wall and peak."""
    meter._stop.set()
    return {"day": day.isoformat(), "train": train, "stages": meter.stages,
            "wall_s": sum(s["wall_s"] for s in meter.stages), "peak_gib": max(s["peak_gib"] for s in meter.stages)}


def _offer_summary(folder: Path) -> dict:
    """How the training day's offer model trained and which ranking serves, from its model.json."""
    from tasks.recommend import META

    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    val = meta.get("validation") or {}
    return {"served": meta["model"], "gate": meta.get("gate"), "refit_cut": meta.get("refit_cut"),
            "curve": [(h["epoch"], h["val"], h["seconds"]) for h in val.get("curve", [])],
            "flattened": val.get("flattened"), "cut_by_budget": val.get("cut_by_budget"),
            "budget_s": meta["config"].get("max_train_seconds")}


def _time_v(cmd: list[str], env: dict) -> dict:
    """Run a command under /usr/bin/time -v; its wall seconds and maximum resident set size."""
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return {"wall_s": wall_seconds(done.stderr), "peak_gib": peak_gib(done.stderr), "stdout_tail": done.stdout[-500:]}


def _child_day(home: Path, day: date, train: bool, env: dict, max_train_minutes: float | None = None,
               load_only: bool = False) -> dict:
    """run_day in a fresh process; its log kept in the home as scale-<day>.log."""
    cmd = [sys.executable, "-m", "benchmarks.scale", "--home", str(home), "--day", day.isoformat()]
    if train:
        cmd.append("--train")
    if load_only:
        cmd.append("--load")
    if max_train_minutes is not None:
        cmd += ["--max-train-minutes", f"{max_train_minutes:g}"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (home / f"scale-{day.isoformat()}{'-load' if load_only else ''}.log").write_text(done.stderr, encoding="utf-8")
    if done.returncode:
        raise SystemExit(f"day {day} failed ({done.returncode}):\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def reset_derived(home: Path) -> None:
    """Remove a home's warehouse, artifacts, exports and Prefect state; landing/ and truth/ stay."""
    for derived in ("warehouse.duckdb", "warehouse.duckdb.wal", "artifacts", "exports", "prefect"):
        path = home / derived
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_scale(scale: str, home: Path, max_train_minutes: float | None = None, model: str | None = None,
              conditions: str | None = None) -> dict:
    """Simulate if needed, reset the derived state, run the three days; returns the figures."""
    leadgraph = str(Path(sys.executable).with_name("leadgraph"))
    # Every day, each in its own process, reads the champion model from the environment layer of the settings.
    env = {**os.environ, "LEADGRAPH_HOME": str(home), **({"LEADGRAPH_TRAIN__MODEL": model} if model else {})}
    start, end = HISTORY[scale]
    figures: dict = {"scale": scale, "model": model, "machine": machine.describe(), "date": machine.now(),
                     "command": f"python -m benchmarks.scale --scale {scale} --home <home>"
                     + (f" --max-train-minutes {max_train_minutes:g}" if max_train_minutes is not None else "")
                     + (f" --model {model}" if model else ""),
                     "max_train_minutes": max_train_minutes, "conditions": conditions}
    if not (home / "landing").exists():
        figures["simulate"] = _time_v([leadgraph, "simulate", "--scale", scale, "--start", start, "--end", end], env)
    reset_derived(home)
    last = date.fromisoformat(end)
    figures["load"] = _child_day(home, last - timedelta(days=3), False, env, load_only=True)
    figures["train_day"] = _child_day(home, last - timedelta(days=2), True, env, max_train_minutes)
    figures["daily_day"] = _child_day(home, last - timedelta(days=1), False, env)
    flow = _time_v([leadgraph, "run", "--as-of", last.isoformat()], env)
    # The committed figures name no folder of the measuring machine.
    flow["stdout_tail"] = flow["stdout_tail"].replace(str(home), "<home>")
    figures["flow"] = {"day": last.isoformat(), **flow}
    return figures


def _stage(r: dict, day: str, name: str) -> dict | None:
    """One scale's figures of stage `name` on `day` ("train_day" or "daily_day"), or None if it did not run."""
    return next((x for x in r[day]["stages"] if x["stage"] == name), None)


def _stage_cells(results: dict[str, dict], order: list[str], day: str, name: str) -> list[str]:
    """Wall and peak of stage `name` on `day` at each scale in `order`; dashes where it did not run."""
    cells = []
    for s in order:
        stage = _stage(results[s], day, name)
        cells += _wall_peak(stage).split(", ") if stage else ["-", "-"]
    return cells


def _wall_peak(figures: dict) -> str:
    """'<wall>, <peak> GiB' of a stage or a whole day."""
    return f"{_fmt_s(figures['wall_s'])}, {figures['peak_gib']:.2f} GiB"


def _fit_and_rest(train: dict) -> str:
    """The train stage split into the fit and everything around it."""
    return f"{_fmt_s(train['fit_s'])} + {_fmt_s(train['wall_s'] - train['fit_s'])}"


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render(results: dict[str, dict]) -> str:
    """The results page over every measured scale."""
    order = sorted(results, key=lambda column: (list(HISTORY).index(results[column]["scale"]), column))
    lines = ["# The daily job at each scale, stage by stage", "",
             "Command: `python -m benchmarks.scale --scale <tiny|small|paper> --home <home> [--model <name>]` (see "
             "the module docstring); each column's raw figures are in `scale_<column>.json` beside this page. A "
             "column named `<scale>-<model>` trained that model as the champion; the others the configured one.", ""]
    for s in order:
        r = results[s]
        budget = (f" Training budget {r['max_train_minutes']:g} min (`--max-train-minutes`), not the configured "
                  "default." if r.get("max_train_minutes") is not None else "")
        conditions = f" Conditions: {r['conditions']}." if r.get("conditions") else ""
        lines.append(f"- {s}: {r['date']}; {r['machine']}; `{r['command']}`.{budget}{conditions}")
    lines += ["", "## Stages", ""]
    header = "| stage | " + " | ".join(f"{s} wall | {s} peak" for s in order) + " |"
    lines += [header, "|---|" + "---|---|" * len(order)]
    names = ["ingest", "validate", "graph", "train", "score", "explain", "recommend", "drift", "publish"]
    lines += [f"| {name} (training day) | " + " | ".join(_stage_cells(results, order, "train_day", name)) + " |"
              for name in names]
    for name in names:
        cells = _stage_cells(results, order, "daily_day", name)
        if any(c != "-" for c in cells):
            lines.append(f"| {name} (day with a champion) | " + " | ".join(cells) + " |")
    lines += ["", "## Whole days", "", "| | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    rows = [
        ("graph nodes / edges", lambda r: "{nodes:,} / {edges:,}".format(**_stage(r, "daily_day", "graph"))),
        ("prospects scored", lambda r: f"{_stage(r, 'daily_day', 'score')['prospects']:,}"),
        ("simulate", lambda r: _wall_peak(r["simulate"]) if "simulate" in r else "(world existed)"),
        ("first load (ingest and validate the history up to the day before the training day)",
         lambda r: _wall_peak(r["load"]) if "load" in r else "(inside the training day)"),
        ("training day, all stages", lambda r: _wall_peak(r["train_day"])),
        ("training run (train stage)", lambda r: _wall_peak(_stage(r, "train_day", "train"))),
        ("train stage = fit (epochs, final scoring of the train and test prospects; validation reuses the kept "
         "evaluation) + the rest (anchor snapshots, problem, calibration, quality gate with its LightGBM baseline, "
         "refit, registering)", lambda r: _fit_and_rest(_stage(r, "train_day", "train"))),
        ("day with a champion, all stages", lambda r: _wall_peak(r["daily_day"])),
        ("`leadgraph run` (Prefect flow, champion exists)", lambda r: _wall_peak(r["flow"])),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(results[s]) for s in order) + " |")
    lines += ["", "The fit stops at `train.max_train_seconds` (60 min by default) unless validation stops it first. "
              "Columns dated before 2026-12-03 were measured when the budget was checked only between epochs, "
              "so their last epoch ran past it; since then a mini-batch epoch stops at the first batch past the "
              "deadline. The final scoring of the train and test prospects always comes on top; the rest "
              "of the train stage grows with the graph. Columns without a first load ingested and validated "
              "the whole history inside the training day's ingest and validate stages."]
    lines += _growth(results, order, [s for s in order if s in HISTORY])
    lines += _champions(results, order)
    lines.append("")
    return "\n".join(lines)


def _champion_test(r: dict) -> str:
    """The first champion's test AUC / AP per task, from the training day."""
    test = _stage(r, "train_day", "train").get("test") or {}
    return "; ".join(f"{t} {m['auc']:.3f} / {m['ap']:.4f}" for t, m in test.items()) or "-"


def _champions(results: dict[str, dict], order: list[str]) -> list[str]:
    """Each column's first champion: how its training ended, its validation curve, gate and calibration."""
    lines = ["", "## First champions", ""]
    for column in order:
        train = _stage(results[column], "train_day", "train")
        if not train.get("curves"):
            continue
        budget = results[column].get("max_train_minutes")
        within = f"budget {budget:g} min" if budget is not None else "the configured budget"
        lines.append(f"- {column}: `{train['model']}`, kept epoch {train['best_epoch']}, fit {_fmt_s(train['fit_s'])} "
                     f"({within}).")
        for stage, points in train["curves"].items():
            lines.append(f"  - validation curve, {stage} (epoch: score x100): "
                         + ", ".join(f"{epoch}: {100 * score:.2f}" for epoch, score in points))
        if train.get("phases"):
            lines.append(f"  - train stage by phase (wall, then the process's peak by its end): {_phases_text(train['phases'])}")
        if train.get("gate"):
            lines.append(f"  - quality gate: {'passed' if train['gate']['passed'] else 'not passed'}: {train['gate']['reason']}")
        for task, f in (train.get("calibration") or {}).items():
            lines.append(f"  - calibration, {task} ({f['method']}, hold-out): mean predicted {f['mean_predicted']:.5f} "
                         f"against observed {f['observed_rate']:.5f}, Brier {f['brier']:.5f}, ECE {f['ece']:.5f}")
        if train.get("refit"):
            lines.append(f"  - refit on the latest closed windows: {_refit_text(train['refit'])}")
        offers = (_stage(results[column], "train_day", "recommend") or {}).get("offer_model")
        if offers:
            lines.append(f"  - offer model: {_offer_text(offers)}")
    return lines if len(lines) > 3 else []


def _phases_text(phases: list[dict]) -> str:
    """The train stage's phases in words, the fit's own phases in brackets."""
    def one(p: dict) -> str:
        split = (f", of it epochs {_fmt_s(p['epochs_s'])} and validation passes {_fmt_s(p['validation_s'])}"
                 if "epochs_s" in p else "")
        return f"{p['phase']} {_fmt_s(p['seconds'])} ({p['peak_gib']:.2f} GiB{split})"

    return "; ".join(one(p) + (f" [{'; '.join(one(q) for q in p['within'])}]" if p.get("within") else "")
                     for p in phases)


def _refit_text(refit: dict) -> str:
    """The lead model's refit in words: its epochs and time, or why it was not stored."""
    if refit.get("skipped"):
        return f"not stored ({refit['skipped']}); the selected model serves"
    return f"{refit['epochs']} epoch(s) in {_fmt_s(refit['seconds'])}"


def _offer_text(offers: dict) -> str:
    """The training day's offer model in words: its validation curve, how training ended, what serves."""
    curve = offers["curve"]
    ended = ("a flat curve" if offers["flattened"] else
             f"the {offers['budget_s'] / 60:g}-min budget" if offers["cut_by_budget"] else "the epoch limit")
    text = (f"{len(curve)} epoch(s) on the validation split in {_fmt_s(sum(c[2] for c in curve))}, ended by {ended}; "
            "validation NDCG@10 per epoch " + " ".join(f"{c[1]:.4f}" for c in curve))
    gate = offers.get("gate")
    if gate:
        text += f"; gate: `{gate['model']}` {gate['model_ndcg']:.4f} against `{gate['must_beat']}` {gate['must_beat_ndcg']:.4f}"
    if offers.get("refit_cut"):
        text += f"; refit ran {offers['refit_cut']['epochs_run']} of {offers['refit_cut']['epochs_kept']} epochs within the budget"
    return text + f"; `{offers['served']}` serves"


def _growth(results: dict[str, dict], order: list[str], scales: list[str]) -> list[str]:
    """Each column's first champion, and how each cost grows from one measured scale to the next, as ratios."""
    def nodes(r: dict) -> int:
        return _stage(r, "daily_day", "graph")["nodes"]

    lines = ["", "## Growth", "", "| | " + " | ".join(order) + " |", "|---|" + "---|" * len(order),
             "| first champion's test AUC / AP | " + " | ".join(_champion_test(results[s]) for s in order) + " |"]
    pairs = list(zip(scales, scales[1:]))
    if not pairs:
        return lines
    lines += ["", "| ratio | " + " | ".join(f"{b} / {a}" for a, b in pairs) + " |", "|---|" + "---|" * len(pairs)]
    figures = [("graph nodes", nodes),
               ("day with a champion, wall", lambda r: r["daily_day"]["wall_s"]),
               ("day with a champion, peak", lambda r: r["daily_day"]["peak_gib"]),
               ("`leadgraph run`, wall", lambda r: r["flow"]["wall_s"])]
    for label, value in figures:
        lines.append(f"| {label} | " + " | ".join(f"{value(results[b]) / value(results[a]):.1f}x" for a, b in pairs) + " |")
    return lines


def main() -> None:
    """Parse arguments; run one day (child) or a whole scale (parent), then re-render the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(HISTORY))
    parser.add_argument("--home", type=Path, help="The simulated world's home (every mode but --render-only).")
    parser.add_argument("--day", type=date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--train", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-train-minutes", type=float, help="Training budget of the training day (default: the config's).")
    parser.add_argument("--model", help="The champion model to train (default: the config's train.model).")
    parser.add_argument("--conditions", help="What else ran on the machine meanwhile, printed on the page.")
    parser.add_argument("--render-only", action="store_true", help="Rewrite scale.md from the figures already recorded.")
    args = parser.parse_args()
    if args.day:
        # The day's own progress (query and epoch timings) goes to its log in the home (_child_day).
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
        for name in ("models", "tasks", "leadgraph"):
            logging.getLogger(name).setLevel(logging.INFO)
        print(json.dumps(run_day(args.home.resolve(), args.day, args.train, args.max_train_minutes, args.load),
                         default=str))
        return
    if not args.render_only and not (args.scale and args.home):
        parser.error("--scale and --home are required")
    if not args.render_only:
        figures = run_scale(args.scale, args.home.resolve(), args.max_train_minutes, args.model, args.conditions)
        RESULTS.mkdir(parents=True, exist_ok=True)
        column = args.scale + (f"-{args.model}" if args.model else "")
        (RESULTS / f"scale_{column}.json").write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    results = {p.stem.removeprefix("scale_"): json.loads(p.read_text(encoding="utf-8")) for p in RESULTS.glob("scale_*.json")}
    (RESULTS / "scale.md").write_text(render(results), encoding="utf-8")
    print((RESULTS / "scale.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
