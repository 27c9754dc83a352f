"""The `leadgraph` command: one verb per stage, plus the daily run, backfills, benchmarks and serving.

Heavy libraries (torch, prefect, great_expectations, evidently) are imported inside
the verbs that need them, so `leadgraph --help` stays fast.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import typer
from rich.console import Console

from flows.cli_errors import GuardedGroup, check_model, check_range
from leadgraph.config import load_settings

app = typer.Typer(help="leadgraph: ranked, explained lead lists for logistics sales teams.", no_args_is_help=True,
                  cls=GuardedGroup)
bench_app = typer.Typer(help="Benchmarks: DBLP reproduction and the simulated logistics world.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
console = Console(soft_wrap=True)


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


def _local_prefect() -> None:
    """Without a configured Prefect server, flows run on an embedded one whose state stays in the home folder."""
    import os

    settings = load_settings()
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


@app.command()
def simulate(
    scale: str = typer.Option("tiny", help="tiny (~20k customers), small, or paper (~6.1M graph nodes)."),
    start: str = typer.Option("2025-01-01", help="First day of history (YYYY-MM-DD)."),
    end: str = typer.Option("2025-12-31", help="Last day of history (YYYY-MM-DD)."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same bytes."),
    defects: float = typer.Option(0.0, "--defects", help="Rate of injected defects per table (0 = clean)."),
) -> None:
    """Write a simulated logistics world into landing/ (and the true probabilities into truth/)."""
    from simulator.simulate import SimulationError
    from simulator.simulate import simulate as run_simulate

    settings = load_settings()
    try:
        summary = run_simulate(settings, scale=scale, start=_day(start), end=_day(end), seed=seed, defect_rate=defects)
    except SimulationError as err:
        console.print(f"[red]simulate: {err}[/red]")
        raise typer.Exit(code=2) from err
    console.print(summary.render())


@app.command()
def ingest(as_of: date = AS_OF) -> None:
    """Load every landing partition up to D into the warehouse, idempotently."""
    from tasks.ingest import ingest as run_ingest

    report = run_ingest(load_settings(), as_of)
    console.print(report.render())


@app.command()
def validate(as_of: date = AS_OF) -> None:
    """Run the expectation suites and integrity checks for D; quarantine bad rows."""
    from tasks.validate import validate as run_validate

    console.print(run_validate(load_settings(), as_of).render())


@app.command()
def graph(as_of: date = AS_OF, force: bool = FORCE) -> None:
    """Build (or reuse) the heterogeneous graph snapshot as of D and print its size."""
    from tasks.gate import require_validated
    from tasks.graph import build_snapshot

    require_validated(load_settings(), as_of, force)
    ref = build_snapshot(load_settings(), as_of)
    console.print(ref.render())


@app.command()
def train(
    as_of: date = AS_OF,
    model: Optional[str] = typer.Option(None, help="Model name from the registry (default: the configured one)."),
    force: bool = FORCE,
) -> None:
    """Train a model on anchors whose label windows closed by D and register the version."""
    check_model(model)
    from tasks.gate import require_validated
    from tasks.train import train_and_register

    require_validated(load_settings(), as_of, force)
    _show_progress()
    version = train_and_register(load_settings(), as_of, model_name=model)
    console.print(version.render())


@app.command()
def models() -> None:
    """List registered model versions and which one is champion (works while a run is writing)."""
    from tasks.registry import render_versions
    from tasks.status import render_models

    console.print(render_models(load_settings(), render_versions))


@app.command()
def status(last: int = typer.Option(10, help="How many recent runs to show.")) -> None:
    """The last runs from meta.runs with each stage's state and time (works while a run is writing)."""
    from tasks.status import render_status

    console.print(render_status(load_settings(), last))


@app.command()
def run(as_of: date = AS_OF, model: Optional[str] = typer.Option(None, help="Model to train when training is due.")) -> None:
    """Run the daily lead flow for D: ingest, validate, graph, train when due, score, drift, publish."""
    check_model(model)
    _local_prefect()
    _show_progress()
    from flows.daily import daily_leads

    result = daily_leads(as_of=as_of, model_name=model)
    console.print(result)


@app.command()
def backfill(
    start: str = typer.Option(..., help="First date (YYYY-MM-DD)."),
    end: str = typer.Option(..., help="Last date (YYYY-MM-DD)."),
    force: bool = typer.Option(False, help="Re-run dates that are already published."),
) -> None:
    """Run the daily flow for each date in [start, end]; resumable, skips published dates unless --force."""
    check_range(_day(start), _day(end))
    _local_prefect()
    _show_progress()
    from flows.backfill import backfill as run_backfill

    console.print(run_backfill(start=_day(start), end=_day(end), force=force))


@app.command()
def serve() -> None:
    """Start a local Prefect server in the home folder and serve the deployments."""
    from deployments.serve import serve as run_serve

    run_serve(load_settings())


@bench_app.command("dblp")
def bench_dblp(
    models_: str = typer.Option("all", "--models", help="Comma-separated model names, or 'all'."),
    seeds: int = typer.Option(5, help="Number of seeds per model."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the runs an earlier invocation recorded with the same settings."),
) -> None:
    """Run models on the DBLP benchmark; write benchmarks/results/dblp.md."""
    from benchmarks.dblp import run as run_dblp

    run_dblp(models_, seeds, resume=resume)


@bench_app.command("logistics")
def bench_logistics(
    scale: str = typer.Option("tiny", help="tiny or small."),
    models_: str = typer.Option("all", "--models", help="Comma-separated model names, or 'all'."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="Cap on graph-model epochs."),
    max_train_minutes: Optional[float] = typer.Option(None, "--max-train-minutes", help="Cap on each model's training time."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the models an earlier invocation recorded with the same settings."),
) -> None:
    """Run models on the simulated world; write its section of benchmarks/results/logistics.md."""
    from benchmarks.logistics import run as run_logistics

    _show_progress()
    run_logistics(scale, models_, max_epochs, max_train_minutes, resume=resume)
