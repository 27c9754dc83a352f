"""Whether a wall-clock training budget ended a training run, read from its per-epoch history."""

from __future__ import annotations


def cut_by_budget(history: list[dict]) -> bool:
    """Whether the time budget, not an epoch limit or a flat validation curve, stopped any stage of this training."""
    return any(h.get("cut_by_budget") for h in history)
