"""Turn the simulated catalogue and funnel events into daily landing partitions of services and service_events.

Day 0 carries every offer launched before the history and every event of the burn-in (with its past
time); later days carry the offers launched that day and the day's events, in time order, with
sequential event ids.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa

from leadgraph.contract import BEHAVIOURS
from simulator.world import CUSTOMER_ID0, REGION_NAMES
from simulator.world_offers import CATEGORIES, SERVICE_ID0, Catalogue, OfferEvent
from simulator.world_write import SCHEMAS, TS, _label

SERVICE_EVENT_ID0 = 40_000_000_000


class OfferPartitions:
    """Each day's services and service_events tables."""

    def __init__(self, cat: Catalogue, events: OfferEvent, start: date, days: int):
        self.cat, self.start = cat, start
        self.names = np.array(cat.names(), dtype=object)
        self.epoch0 = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
        stamp = self.epoch0 + np.floor(events.at * 86_400).astype(np.int64)
        day = np.maximum(np.floor(events.at), 0).astype(np.int64)
        keep = day < days
        order = np.lexsort((events.service[keep], events.customer[keep], stamp[keep]))
        self.ev_day = day[keep][order]
        self.ev_stamp = stamp[keep][order]
        self.ev_customer = events.customer[keep][order]
        self.ev_service = events.service[keep][order]
        self.ev_behaviour = events.behaviour[keep][order]
        self.bounds = np.searchsorted(self.ev_day, np.arange(days + 1), side="left")
        self.launch_day = np.maximum(cat.launched, 0)

    def services(self, day: int) -> pa.Table:
        """Offers launched on the day (day 0: all launched before the history)."""
        idx = np.flatnonzero(self.launch_day == day)
        launched = pa.array(np.datetime64(self.start) + self.cat.launched[idx].astype("timedelta64[D]"), type=pa.date32())
        seconds = np.where(self.cat.launched[idx] > 0, 8 * 3600, 60)
        return pa.table([
            pa.array(SERVICE_ID0 + idx), pa.array(self.names[idx], type=pa.string()),
            _label(CATEGORIES, self.cat.category[idx]), _label(REGION_NAMES, self.cat.region[idx]),
            launched, pa.array(self.epoch0 + day * 86_400 + seconds, type=TS),
        ], schema=SCHEMAS["services"])

    def service_events(self, day: int) -> pa.Table:
        """The day's funnel events (day 0 first lists the burn-in backlog), in time order."""
        sl = slice(self.bounds[day], self.bounds[day + 1])
        ids = SERVICE_EVENT_ID0 + np.arange(sl.start, sl.stop)
        return pa.table([
            pa.array(ids), pa.array(CUSTOMER_ID0 + self.ev_customer[sl]), pa.array(SERVICE_ID0 + self.ev_service[sl]),
            _label(BEHAVIOURS, self.ev_behaviour[sl].astype(np.int64)), pa.array(self.ev_stamp[sl], type=TS),
        ], schema=SCHEMAS["service_events"])

    def build(self, day: int) -> dict[str, pa.Table]:
        """Both tables' partitions for one day."""
        return {"services": self.services(day), "service_events": self.service_events(day)}
