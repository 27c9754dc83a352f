"""Exact label probabilities of a simulated world from its daily hazards, in closed form over running sums.

On each day s a prospect without a contract has a high_interest event with probability 1 - exp(-h1(s))
and, if it had a high_interest event on an earlier day, signs with probability 1 - exp(-h2(s)),
independently; after signing it has no more sales events. With H1, H2 the running sums of the
hazards, for an anchor t and T = t + window:

- not yet eligible at t (no high_interest by t):
    P(high_interest in (t, t+30]) = 1 - exp(-(H1(t+30) - H1(t)))
    P(signs in (t, T]) = sum over s of P(first high_interest on s) * P(signs in (s, T])
                       = 1 - exp(-(H1(T) - H1(t))) - exp(H1(t) - H2(T)) * (G(T) - G(t)),
    G(d) = sum_{s <= d} (exp(-H1(s-1)) - exp(-H1(s))) * exp(H2(s));
- eligible at t:
    P(signs in (t, T]) = 1 - exp(-(H2(T) - H2(t)))
    P(no high_interest in (t, t+30]) = exp(-(dH1 + dH2)) + exp(H1(t) + H2(t)) * (F(t+30) - F(t)),
    F(d) = sum_{s <= d} exp(-H1(s) - H2(s-1)) * (1 - exp(-h2(s)))   (signed on s before any event).

So one update of four running sums per day serves every open anchor; an anchor keeps only its
snapshot of the sums at t.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Truth:
    """The true probabilities of one anchor day, for its prospects (indices into the customer arrays)."""

    day: int
    customer: np.ndarray
    p_high_interest: np.ndarray
    p_contract: np.ndarray


@dataclass
class _Anchor:
    """One open window: who counts, who was eligible, and the running sums at the anchor."""

    day: int
    prospect: np.ndarray
    eligible: np.ndarray
    h1: np.ndarray
    h2: np.ndarray
    g: np.ndarray
    f: np.ndarray
    p1: np.ndarray | None = None


class TruthTracker:
    """Running hazard sums of every customer and the anchors whose windows are still open."""

    def __init__(self, n: int, hi_days: int, contract_days: int, on_truth: Callable[[Truth], None]):
        self.hi_days, self.contract_days, self.on_truth = hi_days, contract_days, on_truth
        self.h1 = np.zeros(n)
        self.h2 = np.zeros(n)
        self.g = np.zeros(n)
        self.f = np.zeros(n)
        # exp(-H1) and exp(H2), kept as running products so a day costs few exponentials.
        self.survive1 = np.ones(n)
        self.grow2 = np.ones(n)
        self.open: list[_Anchor] = []

    def add_day(self, day: int, h1: np.ndarray, h2: np.ndarray) -> None:
        """Fold one day's hazards of the first len(h1) customers (the others have none yet) into the sums;
        finish the windows that end on this day."""
        k = len(h1)
        stay1 = np.exp(-h1)
        stay2 = np.exp(-h2)
        survive1 = self.survive1[:k]
        grow2 = self.grow2[:k]
        self.f[:k] += survive1 * stay1 / grow2 * -np.expm1(-h2)
        self.g[:k] += survive1 * -np.expm1(-h1) * (grow2 / stay2)
        survive1 *= stay1
        grow2 /= stay2
        self.h1[:k] += h1
        self.h2[:k] += h2
        for anchor in list(self.open):
            self._close(anchor, day)

    def open_anchor(self, day: int, prospect: np.ndarray, eligible: np.ndarray) -> None:
        """Start a window at the end of its anchor day over the first len(prospect) customers."""
        k = len(prospect)
        self.open.append(_Anchor(day, prospect, eligible, self.h1[:k].copy(), self.h2[:k].copy(),
                                 self.g[:k].copy(), self.f[:k].copy()))

    def _close(self, a: _Anchor, day: int) -> None:
        """Compute a window's probabilities on its last day(s)."""
        k = len(a.prospect)
        offset = day - a.day
        if offset == self.hi_days:
            d1 = self.h1[:k] - a.h1
            d2 = self.h2[:k] - a.h2
            no_event = np.exp(-d1 - d2) + np.exp(a.h1 + a.h2) * (self.f[:k] - a.f)
            a.p1 = np.where(a.eligible, 1.0 - no_event, -np.expm1(-d1))
            a.f = a.f[:0]
        if offset == self.contract_days:
            d1 = self.h1[:k] - a.h1
            d2 = self.h2[:k] - a.h2
            via_interest = -np.expm1(-d1) - np.exp(a.h1 - self.h2[:k]) * (self.g[:k] - a.g)
            p2 = np.where(a.eligible, -np.expm1(-d2), np.maximum(via_interest, 0.0))
            rows = np.flatnonzero(a.prospect)
            self.on_truth(Truth(a.day, rows, np.clip(a.p1[rows], 0.0, 1.0), p2[rows]))
            self.open.remove(a)

    def pending(self) -> list[int]:
        """Anchor days whose windows are still open."""
        return [a.day for a in self.open]
