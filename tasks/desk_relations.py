"""What a StrucHIS version learned to share, for the desk's model page: per relation and task, the relation
attention and the gates' split of each task's message between the tasks (the paper's heatmaps).

Computed once per version, on the customers listed that day; tasks/desk_snapshot.py stores it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import torch

from leadgraph.config import Settings
from models.problem import num_nodes
from tasks.graph import load_snapshot, snapshot_dir
from tasks.score import load_version, rows_of


def sharing_panels(settings: Settings, version: str, as_of: date, customer_ids: np.ndarray) -> list[dict[str, Any]] | None:
    """Heatmap panels (title, columns, rows of values in 0-1) of a version on D's listed customers; None without relations."""
    model, normalizer, cfg = load_version(settings, version)
    if not hasattr(model, "relation_view") or not len(customer_ids):
        return None
    graph = normalizer.transform(load_snapshot(snapshot_dir(settings, as_of)))
    rows = rows_of(graph["customer"].node_id.numpy(), customer_ids, "listed customers")
    if num_nodes(graph) <= cfg.full_batch_max_nodes:
        views, picked = model.relation_view(graph), rows
    else:
        from models.sampler import sample_batches

        batch = next(iter(sample_batches(graph, "customer", torch.from_numpy(rows),
                                         list(cfg.inference_fanouts), cfg.inference_batch_size)))
        views, picked = model.relation_view(batch.graph), batch.seed_local.numpy()
    tasks = [t.name for t in model.tasks]
    names = views[tasks[0]].names
    attention = {t: views[t].attention[picked].mean(0).tolist() for t in tasks}
    panels = [{"title": "relation attention (mean over the listed customers)", "columns": tasks,
               "rows": [{"name": r, "values": [attention[t][i] for t in tasks]} for i, r in enumerate(names)]}]
    for task in tasks:
        gates = views[task].gates
        if gates is None:
            continue
        mean = gates[picked].mean(0)  # [relations, tasks]: the share of this task's message taken from each task
        panels.append({"title": f"gates of the {task} task: share of each task's message, per relation",
                       "columns": [f"from {t}" for t in tasks],
                       "rows": [{"name": r, "values": mean[i].tolist()} for i, r in enumerate(names)]})
    return panels
