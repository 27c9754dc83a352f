"""Model tests run single-threaded: on a shared 2-core machine torch's default thread pool oversubscribes the cores and runs several times slower."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    torch.set_num_threads(1)
