"""Torch thread control for data code that works on many small tensors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch on one intra-op thread: preprocessing works on small per-sequence tensors, where extra
    threads only add synchronisation (on a busy 2-core machine a 225 × 151 min() took 50 ms instead of
    0.2 ms, and synthesizing 24 gesture takes 20 s instead of 2 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
