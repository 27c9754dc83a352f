"""Suite for raw.sales_events: contacts with customers and their outcomes (the labels come from here)."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(name="sales_events", key=("event_id",), time_column="event_at", text_columns=(), references={"customer_id": "customers"})


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Sales events: a known outcome through a known channel."""
    return [
        *common.standard(SPEC, cfg, required=("event_id", "customer_id", "event_at", "outcome")),
        common.one_of("outcome", ["contacted", "high_interest", "contract_signed"]),
        common.one_of("channel", ["phone", "visit", "email", "web"]),
    ]
