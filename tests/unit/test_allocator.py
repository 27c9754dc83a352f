import subprocess
import sys
from pathlib import Path

import pytest

from leadgraph import allocator
from leadgraph.config import AllocatorConfig

ROOT = Path(__file__).resolve().parents[2]
MIB = 2**20

# Under the given condition (glibc's default; configured; configured, then restored), allocates a 64 MiB array, then frees it; prints glibc's mallinfo2 figures (bytes in
# mapped blocks while it lives, free heap bytes after it is gone).
PROBE = """
import ctypes, sys
import numpy as np
from leadgraph import allocator
from leadgraph.config import AllocatorConfig

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
cfg = AllocatorConfig(mmap_threshold_mib=0, trim_threshold_mib=0) if sys.argv[1] == "default" else AllocatorConfig()
print(allocator.tune(cfg) if sys.argv[1] != "restored" else allocator.tune(cfg) and allocator.restore())
a = np.empty(2**23)
a.fill(1.0)
print(libc.mallinfo2().hblkhd)
del a
print(libc.mallinfo2().fordblks)
"""


def _probe(condition: str) -> tuple[bool, int, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, condition], cwd=ROOT, check=True, capture_output=True, text=True)
    applied, mapped, free = out.stdout.split()
    return applied == "True", int(mapped), int(free)


def test_nothing_is_applied_when_both_thresholds_are_left_to_glibc() -> None:
    assert allocator.tune(AllocatorConfig(mmap_threshold_mib=0, trim_threshold_mib=0)) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and mallinfo2 are glibc's")
def test_large_blocks_come_from_the_heap_and_stay_there_for_reuse_once_configured() -> None:
    applied, mapped, _ = _probe("default")
    # glibc's default: a 64 MiB block is a mapping of its own, returned to the system when freed.
    assert not applied and mapped >= 64 * MIB
    applied, mapped, free = _probe("configured")
    assert applied and mapped < 64 * MIB
    assert free >= 64 * MIB  # below the trim threshold, the freed block waits in the heap for the next tensor


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt and mallinfo2 are glibc's")
def test_restoring_maps_large_blocks_of_their_own_again_after_the_configured_stages() -> None:
    applied, mapped, free = _probe("restored")
    assert applied and mapped >= 64 * MIB
    assert free < 64 * MIB  # freed, the block went back to the system instead of waiting in the heap


# Configured, frees a 64 MiB heap block filled with data, then releases the free heap: whether glibc released
# anything and how many MiB the resident size fell by.
RELEASE_PROBE = """
import numpy as np
from leadgraph import allocator, memory
from leadgraph.config import AllocatorConfig

allocator.tune(AllocatorConfig())
a = np.empty(2**23)
a.fill(1.0)
del a
before = memory.rss_gib()
released = allocator.release_free()
print(released, (before - memory.rss_gib()) * 1024)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_releasing_gives_the_free_heap_back_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", RELEASE_PROBE], cwd=ROOT, check=True, capture_output=True, text=True)
    released, fell_mib = out.stdout.split()
    assert released == "True"
    assert float(fell_mib) >= 60  # the freed block's pages, resident until released
