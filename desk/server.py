"""Start the desk: check where it may listen, then serve the app with uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from desk.access import check_binding
from leadgraph.config import Settings


def parse_tokens(values: list[str]) -> dict[str, tuple[str, ...]]:
    """`TOKEN` (all territories) or `TOKEN=Territory,Territory` pairs from the command line."""
    tokens: dict[str, tuple[str, ...]] = {}
    for value in values:
        token, _, territories = value.partition("=")
        if not token:
            raise ValueError(f"empty token in {value!r}: expected TOKEN or TOKEN=Territory,Territory")
        tokens[token] = tuple(t.strip() for t in territories.split(",") if t.strip())
    return tokens


def run_desk(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the desk until interrupted; refuses a non-loopback address without a token."""
    import uvicorn

    from desk.app import create_app

    host = host or settings.desk.host
    port = port or settings.desk.port
    check_binding(settings.desk, host)
    print(f"lead desk: http://{host}:{port}/", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@contextmanager
def served(settings: Settings, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """The desk served on a free loopback port in a background thread, for scripts and tests; yields its URL."""
    import uvicorn

    from desk.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the desk did not start on 127.0.0.1:{port} within {startup_timeout_s} s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
