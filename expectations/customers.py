"""Suite for raw.customers: change rows of every customer, with their station and optional company."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(
    name="customers",
    key=("customer_id",),
    version_column="updated_at",
    time_column="updated_at",
    text_columns=("name", "industry"),
    references={"station_id": "stations", "company_id": "companies"},
)


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Customers: typed, located at a station, created no later than changed."""
    return [
        *common.standard(
            SPEC, cfg, required=("customer_id", "customer_type", "station_id", "created_at", "updated_at")
        ),
        common.one_of("customer_type", ["individual", "business"]),
        common.ordered("created_at", "updated_at"),
    ]
