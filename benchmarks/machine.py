"""What every results page states about where and when it was measured."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone


def memory_gib() -> float:
    """Physical memory of this machine in GiB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def describe() -> str:
    """Architecture, cores, memory, Python and torch builds, and the load average now (1 min), in one line."""
    import torch

    load = os.getloadavg()[0]
    return (f"{platform.machine()}, {os.cpu_count()} cores, {memory_gib():.0f} GiB, no GPU, Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads); load average {load:.1f} at the time of writing")


def now() -> str:
    """The current UTC time, to the minute."""
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"


def torch_threads() -> int:
    """Torch threads a benchmark runs with: LEADGRAPH_TORCH_THREADS, else 1 (runs stay comparable beside others)."""
    return int(os.environ.get("LEADGRAPH_TORCH_THREADS", "1"))
