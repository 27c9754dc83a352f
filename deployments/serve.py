"""Serve leadgraph's deployments from a local Prefect server kept in the home folder.

Cron schedules only fire with a real `prefect server start` (the ephemeral API has no scheduler), so
`serve` starts one on the loopback interface with PREFECT_HOME inside the home folder, waits until it is
healthy, and serves the deployments of `prefect.yaml` (names, entrypoints, schedules, parameters, limits).
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from leadgraph.config import Settings

PREFECT_YAML = Path(__file__).resolve().with_name("prefect.yaml")


@dataclass(frozen=True)
class Schedule:
    """One cron schedule of a deployment."""

    cron: str
    timezone: str | None = None
    active: bool = True


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment as prefect.yaml declares it."""

    name: str
    entrypoint: str  # path/to/module.py:flow_function, relative to the repository root
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    schedules: tuple[Schedule, ...] = ()
    concurrency_limit: int | None = None
    collision_strategy: str = "ENQUEUE"

    @property
    def module(self) -> str:
        """The importable module of the entrypoint (flows/daily.py -> flows.daily)."""
        path = self.entrypoint.split(":", 1)[0]
        return path.removesuffix(".py").replace("/", ".")

    @property
    def function(self) -> str:
        return self.entrypoint.split(":", 1)[1]


@dataclass
class LocalServer:
    """A running `prefect server start` subprocess."""

    process: subprocess.Popen[bytes]
    api_url: str
    log_path: Path

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate the server (and wait for it); kill it if it does not stop in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


def load_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """The deployments declared in prefect.yaml."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    specs = []
    for entry in document.get("deployments") or []:
        limit = entry.get("concurrency_limit")
        limit_cfg = limit if isinstance(limit, Mapping) else {"limit": limit}
        specs.append(DeploymentSpec(
            name=entry["name"],
            entrypoint=entry["entrypoint"],
            description=entry.get("description", ""),
            tags=tuple(entry.get("tags") or ()),
            parameters=dict(entry.get("parameters") or {}),
            schedules=tuple(Schedule(cron=s["cron"], timezone=s.get("timezone"), active=s.get("active", True))
                            for s in entry.get("schedules") or []),
            concurrency_limit=limit_cfg.get("limit"),
            collision_strategy=limit_cfg.get("collision_strategy", "ENQUEUE"),
        ))
    return specs


def with_schedule(spec: DeploymentSpec, cron: str, timezone: str | None = None,
                  parameters: Mapping[str, Any] | None = None) -> DeploymentSpec:
    """The same deployment on another cron (and optionally other parameters)."""
    return replace(spec, schedules=(Schedule(cron=cron, timezone=timezone),),
                   parameters=dict(spec.parameters) | dict(parameters or {}))


def prefect_env(settings: Settings, api_url: str | None = None) -> dict[str, str]:
    """Environment for the server, the runner and its flow runs: everything stays in the home folder."""
    env = {
        "PREFECT_HOME": str(settings.paths.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "LEADGRAPH_HOME": str(settings.paths.home),
    }
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    return env


def free_port(host: str) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start_server(settings: Settings, port: int | None = None, extra_env: Mapping[str, str] | None = None) -> LocalServer:
    """Start `prefect server start` on the loopback interface and wait until /api/health answers."""
    cfg = settings.serve
    port = port or cfg.port
    api_url = f"http://{cfg.host}:{port}/api"
    if _healthy(api_url):
        raise RuntimeError(f"something already answers on {api_url}; choose another settings.serve.port")
    settings.paths.prefect_home.mkdir(parents=True, exist_ok=True)
    log_path = settings.paths.prefect_home / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | prefect_env(settings) | dict(extra_env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", cfg.host, "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    server = LocalServer(process=process, api_url=api_url, log_path=log_path)
    deadline = time.monotonic() + cfg.startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}; log: {log_path}\n"
                               + log_path.read_text(errors="replace")[-2000:])
        if _healthy(api_url):
            return server
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"prefect server not healthy on {api_url} after {cfg.startup_timeout_s}s; log: {log_path}")


def runner_deployments(specs: Sequence[DeploymentSpec]) -> list[Any]:
    """Prefect runner deployments for the specs, flows imported by module so any working directory works."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    deployments = []
    for spec in specs:
        flow = getattr(importlib.import_module(spec.module), spec.function)
        limit = None if spec.concurrency_limit is None else ConcurrencyLimitConfig(
            limit=spec.concurrency_limit, collision_strategy=spec.collision_strategy)
        deployments.append(flow.to_deployment(
            name=spec.name,
            schedules=[Cron(s.cron, timezone=s.timezone, active=s.active) for s in spec.schedules],
            parameters=dict(spec.parameters),
            concurrency_limit=limit,
            description=spec.description,
            tags=list(spec.tags),
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return deployments


def serve_deployments(settings: Settings, specs: Sequence[DeploymentSpec], api_url: str) -> None:
    """Serve the deployments against a running server until interrupted; one flow run at a time."""
    os.environ.update(prefect_env(settings, api_url))
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_HOME: str(settings.paths.prefect_home)}):
        prefect_serve(*runner_deployments(specs), limit=settings.serve.max_concurrent_runs)


def start_desk(settings: Settings) -> subprocess.Popen[bytes]:
    """The lead desk in its own process, so a page being served never shares a process with a flow run."""
    env = dict(os.environ) | {"LEADGRAPH_HOME": str(settings.paths.home)}
    return subprocess.Popen([sys.executable, "-m", "desk", "--host", settings.desk.host, "--port", str(settings.desk.port)],
                            env=env, stdin=subprocess.DEVNULL)


def serve(settings: Settings) -> None:
    """`leadgraph serve`: a local Prefect server in the home folder serving prefect.yaml's deployments, and the desk."""
    server = start_server(settings)
    desk = start_desk(settings)
    try:
        print(f"Prefect server: {server.api_url.removesuffix('/api')} (log {server.log_path})", flush=True)
        serve_deployments(settings, load_specs(), server.api_url)
    finally:
        desk.terminate()
        desk.wait(timeout=20)
        server.stop()
