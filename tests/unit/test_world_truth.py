"""The closed-form truth of the simulator against a brute-force Monte Carlo of the same event rules."""

from __future__ import annotations

import numpy as np

from simulator.world_truth import Truth, TruthTracker

DAYS, ANCHOR, HI, CONTRACT, PATHS = 110, 12, 30, 90, 100_000


def _monte_carlo(h1: np.ndarray, h2: np.ndarray, eligible: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Share of simulated paths with a high_interest event in 30 days and a signing in 90 days after the anchor."""
    n = h1.shape[1]
    p1, p2 = np.zeros(n), np.zeros(n)
    for i in range(n):
        hi_before = np.full(PATHS, eligible[i])
        signed = np.zeros(PATHS, dtype=bool)
        event = np.zeros(PATHS, dtype=bool)
        for day in range(ANCHOR + 1, ANCHOR + CONTRACT + 1):
            interest = ~signed & (rng.random(PATHS) < -np.expm1(-h1[day, i]))
            signing = ~signed & hi_before & (rng.random(PATHS) < -np.expm1(-h2[day, i]))
            if day <= ANCHOR + HI:
                event |= interest
            signed |= signing
            hi_before |= interest
        p1[i], p2[i] = event.mean(), signed.mean()
    return p1, p2


def test_closed_form_matches_simulation() -> None:
    rng = np.random.default_rng(3)
    n = 6
    h1 = rng.uniform(0.002, 0.04, (DAYS, n))
    h2 = rng.uniform(0.002, 0.04, (DAYS, n))
    eligible = np.array([True, False, True, False, True, False])
    prospect = np.array([True, True, True, True, True, False])
    out: list[Truth] = []
    tracker = TruthTracker(n, HI, CONTRACT, out.append)
    for day in range(DAYS):
        tracker.add_day(day, h1[day], h2[day])
        if day == ANCHOR:
            tracker.open_anchor(day, prospect, eligible & prospect)
    assert tracker.pending() == [] and len(out) == 1
    truth = out[0]
    assert truth.day == ANCHOR and list(truth.customer) == [0, 1, 2, 3, 4]
    mc1, mc2 = _monte_carlo(h1, h2, eligible, rng)
    # 5 standard errors of a proportion over 100k paths.
    for exact, simulated in [(truth.p_high_interest, mc1[:5]), (truth.p_contract, mc2[:5])]:
        se = np.sqrt(np.maximum(simulated * (1 - simulated), 1e-4) / PATHS)
        assert np.all(np.abs(exact - simulated) < 5 * se), (exact, simulated)
    # Eligibility matters in the direction the rules say: signing needs an earlier high_interest event.
    assert truth.p_contract[0] > truth.p_contract[1] and truth.p_contract[2] > truth.p_contract[3]
