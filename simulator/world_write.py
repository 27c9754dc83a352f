"""Turn a simulated world's days into landing partitions: one typed Arrow table per raw table and day, then files.

Dimension rows: day 0 carries every station, company, customer, account and holding that existed
before the history (with their past creation times); later days carry the rows created that day and
the rows that changed (customers renamed, companies re-capitalised, accounts switching payment
method, depots upgraded to hubs). `updated_at` is the creation time for new rows, the delivery time
(00:01 of day 0) for the initial load, and a time on the day for changes. Facts are written on the
day of their event time; day 0 also carries the sales backlog (events before the history).
CSV files: UTF-8, a plain header, no quoting (no value contains a delimiter), empty = null,
timestamps as `YYYY-MM-DD HH:MM:SS`, dates as `YYYY-MM-DD`.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from simulator.world import ACCOUNT_ID0, COMPANY_ID0, CUSTOMER_ID0, INDUSTRIES, REGION_NAMES, STATION_ID0, World
from simulator.world_days import CHANNELS, OUTCOMES, SERVICE_LEVELS, DayEvents

SHIPMENT_ID0 = 10_000_000_000
EVENT_ID0 = 30_000_000_000
TS = pa.timestamp("s")
SIZE_BANDS = ("micro", "small", "medium", "large")
SIZE_LIMITS = np.array([2e5, 2e6, 2e7])
PAYMENT = ("cash", "card", "transfer", "credit")
GIVEN = ("Wei", "Fang", "Lei", "Min", "Jun", "Hui", "Ping", "Qiang", "Yan", "Tao", "Jing", "Bo", "Xin", "Lan",
         "Kai", "Rong", "Hao", "Ying", "Chen", "Lu", "Mei", "Shu", "Zhen", "Ling")
FAMILY = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu",
          "Hu", "Guo", "He", "Lin", "Luo", "Gao", "Zheng", "Liang", "Xie", "Song", "Tang", "Han", "Feng", "Deng")
TRADE = ("Trading", "Logistics", "Supply", "Goods", "Industrial", "Commerce", "Imports", "Works", "Market",
         "Manufacturing", "Foods", "Tech")
FORM = ("Co", "Ltd", "Group", "Holdings", "Store", "Partners")
SCHEMAS: dict[str, pa.Schema] = {
    "stations": pa.schema([("station_id", pa.int64()), ("city", pa.string()), ("region", pa.string()),
                           ("lat", pa.float64()), ("lon", pa.float64()), ("kind", pa.string()),
                           ("opened_at", pa.date32()), ("updated_at", TS)]),
    "companies": pa.schema([("company_id", pa.int64()), ("industry", pa.string()), ("size_band", pa.string()),
                            ("registered_capital", pa.float64()), ("city", pa.string()), ("updated_at", TS)]),
    "customers": pa.schema([("customer_id", pa.int64()), ("name", pa.string()), ("customer_type", pa.string()),
                            ("industry", pa.string()), ("station_id", pa.int64()), ("company_id", pa.int64()),
                            ("created_at", TS), ("updated_at", TS)]),
    "accounts": pa.schema([("account_id", pa.int64()), ("account_type", pa.string()),
                           ("payment_method", pa.string()), ("created_at", TS), ("updated_at", TS)]),
    "customer_accounts": pa.schema([("customer_id", pa.int64()), ("account_id", pa.int64()), ("linked_at", TS)]),
    "shipments": pa.schema([("shipment_id", pa.int64()), ("sender_customer_id", pa.int64()),
                            ("receiver_customer_id", pa.int64()), ("origin_station_id", pa.int64()),
                            ("shipped_at", TS), ("weight_kg", pa.float64()), ("fee", pa.float64()),
                            ("service_level", pa.string())]),
    "sales_events": pa.schema([("event_id", pa.int64()), ("customer_id", pa.int64()), ("event_at", TS),
                               ("outcome", pa.string()), ("channel", pa.string())]),
    "services": pa.schema([("service_id", pa.int64()), ("name", pa.string()), ("category", pa.string()),
                           ("destination_region", pa.string()), ("launched_at", pa.date32()), ("updated_at", TS)]),
    "service_events": pa.schema([("event_id", pa.int64()), ("customer_id", pa.int64()), ("service_id", pa.int64()),
                                 ("behaviour", pa.string()), ("event_at", TS)]),
}


def _spread(ids: np.ndarray, day: int) -> np.ndarray:
    """A deterministic time of day (seconds, 07:00-20:00) per row, so change rows need no random draws."""
    return 7 * 3600 + (ids.astype(np.int64) * 2_654_435_761 + day * 40_503) % (13 * 3600)


def _label(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Category codes as strings; -1 becomes null."""
    arr = pa.array(np.asarray(values, dtype=object)).take(pa.array(np.maximum(codes, 0)))
    return pc.if_else(pa.array(codes < 0), pa.scalar(None, pa.string()), arr) if (codes < 0).any() else arr


def _by_day(day_of_row: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Row order grouped by delivery day and the offsets of each day's slice."""
    order = np.argsort(day_of_row, kind="stable")
    bounds = np.searchsorted(day_of_row[order], np.arange(days + 1), side="left")
    return order, bounds


class PartitionBuilder:
    """Builds each day's typed tables; holds the dimension values that change over the history."""

    def __init__(self, world: World, start: date):
        self.w = world
        self.epoch0 = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
        self.start = start
        days = world.days
        self.cu_version = np.zeros(world.n_customers, dtype=np.int64)
        self.co_capital = world.co_capital.copy()
        self.ac_payment = self._initial_payment()
        self.st_hub = world.st_hub.copy()
        cu_day = np.clip(np.floor(world.cu_created), 0, None).astype(np.int64)
        self.customer_bounds = np.searchsorted(cu_day, np.arange(days + 1), side="left")
        self.company_order, self.company_bounds = _by_day(world.co_created, days)
        ac_day = np.clip(np.floor(world.ac_created), 0, None).astype(np.int64)
        self.account_order, self.account_bounds = _by_day(ac_day, days)
        ln_day = np.clip(np.floor(world.ln_linked), 0, None).astype(np.int64)
        self.link_order, self.link_bounds = _by_day(ln_day, days)
        member = np.flatnonzero(world.cu_company >= 0)
        self.first_member = np.full(len(world.co_station), -1, dtype=np.int64)
        self.first_member[world.cu_company[member][::-1]] = member[::-1]
        self.next_shipment = SHIPMENT_ID0
        self.next_event = EVENT_ID0

    def _initial_payment(self) -> np.ndarray:
        """Payment method codes: personal accounts pay cash or card, company accounts transfer or credit."""
        ids = np.arange(len(self.w.ac_created))
        personal = self.w.ac_company < 0
        return np.where(personal, ids % 2, 2 + (ids * 7 // 3) % 2)

    def _ts(self, day_offsets: np.ndarray) -> pa.Array:
        """Fractional day offsets from day 0 as second-resolution timestamps."""
        return pa.array(self.epoch0 + np.floor(day_offsets * 86_400).astype(np.int64), type=TS)

    def _at(self, day: int, seconds: np.ndarray) -> pa.Array:
        """Seconds within a day as timestamps."""
        return pa.array(self.epoch0 + day * 86_400 + seconds.astype(np.int64), type=TS)

    def _range(self, bounds: np.ndarray, day: int) -> np.ndarray:
        """Indices delivered on a day (day 0 also takes everything from before the history)."""
        return np.arange(bounds[day], bounds[day + 1])

    def stations(self, ev: DayEvents) -> pa.Table:
        """Day 0: every station; later days: depots upgraded to hubs."""
        w = self.w
        if ev.day == 0:
            idx = np.arange(len(w.st_region))
            updated = self._at(0, np.full(len(idx), 60))
        else:
            idx = ev.changed_stations
            self.st_hub[idx] = True
            updated = self._at(ev.day, _spread(idx, ev.day))
        opened = pa.array((np.datetime64(self.start) + w.st_opened[idx].astype("timedelta64[D]")), type=pa.date32())
        return pa.table([
            pa.array(STATION_ID0 + idx), pa.array(w.st_city[idx], type=pa.string()),
            _label(REGION_NAMES, w.st_region[idx]), pa.array(w.st_lat[idx]), pa.array(w.st_lon[idx]),
            _label(("depot", "hub"), self.st_hub[idx].astype(np.int64)), opened, updated,
        ], schema=SCHEMAS["stations"])

    def companies(self, ev: DayEvents) -> pa.Table:
        """Companies appearing with their first member, plus re-capitalised ones."""
        w = self.w
        new = self.company_order[self.company_bounds[ev.day]:self.company_bounds[ev.day + 1]]
        changed = ev.changed_companies
        self.co_capital[changed] = np.round(self.co_capital[changed] * ev.capital_factor, -3)
        idx = np.concatenate([new, changed])
        if ev.day == 0:
            new_at = np.full(len(new), 60)
        else:
            first = np.floor((w.cu_created[self.first_member[new]] - ev.day) * 86_400).astype(np.int64)
            new_at = np.maximum(first - 60, 0)
        seconds = np.concatenate([new_at, _spread(changed, ev.day)])
        band = np.searchsorted(SIZE_LIMITS, self.co_capital[idx])
        return pa.table([
            pa.array(COMPANY_ID0 + idx), _label(INDUSTRIES, w.co_industry[idx]), _label(SIZE_BANDS, band),
            pa.array(self.co_capital[idx]), pa.array(w.st_city[w.co_station[idx]], type=pa.string()),
            self._at(ev.day, seconds),
        ], schema=SCHEMAS["companies"])

    def customers(self, ev: DayEvents) -> pa.Table:
        """New customers of the day, plus renamed ones (a new version of the name)."""
        w = self.w
        new = self._range(self.customer_bounds, ev.day)
        changed = ev.changed_customers
        self.cu_version[changed] += 1
        idx = np.concatenate([new, changed])
        created = self._ts(w.cu_created[idx])
        if ev.day == 0:
            updated = self._at(0, np.full(len(idx), 60))
        else:
            updated = pa.concat_arrays([created.slice(0, len(new)), self._at(ev.day, _spread(changed, ev.day))])
        company = w.cu_company[idx]
        return pa.table([
            pa.array(CUSTOMER_ID0 + idx), self._names(idx),
            _label(("individual", "business"), w.cu_business[idx].astype(np.int64)),
            _label(INDUSTRIES, w.cu_industry[idx]), pa.array(STATION_ID0 + w.cu_station[idx]),
            pa.array(np.where(company >= 0, COMPANY_ID0 + company, 0), mask=company < 0, type=pa.int64()),
            created, updated,
        ], schema=SCHEMAS["customers"])

    def _names(self, idx: np.ndarray) -> pa.Array:
        """Names from syllable tables: people for individuals, firms for businesses; a new version renames."""
        w = self.w
        key = idx * 7919 + self.cu_version[idx] * 104_729
        given = pa.array(np.asarray(GIVEN, dtype=object)).take(pa.array(key % len(GIVEN)))
        family = pa.array(np.asarray(FAMILY, dtype=object)).take(pa.array((key // 31) % len(FAMILY)))
        trade = pa.array(np.asarray(TRADE, dtype=object)).take(pa.array((key // 7) % len(TRADE)))
        form = pa.array(np.asarray(FORM, dtype=object)).take(pa.array((key // 13) % len(FORM)))
        person = pc.binary_join_element_wise(family, given, " ")
        firm = pc.binary_join_element_wise(family, trade, form, " ")
        return pc.if_else(pa.array(w.cu_business[idx]), firm, person)

    def accounts(self, ev: DayEvents) -> pa.Table:
        """Accounts opened on the day (with their first holder), plus payment-method switches."""
        w = self.w
        new = self.account_order[self.account_bounds[ev.day]:self.account_bounds[ev.day + 1]]
        changed = ev.changed_accounts
        self.ac_payment[changed] = np.where(w.ac_company[changed] < 0, 1 - self.ac_payment[changed] % 2,
                                            2 + (1 - self.ac_payment[changed] % 2))
        idx = np.concatenate([new, changed])
        created = self._ts(w.ac_created[idx])
        if ev.day == 0:
            updated = self._at(0, np.full(len(idx), 60))
        else:
            updated = pa.concat_arrays([created.slice(0, len(new)), self._at(ev.day, _spread(changed, ev.day))])
        company = w.ac_company[idx]
        kind = np.where(company < 0, 0, np.where(self.co_capital[np.maximum(company, 0)] >= 2e6, 2, 1))
        return pa.table([
            pa.array(ACCOUNT_ID0 + idx), _label(("personal", "corporate", "monthly"), kind),
            _label(PAYMENT, self.ac_payment[idx]), created, updated,
        ], schema=SCHEMAS["accounts"])

    def customer_accounts(self, ev: DayEvents) -> pa.Table:
        """Holdings linked on the day."""
        w = self.w
        idx = self.link_order[self.link_bounds[ev.day]:self.link_bounds[ev.day + 1]]
        return pa.table([
            pa.array(CUSTOMER_ID0 + w.ln_customer[idx]), pa.array(ACCOUNT_ID0 + w.ln_account[idx]),
            self._ts(w.ln_linked[idx]),
        ], schema=SCHEMAS["customer_accounts"])

    def shipments(self, ev: DayEvents) -> pa.Table:
        """The day's shipments with sequential ids, in time order."""
        w = self.w
        pair = ev.ship_pair
        sender, receiver = w.pr_sender[pair], w.pr_receiver[pair]
        multiplier = np.array([1.0, 1.6, 0.7])[ev.ship_service] * np.where(w.pr_same_region[pair], 1.0, 1.4)
        fee = np.round(4.0 + 0.9 * ev.ship_weight ** 0.8 * multiplier, 2)
        ids = self.next_shipment + np.arange(len(pair))
        self.next_shipment += len(pair)
        return pa.table([
            pa.array(ids), pa.array(CUSTOMER_ID0 + sender), pa.array(CUSTOMER_ID0 + receiver),
            pa.array(STATION_ID0 + w.cu_station[sender]), self._at(ev.day, ev.ship_second),
            pa.array(ev.ship_weight), pa.array(fee), _label(SERVICE_LEVELS, ev.ship_service),
        ], schema=SCHEMAS["shipments"])

    def sales_events(self, ev: DayEvents) -> pa.Table:
        """The day's sales events (day 0 first lists the backlog from before the history), sequential ids."""
        customer, outcome, channel = ev.ev_customer, ev.ev_outcome, ev.ev_channel
        stamps = self.epoch0 + ev.day * 86_400 + ev.ev_second.astype(np.int64)
        if ev.backlog:
            b = ev.backlog
            past = self.epoch0 + np.floor(b["day"] * 86_400).astype(np.int64)
            order = np.lexsort((b["customer"], past))
            customer = np.concatenate([b["customer"][order], customer])
            stamps = np.concatenate([past[order], stamps])
            outcome = np.concatenate([b["outcome"][order], outcome])
            channel = np.concatenate([np.where(b["outcome"][order] == 2, 1, 0), channel])
        ids = self.next_event + np.arange(len(customer))
        self.next_event += len(customer)
        return pa.table([
            pa.array(ids), pa.array(CUSTOMER_ID0 + customer), pa.array(stamps, type=TS),
            _label(OUTCOMES, outcome), _label(CHANNELS, channel),
        ], schema=SCHEMAS["sales_events"])

    def build(self, ev: DayEvents) -> dict[str, pa.Table]:
        """Every table's partition for one day."""
        return {
            "stations": self.stations(ev),
            "companies": self.companies(ev),
            "customers": self.customers(ev),
            "accounts": self.accounts(ev),
            "customer_accounts": self.customer_accounts(ev),
            "shipments": self.shipments(ev),
            "sales_events": self.sales_events(ev),
        }


def as_text(table: pa.Table) -> pa.Table:
    """Every column as its CSV text (nulls stay null)."""
    return pa.table([pc.cast(col, pa.string()) for col in table.columns], names=table.column_names)


def csv_bytes(text: pa.Table) -> bytes:
    """A text table as CSV: plain header, unquoted values (none contains a delimiter), empty = null."""
    sink = io.BytesIO()
    sink.write((",".join(text.column_names) + "\n").encode())
    if text.num_rows:
        pacsv.write_csv(text, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()


def write_parquet(table: pa.Table, path: Path) -> None:
    """A Parquet file with deterministic bytes."""
    pq.write_table(table, path, compression="snappy", row_group_size=1 << 20)


def day_date(start: date, day: int) -> date:
    """The calendar date of a day offset."""
    return start + timedelta(days=day)
