"""Wall time and memory of the named phases of a long task, logged as each ends and kept for its record."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from leadgraph import memory

log = logging.getLogger(__name__)


@dataclass
class Phases:
    """Each finished phase: its name, seconds, resident GiB at its end and the process's peak GiB by then."""

    task: str
    done: list[dict] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the enclosed block as phase `name`."""
        started = time.perf_counter()
        yield
        rss = memory.rss_gib()
        # The kernel updates its high-water mark lazily, so it can trail the resident size just read.
        entry = {"phase": name, "seconds": round(time.perf_counter() - started, 2),
                 "rss_gib": round(rss, 3), "peak_gib": round(max(memory.peak_rss_gib(), rss), 3)}
        self.done.append(entry)
        log.info("%s: %s took %.1fs; resident %.2f GiB, peak so far %.2f GiB", self.task, name, entry["seconds"],
                 entry["rss_gib"], entry["peak_gib"])
