"""The `leadgraph` command: one verb per stage, plus the daily run, backfills, benchmarks and serving.

Heavy libraries (torch, prefect, great_expectations, evidently) are imported inside
the verbs that need them, so `leadgraph --help` stays fast.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import typer
from rich.console import Console

from leadgraph.config import load_settings

app = typer.Typer(help="leadgraph: ranked, explained lead lists for logistics sales teams.", no_args_is_help=True)
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
    from tasks.validate import ValidationFailed
    from tasks.validate import validate as run_validate

    try:
        report = run_validate(load_settings(), as_of)
    except ValidationFailed as failure:
        console.print(f"[red]validation failed[/red]\n{failure}")
        raise typer.Exit(code=2) from failure
    console.print(report.render())


@app.command()
def graph(as_of: date = AS_OF) -> None:
    """Build (or reuse) the heterogeneous graph snapshot as of D and print its size."""
    from tasks.graph import build_snapshot

    ref = build_snapshot(load_settings(), as_of)
    console.print(ref.render())


@app.command()
def train(
    as_of: date = AS_OF,
    model: Optional[str] = typer.Option(None, help="Model name from the registry (default: the configured one)."),
) -> None:
    """Train a model on anchors whose label windows closed by D and register the version."""
    from tasks.train import train_and_register

    _show_progress()
    version = train_and_register(load_settings(), as_of, model_name=model)
    console.print(version.render())


@app.command()
def models() -> None:
    """List registered model versions and which one is champion."""
    from tasks.registry import render_versions

    console.print(render_versions(load_settings()))


@app.command()
def run(as_of: date = AS_OF, model: Optional[str] = typer.Option(None, help="Model to train when training is due.")) -> None:
    """Run the daily lead flow for D: ingest, validate, graph, train when due, score, drift, publish."""
    _local_prefect()
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
    _local_prefect()
    from flows.backfill import backfill as run_backfill

    console.print(run_backfill(start=_day(start), end=_day(end), force=force))


@app.command()
def serve() -> None:
    """Start a local Prefect server in the home folder and serve the deployments, with the lead desk beside them."""
    from deployments.serve import serve as run_serve

    run_serve(load_settings())


@app.command("desk")
def desk_verb(
    host: Optional[str] = typer.Option(None, help="Address to listen on (default desk.host, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default desk.port)."),
    token: list[str] = typer.Option([], help="TOKEN, or TOKEN=Territory,Territory for a rep; required off loopback."),
) -> None:
    """Serve the lead desk: territory lists, lead pages, the model and the runs (read-only web page)."""
    from desk.access import AccessError
    from desk.server import parse_tokens, run_desk

    settings = load_settings()
    try:
        settings.desk.tokens = {**settings.desk.tokens, **parse_tokens(token)}
        run_desk(settings, host, port)
    except (AccessError, ValueError) as err:
        console.print(f"[red]desk: {err}[/red]")
        raise typer.Exit(code=2) from err


@app.command("desk-snapshot")
def desk_snapshot(as_of: Optional[str] = typer.Option(None, "--as-of", help="Also write this published day's lead details.")) -> None:
    """Rewrite the desk's snapshot of the run records (runs do this themselves; only with no run going)."""
    from tasks.desk_snapshot import write_snapshot

    console.print(f"desk snapshot written to {write_snapshot(load_settings(), _day(as_of) if as_of else None)}")


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
