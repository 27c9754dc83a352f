"""Start the desk: check where it may listen, then serve the app with uvicorn."""

from __future__ import annotations

from leadgraph.config import Settings
from desk.access import check_binding


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
