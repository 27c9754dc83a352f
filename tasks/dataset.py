"""The logistics world as a `Problem`: one as-of snapshot per anchor, labelled from that anchor, normalised.

Each split stacks the snapshots of its tasks' anchors (tasks.labels: the 30-day task's anchors differ from
the 90-day task's); a task is labelled only on its own anchors and has no rows on the others. The feature
normaliser is fitted on the train snapshots only and applied to every split and to the scoring graph. The
refit problem holds each task's most recent closed anchors as its only split, with its own normaliser.

A split's graphs are loaded from their stored snapshots when a training loop reaches them, and a problem
holds one normalised snapshot at a time: at paper scale each is gigabytes, and a problem has up to ten. Once
normalised, a snapshot is spilled to disk (tasks/spill.py) and later visits read it back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from leadgraph.config import LabelConfig, Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from models.problem import Problem, Split, TaskSpec
from tasks.graph import SnapshotRef, build_snapshot, edge_key, load_node_ids, load_snapshot
from tasks.labels import (SPLITS, AnchorPlan, TaskAnchors, anchor_dates, check_history, check_outcomes, label_column,
                          labels_at)
from tasks.spill import Spill

log = logging.getLogger(__name__)



# Rows normalised at a time: a 2**18-row float64 block of 80 columns is 170 MB.
APPLY_BLOCK_ROWS = 2**18


def _signed_log(x: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): tames heavy tails and keeps the sign of growth-like columns."""
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass
class _Moments:
    """Count, mean and sum of squared deviations per column, mergeable across blocks (Chan et al.)."""

    n: float
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> _Moments:
        mean = x.mean(0) if len(x) else np.zeros(x.shape[1])
        return cls(float(len(x)), mean, ((x - mean) ** 2).sum(0))

    def merge(self, other: _Moments) -> _Moments:
        n = self.n + other.n
        if n == 0:
            return self
        delta = other.mean - self.mean
        return _Moments(n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta**2 * self.n * other.n / n)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n, 1.0))


class _ScaleFit:
    """Accumulates one feature matrix's statistics over blocks of rows, one float64 column at a time."""

    def __init__(self, names: list[str], log: np.ndarray | None) -> None:
        self.names = list(names)
        self.fixed_log = log
        self.indicator = np.ones(len(names), dtype=bool)
        self.plain: _Moments | None = None
        self.logged: _Moments | None = None

    def add(self, block: np.ndarray) -> None:
        """Take in the rows of one matrix."""
        k = block.shape[1]
        plain = _Moments(float(len(block)), np.zeros(k), np.zeros(k))
        logged = _Moments(float(len(block)), np.zeros(k), np.zeros(k))
        for j in range(k):
            z = block[:, j].astype(np.float64)
            self.indicator[j] &= bool(np.all((z == 0) | (z == 1)))
            col, col_log = _Moments.of(z[:, None]), _Moments.of(_signed_log(z)[:, None])
            plain.mean[j], plain.m2[j] = col.mean[0], col.m2[0]
            logged.mean[j], logged.m2[j] = col_log.mean[0], col_log.m2[0]
        self.plain = plain if self.plain is None else self.plain.merge(plain)
        self.logged = logged if self.logged is None else self.logged.merge(logged)

    def result(self) -> _Scale:
        """The fitted transform."""
        # Indicator columns stay linear; everything else (counts, amounts, days) gets the log.
        log = ~self.indicator if self.fixed_log is None else self.fixed_log
        mean = np.where(log, self.logged.mean, self.plain.mean)
        std = np.where(log, self.logged.std, self.plain.std)
        # A constant column carries no information: centre it to zero instead of dividing by zero.
        return _Scale(self.names, log, mean, np.where(std > 1e-12, std, 1.0))


@dataclass
class _Scale:
    """Per-column transform of one feature matrix: optional signed log, then (x - mean) / std."""

    names: list[str]
    log: np.ndarray  # bool per column
    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape, dtype=np.float32)
        # Whole rows in float64 blocks: contiguous reads, and a bounded temporary at paper scale.
        for start in range(0, len(x), APPLY_BLOCK_ROWS):
            z = x[start:start + APPLY_BLOCK_ROWS].astype(np.float64)
            z[:, self.log] = _signed_log(z[:, self.log])
            z -= self.mean
            z /= self.std
            out[start:start + APPLY_BLOCK_ROWS] = z
        return out

    def to_json(self) -> dict:
        return {"names": self.names, "log": self.log.tolist(), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> _Scale:
        return cls(list(d["names"]), np.array(d["log"], dtype=bool), np.array(d["mean"]), np.array(d["std"]))


class FeatureNormalizer:
    """Node features: signed log for non-indicator columns, then z-scores; edge attributes: z-scores."""

    def __init__(self, nodes: dict[str, _Scale], edges: dict[str, _Scale]) -> None:
        self.nodes = nodes
        self.edges = edges

    @classmethod
    def fit(cls, graphs: Iterable[HeteroData]) -> FeatureNormalizer:
        """Fit on the stacked rows of the given (training) graphs, taking one graph at a time."""
        nodes: dict[str, _ScaleFit] = {}
        edges: dict[str, _ScaleFit] = {}
        for g in graphs:
            for nt in g.node_types:
                nodes.setdefault(nt, _ScaleFit(list(g[nt].feature_names), None)).add(g[nt].x.numpy())
            for et in g.edge_types:
                if "edge_attr" in g[et]:
                    k = g[et].edge_attr.shape[1]
                    fit = edges.setdefault(edge_key(et), _ScaleFit([str(i) for i in range(k)], np.zeros(k, dtype=bool)))
                    fit.add(g[et].edge_attr.numpy())
        return cls({k: v.result() for k, v in nodes.items()}, {k: v.result() for k, v in edges.items()})

    def transform(self, graph: HeteroData) -> HeteroData:
        """A new graph with normalised x and edge_attr; ids and edge indices are shared, not copied."""
        out = HeteroData()
        for nt in graph.node_types:
            scale = self.nodes.get(nt)
            names = list(graph[nt].feature_names)
            if scale is None or scale.names != names:
                raise ValueError(f"normaliser was fitted on other {nt} features than this graph has: "
                                 f"expected {scale.names if scale else None}, got {names}")
            out[nt].x = torch.from_numpy(scale.apply(graph[nt].x.numpy()))
            out[nt].node_id = graph[nt].node_id
            out[nt].feature_names = names
        for et in graph.edge_types:
            out[et].edge_index = graph[et].edge_index
            if "edge_attr" in graph[et]:
                out[et].edge_attr = torch.from_numpy(self.edges[edge_key(et)].apply(graph[et].edge_attr.numpy()))
        return out

    def save(self, path: Path) -> None:
        """Write the fitted parameters as JSON."""
        doc = {"nodes": {k: v.to_json() for k, v in self.nodes.items()}, "edges": {k: v.to_json() for k, v in self.edges.items()}}
        Path(path).write_text(json.dumps(doc), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FeatureNormalizer:
        """Read parameters written by `save`."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls({k: _Scale.from_json(v) for k, v in doc["nodes"].items()}, {k: _Scale.from_json(v) for k, v in doc["edges"].items()})


def _labelled(node_id: np.ndarray, labels: pd.DataFrame, keys: list[str]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Row indices, among the snapshot's customer ids, of the labelled population and its labels per task key."""
    ids = labels["customer_id"].to_numpy(np.int64)
    pos = np.searchsorted(node_id, ids)
    if len(ids) and (pos.max() >= len(node_id) or not np.array_equal(node_id[pos], ids)):
        raise ValueError("labelled customers missing from their anchor's snapshot: labels and snapshot disagree on the as-of state")
    y = {key: torch.from_numpy(labels[label_column(key)].to_numpy(np.float32)) for key in keys}
    return torch.from_numpy(pos.astype(np.int64)), y


class SnapshotCache:
    """Normalised snapshots by anchor, loaded on first use (and spilled, when given a spill, to be read back on the
    next); only the latest one is held."""

    def __init__(self, refs: dict[date, SnapshotRef], normalizer: FeatureNormalizer, spill: Spill | None = None) -> None:
        self.refs = refs
        self.normalizer = normalizer
        self.spill = spill
        self._anchor: date | None = None
        self._graph: HeteroData | None = None

    def get(self, anchor: date) -> HeteroData:
        """The anchor's normalised snapshot."""
        if anchor != self._anchor:
            self._anchor, self._graph = None, None  # free the previous one before the next is loaded
            key = anchor.isoformat()
            graph = self.spill.get(key) if self.spill is not None else None
            if graph is None:
                graph = self.normalizer.transform(load_snapshot(self.refs[anchor].path))
                self._put(key, graph)
            self._graph, self._anchor = graph, anchor
        return self._graph

    def _put(self, key: str, graph: HeteroData) -> None:
        """Spill a normalised snapshot; a disk that refuses it (full, read-only) ends spilling, not the training."""
        if self.spill is None:
            return
        try:
            self.spill.put(key, graph)
        except OSError as err:
            log.warning("spilling snapshots stopped (%s): later visits reload and normalise them again", err)
            self.drop_spill()

    def drop_spill(self) -> None:
        """Remove the spilled snapshots now and spill no more: later visits reload and normalise."""
        if self.spill is not None:
            self.spill.close()
            self.spill = None


def _spill(settings: Settings) -> Spill | None:
    """A spill folder for a problem's normalised snapshots, when train.spill_snapshots is on."""
    return Spill(settings.paths.spill) if settings.train.spill_snapshots else None


class AnchorGraphs(Sequence[HeteroData]):
    """A split's graphs, one per anchor, read through the problem's snapshot cache when indexed."""

    def __init__(self, anchors: list[date], cache: SnapshotCache) -> None:
        self.anchors = list(anchors)
        self.cache = cache

    def node_totals(self) -> list[int]:
        """Each anchor's total node count, from its stored counts: no snapshot is loaded."""
        return [sum(self.cache.refs[t].node_counts.values()) for t in self.anchors]

    def __len__(self) -> int:
        return len(self.anchors)

    def __getitem__(self, i: int) -> HeteroData:  # type: ignore[override]
        return self.cache.get(self.anchors[i])


def release_spill(problem: Problem) -> None:
    """Remove a problem's spilled snapshots now; a later visit reloads them (the refit's spill need not sit beside it)."""
    for split in (problem.train, problem.val, problem.test):
        if isinstance(split.graphs, AnchorGraphs):
            split.graphs.cache.drop_spill()


def _split(plan: AnchorPlan, name: str, cache: SnapshotCache, labels: dict[date, pd.DataFrame],
           keys: list[str]) -> Split:
    """A split's snapshots (the union of its tasks' anchors); a task is labelled only on its own anchors."""
    anchors = plan.split(name)
    index: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    y: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    for t in anchors:
        mine = plan.tasks_at(name, t)
        # The ids alone locate the labelled rows: loading and normalising every anchor's whole snapshot for that
        # took about half of building the paper world's problem from stored snapshots.
        idx, ys = _labelled(load_node_ids(cache.refs[t].path, "customer"), labels[t], mine)
        for key in keys:
            index[key].append(idx if key in mine else torch.zeros(0, dtype=torch.int64))
            y[key].append(ys[key] if key in mine else torch.zeros(0))
    return Split(graphs=AnchorGraphs(anchors, cache), index=index, y=y)


def task_specs(settings: Settings) -> list[TaskSpec]:
    """The configured tasks as binary customer tasks; two or more take train.loss_weights in order (else 1 each)."""
    tasks = settings.labels.tasks
    w = settings.train.loss_weights
    weights = list(w) if len(w) == len(tasks) else [1.0] * len(tasks)
    return [TaskSpec(t.key, "customer", "binary", loss_weight=weights[i]) for i, t in enumerate(tasks)]


def first_history_day(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """The day of the first shipment known by D."""
    return con.execute(sql("labels/first_day"), {"as_of": as_of}).fetchall()[0][0]


def plan_and_labels(settings: Settings, as_of: date, splits: tuple[str, ...] = SPLITS
                    ) -> tuple[AnchorPlan, dict[date, pd.DataFrame]]:
    """The anchor plan as of D (checked against the history and the outcome values) and the labels of its anchors."""
    cfg = settings.labels
    plan = anchor_dates(as_of, cfg)
    with connect(settings.paths.warehouse, read_only=True) as con:
        check_history(plan, cfg, first_history_day(con, as_of), as_of)
        check_outcomes(con, cfg, as_of)
        wanted: dict[date, list[str]] = {}
        for name in splits:
            for t in plan.split(name):
                wanted.setdefault(t, []).extend(plan.tasks_at(name, t))
        labels = {t: labels_at(con, t, cfg, sorted(set(keys))) for t, keys in wanted.items()}
    for t, lab in labels.items():
        if lab.empty:
            raise ValueError(f"anchor {t} has no labelled prospects (no customer with {cfg.min_shipments} shipment(s) in the "
                             f"{cfg.activity_lookback_days} days before it): history before D={as_of} is too short for the anchor plan")
    return plan, labels


def build_problem(settings: Settings, as_of: date) -> Problem:
    """Snapshots and labels of each task's anchors, whole windows closed by D, normalised on the train anchors."""
    plan, labels = plan_and_labels(settings, as_of)
    refs = {t: build_snapshot(settings, t) for t in plan.all}
    # One raw snapshot in memory at a time: at paper scale each holds gigabytes.
    normalizer = FeatureNormalizer.fit(load_snapshot(refs[t].path) for t in plan.split("train"))
    cache = SnapshotCache({t: refs[t] for t in plan.all}, normalizer, _spill(settings))
    keys = [t.key for t in settings.labels.tasks]
    return Problem(
        name=f"logistics@{as_of.isoformat()}",
        tasks=task_specs(settings),
        train=_split(plan, "train", cache, labels, keys),
        val=_split(plan, "val", cache, labels, keys),
        test=_split(plan, "test", cache, labels, keys),
        meta={
            "normalizer": normalizer,
            "as_of": as_of,
            "anchors": plan,
            "data_versions": {t.isoformat(): refs[t].data_version for t in plan.all},
            "positives": _positives(plan, labels),
        },
    )


def _positives(plan: AnchorPlan, labels: dict[date, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """Per task and anchor (ISO date, split-prefixed), the number of positives."""
    out: dict[str, dict[str, int]] = {}
    for key, anchors in plan.tasks.items():
        for name in SPLITS:
            for t in anchors.of(name):
                if t in labels and label_column(key) in labels[t]:
                    out.setdefault(key, {})[f"{name} {t.isoformat()}"] = int(labels[t][label_column(key)].sum())
    return out


def refit_problem(settings: Settings, as_of: date, normalizer: FeatureNormalizer | None = None) -> Problem:
    """The refit's training data: each task's most recent anchors whose windows closed by D (no hold-out)."""
    cfg = settings.labels
    plan = anchor_dates(as_of, cfg)
    with connect(settings.paths.warehouse, read_only=True) as con:
        wanted: dict[date, list[str]] = {}
        for key, anchors in plan.refit.items():
            for t in anchors:
                wanted.setdefault(t, []).append(key)
        labels = {t: labels_at(con, t, cfg, keys) for t, keys in wanted.items()}
    refs = {t: build_snapshot(settings, t) for t in sorted(wanted)}
    normalizer = normalizer or FeatureNormalizer.fit(load_snapshot(refs[t].path) for t in sorted(wanted))
    cache = SnapshotCache({t: refs[t] for t in sorted(wanted)}, normalizer, _spill(settings))
    keys = [t.key for t in cfg.tasks]
    refit_plan = AnchorPlan(tasks={k: TaskAnchors(train=v, val=v[-1], test=v[-1]) for k, v in plan.refit.items()},
                            refit=plan.refit)
    split = _split(refit_plan, "train", cache, labels, keys)
    return Problem(name=f"logistics-refit@{as_of.isoformat()}", tasks=task_specs(settings), train=split, val=split,
                   test=split, meta={"normalizer": normalizer, "as_of": as_of, "anchors": refit_plan,
                                     "data_versions": {t.isoformat(): refs[t].data_version for t in sorted(wanted)}})


def scoring_graph(settings: Settings, as_of: date, normalizer: FeatureNormalizer) -> HeteroData:
    """The snapshot as of D, normalised with a trained model's normaliser."""
    return normalizer.transform(load_snapshot(build_snapshot(settings, as_of).path))


def prospects(con: duckdb.DuckDBPyConnection, as_of: date, cfg: LabelConfig) -> pd.DataFrame:
    """Customers to score on D: every customer as of D without the final task's outcome by the end of D."""
    return con.execute(sql("labels/prospects"), {"as_of": as_of, "final": list(cfg.final.outcomes)}).df() \
        .astype({"customer_id": "int64"})
