"""Who may read the desk: anyone on the loopback interface without tokens; otherwise a token, maybe per territory."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from leadgraph.config import DeskConfig

TOKEN_COOKIE = "leadgraph_desk_token"


class AccessError(RuntimeError):
    """The desk must not start with these settings."""


@dataclass(frozen=True)
class Viewer:
    """A reader of the desk: the territories it may see (None: all)."""

    territories: frozenset[str] | None

    def may_see(self, territory: str) -> bool:
        return self.territories is None or territory in self.territories


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(cfg: DeskConfig, host: str) -> None:
    """Refuse to listen beyond the loopback interface when no token is configured."""
    if not is_loopback(host) and not cfg.tokens:
        raise AccessError(
            f"the desk would listen on {host}, reachable from other machines, without a token: set desk.tokens "
            "(token -> territories) or bind it to 127.0.0.1")


def viewer_for(cfg: DeskConfig, token: str | None) -> Viewer | None:
    """The viewer a token stands for; None when tokens are configured and this one is missing or unknown."""
    if not cfg.tokens:
        return Viewer(None)
    if not token:
        return None
    for known, territories in cfg.tokens.items():
        if hmac.compare_digest(known.encode("utf-8"), token.encode("utf-8")):
            return Viewer(frozenset(territories) if territories else None)
    return None
