"""Suite for raw.services: change rows of the service catalogue (one offer = a category to a destination region)."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(
    name="services",
    key=("service_id",),
    version_column="updated_at",
    time_column="updated_at",
    text_columns=("name", "category", "destination_region"),
)


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Services: named and categorised (a later row changing the category is caught in SQL)."""
    return [*common.standard(SPEC, cfg, required=("service_id", "name", "category", "updated_at"))]
