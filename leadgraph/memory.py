"""This process's memory: resident size now and its peak so far."""

from __future__ import annotations

import os
import resource
import sys

_PAGE = os.sysconf("SC_PAGE_SIZE")
_GIB = 2**30


def rss_gib() -> float:
    """Resident set size now, in GiB (0.0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE / _GIB
    except OSError:
        return 0.0


def peak_rss_gib() -> float:
    """The highest resident set size this process has reached, in GiB."""
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    unit = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / _GIB
