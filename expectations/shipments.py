"""Suite for raw.shipments: one row per parcel, by event time."""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import common
from leadgraph.config import ValidateConfig

SPEC = common.TableSpec(
    name="shipments",
    key=("shipment_id",),
    time_column="shipped_at",
    text_columns=(),
    references={"sender_customer_id": "customers", "receiver_customer_id": "customers", "origin_station_id": "stations"},
)


def expectations(cfg: ValidateConfig) -> list[Expectation]:
    """Shipments: both parties and origin present, positive weight, non-negative fee, known service level."""
    ids = ("shipment_id", "sender_customer_id", "receiver_customer_id", "origin_station_id")
    return [
        *common.standard(SPEC, cfg, required=(*ids, "shipped_at", "weight_kg")),
        common.between("weight_kg", "positive:weight_kg", min_value=0, strict_min=True),
        common.between("fee", "non_negative:fee", min_value=0),
        common.one_of("service_level", ["standard", "express", "freight"]),
    ]
