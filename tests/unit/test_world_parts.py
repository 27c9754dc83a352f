"""Small pieces of the simulator: anchor Mondays, distinct values, malformed CSV lines, world structure."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from leadgraph.config import ScaleSize, SimulateConfig
from simulator.defects import corrupt_lines
from simulator.simulate import anchor_days
from simulator.world import build_world, distinct


def test_anchor_days_are_every_nth_monday() -> None:
    start = date(2025, 7, 1)  # a Tuesday
    days = anchor_days(start, 60, 1)
    assert days[0] == 6 and all((start + timedelta(d)).weekday() == 0 for d in days)
    assert anchor_days(start, 60, 2) == days[::2]


def test_distinct_matches_numpy_unique() -> None:
    values = np.random.default_rng(0).integers(0, 50, 1_000)
    assert np.array_equal(distinct(values), np.unique(values))
    assert distinct(values[:0]).size == 0


def test_corrupt_lines_changes_only_the_given_lines() -> None:
    data = b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n"
    out = corrupt_lines(data, [1], np.random.default_rng(1)).split(b"\n")
    assert out[0] == b"a,b,c" and out[1] == b"1,2,3" and out[3] == b"7,8,9" and out[4] == b""
    assert out[2].count(b",") != 2


def test_world_structure() -> None:
    size = ScaleSize(customers=4_000, companies=600, stations=20, regions=5, pairs=7_000, shipments_per_day=150)
    cfg = SimulateConfig()
    w = build_world(size, cfg, 100, 190, np.random.default_rng(4))
    assert np.all(np.diff(w.cu_created) >= 0)  # creation order = index order
    assert (w.cu_created < 0).mean() == cfg.initial_customer_share
    assert len(set(w.st_city)) == size.stations and set(w.st_region) == set(range(size.regions))
    assert np.bincount(w.cu_company[w.cu_company >= 0], minlength=size.companies).min() >= 1
    # Company accounts are held only by members of that company.
    company_account = w.ac_company[w.ln_account] >= 0
    assert np.all(w.cu_company[w.ln_customer[company_account]] == w.ac_company[w.ln_account[company_account]])
    assert np.all(w.ln_linked >= w.cu_created[w.ln_customer])
    same_region = w.pr_same_region.mean()
    assert 0.75 < same_region < 0.95 and np.all(w.pr_sender != w.pr_receiver)
    assert np.isclose(w.pr_rate.sum(), size.shipments_per_day)
