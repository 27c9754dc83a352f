"""The static structure of a simulated logistics world: stations, companies, customers, accounts, shipping pairs.

Everything here is drawn once per seed with vectorised numpy; the daily dynamics (shipping volumes,
sales events, labels) live in simulator/world_days.py. Days are integers relative to the first day of
history (day 0); entities that existed before it carry negative creation days.

Structure, in words:
- Stations belong to regions (= sales territories); station sizes are log-normal, the largest
  `hub_share` are hubs. Every station has its own city, so a company's city names its home station.
- Companies have a home station; their member customers sit at that station or elsewhere in its
  region. Membership sizes are heavy-tailed (Pareto), every company has at least one member.
- Accounts: a company's members share `accounts_per_member` accounts per member (so several members
  hold the same account); some members hold a second account of their company; a share of the
  other customers hold one personal account.
- Shipping pairs: senders have log-normal volumes, heavy-tailed partner counts, and pick receivers by
  Pareto popularity, inside their own region with probability `same_region_share`.
- Customers arrive every day (a quarter of the last day's customers are new during the history) and
  some go quiet (stop shipping) at a constant daily hazard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from leadgraph.config import ScaleSize, SimulateConfig

STATION_ID0 = 10_000
COMPANY_ID0 = 20_000_000
CUSTOMER_ID0 = 100_000_000
ACCOUNT_ID0 = 500_000_000

REGION_NAMES = (
    "north", "north-east", "east", "south-east", "south", "south-west",
    "west", "north-west", "central", "coast", "highlands", "lakes",
)
REGION_CENTRES = np.array(
    [(40.0, 116.0), (43.0, 125.0), (31.0, 121.0), (26.0, 119.0), (23.0, 113.0), (26.0, 104.0),
     (34.0, 108.0), (38.0, 106.0), (31.0, 112.0), (36.0, 120.0), (30.0, 97.0), (29.0, 115.0)]
)
INDUSTRIES = (
    "retail", "electronics", "apparel", "food", "machinery", "pharma",
    "furniture", "agriculture", "chemicals", "ecommerce",
)
CITY_HEADS = (
    "An", "Bai", "Chang", "Da", "Feng", "Gao", "Guang", "Hai", "He", "Hong", "Hua", "Jia", "Jin", "Kai",
    "Lan", "Li", "Lin", "Long", "Mei", "Nan", "Ning", "Ping", "Qing", "Rui", "Shan", "Shi", "Tai", "Tian",
    "Wan", "Wen", "Xi", "Xin", "Yang", "Yi", "Yong", "Yu", "Yun", "Ze", "Zhao", "Zhong",
)
CITY_MIDS = ("", "an", "bei", "dong", "he", "hu", "jiang", "ling", "shan", "xi")
CITY_TAILS = ("", "cheng", "du", "gang", "kou", "men", "ning", "shi", "tan", "zhou")


@dataclass
class World:
    """Static arrays of one world; index i of a customer array is customer id CUSTOMER_ID0 + i."""

    days: int  # days of written history
    horizon: int  # days simulated (history plus the longest label window, for the truth)
    # stations
    st_region: np.ndarray
    st_weight: np.ndarray
    st_hub: np.ndarray
    st_lat: np.ndarray
    st_lon: np.ndarray
    st_city: np.ndarray  # object array of unique city names
    st_opened: np.ndarray  # day offsets (negative: before history)
    # companies
    co_station: np.ndarray
    co_industry: np.ndarray
    co_capital: np.ndarray
    co_created: np.ndarray  # day the company first appears (first member's creation day, >= 0 clipped)
    # customers
    cu_created: np.ndarray  # creation day (float: fractional part = time of day)
    cu_quiet: np.ndarray  # day the customer stops shipping (horizon if never)
    cu_station: np.ndarray
    cu_company: np.ndarray  # -1 when none
    cu_business: np.ndarray
    cu_industry: np.ndarray  # index into INDUSTRIES, -1 = personal
    cu_volume: np.ndarray  # log-normal shipping volume (senders), 0 for non-senders
    # accounts and holdings (links)
    ac_company: np.ndarray  # -1 for personal accounts
    ac_created: np.ndarray
    ln_customer: np.ndarray
    ln_account: np.ndarray
    ln_linked: np.ndarray  # link day (float)
    # shipping pairs
    pr_sender: np.ndarray
    pr_receiver: np.ndarray
    pr_rate: np.ndarray  # expected shipments per day at log-rate 0
    pr_same_region: np.ndarray

    @property
    def n_customers(self) -> int:
        return len(self.cu_created)


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (by sorting: numpy's hash-based unique is far slower on millions of int64)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _pareto(rng: np.random.Generator, alpha: float, size: int) -> np.ndarray:
    """Pareto weights >= 1 with tail index alpha."""
    return 1.0 + rng.pareto(alpha, size)


def _pick(rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, size: int) -> np.ndarray:
    """Indices drawn in proportion to weights, given the cumulative weights and per-draw ranges [lo, hi) of it."""
    target = lo + rng.random(size) * (hi - lo)
    # Sorted needles keep the binary searches cache-friendly: ~20x faster on millions of draws.
    order = np.argsort(target)
    picked = np.empty(size, dtype=np.int64)
    picked[order] = np.searchsorted(cum, target[order], side="right")
    return np.minimum(picked, len(cum) - 1)


def _city_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct city names built from syllables."""
    combos = len(CITY_HEADS) * len(CITY_MIDS) * len(CITY_TAILS)
    if n > combos:
        raise ValueError(f"at most {combos} stations have distinct city names, asked for {n}")
    picks = rng.choice(combos, size=n, replace=False)
    h, rest = np.divmod(picks, len(CITY_MIDS) * len(CITY_TAILS))
    m, t = np.divmod(rest, len(CITY_TAILS))
    names = [CITY_HEADS[a] + CITY_MIDS[b] + CITY_TAILS[c] for a, b, c in zip(h, m, t)]
    # A head alone can repeat a head+mid+tail spelling ("Anan"+"" vs "An"+"an"): make them distinct.
    seen: dict[str, int] = {}
    out = []
    for name in names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(name if k == 0 else f"{name} {k + 1}")
    return np.array(out, dtype=object)


def _stations(rng: np.random.Generator, size: ScaleSize, cfg: SimulateConfig) -> dict[str, np.ndarray]:
    """Stations with regions, sizes, kinds and places."""
    s, r = size.stations, size.regions
    region_weight = rng.dirichlet(np.full(r, 4.0))
    region = np.sort(rng.choice(r, size=s, p=region_weight))
    region[:r] = np.arange(r)  # every territory has a station
    region = np.sort(region)
    weight = rng.lognormal(0.0, 1.0, s)
    hub = weight >= np.quantile(weight, 1.0 - cfg.hub_share)
    centre = REGION_CENTRES[region % len(REGION_CENTRES)]
    return {
        "st_region": region,
        "st_weight": weight,
        "st_hub": hub,
        "st_lat": np.round(centre[:, 0] + rng.normal(0, 1.2, s), 5),
        "st_lon": np.round(centre[:, 1] + rng.normal(0, 1.2, s), 5),
        "st_city": _city_names(rng, s),
        "st_opened": -rng.integers(400, 4000, s),
    }


def _members(rng: np.random.Generator, n: int, n_companies: int, cfg: SimulateConfig) -> np.ndarray:
    """Company index per customer (-1 for none): every company gets one member, the rest go by Pareto size."""
    n_members = max(n_companies, int(round(cfg.company_member_share * n)))
    size_weight = _pareto(rng, 1.3, n_companies)
    extra = _pick(rng, np.cumsum(size_weight), 0.0, size_weight.sum(), n_members - n_companies)
    assignment = np.concatenate([np.arange(n_companies), extra])
    rng.shuffle(assignment)
    company = np.full(n, -1, dtype=np.int64)
    company[np.sort(rng.choice(n, size=n_members, replace=False))] = assignment
    return company


def _customer_stations(rng: np.random.Generator, st: dict[str, np.ndarray], cu_company: np.ndarray,
                       co_station: np.ndarray, cfg: SimulateConfig) -> np.ndarray:
    """Customers sit at their company's home station, elsewhere in its region, or anywhere by station size."""
    n = len(cu_company)
    cum = np.cumsum(st["st_weight"])
    station = _pick(rng, cum, 0.0, cum[-1], n)
    member = np.flatnonzero(cu_company >= 0)
    home = co_station[cu_company[member]]
    at_home = rng.random(len(member)) < cfg.company_home_station_share
    # Stations are sorted by region, so a region is a contiguous slice of the cumulative weights.
    region = st["st_region"]
    first = np.searchsorted(region, np.arange(region.max() + 1), side="left")
    last = np.searchsorted(region, np.arange(region.max() + 1), side="right")
    lo = np.where(first > 0, cum[first - 1], 0.0)
    hi = cum[last - 1]
    reg = region[home]
    in_region = _pick(rng, cum, lo[reg], hi[reg], len(member))
    station[member] = np.where(at_home, home, in_region)
    return station


def _accounts(rng: np.random.Generator, cu_company: np.ndarray, cu_created: np.ndarray,
              cfg: SimulateConfig) -> dict[str, np.ndarray]:
    """Company accounts shared by members, second company accounts, and personal accounts."""
    member = np.flatnonzero(cu_company >= 0)
    order = member[np.lexsort((cu_created[member], cu_company[member]))]
    comp = cu_company[order]
    starts = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    k = np.maximum(1, np.round(cfg.accounts_per_member * counts).astype(np.int64))
    base = np.r_[0, np.cumsum(k)[:-1]]
    group_k = np.repeat(k, counts)
    group_base = np.repeat(base, counts)
    first_acct = group_base + rank % group_k
    n_company_accounts = int(k.sum())
    ac_company = np.repeat(comp[starts], k)

    second = (rng.random(len(order)) < cfg.second_account_share) & (group_k > 1)
    second_acct = group_base[second] + (rank[second] + 1) % group_k[second]

    others = np.flatnonzero(cu_company < 0)
    personal = others[rng.random(len(others)) < cfg.personal_account_share]
    personal_acct = n_company_accounts + np.arange(len(personal))

    ln_customer = np.concatenate([order, order[second], personal])
    ln_account = np.concatenate([first_acct, second_acct, personal_acct])
    n_accounts = n_company_accounts + len(personal)
    # An account opens with its first holder; later holders link when they arrive (or a while after).
    holder_created = cu_created[ln_customer]
    ac_created = np.full(n_accounts, np.inf)
    np.minimum.at(ac_created, ln_account, holder_created)
    delay = np.zeros(len(ln_customer))
    n_first = len(order)
    delay[n_first:n_first + int(second.sum())] = rng.uniform(0.0, 30.0, int(second.sum()))
    ln_linked = np.maximum(holder_created, ac_created[ln_account]) + delay + 1e-3
    return {
        "ac_company": np.concatenate([ac_company, np.full(len(personal), -1)]),
        "ac_created": ac_created,
        "ln_customer": ln_customer,
        "ln_account": ln_account,
        "ln_linked": ln_linked,
    }


def _pairs(rng: np.random.Generator, size: ScaleSize, cu_region: np.ndarray, volume: np.ndarray,
           cfg: SimulateConfig) -> dict[str, np.ndarray]:
    """Potential shipping partner pairs with base daily rates; most stay inside the sender's region."""
    n = len(cu_region)
    senders = np.flatnonzero(volume > 0)
    raw_degree = volume[senders] ** 0.7
    extra = rng.poisson(raw_degree * max(size.pairs - len(senders), 0) / raw_degree.sum())
    sender = np.repeat(senders, 1 + extra)
    m = len(sender)

    popularity = _pareto(rng, 1.2, n)
    by_region = np.argsort(cu_region, kind="stable")
    cum = np.cumsum(popularity[by_region])
    reg_sorted = cu_region[by_region]
    regions = np.arange(reg_sorted.max() + 1)
    first = np.searchsorted(reg_sorted, regions, side="left")
    last = np.searchsorted(reg_sorted, regions, side="right")
    lo = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    hi = cum[np.maximum(last - 1, 0)]
    reg = cu_region[sender]
    local = rng.random(m) < cfg.same_region_share
    lo_d = np.where(local, lo[reg], 0.0)
    hi_d = np.where(local, hi[reg], cum[-1])
    receiver = by_region[_pick(rng, cum, lo_d, hi_d, m)]

    keep = sender != receiver
    key = distinct(sender[keep].astype(np.int64) * n + receiver[keep])
    sender, receiver = np.divmod(key, n)
    share = rng.gamma(1.5, 1.0, len(sender))
    total = np.bincount(sender, weights=share, minlength=n)
    rate = volume[sender] * share / total[sender]
    rate *= size.shipments_per_day / rate.sum()
    return {
        "pr_sender": sender,
        "pr_receiver": receiver,
        "pr_rate": rate,
        "pr_same_region": cu_region[sender] == cu_region[receiver],
    }


def build_world(size: ScaleSize, cfg: SimulateConfig, days: int, horizon: int, rng: np.random.Generator) -> World:
    """Draw the static structure of a world of the given size."""
    n = size.customers
    st = _stations(rng, size, cfg)

    n_initial = int(round(cfg.initial_customer_share * n))
    initial = -rng.uniform(400.0, 1100.0, n_initial)
    new = rng.uniform(1.0, float(days), n - n_initial)
    cu_created = np.sort(np.concatenate([initial, new]))
    cu_quiet = np.maximum(cu_created, 0.0) + rng.exponential(1.0 / cfg.quiet_hazard_per_day, n)
    cu_quiet = np.minimum(np.floor(cu_quiet), horizon).astype(np.int64)

    cu_company = _members(rng, n, size.companies, cfg)
    cum = np.cumsum(st["st_weight"])
    co_station = _pick(rng, cum, 0.0, cum[-1], size.companies)
    cu_station = _customer_stations(rng, st, cu_company, co_station, cfg)

    co_industry = rng.integers(0, len(INDUSTRIES), size.companies)
    first_member = np.full(size.companies, np.inf)
    np.minimum.at(first_member, cu_company[cu_company >= 0], cu_created[cu_company >= 0])
    member_count = np.bincount(cu_company[cu_company >= 0], minlength=size.companies)
    co_capital = np.round(rng.lognormal(13.0, 1.2, size.companies) * np.sqrt(member_count), -3)

    is_member = cu_company >= 0
    cu_business = is_member | (rng.random(n) < cfg.business_share_of_non_members)
    cu_industry = np.where(is_member, co_industry[np.maximum(cu_company, 0)],
                           np.where(cu_business, rng.integers(0, len(INDUSTRIES), n), -1))
    sender_share = np.where(cu_business, cfg.sender_share_business, cfg.sender_share_individual)
    is_sender = rng.random(n) < sender_share
    cu_volume = np.where(is_sender, rng.lognormal(0.0, 1.3, n) * np.where(cu_business, 2.0, 1.0), 0.0)

    acc = _accounts(rng, cu_company, cu_created, cfg)
    pairs = _pairs(rng, size, st["st_region"][cu_station], cu_volume, cfg)
    return World(
        days=days,
        horizon=horizon,
        **st,
        co_station=co_station,
        co_industry=co_industry,
        co_capital=co_capital,
        co_created=np.maximum(np.floor(first_member), 0).astype(np.int64),
        cu_created=cu_created,
        cu_quiet=cu_quiet,
        cu_station=cu_station,
        cu_company=cu_company,
        cu_business=cu_business,
        cu_industry=cu_industry,
        cu_volume=cu_volume,
        **acc,
        **pairs,
    )


def partner_matrix(world: World) -> sp.csr_matrix:
    """Symmetric customer-by-customer matrix of base shipping rates (both directions of each pair)."""
    n = world.n_customers
    rows = np.concatenate([world.pr_sender, world.pr_receiver])
    cols = np.concatenate([world.pr_receiver, world.pr_sender])
    vals = np.concatenate([world.pr_rate, world.pr_rate]).astype(np.float32)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
