"""The validate task retries a crash but never a verdict on the data."""

from __future__ import annotations

from prefect.states import Failed

from flows.ingest_validate import retry_unless_data_failure
from tasks.validate import ValidationFailed


def test_data_failure_is_not_retried_but_a_crash_is() -> None:
    assert retry_unless_data_failure(None, None, Failed(data=ValidationFailed("shipments: rule bad_row_fraction"))) is False
    assert retry_unless_data_failure(None, None, Failed(data=OSError("database is locked"))) is True
