"""Suite for raw.service_events: a customer's enquiries, quotes, trials and adoptions of catalogue offers."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig
from leadgraph.contract import BEHAVIOURS

SPEC = common.TableSpec(
    name="service_events",
    key=("event_id",),
    time_column="event_at",
    text_columns=(),
    references={"customer_id": "customers", "service_id": "services"},
)


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Service events: a known behaviour of a known customer towards a known offer."""
    return [
        *common.standard(SPEC, cfg, required=("event_id", "customer_id", "service_id", "behaviour", "event_at")),
        common.one_of("behaviour", list(BEHAVIOURS)),
    ]
