"""The README's worked example end to end: `leadgraph check` and `leadgraph run` on a courier's own tables."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from leadgraph.config import load_settings
from leadgraph.errors import EXIT_HELD
from leadgraph.warehouse import connect
from tasks.publish import export_folder
from tests import own_data

pytestmark = pytest.mark.slow

MAPPING = Path(__file__).resolve().parent.parent / "own_tables" / "leadgraph.toml"
DAY1, DAY2 = date(2025, 8, 30), date(2025, 8, 31)
# The tabular baseline keeps the run short; the data path, not the model, is under test here.
SETS = ["--set", "train.model=lightgbm", "--set", "validate.data_docs=false"]


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--home", str(home), "--config", str(MAPPING), *SETS])
    return result.exit_code, result.output


def test_worked_example_check_then_run_then_a_broken_source_holds(prefect_harness: None, tmp_path: Path) -> None:
    home = tmp_path / "crm"
    world = own_data.build()
    own_data.write_files(home, world)

    code, output = _cli(home, "check")
    assert code == 0, output
    assert "customers  <-  files crm/leads.csv" in output and "check: no blocking problem" in output

    code, output = _cli(home, "run", "--as-of", DAY1.isoformat())
    assert code == 0, output
    assert f"{DAY1} published" in output
    settings = load_settings(home, config_file=MAPPING)
    folder = export_folder(settings, DAY1)
    leads = pd.read_parquet(folder / "leads.parquet")
    signed = {a["lead_ref"] for a in world.activities if a["result"] == "won" and a["happened_at"][:10] <= DAY1.isoformat()}
    assert len(leads) > 0 and set(leads["customer_id"]) <= {r["lead_ref"] for r in world.leads}
    assert not signed & set(leads["customer_id"])
    assert set(leads["territory"]) <= set(own_data.AREAS)
    assert set(leads["station_id"]) <= {d["depot_code"] for d in world.depots}
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    # The next day the CRM export is missing: the run stops at validation, and day 1's lists stay as they were.
    (home / "crm" / "leads.csv").rename(home / "crm" / "leads.old")
    code, output = _cli(home, "run", "--as-of", DAY2.isoformat())
    assert code == EXIT_HELD and f"{DAY2} held: validation failed, nothing published" in output
    with connect(settings.paths.warehouse) as con:
        rejected = con.execute("SELECT detail FROM meta.validation_results WHERE as_of = ? AND rule = 'file_rejected'", [DAY2]).fetchall()
    assert len(rejected) == 1 and "customers: source files crm/leads.csv: no file matches crm/leads.csv" in rejected[0][0]
    assert not export_folder(settings, DAY2).exists()
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == digests
