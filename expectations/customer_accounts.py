"""Suite for raw.customer_accounts: which customer holds which account, from when."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(
    name="customer_accounts",
    key=("customer_id", "account_id"),
    time_column="linked_at",
    text_columns=(),
    references={"customer_id": "customers", "account_id": "accounts"},
)


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Links: both ends present and positive, linked on a sane date."""
    return common.standard(SPEC, cfg, required=("customer_id", "account_id", "linked_at"))
