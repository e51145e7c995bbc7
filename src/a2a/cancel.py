"""Stopping work that runs in another thread: a deadline plus a switch that the owner can flip.

A miner request answers at its deadline, but the thread that downloads or decodes its audio cannot be
killed from outside. :class:`CancelToken` lets that work end promptly instead of outliving the request:
code that blocks (a socket read, a child process) registers how to interrupt itself with
:meth:`CancelToken.on_cancel`, and code that loops calls :meth:`CancelToken.raise_if_cancelled`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from a2a.errors import A2AError


class WorkCancelled(A2AError):
    """The work's owner cancelled it (its request was answered or abandoned)."""


class CancelToken:
    """A deadline (``time.monotonic()`` value, or ``None``) and a cancel switch, safe across threads.

    Interrupt callbacks run once, in the thread that calls :meth:`cancel`; they must not block.
    """

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._lock = threading.Lock()
        self._cancelled = False
        self._interrupts: dict[int, Callable[[], None]] = {}
        self._next_key = 0

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def remaining(self) -> float | None:
        """Seconds left before the deadline (may be negative), or ``None`` without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def cancel(self) -> None:
        """Flip the switch and run every registered interrupt (later registrations run at once)."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            interrupts = list(self._interrupts.values())
            self._interrupts.clear()
        for interrupt in interrupts:
            interrupt()

    @contextmanager
    def on_cancel(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """Within the block, :meth:`cancel` calls ``interrupt`` (at once if already cancelled)."""
        with self._lock:
            already = self._cancelled
            key = self._next_key
            self._next_key += 1
            if not already:
                self._interrupts[key] = interrupt
        if already:
            interrupt()
        try:
            yield
        finally:
            with self._lock:
                self._interrupts.pop(key, None)

    def raise_if_cancelled(self, what: str) -> None:
        """Raise :class:`WorkCancelled` naming ``what`` when the token was cancelled."""
        if self._cancelled:
            raise WorkCancelled(f"{what}: cancelled")
