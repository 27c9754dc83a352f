"""The service catalogue of a simulated world and each customer's funnel towards its offers, with the truth.

Drawn from its own random stream, after and apart from the rest of the world, so the other tables keep
their bytes. The mechanism, in words (README "The simulated world: offers"):

- Offers: a category (express parcel, cold chain, customs, ...) at a tier to a destination region.
  Each has latent factors v_j = category factors + own noise, and a popularity b_j.
- Customers: latent factors u_c = industry factors + company factors (siblings alike) + own noise.
  Fit s_cj = u_c . v_j / sqrt(f) + b_j + a bonus when the offer goes to the customer's own region.
- Each customer can ever take up only `candidates_per_customer` offers, drawn by fit (Gumbel top-k);
  the others have probability 0.
- Funnel, one step a week: none -> enquiry -> quote -> trial -> adopted, plus quote -> adopted
  directly. Step k's weekly hazard is base_k * exp(fit_k * s_cj + social_k * log(1 + n_cj)), where
  n_cj counts the customer's shipping partners, company siblings and account co-holders that adopted
  offer j before the week; enquiries add a per-pair noise that no later step sees, so earlier
  behaviours are noisy signals of later ones. `adopted` (regular use) is the target; it is final.
- Truth: for an anchor day t (a Monday), each pair's probability of an `adopted` event in
  (t, t + 90 days], propagated exactly through the funnel's weekly transition probabilities given
  the realised adoptions of everyone else (as simulator/world_truth.py does for the sales labels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from leadgraph.config import OfferWorldConfig
from simulator.world import INDUSTRIES, REGION_NAMES, World

CATEGORIES = (
    "express parcel", "same-day", "pallet freight", "full truckload", "cold chain", "air international",
    "sea international", "customs", "warehousing", "cash on delivery", "returns",
)
TIERS = ("economy", "standard", "priority")
SERVICE_ID0 = 700_000
TRUTH_WINDOW = 90
STAGES = 5  # none, enquiry, quote, trial, adopted


@dataclass
class OfferEvent:
    """Events of the whole simulation: pair index, behaviour (0 enquiry .. 3 adopted) and time in days."""

    customer: np.ndarray
    service: np.ndarray
    behaviour: np.ndarray
    at: np.ndarray


@dataclass
class OfferTruth:
    """One anchor's true adoption probabilities of its customers' candidate offers."""

    day: int
    customer: np.ndarray
    service: np.ndarray
    p_adopt: np.ndarray


@dataclass
class Catalogue:
    """The offers: category, tier, destination region and launch day (negative: before the history)."""

    category: np.ndarray
    tier: np.ndarray
    region: np.ndarray
    launched: np.ndarray

    def names(self) -> list[str]:
        """Offer names such as 'Cold chain priority to south-east'."""
        return [f"{CATEGORIES[c].capitalize()} {TIERS[t]} to {REGION_NAMES[r]}"
                for c, t, r in zip(self.category, self.tier, self.region)]


def catalogue(rng: np.random.Generator, n_offers: int, regions: int, days: int, cfg: OfferWorldConfig) -> Catalogue:
    """Distinct (category, tier, region) offers; a share of them launches during the history."""
    combos = len(CATEGORIES) * len(TIERS) * regions
    if n_offers > combos:
        raise ValueError(f"at most {combos} offers over {regions} regions, asked for {n_offers}")
    pick = np.sort(rng.choice(combos, size=n_offers, replace=False))
    cat, rest = np.divmod(pick, len(TIERS) * regions)
    tier, region = np.divmod(rest, regions)
    launched = -rng.integers(30, 2000, n_offers)
    late = rng.random(n_offers) < cfg.launch_share
    launched[late] = rng.integers(1, max(days - 30, 2), int(late.sum()))
    return Catalogue(cat, tier, region, launched)


def neighbours(world: World) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Shipping partners (customer x customer), company membership (customer x company), holdings (customer x account)."""
    n = world.n_customers
    pairs = sp.csr_matrix((np.ones(2 * len(world.pr_sender), dtype=np.float32),
                           (np.r_[world.pr_sender, world.pr_receiver], np.r_[world.pr_receiver, world.pr_sender])),
                          shape=(n, n))
    pairs.data[:] = 1.0
    member = np.flatnonzero(world.cu_company >= 0)
    company = sp.csr_matrix((np.ones(len(member), dtype=np.float32), (member, world.cu_company[member])),
                            shape=(n, len(world.co_station)))
    holds = sp.csr_matrix((np.ones(len(world.ln_customer), dtype=np.float32), (world.ln_customer, world.ln_account)),
                          shape=(n, len(world.ac_created)))
    holds.data[:] = 1.0
    return pairs, company, holds


class OfferWorld:
    """Candidate pairs, their funnel stage and the weekly steps that move them."""

    def __init__(self, world: World, cfg: OfferWorldConfig, n_offers: int, rng: np.random.Generator):
        self.w, self.cfg, self.rng = world, cfg, rng
        n, f = world.n_customers, cfg.latent_factors
        regions = int(world.st_region.max()) + 1
        self.cat = catalogue(rng, n_offers, regions, world.days, cfg)
        cat_f = rng.standard_normal((len(CATEGORIES), f))
        v = cat_f[self.cat.category] + 0.5 * rng.standard_normal((n_offers, f))
        pop = rng.normal(0.0, 0.5, n_offers) + 0.3 * (self.cat.tier == 1)
        ind_f = rng.standard_normal((len(INDUSTRIES) + 1, f))
        co_f = rng.standard_normal((len(world.co_station), f))
        u = (0.8 * ind_f[world.cu_industry] + np.where(world.cu_company[:, None] >= 0,
                                                      0.8 * co_f[np.maximum(world.cu_company, 0)], 0.0)
             + 0.6 * rng.standard_normal((n, f)))
        cu_region = world.st_region[world.cu_station]
        k = min(cfg.candidates_per_customer, n_offers)
        chunks_c, chunks_j, chunks_s = [], [], []
        for lo in range(0, n, 50_000):
            hi = min(n, lo + 50_000)
            fit = u[lo:hi] @ v.T / np.sqrt(f) + pop + cfg.same_region_bonus * (cu_region[lo:hi, None] == self.cat.region)
            gumbel = fit - np.log(-np.log(rng.random(fit.shape)))
            top = np.sort(np.argpartition(-gumbel, k - 1, axis=1)[:, :k], axis=1)
            chunks_c.append(np.repeat(np.arange(lo, hi), k))
            chunks_j.append(top.ravel())
            chunks_s.append(np.take_along_axis(fit, top, axis=1).ravel())
        self.pc = np.concatenate(chunks_c)
        self.pj = np.concatenate(chunks_j)
        self.fit = np.concatenate(chunks_s).astype(np.float32)
        self.fit -= self.fit.mean()
        self.enquiry_noise = (cfg.enquiry_noise * rng.standard_normal(len(self.pc))).astype(np.float32)
        self.available = np.maximum(world.cu_created[self.pc], self.cat.launched[self.pj].astype(np.float64))
        self.stage = np.zeros(len(self.pc), dtype=np.int8)
        self.n_offers = n_offers
        self.partners, self.company, self.holds = neighbours(world)
        self.company_t, self.holds_t = self.company.T.tocsr(), self.holds.T.tocsr()
        # Pairs come sorted by customer, then offer: their keys are sorted, so a (customer, offer) cell is found
        # by binary search.
        self.keys = self.pc.astype(np.int64) * n_offers + self.pj
        # Per pair, the partners, siblings and co-holders who adopted its offer, updated as adoptions come in
        # (a count is linear in the adoptions: adding each week's new ones gives the same integers as recounting).
        self.adopters = np.zeros(len(self.pc), dtype=np.float32)
        self.counted = np.zeros(len(self.pc), dtype=bool)

    def social(self) -> np.ndarray:
        """log(1 + partners, siblings and co-holders who adopted the pair's offer), per pair."""
        new = (self.stage == 4) & ~self.counted
        if new.any():
            self.counted |= new
            a = sp.csr_matrix((np.ones(int(new.sum()), dtype=np.float32), (self.pc[new], self.pj[new])),
                              shape=(self.w.n_customers, self.n_offers))
            # A pair's own adoption never counts: only pairs not yet adopted read this, and their own cell is 0.
            delta = (self.partners @ a + self.company @ (self.company_t @ a) + self.holds @ (self.holds_t @ a)).tocsr()
            delta.sum_duplicates()
            delta = delta.tocoo()
            keys = delta.row.astype(np.int64) * self.n_offers + delta.col
            pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            hit = self.keys[pos] == keys
            self.adopters[pos[hit]] += delta.data[hit]
        return np.log1p(self.adopters)

    def probabilities(self, start: float, end: float) -> np.ndarray:
        """Per pair and funnel step (enquiry, quote, trial, adopt after trial, adopt from quote), this week's probability."""
        cfg = self.cfg
        soc = self.social()
        open_ = (self.available < end).astype(np.float32)
        out = np.empty((5, len(self.pc)), dtype=np.float32)
        for k in range(4):
            eta = cfg.fit_weights[k] * self.fit + cfg.social_weights[k] * soc + (self.enquiry_noise if k == 0 else 0.0)
            out[k] = -np.expm1(-cfg.base_hazards[k] * np.exp(np.minimum(eta, 6.0)))
        eta = cfg.fit_weights[3] * self.fit + cfg.social_weights[3] * soc
        out[4] = -np.expm1(-cfg.skip_hazard * np.exp(np.minimum(eta, 6.0)))
        return out * open_

    def step(self, start: float, end: float, p: np.ndarray) -> OfferEvent:
        """Move every pair at most one funnel step; the events with their times inside the week's open part."""
        stage = self.stage
        draw = self.rng.random(len(stage)).astype(np.float32)
        to = np.full(len(stage), -1, dtype=np.int8)
        for k in (0, 1, 3):
            hit = (stage == k) & (draw < p[k])
            to[hit] = k + 1
        at_quote = stage == 2
        to[at_quote & (draw < p[4])] = 4
        to[at_quote & (draw >= p[4]) & (draw < p[4] + (1.0 - p[4]) * p[2])] = 3
        moved = np.flatnonzero(to >= 0)
        stage[moved] = to[moved]
        lo = np.maximum(self.available[moved], start)
        at = lo + self.rng.random(len(moved)) * (end - lo)
        return OfferEvent(self.pc[moved], self.pj[moved], to[moved].astype(np.int8) - 1, at)


@dataclass
class _Window:
    """An open truth window: the stage distribution of its pairs, propagated week by week."""

    day: int
    rows: np.ndarray
    dist: np.ndarray


def _propagate(dist: np.ndarray, p: np.ndarray, last_fraction: np.ndarray | None) -> None:
    """One week of the funnel's transition probabilities applied to a stage distribution (in place);
    in the window's last, partial week only adoptions count, scaled by the share of the week inside it."""
    adopt = dist[3] * p[3] + dist[2] * p[4]
    if last_fraction is not None:
        dist[4] += last_fraction * adopt
        return
    to3 = dist[2] * (1.0 - p[4]) * p[2]
    to2 = dist[1] * p[1]
    to1 = dist[0] * p[0]
    dist[4] += adopt
    dist[3] += to3 - dist[3] * p[3]
    dist[2] += to2 - dist[2] * p[4] - to3
    dist[1] += to1 - to2
    dist[0] -= to1


def run_offers(ow: OfferWorld, first_monday: int, anchors: set[int],
               on_truth: Callable[[OfferTruth], None]) -> OfferEvent:
    """Simulate the funnel week by week from the burn-in to the horizon; every event, and each anchor's truth."""
    cfg, w = ow.cfg, ow.w
    step = cfg.step_days
    # Weeks start the day after a Monday, so each anchor's window starts on a week boundary.
    origin = (first_monday + 1) % step - step * (1 + cfg.burn_in_weeks)
    events: list[OfferEvent] = []
    windows: list[_Window] = []
    start = float(origin)
    while start < w.horizon:
        end = start + step
        day = int(start) - 1
        if day in anchors:
            rows = np.flatnonzero((w.cu_created[ow.pc] < day + 1) & (ow.stage < 4)).astype(np.int32)
            # float32: at paper scale about seven windows of 36 million pairs are open at once.
            dist = np.zeros((STAGES, len(rows)), dtype=np.float32)
            dist[ow.stage[rows], np.arange(len(rows))] = 1.0
            windows.append(_Window(day, rows, dist))
        p = ow.probabilities(start, end)
        for win in list(windows):
            close = win.day + 1 + TRUTH_WINDOW
            fraction = None
            if end > close:
                # Event times are uniform over the open part of the week: the share of it inside the window.
                lo = np.maximum(ow.available[win.rows], start)
                fraction = np.clip((close - lo) / np.maximum(end - lo, 1e-9), 0.0, 1.0)
            _propagate(win.dist, p[:, win.rows], fraction)
            if fraction is not None:
                on_truth(OfferTruth(win.day, ow.pc[win.rows], ow.pj[win.rows], win.dist[4].copy()))
                windows.remove(win)
        events.append(ow.step(start, end, p))
        start = end
    return OfferEvent(*(np.concatenate([getattr(e, name) for e in events])
                        for name in ("customer", "service", "behaviour", "at")))
