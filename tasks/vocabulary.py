"""Category vocabularies that take the values the data has, learned once per home and then frozen.

The one-hot feature columns must be identical in every snapshot, or a model trained on earlier
anchors could not score a later day. So the first snapshot built in a home extends each configured
vocabulary (`graph.industries`, ...) with the values its data has beyond it (most frequent first, at
most `graph.max_learned_values` per vocabulary) and stores the result in `artifacts/vocabularies.json`;
every later snapshot uses that file. Values first seen later fall into the `other` column, and
`leadgraph check` counts them. Deleting the file re-learns the vocabularies (models trained before
must then be retrained, since their inputs change).
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import duckdb

from leadgraph.config import GraphConfig, Settings
from leadgraph.sql import sql

VOCABULARIES: tuple[str, ...] = (
    "industries", "service_levels", "account_types", "payment_methods", "size_bands", "station_kinds", "channels",
)
FILE_NAME = "vocabularies.json"


def vocabulary_file(settings: Settings) -> Path:
    """Where the home's frozen vocabularies live."""
    return settings.paths.artifacts / FILE_NAME


def stored(settings: Settings) -> dict[str, list[str]] | None:
    """The home's frozen vocabularies, or None before its first snapshot (or with learning off)."""
    path = vocabulary_file(settings)
    if not settings.graph.learn_vocabularies or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["vocabularies"]


def learn(con: duckdb.DuckDBPyConnection, cfg: GraphConfig, as_of: date) -> dict[str, list[str]]:
    """Each configured vocabulary followed by the data's other values as of D, most frequent first."""
    counts: dict[str, dict[str, int]] = {name: {} for name in VOCABULARIES}
    for vocabulary, value, n in con.execute(sql("graph/category_values"), {"as_of": as_of}).fetchall():
        counts[vocabulary][value] = counts[vocabulary].get(value, 0) + int(n)
    learned = {}
    for name in VOCABULARIES:
        configured = list(getattr(cfg, name))
        extra = sorted((v for v in counts[name] if v not in configured), key=lambda v: (-counts[name][v], v))
        learned[name] = configured + extra[: cfg.max_learned_values]
    return learned


def frozen(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> GraphConfig:
    """The graph settings with the home's vocabularies: read from its file, or learned now and stored."""
    cfg = settings.graph
    if not cfg.learn_vocabularies:
        return cfg
    path = vocabulary_file(settings)
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    else:
        stored = {"learned_as_of": as_of.isoformat(), "vocabularies": learn(con, cfg, as_of)}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(stored, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    return cfg.model_copy(update={name: tuple(values) for name, values in stored["vocabularies"].items()})
