"""The first two stages of the daily run as one flow: ingest D, then validate D."""

from __future__ import annotations

from datetime import date

from prefect import Task, flow
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from leadgraph.config import Settings
from tasks.ingest import IngestReport, ingest_task
from tasks.validate import ValidationFailed, ValidationReport, validate_task


def retry_unless_data_failure(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry a validation that crashed, never one that judged the data bad: the data will not change."""
    try:
        state.result()
    except ValidationFailed:
        return False
    except Exception:
        return True
    return False


@flow(name="ingest-and-validate")
def ingest_and_validate(as_of: date, settings: Settings) -> tuple[IngestReport, ValidationReport]:
    """Load every new landing partition up to D, then validate it; a table-level failure fails the flow."""
    ingest = ingest_task.with_options(retries=settings.ingest.retries, retry_delay_seconds=settings.ingest.retry_delay_seconds)
    validate = validate_task.with_options(retries=settings.validate_.crash_retries, retry_condition_fn=retry_unless_data_failure)
    loaded = ingest(settings, as_of)
    checked = validate(settings, as_of)
    return loaded, checked
