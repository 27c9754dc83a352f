"""The `leadgraph` command: one verb per stage, plus the daily run, backfills, benchmarks and serving.

Heavy libraries (torch, prefect, great_expectations, evidently) are imported inside
the verbs that need them, so `leadgraph --help` stays fast.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from flows.cli_errors import GuardedGroup, check_model, check_range, guarded
from leadgraph.config import Paths, Settings
from leadgraph.settings_loader import PROJECT_FILE, SettingsError, child_environment, init_text, resolve, show_lines

app = typer.Typer(help="leadgraph: ranked, explained lead lists for logistics sales teams.", no_args_is_help=True,
                  cls=GuardedGroup)
bench_app = typer.Typer(help="Benchmarks: DBLP reproduction and the simulated logistics world.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect and write leadgraph's settings.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.add_typer(config_app, name="config")
console = Console(soft_wrap=True)

# Every verb takes these: the settings layers of one run (see leadgraph/settings_loader.py).
COMMON_OPTIONS = [
    inspect.Parameter("home", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
                      default=typer.Option(None, "--home", help="Home folder (default: LEADGRAPH_HOME, the file's home, ./var).")),
    inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
                      default=typer.Option(None, "--config", help="Settings file (default: LEADGRAPH_CONFIG, ./leadgraph.toml).")),
    inspect.Parameter("set_", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[list[str]],
                      default=typer.Option(None, "--set", help="Override one setting: section.key=value (repeatable).")),
]


def settings_or_exit(home: Path | None, config: Path | None, sets: list[str] | None, export: bool = False) -> Settings:
    """Resolve the run's settings, or print the one-line reason (key and source) and exit 2.

    With `export`, the layers also go into this process's environment, so the flow runs that a served
    deployment starts in child processes resolve exactly the same settings.
    """
    import os

    try:
        resolved = resolve(home, config, sets or ())
    except SettingsError as err:
        console.print(f"[red]settings: {err}[/red]", markup=True, highlight=False)
        raise typer.Exit(code=2) from None
    if export:
        os.environ.update(child_environment(resolved, sets or ()))
    return resolved.settings


def verb(target: typer.Typer, name: str | None = None,
         export: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command that receives `settings` resolved from the common options --home, --config, --set
    (with `export`, also handed on to the child processes it starts)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        target_name = name
        own = [p for p in inspect.signature(fn).parameters.values() if p.name != "settings"]

        @functools.wraps(fn)
        def command(*args: Any, home: Path | None = None, config: Path | None = None, set_: list[str] | None = None,
                    **kwargs: Any) -> Any:
            settings = settings_or_exit(home, config, set_, export)
            return guarded(target_name or fn.__name__, settings, lambda: fn(*args, settings=settings, **kwargs))

        command.__signature__ = inspect.Signature(own + COMMON_OPTIONS)  # type: ignore[attr-defined]
        command.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "settings"} | {
            p.name: p.annotation for p in COMMON_OPTIONS}
        return target.command(name)(command)

    return register


def _day(value: str) -> date:
    """Parse an ISO date given on the command line."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as err:
        raise typer.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from err


def _show_progress() -> None:
    """Training and other long stages log their progress (models.*, tasks.*) to the terminal."""
    import logging

    if console.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console, show_path=False, log_time_format="%H:%M:%S")
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    for name in ("models", "tasks"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        # Prefect's own console handler on the root logger would print every line a second time.
        logger.propagate = False


def _local_prefect(settings: Settings) -> None:
    """Without a configured Prefect server, flows run on an embedded one whose state stays in the home folder."""
    import os

    # Prefect cannot create its sqlite database when the folder above it is missing.
    settings.paths.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(settings.paths.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Inside flow runs, Prefect shows (and stores) what leadgraph's own modules log, e.g. training progress.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "models,tasks")
    # The embedded API starts in a few seconds on an idle machine; a busy one can need much longer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(int(settings.serve.startup_timeout_s)))


AS_OF = typer.Option(..., "--as-of", help="The business date D (YYYY-MM-DD).", parser=_day)
FORCE = typer.Option(False, "--force", help="Work on D even though its validation did not pass.")


@verb(app)
def simulate(
    scale: str = typer.Option("tiny", help="tiny (~20k customers), small, or paper (~6.1M graph nodes)."),
    start: str = typer.Option("2025-01-01", help="First day of history (YYYY-MM-DD)."),
    end: str = typer.Option("2025-12-31", help="Last day of history (YYYY-MM-DD)."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same bytes."),
    defects: float = typer.Option(0.0, "--defects", help="Rate of injected defects per table (0 = clean)."),
    settings: Settings = None,
) -> None:
    """Write a simulated logistics world into landing/ (and the true probabilities into truth/)."""
    from simulator.simulate import SimulationError
    from simulator.simulate import simulate as run_simulate

    try:
        summary = run_simulate(settings, scale=scale, start=_day(start), end=_day(end), seed=seed, defect_rate=defects)
    except SimulationError as err:
        console.print(f"[red]simulate: {err}[/red]")
        raise typer.Exit(code=2) from err
    console.print(summary.render())


@verb(app)
def check(settings: Settings = None) -> None:
    """Read every source through its mapping (a sample) and report per table, before anything is ingested."""
    from tasks.check import check_sources

    report = check_sources(settings)
    console.print(report.render(), markup=False, highlight=False)
    if report.blocking:
        raise typer.Exit(code=2)


@verb(app)
def ingest(as_of: date = AS_OF, settings: Settings = None) -> None:
    """Load every landing partition up to D into the warehouse, idempotently."""
    from tasks.ingest import ingest as run_ingest

    report = run_ingest(settings, as_of)
    console.print(report.render())


@verb(app)
def validate(as_of: date = AS_OF, settings: Settings = None) -> None:
    """Run the expectation suites and integrity checks for D; quarantine bad rows."""
    from tasks.validate import validate as run_validate

    console.print(run_validate(settings, as_of).render())


@verb(app)
def graph(as_of: date = AS_OF, force: bool = FORCE, settings: Settings = None) -> None:
    """Build (or reuse) the heterogeneous graph snapshot as of D and print its size."""
    from tasks.gate import require_validated
    from tasks.graph import build_snapshot

    require_validated(settings, as_of, force)
    ref = build_snapshot(settings, as_of)
    console.print(ref.render())


@verb(app)
def train(
    as_of: date = AS_OF,
    model: Optional[str] = typer.Option(None, help="Model name from the registry (default: the configured one)."),
    force: bool = FORCE,
    settings: Settings = None,
) -> None:
    """Train a model on anchors whose label windows closed by D and register the version."""
    check_model(model)
    from tasks.gate import require_validated
    from tasks.train import train_and_register

    require_validated(settings, as_of, force)
    _show_progress()
    version = train_and_register(settings, as_of, model_name=model)
    console.print(version.render())


@verb(app)
def score(as_of: date = AS_OF, force: bool = FORCE, settings: Settings = None) -> None:
    """Score and explain D's prospects with the serving model version (nothing is published)."""
    from tasks.gate import require_validated
    from tasks.single_stage import score_alone

    require_validated(settings, as_of, force)
    console.print(score_alone(settings, as_of).render(), highlight=False)


@verb(app)
def publish(as_of: date = AS_OF, force: bool = FORCE, settings: Settings = None) -> None:
    """Publish D's lead lists from its scores (after `leadgraph score`); drift is not checked on this path."""
    from tasks.gate import require_validated, validation_verdict
    from tasks.single_stage import publish_alone

    require_validated(settings, as_of, force)
    result = publish_alone(settings, as_of, validated=validation_verdict(settings, as_of)[0])
    console.print(result.render(), highlight=False)


@verb(app)
def models(settings: Settings = None) -> None:
    """List registered model versions and which one is champion (works while a run is writing)."""
    from tasks.registry import render_versions
    from tasks.status import render_models

    console.print(render_models(settings, render_versions))


@verb(app)
def status(last: int = typer.Option(10, help="How many recent runs to show."), settings: Settings = None) -> None:
    """The last runs from meta.runs with each stage's state and time (works while a run is writing)."""
    from tasks.status import render_status

    console.print(render_status(settings, last))


@verb(app)
def run(as_of: date = AS_OF, model: Optional[str] = typer.Option(None, help="Model to train when training is due."),
        settings: Settings = None) -> None:
    """Run the daily lead flow for D: ingest, validate, graph, train when due, score, drift, publish."""
    check_model(model)
    _local_prefect(settings)
    _show_progress()
    from flows.daily import daily_leads

    result = daily_leads(as_of=as_of, model_name=model, settings=settings)
    console.print(result)


@verb(app)
def backfill(
    start: str = typer.Option(..., help="First date (YYYY-MM-DD)."),
    end: str = typer.Option(..., help="Last date (YYYY-MM-DD)."),
    force: bool = typer.Option(False, help="Re-run dates that are already published."),
    settings: Settings = None,
) -> None:
    """Run the daily flow for each date in [start, end]; resumable, skips published dates unless --force."""
    check_range(_day(start), _day(end))
    _local_prefect(settings)
    _show_progress()
    from flows.backfill import backfill as run_backfill

    console.print(run_backfill(start=_day(start), end=_day(end), force=force, settings=settings))


@verb(app, export=True)
def serve(settings: Settings = None) -> None:
    """Start a local Prefect server in the home folder and serve the deployments, with the lead desk beside them."""
    from deployments.serve import serve as run_serve

    run_serve(settings)


@verb(app, "desk")
def desk_verb(
    host: Optional[str] = typer.Option(None, help="Address to listen on (default desk.host, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default desk.port)."),
    token: list[str] = typer.Option([], help="TOKEN, or TOKEN=Territory,Territory for a rep; required off loopback."),
    settings: Settings = None,
) -> None:
    """Serve the lead desk: territory lists, lead pages, the model and the runs (read-only web page)."""
    from desk.access import AccessError
    from desk.server import parse_tokens, run_desk

    try:
        settings.desk.tokens = {**settings.desk.tokens, **parse_tokens(token)}
        run_desk(settings, host, port)
    except (AccessError, ValueError) as err:
        console.print(f"[red]desk: {err}[/red]")
        raise typer.Exit(code=2) from err


@verb(app, "desk-snapshot")
def desk_snapshot(as_of: Optional[str] = typer.Option(None, "--as-of", help="Also write this published day's lead details."),
                  settings: Settings = None) -> None:
    """Rewrite the desk's snapshot of the run records (runs do this themselves; only with no run going)."""
    from tasks.desk_snapshot import write_snapshot

    console.print(f"desk snapshot written to {write_snapshot(settings, _day(as_of) if as_of else None)}")


@bench_app.command("dblp")
def bench_dblp(
    models_: str = typer.Option("all", "--models", help="Comma-separated model names, or 'all'."),
    seeds: int = typer.Option(5, help="Number of seeds per model."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the runs an earlier invocation recorded with the same settings."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Start no new run after this much wall time."),
    rerun: str = typer.Option("", "--rerun", help="Comma-separated rows (among --models) to train again despite --resume."),
    from_seed: int = typer.Option(0, "--from-seed", help="Run seeds from this one on (another invocation runs the others)."),
) -> None:
    """Run models on the DBLP benchmark; write benchmarks/results/dblp.md."""
    from benchmarks.dblp import run as run_dblp

    run_dblp(models_, seeds, resume=resume, max_minutes=max_minutes,
             rerun=tuple(r.strip() for r in rerun.split(",") if r.strip()), from_seed=from_seed)


@bench_app.command("dblp-tune")
def bench_dblp_tune(
    models_: str = typer.Option(..., "--models", help="Comma-separated model names."),
    candidates: int = typer.Option(8, help="Candidate settings each model tries (the same list for every model)."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the tuning runs an earlier invocation recorded."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Start no new run after this much wall time."),
) -> None:
    """Give every listed model the same tuning budget on DBLP's validation split; write benchmarks/results/dblp_tuning.md."""
    from benchmarks.dblp_tuning import run as tune

    tune(models_, candidates, resume=resume, max_minutes=max_minutes)


@bench_app.command("logistics")
def bench_logistics(
    scale: str = typer.Option("tiny", help="tiny or small."),
    models_: str = typer.Option("all", "--models", help="Comma-separated model names, or 'all'."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="Cap on graph-model epochs."),
    max_train_minutes: Optional[float] = typer.Option(None, "--max-train-minutes", help="Cap on each model's training time."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the runs an earlier invocation recorded with the same settings."),
    seeds: int = typer.Option(1, help="Training seeds per model (0 to N-1)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Start no new fit after this many minutes (0: the page from recorded runs)."),
) -> None:
    """Run models on the simulated world; write its section of benchmarks/results/logistics.md."""
    from benchmarks.logistics import run as run_logistics

    _show_progress()
    run_logistics(scale, models_, max_epochs, max_train_minutes, resume=resume, seeds=seeds, max_minutes=max_minutes)


@bench_app.command("offers")
def bench_offers(
    scale: str = typer.Option("tiny", help="tiny or small."),
    models_: str = typer.Option("all", "--models", help="Comma-separated offer model names, or 'all'."),
    seeds: int = typer.Option(5, help="Training seeds per model."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (default: offers.epochs)."),
    patience: Optional[int] = typer.Option(None, help="Epochs without a better validation score before stopping (default: offers.patience)."),
    batch_users: Optional[int] = typer.Option(None, "--batch-users", help="Users per batch (default: offers.batch_users)."),
    samples: Optional[int] = typer.Option(None, "--samples", help="Pairs per user and behaviour (default: offers.samples_per_user)."),
    lr: Optional[float] = typer.Option(None, help="CIGF family learning rate (default: offers.lr)."),
    baseline_lr: Optional[float] = typer.Option(None, "--baseline-lr", help="MF-BPR / LightGCN learning rate (default: offers.baseline_lr)."),
    threads: int = typer.Option(1, help="Torch threads."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the (model, seed) runs an earlier invocation recorded with the same settings."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Start no new run after this many minutes (0: the page from recorded runs)."),
    page: str = typer.Option("offers.md", help="Results page under benchmarks/results/ (runs under other settings get their own)."),
) -> None:
    """Run the offer models on the simulated service funnel; write benchmarks/results/offers.md (or --page)."""
    import sys

    from benchmarks.offers import run as run_offers

    command = "leadgraph " + " ".join(sys.argv[1:])
    overrides = {"epochs": epochs, "patience": patience, "batch_users": batch_users, "samples_per_user": samples, "lr": lr, "baseline_lr": baseline_lr,
                 "threads": threads}
    console.print(f"wrote {run_offers(scale, models_, seeds, overrides, command, resume, max_minutes, page)}", highlight=False)


@config_app.command("show")
def config_show(
    home: Optional[Path] = COMMON_OPTIONS[0].default,
    config: Optional[Path] = COMMON_OPTIONS[1].default,
    set_: Optional[list[str]] = COMMON_OPTIONS[2].default,
) -> None:
    """Print every resolved setting with its value and where it came from (default, file, environment, --set)."""
    try:
        resolved = resolve(home, config, set_ or ())
    except SettingsError as err:
        console.print(f"[red]settings: {err}[/red]", highlight=False)
        raise typer.Exit(code=2) from None
    console.print(f"# settings file: {resolved.config_file or 'none'}", highlight=False)
    for key, value, source in show_lines(resolved):
        console.print(f"{key} = {value}  # {source}", highlight=False, markup=False)


@config_app.command("init")
def config_init(
    path: Path = typer.Argument(Path(PROJECT_FILE), help="Where to write the commented settings file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented leadgraph.toml with every section, key and default."""
    if path.exists() and not force:
        console.print(f"[red]config init: {path} exists; use --force to overwrite it[/red]", highlight=False)
        raise typer.Exit(code=2)
    path.write_text(init_text(Settings(paths=Paths(home=Path("var")))), encoding="utf-8")
    console.print(f"wrote {path}")
