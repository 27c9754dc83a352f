"""Multi-behaviour interactions as index arrays, and the sparse adjacencies the offer models propagate over."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

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
        for k in range(len(self.behaviours)):
            key = np.unique(self.users[k].astype(np.int64) * self.n_items + self.items[k])
            self.users[k], self.items[k] = np.divmod(key, self.n_items)

    @property
    def target(self) -> int:
        """Index of the target behaviour."""
        return len(self.behaviours) - 1

    def keys(self, k: int) -> np.ndarray:
        """Sorted user * n_items + item keys of behaviour k."""
        return self.users[k] * self.n_items + self.items[k]

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


def bipartite(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, norm: str) -> Adjacency:
    """A = [[0, Y], [Y^T, 0]], `left` (D^-1 A, zero rows for isolated nodes) or `symm` (D^-1/2 A D^-1/2)."""
    n = n_users + n_items
    rows = np.concatenate([users, n_users + items]).astype(np.int64)
    cols = np.concatenate([n_users + items, users]).astype(np.int64)
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    inv = np.divide(1.0, deg, out=np.zeros(n), where=deg > 0)
    vals = inv[rows] if norm == "left" else np.sqrt(inv[rows] * inv[cols])
    return Adjacency(rows, cols, vals, n)


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
