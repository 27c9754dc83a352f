"""Every defect `simulate --defects` injects is caught: quarantined under a rule, or its file rejected by name."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest

from expectations.suites import spec
from leadgraph.config import Settings, load_settings
from tasks.ingest import ingest
from simulator.simulate import simulate
from tasks.validate import validate

START, END = date(2025, 1, 1), date(2025, 4, 5)
RATE = 0.01


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, pd.DataFrame, pd.DataFrame]:
    """A short tiny world with defects, ingested and validated as of its last day."""
    settings = load_settings(tmp_path_factory.mktemp("defects") / "home")
    settings.validate_.data_docs = False
    simulate(settings, scale="tiny", start=START, end=END, seed=11, defect_rate=RATE)
    ingest(settings, END)
    validate(settings, END)
    injected = pd.read_parquet(settings.paths.truth / "defects.parquet")
    with duckdb.connect(str(settings.paths.warehouse), read_only=True) as con:
        caught = con.execute("SELECT table_name, _file AS file, _row AS row, rule, raw_values FROM meta.quarantine").df()
    return settings, injected, caught


def test_the_world_has_every_defect_class(defective) -> None:
    _, injected, _ = defective
    assert set(injected["defect"]) == {
        "duplicate_key", "orphan_fk", "null_required", "unparseable_number", "unparseable_date",
        "negative_weight", "future_event", "malformed_line", "unknown_category",
    }


def test_every_injected_defect_is_quarantined(defective) -> None:
    _, injected, caught = defective
    merged = injected.merge(caught, on=["table_name", "file", "row"], how="left")
    missed = merged[merged["rule"].isna()]
    assert missed.empty, f"{len(missed)} defects not caught:\n{missed.head(20).to_string()}"


@pytest.mark.parametrize(
    ("defect", "rule_prefix"),
    [
        ("duplicate_key", "unique_key"),
        ("orphan_fk", "orphan:"),
        ("null_required", "not_null:"),
        ("unparseable_number", "parsed_and_typed"),
        ("unparseable_date", "parsed_and_typed"),
        ("negative_weight", "positive:weight_kg"),
        ("future_event", "not_after_partition:"),
        ("malformed_line", "parsed_and_typed"),
        ("unknown_category", "allowed_values:"),
    ],
)
def test_each_defect_class_is_caught_by_its_rule(defective, defect: str, rule_prefix: str) -> None:
    _, injected, caught = defective
    rows = injected[injected["defect"] == defect]
    merged = rows.merge(caught[caught["rule"].str.startswith(rule_prefix)], on=["table_name", "file", "row"], how="left")
    assert merged["rule"].notna().all(), merged[merged["rule"].isna()].head(10).to_string()


def test_other_quarantined_rows_point_at_a_row_whose_key_a_defect_destroyed(defective) -> None:
    """Rows outside the catalogue may only be orphans of a referenced row whose key was nulled or garbled."""
    _, injected, caught = defective
    extra = caught.merge(injected, on=["table_name", "file", "row"], how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert extra["rule"].str.startswith("orphan:").all(), extra.head(10).to_string()
    destroyed = {
        (t, key)
        for t, key, column in injected[["table_name", "key", "column"]].itertuples(index=False)
        if column == spec(t).key[0] and len(spec(t).key) == 1
    }
    for row in extra.itertuples():
        column, ref = row.rule.removeprefix("orphan:").split("->")
        assert (ref, str(json.loads(row.raw_values)[column])) in destroyed, row
