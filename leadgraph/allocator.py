"""glibc's allocator: keep large freed blocks for reuse instead of mapping fresh pages for every tensor."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

from leadgraph.config import AllocatorConfig

log = logging.getLogger(__name__)

# mallopt parameter numbers from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MIB = 2**20
# glibc's thresholds before any mallopt call (malloc.h: DEFAULT_MMAP_THRESHOLD_MIN, DEFAULT_TRIM_THRESHOLD).
_GLIBC_INITIAL = 128 * 1024


def _libc() -> ctypes.CDLL | None:
    """This process's C library if it is glibc, else None."""
    libc = ctypes.CDLL(None)  # the symbols this process already has, its C library's among them
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None on another C library."""
    libc = _libc()
    if libc is None:
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc.mallopt


def tune(cfg: AllocatorConfig) -> bool:
    """Apply the configured thresholds to this process; False where nothing was applied (not glibc, or both 0)."""
    mallopt = _mallopt()
    wanted = [(_M_MMAP_THRESHOLD, cfg.mmap_threshold_mib), (_M_TRIM_THRESHOLD, cfg.trim_threshold_mib)]
    wanted = [(param, mib) for param, mib in wanted if mib > 0]
    if mallopt is None or not wanted:
        return False
    for param, mib in wanted:
        # mallopt takes a C int: a larger setting is capped at its maximum (2 GiB).
        if mallopt(param, min(mib * _MIB, 2**31 - 1)) != 1:
            log.warning("mallopt(%d, %d MiB) was refused; glibc's default stays", param, mib)
            return False
    return True


def restore() -> bool:
    """Give this process glibc's initial thresholds back; False where nothing was applied (not glibc)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # Static from here on: any mallopt call ends glibc's own raising of the mmap threshold, so every block above
    # 128 KiB is a mapping of its own again and goes back to the system when freed.
    return all(mallopt(param, _GLIBC_INITIAL) == 1 for param in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD))


def release_free() -> bool:
    """Give the heap's free pages back to the system (glibc's malloc_trim); False where nothing was released."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc.malloc_trim(0) == 1
