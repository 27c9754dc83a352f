"""Page load of the lead desk for a territory list of 5,000 leads (and a lead page over 30 published lists).

Usage: python -m benchmarks.desk [--leads 5000] [--days 30] [--loads 20]
The published files are built by the real publish code (tasks/publish.py, `publish.top_per_territory` =
--leads) from a scored table over a generated warehouse whose one territory holds more prospects than that,
then the desk snapshot is written as a run writes it. The desk reads only those files, so the size of the
rest of the warehouse does not enter a page load. Timed: the server's answer (HTTP GET over loopback) and the
page in Chromium (navigation until the `load` event, rendering included), median of --loads each after one
warm-up load. Writes benchmarks/results/desk.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from benchmarks import machine
from leadgraph.config import Settings, load_settings
from leadgraph.warehouse import connect
from tasks.desk_snapshot import write_snapshot
from tasks.publish import publish

RESULTS = Path(__file__).resolve().parent / "results" / "desk.md"
TERRITORY = "Paper North"
FIRST_DAY = date(2025, 12, 1)


def build_warehouse(settings: Settings, customers: int) -> None:
    """One territory's station, companies and `customers` prospects, generated in SQL as raw rows."""
    with connect(settings.paths.warehouse) as con:
        lineage = "DATE '2025-01-01', 'generated', 1"
        con.execute(f"INSERT INTO raw.stations VALUES (1, 'Northport', '{TERRITORY}', 1.0, 1.0, 'hub', "
                    f"DATE '2025-01-01', TIMESTAMP '2025-01-01 08:00', {lineage})")
        con.execute(f"INSERT INTO raw.companies SELECT i, 'retail', 'small', 1e5, 'Northport', "
                    f"TIMESTAMP '2025-01-01 08:00', {lineage} FROM range(1, {customers // 4 + 1}) t(i)")
        con.execute(f"INSERT INTO raw.customers SELECT i, 'Customer ' || i, 'business', "
                    f"(['retail', 'food', 'pharma', 'machinery'])[1 + i % 4], 1, 1 + i % {customers // 4}, "
                    f"TIMESTAMP '2025-01-01 08:00', TIMESTAMP '2025-01-01 08:00', {lineage} "
                    f"FROM range(1, {customers + 1}) t(i)")
        con.execute(f"INSERT INTO raw.shipments SELECT i, 1 + i % {customers}, 1 + (i * 7919) % {customers}, 1, "
                    f"TIMESTAMP '2025-11-01 08:00' + INTERVAL (i % 29) DAY, 5.0, 9.0, 'standard', {lineage} "
                    f"FROM range(1, {customers * 3}) t(i)")


def scores(customers: int, seed: int) -> pd.DataFrame:
    """Scored, explained prospects: every customer, with the explain stage's reason columns."""
    rng = np.random.default_rng(seed)
    p_hi = rng.uniform(0, 0.2, customers)
    p_c = p_hi * rng.uniform(0, 0.01, customers)
    return pd.DataFrame({
        "customer_id": np.arange(1, customers + 1), "p_high_interest": p_hi, "p_contract": p_c,
        "score": 100 * (0.3 * p_hi / p_hi.max() + 0.7 * p_c / p_c.max()),
        "reason_1": "Shipments up from 3 to 9 in the last 30 days",
        "reason_2": "Active: last shipment 2 day(s) ago",
        "reason_3": "Model: scores above 97% of today's prospects",
        "reason_codes": "R01_SHIP_GROWTH|R06_RECENT_ACTIVITY|R09_OVERALL_SCORE",
    })


def _median_load(load, loads: int) -> tuple[float, float]:
    """(first load, median of `loads` further loads) in seconds."""
    started = time.perf_counter()
    load()
    first = time.perf_counter() - started
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        load()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times)


def main() -> None:
    from desk.browser import chromium
    from desk.server import served

    parser = argparse.ArgumentParser(description="Page load of the lead desk")
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadgraph-desk-bench-") as folder:
        settings = load_settings(Path(folder) / "home")
        settings.publish.top_per_territory = args.leads
        customers = int(args.leads * 1.2)
        build_warehouse(settings, customers)
        started = time.perf_counter()
        days = [FIRST_DAY + timedelta(days=i) for i in range(args.days)]
        for i, day in enumerate(days):
            publish(settings, day, scores(customers, i), run_id=f"bench-{i}", model_version="bench",
                    data_version="bench", status={"validation": "passed", "drift": "ok"})
            write_snapshot(settings, day)
        build_s = time.perf_counter() - started
        listed = pd.read_parquet(settings.paths.exports / f"as_of={days[-1]}" / "leads.parquet")
        size = int((listed["territory"] == TERRITORY).sum())
        lead = int(listed["customer_id"].iloc[0])
        with served(settings) as url, chromium(settings.desk) as context:
            pages = {"territory list": f"{url}/territory/{quote(TERRITORY)}", "lead page": f"{url}/lead/{lead}"}
            page = context.new_page()
            rows = []
            for name, target in pages.items():
                server = _median_load(lambda target=target: urllib.request.urlopen(target).read(), args.loads)
                browser = _median_load(lambda target=target: page.goto(target, wait_until="load"), args.loads)
                body = len(urllib.request.urlopen(target).read())
                rows.append((name, server, browser, body))
                print(f"{name}: server median {server[1] * 1000:.0f} ms, browser median {browser[1] * 1000:.0f} ms",
                      flush=True)
            shown = page.goto(pages["territory list"]) and page.locator(".leads tr[data-customer]").count()
    lines = ["# Lead desk page load", "",
             f"Command: `python -m benchmarks.desk --leads {args.leads} --days {args.days} --loads {args.loads}`", "",
             f"Machine: {machine.describe()}. Date: {machine.now()}.", "",
             f"List: {size:,} leads in territory `{TERRITORY}` ({shown:,} rows shown on the page), published by "
             f"`tasks/publish.py` with `publish.top_per_territory = {args.leads}` from a scored table of "
             f"{customers:,} prospects over a generated warehouse, {args.days} days in a row, each followed by the "
             f"desk snapshot (building all of it: {build_s:.0f} s). The desk reads only the published files and the "
             "snapshot, so a paper-scale warehouse behind a list of this size loads the same pages.", "",
             f"Each figure: the first load, then the median of {args.loads} loads. Server: HTTP GET over loopback "
             "until the whole body arrived. Browser: Chromium (Playwright) navigation until the `load` event.", "",
             "| page | size | server, first | server, median | browser, first | browser, median |",
             "|---|---|---|---|---|---|"]
    for name, server, browser, body in rows:
        lines.append(f"| {name} | {body / 1e6:.2f} MB | {server[0] * 1000:.0f} ms | {server[1] * 1000:.0f} ms | "
                     f"{browser[0] * 1000:.0f} ms | {browser[1] * 1000:.0f} ms |")
    lines.append("")
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
