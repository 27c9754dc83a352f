"""How the `leadgraph` command fails: a one-line error with what to do and a meaningful exit code.

Every verb runs inside `GuardedGroup`: expected failures (`leadgraph.errors`) print their message and hint,
anything else prints its type and message; the traceback only with `--debug` anywhere on the line
(or LEADGRAPH_DEBUG=1). `guarded` runs each verb on its resolved settings: verbs that read an existing
home check first that it is one, so a mistyped --home or LEADGRAPH_HOME creates nothing.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import date
from typing import Any, Callable

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from leadgraph.config import Settings
from leadgraph.errors import EXIT_BUSY, EXIT_UNEXPECTED, LeadgraphError, UsageError
from tasks.home_lock import home_lock

# Verbs that create a home (or need none); every other verb needs an existing leadgraph home.
CREATES_HOME = frozenset({"simulate", "serve", "bench"})
# Verbs that write the home hold its run lock; `models` and `status` only read and never wait for it.
WRITES_HOME = frozenset({"simulate", "ingest", "validate", "graph", "train", "run", "backfill"})
DEBUG_KEY = "leadgraph_debug"


def require_home(settings: Settings) -> None:
    """Refuse to start when the home folder is missing or holds neither landing/, a warehouse nor configured sources."""
    paths = settings.paths
    if not paths.home.is_dir():
        raise UsageError(f"home folder {paths.home} does not exist",
                         "pass --home (or set LEADGRAPH_HOME) to your leadgraph home, or create one with `leadgraph simulate`")
    own_sources = any(src.kind != "landing" for src in settings.sources.values())
    if not paths.landing.is_dir() and not paths.warehouse.exists() and not own_sources:
        raise UsageError(f"{paths.home} is not a leadgraph home (no landing/ folder, no warehouse.duckdb, no [sources] in the settings)",
                         "pass --home (or set LEADGRAPH_HOME) to your leadgraph home, deliver files into landing/<table>/dt=YYYY-MM-DD/, "
                         "or map your own tables with [sources.<table>] in leadgraph.toml")


def check_model(name: str | None) -> None:
    """Refuse an unknown --model before anything starts."""
    if name is None:
        return
    from models.registry import MODEL_NAMES

    if name not in MODEL_NAMES:
        raise UsageError(f"unknown model {name!r}", f"choose one of: {', '.join(MODEL_NAMES)}")


def check_range(start: date, end: date) -> None:
    """Refuse a date range that ends before it starts."""
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}", "swap the two dates")


def describe(err: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message (plus hint) for an error that ended a verb."""
    if isinstance(err, LeadgraphError):
        first = str(err).strip().splitlines()
        text = "\n".join(first) if first else type(err).__name__
        return err.exit_code, text + (f"\n  what to do: {err.hint}" if err.hint else "")
    message = " ".join(str(err).split())[:500]
    if "Could not set lock on file" in message:
        return EXIT_BUSY, ("the warehouse is in use by another leadgraph process\n"
                           "  what to do: wait for it to finish (`leadgraph status` shows it), then run again")
    if isinstance(err, OSError) and err.filename:
        return EXIT_UNEXPECTED, f"{err.strerror or type(err).__name__}: {err.filename}"
    return EXIT_UNEXPECTED, (f"unexpected {type(err).__name__}: {message}\n"
                             "  what to do: run again with --debug for the traceback and report it")


def guarded(name: str, settings: Settings, call: Callable[[], Any]) -> Any:
    """Run a verb on its resolved settings: the home checked first when the verb needs one, the lock held when it writes."""
    if name not in CREATES_HOME:
        require_home(settings)
    if name not in WRITES_HOME:
        return call()
    with home_lock(settings, name):
        return call()


class GuardedGroup(TyperGroup):
    """The root command: a global --debug, and every verb's errors turned into one line and an exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # --debug is accepted anywhere on the line, so it needs no slot among the global options.
        ctx.meta[DEBUG_KEY] = "--debug" in args or os.environ.get("LEADGRAPH_DEBUG", "") not in ("", "0")
        return super().parse_args(ctx, [a for a in args if a != "--debug"])

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as err:  # every failure of a verb ends here, so none escapes as a bare traceback
            code, text = describe(err)
            if ctx.meta.get(DEBUG_KEY):
                traceback.print_exception(err, file=sys.stderr)
            typer.echo(f"error: {text}", err=True)
            raise typer.Exit(code) from err
