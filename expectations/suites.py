"""The suite of every raw table, by table name."""

from __future__ import annotations

from types import ModuleType

from expectations import (
    accounts, companies, customer_accounts, customers, sales_events, service_events, services, shipments, stations,
)
from expectations.common import TableSpec

SUITES: dict[str, ModuleType] = {
    m.SPEC.name: m for m in (stations, companies, customers, accounts, customer_accounts, shipments, sales_events, services, service_events)
}


def spec(table: str) -> TableSpec:
    """The validation identity of a raw table."""
    return SUITES[table].SPEC
