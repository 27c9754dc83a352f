"""Score and publish run alone (the `score` and `publish` verbs), with the serving model version, as the daily flow would.

The daily flow is the normal path; these let the data team redo one stage of D (after fixing a model or a
list template, say) without rerunning the day. Both refuse to guess: no serving version, or no scores of D
by it, stops them with what to run first.
"""

from __future__ import annotations

from datetime import date

from leadgraph.config import Settings
from leadgraph.errors import UsageError
from leadgraph.warehouse import connect
from tasks import registry, runs
from tasks.explain import explain
from tasks.graph import build_snapshot
from tasks.publish import PublishResult, model_quality_doc, publish
from tasks.score import SCORES_TABLE, ScoreRef, score


def _serving(settings: Settings, as_of: date) -> registry.ModelVersion:
    """The version serving D, or a UsageError naming what to run."""
    version = registry.serving(settings)
    if version is None:
        raise UsageError("no model version to score with", f"train one first: leadgraph train --as-of {as_of}")
    return version


def score_alone(settings: Settings, as_of: date) -> ScoreRef:
    """Score D's prospects with the serving version and explain the top of each list (nothing published)."""
    scored = score(settings, as_of, _serving(settings, as_of).version)
    explain(settings, scored)
    return scored


def publish_alone(settings: Settings, as_of: date, validated: bool) -> PublishResult:
    """Publish D's lists from the scores the serving version wrote for D; drift is not checked on this path."""
    version = _serving(settings, as_of)
    with connect(settings.paths.warehouse, read_only=True) as con:
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [SCORES_TABLE]).fetchone()[0]
        rows = con.execute(f"SELECT count(*) FROM {SCORES_TABLE} WHERE as_of = ? AND model_version = ?",
                           [as_of, version.version]).fetchone()[0] if exists else 0
    if not rows:
        raise UsageError(f"no scores of {as_of} by the serving version {version.version}",
                         f"score first: leadgraph score --as-of {as_of}")
    snapshot = build_snapshot(settings, as_of)
    run_id, _ = runs.list_run_id(settings, as_of, version.version, snapshot.data_version)
    quality = registry.model_quality(version)
    status = {"validation": "passed" if validated else "not passed (published with --force)",
              "drift": "not checked (leadgraph publish)", "training": "not checked (leadgraph publish)",
              "model_quality": quality}
    return publish(settings, as_of, SCORES_TABLE, run_id, version.version, snapshot.data_version, status,
                   quality=model_quality_doc(settings, version))
