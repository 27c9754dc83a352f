"""The daily dynamics of a simulated world: shipping volumes, sales events, labels and their true probabilities.

The label mechanism (the two tasks share some structure and conflict on other parts):

Every customer has a latent log shipping rate l(d) that drifts by a growth rate per 30-day epoch;
growth is the sum of a company shock (shared by company siblings), an account shock (shared by the
holders of the customer's first account) and an own shock, each AR(1) across epochs. Its momentum
m(d) = l(d) - EMA(l) is the customer's recent shipping growth, visible in the shipments it sends.

Task 1 (high_interest). A customer without a contract has a daily hazard
    h1 = k1(d) * exp(w . [z(m), z(mean m of the other holders of its accounts), z(mean m of its company
                        siblings), z(contract density of its station), z(log volume)] + noise)
(times `quiet_interest_factor` once it has gone quiet). Each event is an outcome of a sales contact
(a `contacted` row just before it); customers can be high-interest again later.

Task 2 (contract_signed). Only a customer with a high_interest event on an earlier day can sign, with
daily hazard
    h2 = k2(d) * exp(w . [z(share of its shipping partners' base volume with contract customers),
                        z(contract density among the other customers of its station)] + noise)
It does not depend on accounts or on shipping growth. Once signed, a customer is a contract customer:
it counts for its partners and its station from the next day, and has no further sales events.

Shared vs conflicting: the company/account/growth patterns drive task 1 and reach task 2 only through
the high-interest gate; shipping partners and the station's contract density (a 2-hop
customer-station-customer pattern) drive task 2, while station density pushes task 1 the other way
(territories already full of contracts produce fewer new high-interest prospects).

k1(d), k2(d) renormalise the hazards each day so the label windows keep the configured prevalence
(task 1: `high_interest_prevalence` of active prospects over 30 days; task 2: `contract_prevalence`
over 90 days); they are calibrated on day 0 by bisection. History before day 0 is a backlog written
with day 0: `initial_contract_share` of the older customers signed (after a high_interest event) in
the year before, and prospects had high_interest events over `backlog_days` at their day-0 hazard.

Truth. For an anchor day t, p_high_interest = P(high_interest event in (t, t+30]) and
p_contract = P(contract_signed in (t, t+90]) for every prospect (created by t, no contract by t),
computed exactly (simulator/world_truth.py) from the same hazards the events were drawn from, given
the realised path of every other customer (the hazards depend on others' contracts). The simulation
runs 90 days past the last written day, unwritten, so every anchor's window is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from leadgraph.config import SimulateConfig
from simulator.world import World, partner_matrix
from simulator.world_truth import Truth, TruthTracker

OUTCOMES = ("contacted", "high_interest", "contract_signed")
CHANNELS = ("phone", "visit", "email", "web")
SERVICE_LEVELS = ("standard", "express", "freight")
HI_WINDOW = 30
CONTRACT_WINDOW = 90
SECONDS = 86_400
WEEKDAY_FACTOR = np.array([1.05, 1.1, 1.1, 1.05, 1.0, 0.6, 0.35])  # Monday .. Sunday
LOG_RATE_CLIP = 2.5


@dataclass
class DayEvents:
    """Everything that happened on one written day (indices into the world's arrays)."""

    day: int
    ship_pair: np.ndarray
    ship_second: np.ndarray
    ship_weight: np.ndarray
    ship_service: np.ndarray
    ev_customer: np.ndarray
    ev_second: np.ndarray
    ev_outcome: np.ndarray
    ev_channel: np.ndarray
    changed_customers: np.ndarray
    changed_companies: np.ndarray
    changed_accounts: np.ndarray
    changed_stations: np.ndarray
    capital_factor: np.ndarray
    # Day 0 only: the backlog of sales events before the history, with their (negative) day offsets.
    backlog: dict[str, np.ndarray] = field(default_factory=dict)


def _ar1(rng: np.random.Generator, prev: np.ndarray | None, n: int, rho: float) -> np.ndarray:
    """Next epoch of a unit-variance AR(1) shock."""
    fresh = rng.standard_normal(n).astype(np.float32)
    return fresh if prev is None else (rho * prev + np.sqrt(1.0 - rho * rho) * fresh).astype(np.float32)


def _calibrate(eta: np.ndarray, days: int, target: float, denominator: int) -> float:
    """Scale k with sum(1 - exp(-days * k * exp(eta))) / denominator = target, by bisection in log k."""
    base = np.exp(eta)
    lo, hi = -30.0, 5.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        value = -np.expm1(-days * np.exp(mid) * base).sum() / max(denominator, 1)
        lo, hi = (mid, hi) if value < target else (lo, mid)
    return float(np.exp(0.5 * (lo + hi)))


class Dynamics:
    """The latent state of every customer, advanced one day at a time.

    Customers are indexed in creation order, so the customers existing on a day are a prefix of every
    customer array; counts that only grow (partners reached, station sizes, contracts) are kept
    incrementally.
    """

    def __init__(self, world: World, cfg: SimulateConfig, rng: np.random.Generator):
        self.w, self.cfg, self.rng = world, cfg, rng
        n = world.n_customers
        self.n = n
        self.created_day = np.floor(world.cu_created).astype(np.int64)
        self.partners = partner_matrix(world)
        self.has_pair = np.diff(self.partners.indptr) > 0
        self.log_volume = np.log1p(world.cu_volume).astype(np.float32)
        self.eps1 = rng.standard_normal(n).astype(np.float32)
        self.eps2 = rng.standard_normal(n).astype(np.float32)
        prim = np.full(n, -1, dtype=np.int64)
        prim[world.ln_customer[::-1]] = world.ln_account[::-1]
        self.primary_account = prim
        # Only links of accounts that end up shared and only company members can ever have co-holders or
        # siblings; sorted by customer, so the existing ones are a prefix.
        holders = np.bincount(world.ln_account, minlength=len(world.ac_created))
        shared = np.flatnonzero(holders[world.ln_account] > 1)
        order = shared[np.argsort(world.ln_customer[shared], kind="stable")]
        self.link_customer = world.ln_customer[order]
        self.link_account = world.ln_account[order]
        self.members = np.flatnonzero(world.cu_company >= 0)
        self.company_shock = self.account_shock = self.own_shock = None
        self.epoch = -1
        self._new_epoch(0)
        self.log_rate = (0.3 * rng.standard_normal(n)).astype(np.float32)
        self.ema = self.log_rate - self.growth * (cfg.momentum_days / cfg.epoch_days)
        self.signed = np.zeros(n, dtype=bool)
        self.hi_ever = np.zeros(n, dtype=bool)
        self.shipped = np.zeros(len(world.pr_sender), dtype=bool)
        self.n_existing = 0
        self.reach = np.zeros(n)  # base shipping rate to and from existing partners
        self.partner_contract = np.zeros(n)  # the part of it with contract customers
        self.station_size = np.zeros(len(world.st_region))
        self.station_contracts = np.zeros(len(world.st_region))
        self.norm: dict[str, tuple[float, float]] = {}
        self.k1 = self.k2 = 1.0
        self.ref1 = self.ref2 = 0.0

    def _new_epoch(self, epoch: int) -> None:
        """Draw the next epoch's growth shocks and combine them per customer."""
        w, cfg, rng = self.w, self.cfg, self.rng
        rho = cfg.growth_rho
        self.company_shock = _ar1(rng, self.company_shock, len(w.co_station), rho)
        self.account_shock = _ar1(rng, self.account_shock, len(w.ac_created), rho)
        self.own_shock = _ar1(rng, self.own_shock, self.n, rho)
        comp = np.where(w.cu_company >= 0, self.company_shock[np.maximum(w.cu_company, 0)], 0.0)
        acct = np.where(self.primary_account >= 0, self.account_shock[np.maximum(self.primary_account, 0)], 0.0)
        self.growth = (cfg.growth_sigma * (0.6 * comp + 0.4 * acct + 0.7 * self.own_shock)).astype(np.float32)
        self.epoch = epoch

    def existing(self, day: int) -> int:
        """How many customers were created before the start of the day (they are the first ones)."""
        return int(np.searchsorted(self.created_day, day, side="left"))

    def _partner_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Partner indices and base rates of the given customers (the matrix is symmetric)."""
        p = self.partners
        starts = p.indptr[rows]
        lengths = p.indptr[rows + 1] - starts
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        take = np.arange(int(lengths.sum())) + offsets
        return p.indices[take], p.data[take].astype(np.float64)

    def _arrive(self, ne: int) -> None:
        """Count customers created since the last day into partner reach and station sizes."""
        if ne <= self.n_existing:
            return
        lo, hi = self.n_existing, ne
        p = self.partners
        span = slice(p.indptr[lo], p.indptr[hi])
        self.reach += np.bincount(p.indices[span], weights=p.data[span].astype(np.float64), minlength=self.n)
        self.station_size += np.bincount(self.w.cu_station[lo:hi], minlength=len(self.station_size))
        self.n_existing = ne

    def sign(self, rows: np.ndarray) -> None:
        """Make customers contract customers: they count for their partners and station from now on."""
        self.signed[rows] = True
        partners, rates = self._partner_rows(rows)
        np.add.at(self.partner_contract, partners, rates)
        np.add.at(self.station_contracts, self.w.cu_station[rows], 1.0)

    def _z(self, name: str, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Standardise with the mean and spread measured on day 0 (fixed after, so trends stay visible)."""
        if name not in self.norm:
            sel = x[mask]
            self.norm[name] = (float(sel.mean()), 1.0 / (float(sel.std()) or 1.0))
        mu, inv = self.norm[name]
        out = np.subtract(x, mu, dtype=np.float32)
        out *= np.float32(inv)
        # Clipped so that no customer's hazard runs away (a driver that is almost always 0 has a tiny spread).
        return np.clip(out, -self.cfg.driver_clip, self.cfg.driver_clip, out=out)

    def _account_momentum(self, m: np.ndarray, ne: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean momentum of the other holders of each customer's accounts, and who has any."""
        nl = int(np.searchsorted(self.link_customer, ne, side="left"))
        lc, la = self.link_customer[:nl], self.link_account[:nl]
        n_acc = len(self.w.ac_created)
        mine = m[lc]
        total = np.bincount(la, weights=mine, minlength=n_acc)
        others = np.bincount(la, minlength=n_acc)[la] - 1.0
        shared = others > 0
        inverse = np.divide(1.0, others, out=np.zeros_like(others), where=shared)
        count = np.bincount(lc, weights=shared, minlength=ne)
        value = (total[la] - mine) * inverse
        mean = np.bincount(lc, weights=value, minlength=ne) / np.maximum(count, 1.0)
        return mean, count > 0

    def _sibling_momentum(self, m: np.ndarray, ne: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean momentum of each customer's existing company siblings, and who has any."""
        members = self.members[: int(np.searchsorted(self.members, ne, side="left"))]
        company = self.w.cu_company[members]
        size = len(self.w.co_station)
        mine = m[members]
        total = np.bincount(company, weights=mine, minlength=size)
        others = np.bincount(company, minlength=size)[company] - 1.0
        has = others > 0
        inverse = np.divide(1.0, others, out=np.zeros_like(others), where=has)
        mean = np.zeros(ne)
        mean[members] = (total[company] - mine) * inverse
        flag = np.zeros(ne, dtype=bool)
        flag[members] = has
        return mean, flag

    def hazards(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Daily hazards (h1, h2) of the customers existing on the day (a prefix), ungated by their own status."""
        w, cfg = self.w, self.cfg
        ne = self.existing(day)
        self._arrive(ne)
        signed = self.signed[:ne]
        # Calibrate on prospects that ship, the ones the label population (recently active) is made of.
        quiet = w.cu_quiet[:ne] <= day
        pop = self.has_pair[:ne] & ~signed
        pop &= ~quiet
        m = self.log_rate[:ne] - self.ema[:ne]
        acc_m, has_acc = self._account_momentum(m, ne)
        sib_m, has_sib = self._sibling_momentum(m, ne)
        station = w.cu_station[:ne]
        density = self.station_contracts[station] - signed
        density /= np.maximum(self.station_size[station] - 1.0, 1.0)
        reach = self.reach[:ne]
        # The contract part of a customer's reach is zero wherever the reach is.
        partner = self.partner_contract[:ne] / np.maximum(reach, 1e-300)

        wi, wc = cfg.interest_weights, cfg.contract_weights
        z_density = self._z("density", density, pop)
        eta1 = self._z("momentum", m, pop)
        eta1 *= wi["momentum"]
        eta1 += np.where(has_acc, self._z("account", acc_m, pop & has_acc), 0.0) * np.float32(wi["account_momentum"])
        eta1 += np.where(has_sib, self._z("sibling", sib_m, pop & has_sib), 0.0) * np.float32(wi["sibling_momentum"])
        eta1 += z_density * np.float32(wi["station_contracts"])
        eta1 += self._z("volume", self.log_volume[:ne], pop) * np.float32(wi["volume"])
        eta1 += self.eps1[:ne] * np.float32(wi["noise"])
        eta1[quiet] += np.float32(np.log(cfg.quiet_interest_factor))
        eta2 = self._z("partner", partner, pop)
        eta2 *= wc["partner_contracts"]
        eta2 += z_density * np.float32(wc["station_contracts"])
        eta2 += self.eps2[:ne] * np.float32(wc["noise"])
        e1 = np.exp(eta1.astype(np.float64))
        e2 = np.exp(eta2.astype(np.float64))
        n_pop = max(int(np.count_nonzero(pop)), 1)
        eligible = pop & self.hi_ever[:ne]
        # numpy's own reductions, not BLAS dot: BLAS splits sums by thread count, which would change the bytes.
        mean1 = float(e1.sum(where=pop)) / n_pop
        mean2 = float(e2.sum(where=eligible)) / n_pop
        if day == 0:
            self.k1 = _calibrate(eta1[pop], HI_WINDOW, cfg.high_interest_prevalence, n_pop)
            self.k2 = _calibrate(eta2[eligible], CONTRACT_WINDOW, cfg.contract_prevalence, n_pop)
            self.ref1, self.ref2 = mean1, mean2
        e1 *= self.k1 * self.ref1 / mean1
        e2 *= self.k2 * self.ref2 / max(mean2, 1e-300)
        return np.minimum(e1, cfg.max_daily_hazard, out=e1), np.minimum(e2, cfg.max_daily_hazard, out=e2)

    def advance_rates(self, day: int) -> None:
        """Move every customer's log shipping rate one day along its epoch's growth."""
        cfg = self.cfg
        epoch = day // cfg.epoch_days
        if epoch != self.epoch:
            self._new_epoch(epoch)
        self.log_rate += (self.growth - cfg.mean_reversion * self.log_rate) / cfg.epoch_days
        np.clip(self.log_rate, -LOG_RATE_CLIP, LOG_RATE_CLIP, out=self.log_rate)
        self.ema += (self.log_rate - self.ema) / cfg.momentum_days


def _backlog(dyn: Dynamics, h1: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sales history before day 0: past contract signers (each after a high_interest event) and past interest."""
    w, cfg = dyn.w, dyn.cfg
    old = np.flatnonzero(w.cu_created < 0)
    station_effect = rng.standard_normal(len(w.st_region))
    score = station_effect[w.cu_station[old]] + 0.5 * np.log1p(w.cu_volume[old]) + rng.gumbel(size=len(old))
    k = int(round(cfg.initial_contract_share * len(old)))
    signers = np.sort(old[np.argpartition(-score, k)[:k]]) if k > 0 else old[:0]
    sign_day = -rng.uniform(1.0, 330.0, len(signers))
    signer_hi = sign_day - rng.uniform(5.0, 60.0, len(signers))
    dyn.sign(signers)

    ne = len(h1)
    p = -np.expm1(-cfg.backlog_days * h1)
    interested = np.flatnonzero((rng.random(ne) < p) & ~dyn.signed[:ne] & (w.cu_created[:ne] < -cfg.backlog_days))
    hi_day = -rng.uniform(1.0, float(cfg.backlog_days), len(interested))
    dyn.hi_ever[interested] = True
    dyn.hi_ever[signers] = True

    customers = np.concatenate([signers, signers, interested])
    days = np.concatenate([sign_day, signer_hi, hi_day])
    outcome = np.concatenate([np.full(len(signers), 2), np.full(len(signers), 1), np.full(len(interested), 1)])
    return {"customer": customers, "day": days, "outcome": outcome}


def _sales_events(rng: np.random.Generator, interested: np.ndarray, signing: np.ndarray,
                  contacted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One day's sales rows: a contact before each high_interest outcome, signings, and plain contacts."""
    n_hi = len(interested)
    contact_at = rng.integers(8 * 3600, 16 * 3600, n_hi)
    channel_hi = rng.choice(4, size=n_hi, p=[0.45, 0.25, 0.15, 0.15])
    plain_at = rng.integers(8 * 3600, 18 * 3600, len(contacted))
    plain_channel = rng.choice(4, size=len(contacted), p=[0.5, 0.1, 0.3, 0.1])
    sign_at = rng.integers(9 * 3600, 18 * 3600, len(signing))
    sign_channel = rng.choice(4, size=len(signing), p=[0.1, 0.8, 0.05, 0.05])
    customer = np.concatenate([interested, interested, signing, contacted])
    second = np.concatenate([contact_at, contact_at + rng.integers(300, 3600, n_hi), sign_at, plain_at])
    outcome = np.concatenate([np.zeros(n_hi, int), np.ones(n_hi, int), np.full(len(signing), 2),
                              np.zeros(len(contacted), int)])
    channel = np.concatenate([channel_hi, channel_hi, sign_channel, plain_channel])
    order = np.lexsort((customer, second))
    return customer[order], second[order], outcome[order], channel[order]


def _shipments(dyn: Dynamics, day: int, weekday: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """One day's shipments: Poisson counts per pair at the sender's current rate, with weights and service."""
    w = dyn.w
    ne = dyn.n_existing
    active = np.zeros(dyn.n, dtype=bool)
    active[:ne] = w.cu_quiet[:ne] > day
    sending = np.where(active, np.exp(dyn.log_rate.astype(np.float64)) * WEEKDAY_FACTOR[weekday], 0.0)
    rate = w.pr_rate * sending[w.pr_sender] * active[w.pr_receiver]
    # Independent Poisson counts per pair = a Poisson total spread over pairs in proportion to their rates.
    cum = np.cumsum(rate)
    m = int(rng.poisson(cum[-1]))
    pair = np.searchsorted(cum, np.sort(rng.random(m)) * cum[-1], side="right")
    pair = np.minimum(pair, len(cum) - 1)
    dyn.shipped[pair] = True
    second = rng.integers(0, SECONDS, m)
    order = np.lexsort((pair, second))
    pair, second = pair[order], second[order]
    sender = w.pr_sender[pair]
    scale = 0.4 * np.log1p(w.cu_volume[sender]) + 0.8 * w.cu_business[sender]
    weight = np.round(np.exp(rng.normal(1.0 + scale, 0.9)), 2) + 0.01
    service = np.where(weight > 150.0, 2, np.where(rng.random(m) < 0.25, 1, 0))
    return pair, second, weight, service


class _Changes:
    """Draws the rows of one dimension that change on a day, among those created on an earlier day."""

    def __init__(self, created_day: np.ndarray):
        self.order = np.argsort(created_day, kind="stable")
        self.days = created_day[self.order]

    def draw(self, rng: np.random.Generator, day: int, rate: float) -> np.ndarray:
        """Sorted row indices that change on the day."""
        existing = int(np.searchsorted(self.days, day, side="left"))
        k = int(rng.binomial(existing, rate)) if existing and rate > 0 else 0
        return np.sort(self.order[rng.choice(existing, size=k, replace=False)]) if k else self.order[:0]


def run(dyn: Dynamics, weekday0: int, anchor_days: set[int], on_truth: Callable[[Truth], None]) -> Iterator[DayEvents]:
    """Simulate day by day; yield the events of each written day and hand each anchor's truth to on_truth."""
    world, cfg, rng = dyn.w, dyn.cfg, dyn.rng
    truth = TruthTracker(dyn.n, HI_WINDOW, CONTRACT_WINDOW, on_truth)
    changes = {
        "customer": _Changes(dyn.created_day),
        "company": _Changes(world.co_created),
        "account": _Changes(np.floor(world.ac_created).astype(np.int64)),
        "station": _Changes(np.full(len(world.st_region), -1)),
    }
    backlog: dict[str, np.ndarray] = {}
    for day in range(world.horizon):
        dyn.advance_rates(day)
        h1, h2 = dyn.hazards(day)
        if day == 0:
            backlog = _backlog(dyn, h1, rng)
            # The backlog changed who is signed and eligible: standardise and calibrate on the settled state.
            dyn.norm.clear()
            h1, h2 = dyn.hazards(0)
        truth.add_day(day, h1, h2)

        ne = dyn.n_existing
        prospect = ~dyn.signed[:ne]
        interested = np.flatnonzero(prospect & (rng.random(ne) < -np.expm1(-h1)))
        signing = np.flatnonzero(prospect & dyn.hi_ever[:ne] & (rng.random(ne) < -np.expm1(-h2)))
        dyn.sign(signing)
        dyn.hi_ever[interested] = True

        if day < world.days:
            contacted = np.flatnonzero(prospect & (rng.random(ne) < cfg.contacts_per_day))
            ev = _sales_events(rng, interested, signing, contacted)
            ships = _shipments(dyn, day, (weekday0 + day) % 7, rng)
            # Day 0 is the initial load: nothing has changed yet.
            rates = {name: getattr(cfg, f"{name}_change_rate") if day > 0 else 0.0 for name in changes}
            changed_companies = changes["company"].draw(rng, day, rates["company"])
            yield DayEvents(
                day=day,
                ship_pair=ships[0], ship_second=ships[1], ship_weight=ships[2], ship_service=ships[3],
                ev_customer=ev[0], ev_second=ev[1], ev_outcome=ev[2], ev_channel=ev[3],
                changed_customers=changes["customer"].draw(rng, day, rates["customer"]),
                changed_companies=changed_companies,
                changed_accounts=changes["account"].draw(rng, day, rates["account"]),
                changed_stations=changes["station"].draw(rng, day, rates["station"]),
                capital_factor=rng.uniform(1.05, 1.6, len(changed_companies)),
                backlog=backlog if day == 0 else {},
            )
        if day in anchor_days:
            k = dyn.existing(day + 1)
            prospect = ~dyn.signed[:k]
            truth.open_anchor(day, prospect, dyn.hi_ever[:k] & prospect)
    if truth.pending():
        raise RuntimeError(f"truth windows left open at the horizon: {truth.pending()}")
