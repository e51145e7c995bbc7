"""Hot reload: the serving model follows its checkpoint file without dropping requests.

:class:`ModelSlot` holds the current generator. A watcher thread polls the file's (mtime, size, inode);
once a change has been stable for one poll (so a checkpoint still being copied is not read half-written),
or when :meth:`ModelSlot.request_reload` is called (SIGHUP), it loads the new checkpoint in the
background and swaps it in with one assignment. The inference worker reads :attr:`ModelSlot.current`
at the start of each job, so a swap takes effect between requests. A checkpoint that fails to load is
logged and the old model keeps serving; the same file version is not retried until it changes again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("a2a.mining")

Fingerprint = tuple[int, int, int]


def file_fingerprint(path: Path) -> Fingerprint | None:
    """(mtime_ns, size, inode) of ``path``, or ``None`` when it cannot be read."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class ModelSlot:
    """The serving generator, reloaded when its checkpoint changes.

    Args:
        path: checkpoint file.
        loader: ``path -> generator`` (``a2a.load`` with the device bound); raises on a bad file.
        poll_seconds: how often the watcher looks at the file; ``0`` disables watching (SIGHUP still
            works through :meth:`request_reload` + :meth:`reload_now`).
    """

    def __init__(
        self, path: str | os.PathLike, loader: Callable[[Path], Any], poll_seconds: float = 5.0
    ) -> None:
        self.path = Path(path)
        self.loader = loader
        self.poll_seconds = float(poll_seconds)
        self.loaded_fingerprint = file_fingerprint(self.path)
        start = time.perf_counter()
        self.current = loader(self.path)  # a bad checkpoint at start-up is fatal: nothing to serve
        self.generation = 1
        seconds = time.perf_counter() - start
        log.info("event=model_loaded path=%s seconds=%.2f generation=1", self.path, seconds)
        self._failed_fingerprint: Fingerprint | None = None
        self._pending: Fingerprint | None = None
        self._wake = threading.Event()
        self._forced = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reload_lock = threading.Lock()

    def start(self) -> None:
        """Start the watcher thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="a2a-reload", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def request_reload(self) -> None:
        """Reload on the watcher's next turn even if the file looks unchanged (signal-handler safe)."""
        self._forced = True
        self._wake.set()

    def reload_now(self, reason: str = "requested") -> bool:
        """Load the checkpoint now and swap it in; ``False`` (old model kept) when loading fails."""
        with self._reload_lock:
            fingerprint = file_fingerprint(self.path)
            start = time.perf_counter()
            try:
                generator = self.loader(self.path)
            except Exception as exc:
                self._failed_fingerprint = fingerprint
                log.error(
                    "event=reload_failed path=%s reason=%s error=%s: %s (the previous model keeps serving)",
                    self.path,
                    reason,
                    type(exc).__name__,
                    exc,
                )
                return False
            self.current = generator
            self.generation += 1
            self.loaded_fingerprint = fingerprint
            self._failed_fingerprint = None
            log.info(
                "event=model_reloaded path=%s reason=%s seconds=%.2f generation=%d",
                self.path,
                reason,
                time.perf_counter() - start,
                self.generation,
            )
            return True

    def check_file(self) -> bool:
        """One watcher step: reload if the file changed and stayed unchanged since the previous step."""
        if self._forced:
            self._forced = False
            self._pending = None
            return self.reload_now("signal")
        fingerprint = file_fingerprint(self.path)
        if fingerprint is None or fingerprint in (self.loaded_fingerprint, self._failed_fingerprint):
            self._pending = None
            return False
        if fingerprint != self._pending:
            self._pending = fingerprint  # changed: wait one more poll in case it is still being written
            return False
        self._pending = None
        return self.reload_now("file changed")

    def _watch(self) -> None:
        interval = self.poll_seconds if self.poll_seconds > 0 else None
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if interval is None and not self._forced:
                continue
            self.check_file()
