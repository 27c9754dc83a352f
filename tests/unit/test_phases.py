"""Timing a task's phases with the memory by the end of each."""

import mmap

from leadgraph import memory
from leadgraph.phases import Phases

# The resident size and the peak come from two kernel counters read at different moments; they can disagree by
# about a MiB, which the three decimals the phases record turn into a 0.001 GiB miss. A 256 MiB block dwarfs this.
_COUNTER_SLACK_GIB = 0.01


def test_each_phase_records_its_time_and_the_memory_by_its_end() -> None:
    timed = Phases("probe")
    # A mapping of its own, not the heap, so that freeing it returns it to the kernel however an earlier test in
    # this process tuned the allocator (leadgraph.allocator raises its mmap threshold).
    block = mmap.mmap(-1, 256 * 2**20)
    with timed.phase("allocate"):
        block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page so it is resident
    block.close()
    with timed.phase("after the free"):
        pass
    assert [p["phase"] for p in timed.done] == ["allocate", "after the free"]
    assert all(p["seconds"] >= 0 and 0 < p["rss_gib"] <= p["peak_gib"] for p in timed.done)
    # The touched block is resident at the end of its phase, and within the peak ...
    assert timed.done[0]["rss_gib"] >= 0.25
    assert memory.peak_rss_gib() >= timed.done[0]["rss_gib"] - _COUNTER_SLACK_GIB
    # ... and once freed it leaves the resident size but stays in the peak.
    assert timed.done[1]["rss_gib"] <= timed.done[0]["rss_gib"] - 0.2
    assert timed.done[1]["peak_gib"] >= timed.done[0]["rss_gib"] - _COUNTER_SLACK_GIB
