"""Suite for raw.accounts: change rows of billing accounts."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(name="accounts", key=("account_id",), version_column="updated_at", time_column="updated_at", text_columns=())


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Accounts: known type and payment method, created no later than changed."""
    return [
        *common.standard(SPEC, cfg, required=("account_id", "account_type", "created_at", "updated_at")),
        common.one_of("account_type", ["personal", "corporate", "monthly"]),
        common.one_of("payment_method", ["cash", "card", "transfer", "credit"]),
        common.ordered("created_at", "updated_at"),
    ]
