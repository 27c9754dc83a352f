"""Non-finite and implausible numbers break a rule; a value of the wrong type is quarantined as delivered."""

from __future__ import annotations

import json
import math

import duckdb

from leadgraph.config import Settings
from tasks.ingest import ingest
from tasks.validate import ValidationFailed, validate
from tests.data.builders import day_frames, small_world, write_partition, write_text


def test_non_finite_out_of_range_and_mistyped_numbers_are_quarantined(settings: Settings) -> None:
    settings.validate_.data_docs = False
    days = small_world(settings, days=2)
    shipments = day_frames(days[1], 1)["shipments"]
    shipments.loc[0, "weight_kg"] = math.inf
    shipments.loc[2, "fee"] = 1e308
    write_partition(settings, "shipments", days[1], shipments)
    epoch = shipments.iloc[[3]].assign(shipment_id=9_999, shipped_at=1_740_902_400_000_000)
    write_partition(settings, "shipments", days[1], epoch, name="part-1")
    # Text as some exporters write it: pandas itself would write NaN as an empty cell.
    write_text(settings, "companies", days[1], (
        "company_id,industry,size_band,registered_capital,city,updated_at\n"
        f"10,retail,small,-inf,Hangzhou,{days[1]} 09:00:00\n11,retail,large,NaN,Ningbo,{days[1]} 09:00:00\n").encode())

    ingest(settings, days[1])
    try:
        validate(settings, days[1])
    except ValidationFailed:
        pass  # the share of bad rows may hold the day; the quarantine is what is under test
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        found = con.execute("SELECT table_name, _file, _row, rule, raw_values FROM meta.quarantine").fetchall()
    rules = {(t, f.rsplit("/", 1)[-1], r, rule) for t, f, r, rule, _ in found}
    assert ("shipments", "part-0.parquet", 1, "finite_in_range:weight_kg") in rules
    assert ("shipments", "part-0.parquet", 3, "finite_in_range:fee") in rules
    assert ("companies", "part-0.csv", 1, "non_negative:registered_capital") in rules
    assert ("companies", "part-0.csv", 2, "finite_in_range:registered_capital") in rules
    assert ("shipments", "part-1.parquet", 1, "parsed_and_typed") in rules
    epoch_values = [json.loads(v) for t, f, _, rule, v in found if f.endswith("part-1.parquet") and rule == "parsed_and_typed"]
    assert epoch_values and epoch_values[0]["shipped_at"] in (1_740_902_400_000_000, "1740902400000000")
    good = {(f.rsplit("/", 1)[-1], r) for t, f, r, _, _ in found if t == "shipments"}
    assert ("part-0.parquet", 2) not in good and ("part-0.parquet", 4) not in good
