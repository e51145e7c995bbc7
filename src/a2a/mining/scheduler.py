"""One model run at a time, a bounded waiting room, highest stake first.

The axon's event loop must never run the model (it would stall every other request, signature checks
included), and two concurrent runs on one GPU only slow each other down. :class:`InferenceQueue` owns a
single worker thread that runs jobs one by one, picking the waiting job with the highest priority
(caller stake; FIFO among equals). Admission is bounded: at most ``queue_size`` requests wait (downloads
and decoding count as waiting) besides the one running, and a request beyond that is refused at once, so
the validator gets an immediate empty answer instead of a 408 three minutes later. A request keeps its
place until all of its work has ended (:meth:`InferenceQueue.release_after`), not only until it is
answered, so work that outlives its request still counts. A job whose deadline passes while it waits is
dropped without running.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class DeadlineExceeded(TimeoutError):
    """A job's deadline passed before the model could start on it."""


@dataclass(order=True)
class _Job:
    sort_key: tuple[float, int]
    fn: Callable[[], Any] = field(compare=False)
    deadline: float = field(compare=False)
    future: Future = field(compare=False)


class InferenceQueue:
    """Bounded, prioritised, single-worker job queue.

    Usage: ``if queue.try_admit(): try: fut = queue.submit(fn, priority, deadline) ... finally:
    queue.release_after([fut, ...])``. ``deadline`` is a ``time.monotonic()`` value.
    """

    def __init__(self, queue_size: int, name: str = "a2a-inference") -> None:
        if queue_size < 0:
            raise ValueError(f"mine.queue_size must be >= 0, got {queue_size}")
        self.queue_size = int(queue_size)
        self._cond = threading.Condition()
        self._heap: list[_Job] = []
        self._admitted = 0
        self._counter = itertools.count()
        self._closed = False
        self.running = False
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()

    @property
    def capacity(self) -> int:
        """Requests admitted at once: the running one plus ``queue_size`` waiting."""
        return self.queue_size + 1

    @property
    def admitted(self) -> int:
        with self._cond:
            return self._admitted

    def try_admit(self) -> bool:
        """Reserve a place for a request; ``False`` (refuse it) when the queue is full or closed."""
        with self._cond:
            if self._closed or self._admitted >= self.capacity:
                return False
            self._admitted += 1
            return True

    def release(self) -> None:
        """Give back the place taken by :meth:`try_admit` (once the request is answered)."""
        with self._cond:
            self._admitted = max(0, self._admitted - 1)

    def release_after(self, futures: Iterable[Future]) -> None:
        """Give back the place once every one of ``futures`` is done (at once when all are).

        A request's work can outlive its answer (a download being interrupted, a model run past the
        deadline); holding the place until it ends bounds all in-flight work, not only waiting requests.
        """
        pending = [future for future in futures if not future.done()]
        if not pending:
            self.release()
            return
        lock = threading.Lock()
        left = [len(pending)]

        def one_done(_future: Future) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                self.release()

        for future in pending:
            future.add_done_callback(one_done)  # runs at once if it finished meanwhile

    def submit(self, fn: Callable[[], Any], priority: float, deadline: float) -> Future:
        """Queue ``fn`` for the worker; the future gets its result, its exception, or
        :class:`DeadlineExceeded`. Cancelling the future before it starts removes the job."""
        future: Future = Future()
        job = _Job((-float(priority), next(self._counter)), fn, deadline, future)
        with self._cond:
            if self._closed:
                raise RuntimeError("inference queue is closed")
            heapq.heappush(self._heap, job)
            self._cond.notify()
        return future

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker after the running job; waiting jobs are cancelled."""
        with self._cond:
            self._closed = True
            for job in self._heap:
                job.future.cancel()
            self._heap.clear()
            self._cond.notify_all()
        self._worker.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
            if not job.future.set_running_or_notify_cancel():
                continue  # the request gave up while waiting
            if time.monotonic() >= job.deadline:
                job.future.set_exception(DeadlineExceeded("deadline passed while waiting for the model"))
                continue
            self.running = True
            try:
                job.future.set_result(job.fn())
            except BaseException as exc:  # delivered to the request, which logs it; the worker lives on
                job.future.set_exception(exc)
            finally:
                self.running = False
