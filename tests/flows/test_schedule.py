"""A cron schedule fires against a real local `prefect server start` and the run publishes lead lists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from deployments.serve import (
    DeploymentSpec,
    Schedule,
    free_port,
    load_specs,
    prefect_env,
    start_server,
    with_schedule,
)
from leadgraph.config import load_settings
from leadgraph.warehouse import connect
from tasks.publish import export_folder
from tests.lead_world import make_scores, make_world

REPO = Path(__file__).resolve().parents[2]
D = date(2025, 6, 30)
FIRE_TIMEOUT_S = 150
# Time for the serving process to start and register the deployment before the run is due.
LEAD_S = 30
# A zone with a half-hour offset: a schedule read in the wrong zone would not fire in time.
TZ = "Asia/Kolkata"

RUNNER = """
import json, sys
from deployments.serve import DeploymentSpec, Schedule, serve_deployments
from leadgraph.config import load_settings
raw = json.loads(sys.argv[1])
raw["schedules"] = tuple(Schedule(**s) for s in raw["schedules"])
raw["tags"] = tuple(raw["tags"])
serve_deployments(load_settings(), [DeploymentSpec(**raw)], sys.argv[2])
"""


def _post(api_url: str, route: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(f"{api_url}/{route}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _once_cron(tz: str) -> tuple[str, datetime]:
    """A cron in `tz` that fires once, at the first whole minute at least LEAD_S seconds from now."""
    now = datetime.now(ZoneInfo(tz))
    fire_at = (now + timedelta(seconds=LEAD_S)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return f"{fire_at.minute} {fire_at.hour} {fire_at.day} {fire_at.month} *", fire_at


def _wait_for_first_run(api_url: str, deployment: str, runner: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Poll the server until a run of the deployment reaches a final state."""
    deadline = time.monotonic() + FIRE_TIMEOUT_S
    while time.monotonic() < deadline:
        assert runner.poll() is None, "the serving process died"
        runs = _post(api_url, "flow_runs/filter", {"deployments": {"name": {"any_": [deployment]}},
                                                   "sort": "EXPECTED_START_TIME_ASC"})
        finished = [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]
        if finished:
            return finished[0]
        time.sleep(2)
    raise AssertionError(f"no run of {deployment!r} finished within {FIRE_TIMEOUT_S}s")


def test_the_served_deployments_match_prefect_yaml() -> None:
    specs = {s.name: s for s in load_specs()}
    assert set(specs) == {"daily", "backfill", "retrain"}
    assert specs["daily"].schedules == (Schedule(cron="0 6 * * *", timezone="Europe/Berlin"),)
    assert specs["backfill"].schedules == () and specs["backfill"].parameters == {"force": False}
    assert specs["retrain"].schedules[0].cron == "0 3 * * 0"
    assert all(s.concurrency_limit == 1 for s in specs.values())
    assert [s.module for s in specs.values()] == ["flows.daily", "flows.backfill", "flows.retrain"]
    minutely = with_schedule(specs["daily"], "* * * * *", "UTC", {"as_of": "2025-06-30"})
    assert minutely.schedules == (Schedule(cron="* * * * *", timezone="UTC"),)
    assert minutely.parameters == {"as_of": "2025-06-30"} and minutely.entrypoint == specs["daily"].entrypoint


@pytest.mark.slow
def test_a_cron_schedule_fires_on_a_local_server_and_publishes(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home")
    make_world(settings)
    with connect(settings.paths.warehouse) as con:
        con.register("incoming", make_scores(1).assign(as_of=D))
        con.execute("CREATE TABLE main.scores AS SELECT * FROM incoming")
    server = start_server(settings, port=free_port(settings.serve.host), extra_env={"PREFECT_UI_ENABLED": "false"})
    runner = None
    try:
        cron, fire_at = _once_cron(TZ)
        spec = DeploymentSpec(name="daily", entrypoint="tests/flows/scheduled_probe.py:scheduled_probe",
                              parameters={"as_of": D.isoformat()}, schedules=(Schedule(cron=cron, timezone=TZ),),
                              concurrency_limit=1)
        env = dict(os.environ) | prefect_env(settings, server.api_url) | {
            "PREFECT_RUNNER_POLL_FREQUENCY": "2", "PYTHONPATH": str(REPO)}
        spec_json = json.dumps(asdict(spec), default=list)
        runner = subprocess.Popen([sys.executable, "-c", RUNNER, spec_json, server.api_url], cwd=REPO, env=env,
                                  stdout=subprocess.DEVNULL, stderr=(tmp_path / "runner.log").open("wb"))
        run = _wait_for_first_run(server.api_url, "daily", runner)
        assert run["state_type"] == "COMPLETED", (tmp_path / "runner.log").read_text(errors="replace")[-3000:]
        assert run["auto_scheduled"] is True
        assert datetime.fromisoformat(run["expected_start_time"]) == fire_at
        artifacts = _post(server.api_url, "artifacts/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    finally:
        if runner is not None:
            runner.terminate()
            runner.wait(timeout=30)
        server.stop()
    assert server.process.returncode is not None

    manifest = json.loads((export_folder(settings, D) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == run["id"] and manifest["total_rows"] == 29
    by_key = {a["key"]: a for a in artifacts}
    assert set(by_key) == {"top-leads", "run-summary", "lead-lists"}
    assert by_key["top-leads"]["type"] == "table" and by_key["run-summary"]["type"] == "markdown"
    top = json.loads(by_key["top-leads"]["data"])
    assert [row["rank_global"] for row in top] == list(range(1, 21))
    assert "## Validation" in by_key["run-summary"]["data"]
    assert export_folder(settings, D).resolve().as_uri() in by_key["lead-lists"]["data"]


def test_prefect_yaml_builds_runner_deployments_of_the_real_flows() -> None:
    from deployments.serve import runner_deployments

    built = {d.name: d for d in runner_deployments(load_specs())}
    assert set(built) == {"daily", "backfill", "retrain"}
    assert built["daily"].entrypoint == "flows.daily.daily_leads"
    assert built["backfill"].entrypoint == "flows.backfill.backfill"
    assert built["retrain"].entrypoint == "flows.retrain.retrain"
    daily = built["daily"].schedules[0].schedule
    assert (daily.cron, daily.timezone) == ("0 6 * * *", "Europe/Berlin")
    assert built["backfill"].schedules == [] and built["backfill"].parameters == {"force": False}
    assert all(d.concurrency_limit == 1 for d in built.values())
