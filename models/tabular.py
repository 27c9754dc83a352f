"""The tabular baseline: one LightGBM classifier per task on the task's node-type features, no graph.

On the logistics world these are the snapshot's customer features (the SQL features a team without
graph models would use). Training rows are the labelled targets of every training graph stacked;
early stopping watches the validation split (average precision for binary tasks when validation
has both classes, else log loss; multi-class log loss for multiclass). Binary tasks weight
positives by (negatives / positives) ** cfg.pos_weight_power, like the graph models' loss.
It follows the registry's tabular contract: `fit(problem, cfg) -> history`, `predict(graph) -> probabilities`.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.problem import Problem, Split, TaskSpec
from models.registry import ModelInputs, register


def labelled_rows(split: Split, task: TaskSpec) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a split's labelled targets of one task, stacked over its graphs."""
    xs, ys = [], []
    for g, graph in enumerate(split.graphs):
        idx = split.index[task.name][g].numpy()
        y = split.y[task.name][g].numpy()
        keep = y >= 0
        xs.append(graph[task.node_type].x.numpy()[idx[keep]])
        ys.append(y[keep])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


class TextBooster:
    """A booster read back from LightGBM's text format, answering `predict_proba` like the fitted classifier."""

    def __init__(self, text: str, classes: list[int]) -> None:
        self.booster = lgb.Booster(model_str=text)
        self.classes_ = np.asarray(classes)
        # The text holds the trees up to the best iteration only.
        self.best_iteration_ = 0

    def predict_proba(self, x: np.ndarray, num_iteration: int | None = None) -> np.ndarray:
        """Class probabilities, one column per class in `classes_`."""
        p = self.booster.predict(x, num_iteration=num_iteration)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p


class TabularModel:
    """One LGBMClassifier per task; stored as LightGBM's own text format (`to_text` / `from_text`), never pickled."""

    def __init__(self, inputs: ModelInputs, cfg: TrainConfig) -> None:
        self.tasks = list(inputs.tasks)
        self.cfg = cfg
        self.boosters: dict[str, lgb.LGBMClassifier] = {}

    def _classifier(self, task: TaskSpec, y: np.ndarray) -> lgb.LGBMClassifier:
        """An unfitted classifier with the configured knobs (and the positive weight of a binary task)."""
        t = self.cfg.tabular
        extra: dict = {}
        if task.kind == "binary":
            pos, neg = int((y == 1).sum()), int((y == 0).sum())
            if pos and neg:
                extra["scale_pos_weight"] = (neg / pos) ** self.cfg.pos_weight_power
        return lgb.LGBMClassifier(
            n_estimators=t.max_rounds, learning_rate=t.learning_rate, num_leaves=t.num_leaves,
            min_child_samples=t.min_child_samples, colsample_bytree=t.feature_fraction,
            n_jobs=t.threads, random_state=self.cfg.seed, deterministic=True, force_row_wise=True,
            verbose=-1, **extra,
        )

    def fit(self, problem: Problem, cfg: TrainConfig) -> list[dict]:
        """Train every task's classifier with early stopping on the validation split; one history row per task."""
        self.cfg = cfg
        history = []
        for task in self.tasks:
            x_tr, y_tr = labelled_rows(problem.train, task)
            x_va, y_va = labelled_rows(problem.val, task)
            if np.unique(y_tr).size < 2:
                raise ValueError(f"lightgbm: task {task.name!r} has a single class in the training split")
            if task.kind == "binary":
                metric = "average_precision" if np.unique(y_va).size == 2 else "binary_logloss"
            else:
                metric = "multi_logloss"
            clf = self._classifier(task, y_tr)
            clf.fit(
                x_tr, y_tr, eval_X=(x_va,), eval_y=(y_va,), eval_metric=metric,
                callbacks=[lgb.early_stopping(cfg.tabular.early_stopping_rounds, first_metric_only=True, verbose=False)],
            )
            self.boosters[task.name] = clf
            best = clf.best_score_["valid_0"][metric]
            history.append({"task": task.name, "best_iteration": int(clf.best_iteration_), "metric": metric, "val": float(best)})
        return history

    def to_text(self) -> dict[str, tuple[str, list[int]]]:
        """Each task's booster in LightGBM's text format (up to its best iteration) and its class labels."""
        out = {}
        for name, clf in self.boosters.items():
            booster = clf.booster_ if isinstance(clf, lgb.LGBMClassifier) else clf.booster
            out[name] = (booster.model_to_string(num_iteration=clf.best_iteration_ or None), [int(c) for c in clf.classes_])
        return out

    def from_text(self, texts: dict[str, tuple[str, list[int]]]) -> None:
        """Restore the boosters `to_text` wrote."""
        self.boosters = {name: TextBooster(text, classes) for name, (text, classes) in texts.items()}

    def predict(self, graph: HeteroData) -> dict[str, np.ndarray]:
        """Probabilities for all nodes of each task's node type: [N] for binary, [N, C] for multiclass."""
        out = {}
        for task in self.tasks:
            clf = self.boosters[task.name]
            x = graph[task.node_type].x.numpy().astype(np.float32)
            proba = clf.predict_proba(x, num_iteration=clf.best_iteration_ or None)
            classes = list(clf.classes_)
            if task.kind == "binary":
                out[task.name] = proba[:, classes.index(1)]
            else:
                # Classes absent from training get probability 0.
                full = np.zeros((x.shape[0], task.num_classes), dtype=proba.dtype)
                full[:, np.asarray(classes, dtype=np.int64)] = proba
                out[task.name] = full
        return out


@register("lightgbm")
def _build_lightgbm(inputs: ModelInputs, cfg: TrainConfig) -> TabularModel:
    """The graph-free LightGBM baseline."""
    return TabularModel(inputs, cfg)
