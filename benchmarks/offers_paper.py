"""The recommend stage at paper scale: training the offer model, and a day that reuses it; wall time and peak memory.

    python -m benchmarks.offers_paper --home <folder>     # simulates the paper world first when <folder> has no landing/
    python -m benchmarks.offers_paper --page-only         # rewrites the page from offers_paper.json
    python -m benchmarks.offers_paper --home <folder> --page offers_paper_X.md   # another condition, its own page

On the home's simulated world (benchmarks.scale.HISTORY's paper span; its warehouse and artifacts are removed first,
landing/ is only read), each day runs in a fresh process:

1. the training day T (the end of history minus one day): ingest and validate, then the recommend stage
   as the daily flow calls it when the lead model trains: epoch count chosen on the temporal validation
   split, the offer model fitted on T's behaviours, every customer's top offers written;
2. the last day: ingest and validate, then the recommend stage of a normal morning (the stored model
   propagated over that day's behaviours, every customer ranked).

Peaks are the highest resident set size sampled while a stage ran (benchmarks/scale.py's Meter).
Writes benchmarks/results/offers_paper.md and the raw figures beside it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from benchmarks import machine
from benchmarks.records import page_under
from benchmarks.scale import HISTORY, Meter, _fmt_s, _time_v, reset_derived

RESULTS = Path(__file__).resolve().parent / "results"
PAGE = RESULTS / "offers_paper.md"
TARGETS = {"train": 30 * 60, "daily": 3 * 60}


def run_day(home: Path, day: date, train: bool) -> dict:
    """Ingest, validate and recommend for D in this process, metered; the offer model's training record when trained."""
    from leadgraph.config import load_settings
    from tasks.ingest import ingest
    from tasks.recommend import recommend
    from tasks.validate import validate

    settings = load_settings(home)
    meter = Meter()
    with meter.stage("ingest"):
        ingest(settings, day)
    with meter.stage("validate"):
        validate(settings, day)
    with meter.stage("recommend") as extra:
        made = recommend(settings, day, train=train)
        extra["rows"] = made.rows
    meter._stop.set()
    figures: dict = {"day": day.isoformat(), "train": train, "stages": meter.stages}
    if train and made.model_folder is not None:
        meta = json.loads((made.model_folder / "model.json").read_text(encoding="utf-8"))
        figures["model"] = {key: meta.get(key) for key in ("model", "epochs", "validation", "gate", "history", "config")}
        figures["model"]["fit_s"] = sum(h["seconds"] for h in meta["history"])
        figures["model"]["selection_s"] = sum(h["seconds"] for h in (meta["validation"] or {}).get("curve", []))
    return figures


def _child_day(home: Path, day: date, train: bool) -> dict:
    """run_day in a fresh process."""
    cmd = [sys.executable, "-m", "benchmarks.offers_paper", "--home", str(home), "--day", day.isoformat()]
    # The child's log (stage progress, each training epoch) goes straight to this terminal; stdout is its figures.
    done = subprocess.run(cmd + (["--train"] if train else []), stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"day {day} failed ({done.returncode}); its log is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(home: Path, page_name: str = PAGE.name) -> dict:
    """Simulate if needed, reset the derived state, run the training day and the next; returns the figures."""
    start, end = HISTORY["paper"]
    # Settings given through the environment are part of the command that reproduces the page.
    overrides = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("LEADGRAPH_") and "__" in k)
    figures: dict = {"machine": machine.describe(), "date": machine.now(),
                     "command": f"{overrides + ' ' if overrides else ''}python -m benchmarks.offers_paper --home <home>"
                                + ("" if page_name == PAGE.name else f" --page {page_name}")}
    if not (home / "landing").exists():
        leadgraph = str(Path(sys.executable).with_name("leadgraph"))
        figures["simulate"] = _time_v([leadgraph, "simulate", "--scale", "paper", "--start", start, "--end", end],
                                      {**os.environ, "LEADGRAPH_HOME": str(home)})
    reset_derived(home)
    last = date.fromisoformat(end)
    figures["train_day"] = _child_day(home, last - timedelta(days=1), True)
    figures["daily_day"] = _child_day(home, last, False)
    return figures


def _gate_line(verdict: dict | None) -> str:
    """What the offer gate decided on the training day (tasks/recommend.py:gate)."""
    if not verdict:
        return "No offer gate ran (`offers.must_beat` unset, or code from before the gate)."
    return (f"Gate: `{verdict['model']}` validation NDCG@10 {verdict['model_ndcg']:.4f} against `{verdict['must_beat']}` "
            f"{verdict['must_beat_ndcg']:.4f}: `{verdict['served']}` serves.")


def _curve_end(val: dict) -> str:
    """Why the validation curve ended: it flattened, or the stage's wall-clock budget or the epoch limit cut it."""
    if val.get("flattened"):
        return "flattened"
    return "cut by the wall-clock budget (`offers.max_train_seconds`)" if val.get("cut_by_budget") else "cut by the epoch limit"


def _settings_line(config: dict | None) -> str:
    """The offer settings the training day really ran with (from the model's model.json)."""
    if not config:
        return "Offer settings: not recorded."
    keys = ("model", "must_beat", "epochs", "patience", "max_train_seconds", "batch_users", "train_users",
            "samples_per_user", "val_users", "lr", "threads", "subgraph_above", "subgraph_users", "subgraph_train_users")
    line = "Offer settings of the run (`offers.*`): " + ", ".join(f"{k} {config.get(k)}" for k in keys if k in config) + "."
    if "subgraph_above" not in config:
        line += (" Recorded before `offers.subgraph_above` existed: every training step propagated the whole graph, "
                 "as `LEADGRAPH_OFFERS__SUBGRAPH_ABOVE=4000000` (above the world's customers) makes it do today.")
    return line


def page(figures: dict) -> str:
    """The results page from the figures."""
    def stage(day: str) -> dict:
        return next(s for s in figures[day]["stages"] if s["stage"] == "recommend")

    model = figures["train_day"]["model"]
    val = model["validation"] or {}
    train, daily = stage("train_day"), stage("daily_day")
    lines = [
        "# Next best offers at paper scale: training the offer model and the daily recommend stage",
        "",
        f"Written by `{figures['command']}` on {figures['date']}; {figures['machine']}.",
        "",
        f"World: paper scale, {' .. '.join(HISTORY['paper'])} (benchmarks/results/simulate.md). Each day runs in a fresh process "
        "(ingest, validate, recommend; the module docstring has the details); a peak is the highest resident set size "
        "sampled while the stage ran.",
        "",
        "| stage | day | wall | peak | target |",
        "|---|---|---|---|---|",
        f"| recommend, training the offer model | {figures['train_day']['day']} | {_fmt_s(train['wall_s'])} | "
        f"{train['peak_gib']:.2f} GiB | {TARGETS['train'] // 60} min |",
        f"| recommend, stored model | {figures['daily_day']['day']} | {_fmt_s(daily['wall_s'])} | "
        f"{daily['peak_gib']:.2f} GiB | {TARGETS['daily'] // 60} min |",
        "",
        f"Training day: model `{model['model']}`; epoch count chosen on the validation split as of {val.get('as_of', '-')} "
        f"({val.get('customers', 0):,} customers' next adoptions): {len(val.get('curve', []))} epochs in "
        f"{_fmt_s(model['selection_s'])}, best {model['epochs']}, curve "
        f"{_curve_end(val)}; then {len(model['history'])} epochs on the "
        f"day's behaviours in {_fmt_s(model['fit_s'])}; {train['rows']:,} recommendations written. "
        f"Validation NDCG@10 per epoch: {' '.join(format(h['val'], '.4f') for h in val.get('curve', []))}.",
        "",
        _gate_line(model.get("gate")),
        "",
        _settings_line(model.get("config")),
        "",
        f"Day with a stored model: {daily['rows']:,} recommendations written.",
        "",
        "| day | stage | wall | peak |",
        "|---|---|---|---|",
    ]
    for day in ("train_day", "daily_day"):
        lines += [f"| {figures[day]['day']} | {s['stage']} | {_fmt_s(s['wall_s'])} | {s['peak_gib']:.2f} GiB |"
                  for s in figures[day]["stages"]]
    if "simulate" in figures:
        lines += ["", f"Simulating the world first: {_fmt_s(figures['simulate']['wall_s'])}, peak {figures['simulate']['peak_gib']:.2f} GiB."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark, or one day in this process (--day)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="the paper-scale home (every mode but --page-only)")
    parser.add_argument("--day", type=date.fromisoformat, help="run this one day in this process and print its figures")
    parser.add_argument("--train", action="store_true", help="with --day: train the offer model")
    parser.add_argument("--page-only", action="store_true", help="rewrite the page from the recorded figures, run nothing")
    parser.add_argument("--page", default=PAGE.name, help="the page's file name under benchmarks/results/ (its figures "
                        "go beside it as .json), so a run under other settings keeps the main page")
    args = parser.parse_args()
    try:
        page_path = page_under(RESULTS, args.page)
    except ValueError as bad:
        parser.error(str(bad))
    figures_path = page_path.with_suffix(".json")
    if args.home is None and not args.page_only:
        parser.error("--home is required")
    if args.day is not None:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
        for ours in ("models", "tasks"):  # progress of our own stages; the libraries stay at warnings
            logging.getLogger(ours).setLevel(logging.INFO)
        print(json.dumps(run_day(args.home.resolve(), args.day, args.train)), flush=True)
        return
    if args.page_only:
        page_path.write_text(page(json.loads(figures_path.read_text(encoding="utf-8"))), encoding="utf-8")
        print(f"wrote {page_path}")
        return
    figures = run(args.home.resolve(), args.page)
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures_path.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    page_path.write_text(page(figures), encoding="utf-8")
    print(f"wrote {page_path}")


if __name__ == "__main__":
    main()
