"""The daily lead flow for D: ingest and validate, graph, train when due, score, explain, drift, publish.

Stages hand each other table names, paths and version ids. A validation failure, no model version at all or
severe drift under policy `hold` stops the run before publish, so yesterday's lists stay as they were. Without
a champion (no version passed the quality gate yet) the latest version's lists are published, marked
`model_quality = unproven` in the manifest and the run summary.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from prefect import flow

from flows.ingest_validate import ingest_and_validate
from leadgraph.config import Settings, load_settings
from leadgraph.errors import RunHeld
from tasks import registry, runs
from tasks.desk_snapshot import desk_snapshot_task
from tasks.drift import drift_task
from tasks.explain import explain_task
from tasks.graph import graph_task
from tasks.home_lock import home_lock
from tasks.publish import model_quality_doc, publish_artifacts, publish_task
from tasks.recommend import recommend_task
from tasks.score import ScoreRef, score_task
from tasks.train import is_training_due, train_task
from tasks.validate_report import ValidationFailed

FLOW_NAME = "daily-leads"


def run_settings(settings: Settings | None, sets: list[str] | None) -> Settings:
    """The run's settings: the caller's resolved object, or (a scheduled run) resolved from the environment and `sets`."""
    if settings is not None:
        if sets:
            raise ValueError("pass either resolved settings or --set items to a flow, not both")
        return settings
    return load_settings(sets=sets or ())


def scheduled_date() -> date:
    """D for a scheduled run without parameters: the date the run was scheduled for."""
    from prefect.runtime import flow_run

    return flow_run.scheduled_start_time.date()


def _score_and_explain(settings: Settings, as_of: date, version: str) -> ScoreRef:
    """Score D's prospects with `version`, then add reasons to the top of each list."""
    scored = score_task(settings, as_of, version)
    explain_task(settings, scored)
    return scored


@flow(name=FLOW_NAME)
def daily_leads(as_of: date | None = None, model_name: str | None = None, settings: Settings | None = None,
                sets: list[str] | None = None) -> str:
    """Run D's pipeline and publish its lead lists; returns a one-paragraph summary naming where the lists are.

    A held day raises RunHeld after it is recorded, so its flow run ends Failed with the reason as its message.
    """
    as_of = as_of or scheduled_date()
    settings = run_settings(settings, sets)
    with home_lock(settings, f"run --as-of {as_of}"):
        try:
            with runs.recorded(settings, FLOW_NAME, as_of) as record:
                record.status, record.detail = _run(settings, as_of, model_name, record.run_id)
        finally:
            # The desk reads this snapshot, never the warehouse: held and failed days must show there too.
            desk_snapshot_task(settings, as_of)
    summary = f"{as_of} {record.status}: {record.detail}"
    if record.status == "held":
        raise RunHeld(summary, f"fix what the reason names, then run {as_of} again; earlier lists are unchanged")
    return summary


def _reasons(failure: ValidationFailed) -> str:
    """The failure's headline and its table-level reasons on one line (examples and links left out)."""
    lines = [line.strip() for line in str(failure).splitlines()]
    return "; ".join(line for line in lines if line and not line.startswith(("e.g.", "details:")))


def _run(settings: Settings, as_of: date, model_name: str | None, run_id: str) -> tuple[str, str]:
    """The stages of D; returns (status, detail) for meta.runs and the summary."""
    step = partial(runs.stage, settings, run_id)
    try:
        with step("validate"):
            _, checked = ingest_and_validate(as_of, settings)
    except ValidationFailed as failure:
        return "held", f"validation failed, nothing published, earlier lists unchanged: {_reasons(failure)}"
    summary: dict[str, Any] = {"validation": {"status": "passed", "quarantined": sum(checked.quarantined.values())}}
    with step("graph"):
        snapshot = graph_task(settings, as_of)

    demoted = registry.demote_broken(settings)
    due, why = is_training_due(settings, as_of, drift_severe=False)
    summary["training"] = {"due": due, "why": why, "demoted": demoted}
    if due:
        with step("train"):
            trained = train_task(settings, as_of, model_name)
        summary["training"]["result"] = f"{trained.version}: {trained.status}"
    elif model_name:
        summary["training"]["ignored"] = f"model {model_name} not trained: training not due ({why})"
    champion = registry.serving(settings)
    if champion is None:
        return "held", "no model version: nothing trained yet; nothing published"
    summary["model_quality"] = registry.model_quality(champion)

    with step("score"):
        scored = _score_and_explain(settings, as_of, champion.version)
    with step("recommend"):
        summary["offers"] = recommend_task(settings, as_of, train=due).render()
    with step("drift"):
        drift = drift_task(settings, as_of, champion.version, snapshot.path, scored.table)
    if drift.severe and drift.action == "retrain":
        _, why = is_training_due(settings, as_of, drift_severe=True)
        with step("retrain"):
            trained = train_task(settings, as_of, model_name)
        summary["training"] = {"due": True, "why": why, "result": f"{trained.version}: {trained.status}"}
        if trained.status == registry.CHAMPION or champion.status != registry.CHAMPION:
            champion = trained
            summary["model_quality"] = registry.model_quality(champion)
            scored = _score_and_explain(settings, as_of, champion.version)
            drift = drift_task(settings, as_of, champion.version, snapshot.path, scored.table)
    summary["drift"] = {"status": drift.status, "share_drifted": round(drift.share_drifted, 4), "action": drift.action}
    if drift.severe and drift.action == "hold":
        return "held", (f"severe drift ({drift.share_drifted:.0%} of columns), policy hold: nothing published, "
                        f"earlier lists unchanged; report {drift.report_path}")

    list_run, republished = runs.list_run_id(settings, as_of, champion.version, snapshot.data_version)
    status = {"validation": "passed", "drift": drift.status, "training": summary["training"]["why"],
              "model_quality": summary["model_quality"]}
    with step("publish"):
        result = publish_task(settings, as_of, scored.table, list_run, champion.version, snapshot.data_version, status,
                              quality=model_quality_doc(settings, champion))
        publish_artifacts(settings, result, summary)
    again = f" (re-published lists {list_run})" if republished else f" (lists {list_run})"
    again += f"; {summary['training']['ignored']}" if "ignored" in summary["training"] else ""
    again += "".join(f"; {note}" for note in demoted)
    return "published", (f"{result.total_rows} leads in {len(result.files)} territories with {champion.version} "
                         f"(model_quality {summary['model_quality']}) -> {result.folder}{again}")
