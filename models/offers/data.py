"""Multi-behaviour interactions as index arrays, and the sparse adjacencies the offer models propagate over."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch


@dataclass
class Interactions:
    """Binarised (user, item) pairs per behaviour, in funnel order; the last behaviour is the target."""

    n_users: int
    n_items: int
    behaviours: tuple[str, ...]
    users: list[np.ndarray]
    items: list[np.ndarray]

    def __post_init__(self) -> None:
        self._keys = [np.unique(self.users[k].astype(np.int64) * self.n_items + self.items[k])
                      for k in range(len(self.behaviours))]
        for k, key in enumerate(self._keys):
            self.users[k], self.items[k] = np.divmod(key, self.n_items)

    @property
    def target(self) -> int:
        """Index of the target behaviour."""
        return len(self.behaviours) - 1

    def keys(self, k: int) -> np.ndarray:
        """Sorted user * n_items + item keys of behaviour k."""
        return self._keys[k]

    def has(self, k: int, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each (user, item) pair has behaviour k."""
        keys = self.keys(k)
        wanted = users.astype(np.int64) * self.n_items + items
        pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        return (keys[pos] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs with any behaviour."""
        key = np.unique(np.concatenate([self.keys(k) for k in range(len(self.behaviours))]))
        return np.divmod(key, self.n_items)

    def runs(self, k: int, users: np.ndarray) -> np.ndarray:
        """Positions in behaviour k's arrays of every pair of the given users, user by user in their order."""
        start = np.searchsorted(self.users[k], users, side="left")
        count = np.searchsorted(self.users[k], users, side="right") - start
        # Each user's pairs are one contiguous run of the sorted arrays.
        return np.repeat(start - np.cumsum(count) + count, count) + np.arange(count.sum())

    @cached_property
    def by_item(self) -> tuple[np.ndarray, np.ndarray]:
        """(users of every pair of any behaviour ordered by item, each item's first position): the item-side index."""
        items = np.concatenate(self.items)
        order = np.argsort(items, kind="stable")
        users = np.concatenate(self.users)[order].astype(np.int32 if self.n_users < 2**31 else np.int64)
        return users, np.searchsorted(items[order], np.arange(self.n_items + 1))


class Adjacency:
    """A sparse (M+N) x (M+N) matrix and its transpose (CSR both), for products whose backward pass is a product too."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int):
        self.matrix = _csr(rows, cols, vals, n)
        self.transposed = _csr(cols, rows, vals, n)

    def to(self, device: torch.device | str) -> "Adjacency":
        """The same matrices on another device."""
        self.matrix, self.transposed = self.matrix.to(device), self.transposed.to(device)
        return self

    def dense(self) -> torch.Tensor:
        """The matrix as a dense tensor (tests, tiny graphs)."""
        return self.matrix.to_dense()


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> torch.Tensor:
    """A CSR tensor from triplets (no duplicates)."""
    order = np.lexsort((cols, rows))
    crow = np.searchsorted(rows[order], np.arange(n + 1), side="left")
    with warnings.catch_warnings():
        # torch flags its CSR layout as beta on every construction; products on it are what we use, and tested.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols[order].astype(np.int64)),
                                       torch.from_numpy(vals[order].astype(np.float32)), (n, n),
                                       check_invariants=False)


class _Product(torch.autograd.Function):
    """A @ x with the gradient A^T @ g: torch's own backward of a CSR product is several times slower on CPU."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, adj: Adjacency) -> torch.Tensor:  # type: ignore[override]
        ctx.adj = adj
        return torch.sparse.mm(adj.matrix, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return torch.sparse.mm(ctx.adj.transposed, grad), None


def propagate(adj: Adjacency, x: torch.Tensor) -> torch.Tensor:
    """A @ x, differentiable in x."""
    return _Product.apply(x, adj)


def bipartite(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, norm: str,
              item_side: tuple[np.ndarray, np.ndarray] | None = None) -> Adjacency:
    """A = [[0, Y], [Y'^T, 0]], `left` (D^-1 A, zero rows for isolated nodes) or `symm` (D^-1/2 A D^-1/2), D the
    row sums; Y' = Y unless the item rows' (user, item) pairs are given apart (a sampled subgraph's)."""
    n = n_users + n_items
    side_users, side_items = (users, items) if item_side is None else item_side
    rows = np.concatenate([users, n_users + side_items]).astype(np.int64)
    cols = np.concatenate([n_users + items, side_users]).astype(np.int64)
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    inv = np.divide(1.0, deg, out=np.zeros(n), where=deg > 0)
    vals = inv[rows] if norm == "left" else np.sqrt(inv[rows] * inv[cols])
    return Adjacency(rows, cols, vals, n)


def adjacencies(data: Interactions, norm: str, item_side: Interactions | None = None) -> list[Adjacency]:
    """One bipartite adjacency per behaviour (item rows from `item_side`'s pairs when given)."""
    return [bipartite(data.users[k], data.items[k], data.n_users, data.n_items, norm,
                      None if item_side is None else (item_side.users[k], item_side.items[k]))
            for k in range(len(data.behaviours))]


@dataclass
class Subgraph:
    """A batch's users, users drawn two hops away and every item of theirs, re-indexed: local user j is global
    user users[j], local item j is global item items[j] (MODELS.md 4.4's budgeted subgraph).

    `pairs` holds every pair of each kept user, `item_pairs` those of the drawn users only: a user aggregates
    its whole neighbourhood, an item a uniform sample of its own, where a batch user counts only when drawn.
    Were every batch user among its items' neighbours, each would reach its own embedding two hops away with a
    weight far above the whole graph's 1 / degree, and training would learn a path that scoring never has."""

    users: np.ndarray
    items: np.ndarray
    pairs: Interactions
    item_pairs: Interactions
    n_global_users: int

    def __post_init__(self) -> None:
        self.nodes = np.concatenate([self.users, self.n_global_users + self.items])

    def local(self, rows: np.ndarray) -> np.ndarray:
        """Local node rows (users first) of global node rows that are in the subgraph."""
        return np.searchsorted(self.nodes, rows)

    def adjacencies(self, norm: str) -> list[Adjacency]:
        """One adjacency per behaviour: user rows from `pairs`, item rows from `item_pairs`."""
        return adjacencies(self.pairs, norm, self.item_pairs)


def sample_subgraph(data: Interactions, users: np.ndarray, items: np.ndarray, budget: int,
                    rng: np.random.Generator) -> Subgraph:
    """The batch's users, up to `budget` more drawn two hops away (through the batch's items and `items`, one
    uniformly drawn pair at a time, so each item's drawn neighbours are a uniform sample of its own) and every
    item of all of them."""
    behaviours = range(len(data.behaviours))
    batch = np.unique(users)
    near = np.unique(np.concatenate([items, *(data.items[k][data.runs(k, batch)] for k in behaviours)]))
    by_user, first = data.by_item
    sizes = first[near + 1] - first[near]
    drawn = np.empty(0, dtype=np.int64)
    if budget and sizes.sum():
        ends = np.cumsum(sizes)
        at = rng.integers(0, ends[-1], budget)
        which = np.searchsorted(ends, at, side="right")
        drawn = np.unique(by_user[first[near[which]] + at - (ends[which] - sizes[which])].astype(np.int64))
    kept = np.union1d(batch, drawn)
    item_set = np.unique(np.concatenate([near, *(data.items[k][data.runs(k, kept)] for k in behaviours)]))

    def local(of: np.ndarray) -> Interactions:
        """The pairs of users `of`, re-indexed into the subgraph."""
        at = [data.runs(k, of) for k in behaviours]
        return Interactions(
            n_users=len(kept), n_items=len(item_set), behaviours=data.behaviours,
            users=[np.searchsorted(kept, data.users[k][r]) for k, r in zip(behaviours, at)],
            items=[np.searchsorted(item_set, data.items[k][r]) for k, r in zip(behaviours, at)],
        )

    return Subgraph(kept, item_set, local(kept), local(drawn), data.n_users)


def sample_pairs(data: Interactions, k: int, users: np.ndarray, per_user: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MODELS.md 4.4: up to `per_user` positives with replacement per user, as many negatives drawn uniformly
    among items without behaviour k; a user without positives gives one dummy pair (pos = neg)."""
    keys = data.keys(k)
    start = np.searchsorted(data.users[k], users, side="left")
    count = np.searchsorted(data.users[k], users, side="right") - start
    n = np.where(count > 0, per_user, 1)
    u = np.repeat(users, n)
    has = np.repeat(count > 0, n)
    offset = (rng.random(len(u)) * np.repeat(np.maximum(count, 1), n)).astype(np.int64)
    if len(keys):
        pos = np.where(has, data.items[k][np.minimum(np.repeat(start, n) + offset, len(keys) - 1)], 0)
    else:  # a behaviour nobody has shown yet: every pair is a dummy
        pos = np.zeros(len(u), dtype=np.int64)
    neg = rng.integers(0, data.n_items, len(u))
    bad = has & data.has(k, u, neg)
    for _ in range(100):
        if not bad.any():
            break
        neg[bad] = rng.integers(0, data.n_items, int(bad.sum()))
        bad = has & data.has(k, u, neg)
    # A user with every item under behaviour k has no negative: a dummy pair, constant in the loss.
    neg = np.where(has & ~bad, neg, pos)
    return u, pos, neg
