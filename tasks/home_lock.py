"""One run per home: an exclusive lock on `run.lock`, whose text names the holder.

The operating system releases the lock when its process dies, so a killed run never leaves the home locked.
The lock is re-entrant within a process (a backfill holds it while each daily run takes it again).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from leadgraph.config import Settings
from leadgraph.errors import HomeBusy

_HELD: dict[Path, tuple[IO[str], int]] = {}


def holder(path: Path) -> str:
    """Who holds (or last held) the lock, in words."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "an unknown process"
    return f"`leadgraph {doc.get('verb', '?')}` (pid {doc.get('pid')} on {doc.get('host')}, since {doc.get('since')})"


def _try_lock(handle: IO[str]) -> bool:
    """Take the exclusive lock without blocking; False when another process has it."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def home_lock(settings: Settings, verb: str) -> Iterator[None]:
    """Hold the home's run lock for a verb; wait or fail naming the holder, as settings.lock.on_busy says."""
    path = settings.paths.run_lock
    if path in _HELD:
        handle, depth = _HELD[path]
        _HELD[path] = (handle, depth + 1)
        try:
            yield
        finally:
            _HELD[path] = (handle, _HELD[path][1] - 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    deadline = time.monotonic() + (settings.lock.wait_s if settings.lock.on_busy == "wait" else 0.0)
    while not _try_lock(handle):
        if time.monotonic() >= deadline:
            handle.close()
            waited = " after waiting" if settings.lock.on_busy == "wait" else ""
            raise HomeBusy(f"{settings.paths.home} is busy{waited}: {holder(path)} holds {path.name}",
                           "wait for it to finish (`leadgraph status`), or set lock.on_busy = \"wait\"")
        time.sleep(settings.lock.poll_s)
    handle.seek(0)
    handle.truncate()
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    handle.write(json.dumps({"verb": verb, "pid": os.getpid(), "host": socket.gethostname(), "since": since}))
    handle.flush()
    _HELD[path] = (handle, 1)
    try:
        yield
    finally:
        del _HELD[path]
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
