"""Suite for raw.stations: change rows of the station network (region = sales territory)."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(name="stations", key=("station_id",), version_column="updated_at", time_column="updated_at", text_columns=("city", "region"))


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Stations: located on the globe, hub or depot, opened on a plausible date."""
    return [
        *common.standard(SPEC, cfg, required=("station_id", "region", "kind", "updated_at")),
        common.between("lat", "range:lat", min_value=-90, max_value=90),
        common.between("lon", "range:lon", min_value=-180, max_value=180),
        common.one_of("kind", ["hub", "depot"]),
        common.dated_sanely("opened_at")[0],
    ]
