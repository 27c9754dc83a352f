"""Suite for raw.companies: change rows of the companies customers may belong to."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(name="companies", key=("company_id",), version_column="updated_at", time_column="updated_at", text_columns=("industry", "city"))


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Companies: a size band from the list and non-negative capital."""
    return [
        *common.standard(SPEC, cfg, required=("company_id", "updated_at")),
        common.one_of("size_band", ["micro", "small", "medium", "large"]),
        common.between("registered_capital", "non_negative:registered_capital", min_value=0),
    ]
