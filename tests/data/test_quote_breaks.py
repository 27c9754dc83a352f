"""A quote that runs past its line end costs that line only: it is rejected with its number, the next lines load."""

from __future__ import annotations

import json

import duckdb

from leadgraph.config import Settings
from tasks.ingest import ingest
from tasks.validate import ValidationFailed, validate
from tests.data.builders import small_world, write_text


def test_each_line_with_a_runaway_quote_is_rejected_alone_with_a_warning(settings: Settings) -> None:
    settings.validate_.data_docs = False
    days = small_world(settings, days=2)
    day = days[1]
    header = "customer_id,name,customer_type,industry,station_id,company_id,created_at,updated_at\n"
    lines = [f'{i},Shop {i},business,retail,1,,{day} 05:00:00,{day} 05:00:00\n' for i in range(110, 140)]
    lines[2] = f'112,"Shop 112,business,retail,1,,{day} 05:00:00,{day} 05:00:00\n'
    write_text(settings, "customers", day, (header + "".join(lines)).encode(), name="part-9")
    events = "event_id,customer_id,event_at,outcome,channel\n" + "".join(
        f"{900 + i},{i},{day} 15:00:00,contacted,phone\n" for i in range(113, 140))
    write_text(settings, "sales_events", day, events.encode(), name="part-9")

    report = ingest(settings, day)
    outcome = next(o for o in report.outcomes if o.file == f"customers/dt={day}/part-9.csv")
    assert outcome.status == "loaded" and outcome.rows == 30
    assert "quote that runs past the line end" in outcome.message and "line 4" in outcome.message
    assert "line 4" in report.render()
    try:
        validate(settings, day)
    except ValidationFailed:
        pass  # one bad line in 30 may hold the day; what is under test is that it costs that line only
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        quarantined = con.execute("SELECT table_name, _file, _row, raw_values FROM meta.quarantine ORDER BY _row").fetchall()
        loaded = con.execute("SELECT count(*) FROM raw.customers WHERE _file LIKE '%part-9.csv' AND customer_id IS NOT NULL").fetchall()
    # One line, under every rule it breaks; no sales event of the lines after it is an orphan.
    assert {(t, r) for t, _, r, _ in quarantined} == {("customers", 3)}
    assert json.loads(quarantined[0][3])["line"].startswith('112,"Shop 112')
    assert loaded == [(29,)]
