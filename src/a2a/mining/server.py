"""Axon plumbing for bittensor 10.5: offline IP lookup, request body gate, bind address, start-up wait.

- bittensor looks up the machine's public IP (checkip.amazonaws.com, ifconfig.me, ...) whenever a
  ``Dendrite`` is built or an ``Axon`` has no ``external_ip``; :func:`no_external_ip_lookup` replaces that
  lookup so offline runs and tests never leave the machine.
- Neither the axon nor uvicorn caps request bodies (and parsing costs ≈ 8× the body in memory):
  :class:`BodyGate` answers 413 from the ``content-length`` header before reading anything, cuts off
  chunked bodies that grow past the cap, and asks the miner (:class:`BodyAdmission`) before a large
  body is read at all, answering 503 with an empty answer when it has no room.
- The axon hard-codes uvicorn's host ``0.0.0.0`` and ``start()`` returns before the socket is bound:
  :func:`start_axon` sets the host and waits for the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any, Protocol

from a2a.errors import A2AError
from a2a.mining.defaults import LOOPBACK

log = logging.getLogger("a2a.mining")

# Bodies up to this size are read without asking: a URL request (URLs are capped at 8 KiB) fits easily.
SMALL_BODY_BYTES = 64 * 1024


class BodyAdmission(Protocol):
    """Who decides whether a large body may be read (the :class:`~a2a.mining.miner.Miner`)."""

    def admit_body(self) -> bool:
        """``True`` to read the body now (then :meth:`body_done` follows), ``False`` to refuse it."""
        ...

    def body_done(self) -> None:
        """The admitted request has been answered."""
        ...


@contextlib.contextmanager
def no_external_ip_lookup(address: str = LOOPBACK) -> Iterator[None]:
    """Within the block, bittensor's public-IP lookup returns ``address`` without any network traffic."""
    from bittensor.utils import networking

    original = networking.get_external_ip
    networking.get_external_ip = lambda: address
    try:
        yield
    finally:
        networking.get_external_ip = original


def _refusal(status: int, message: str) -> tuple[dict, bytes]:
    # The dendrite reads the status from the HTTP status line and the bt_header_axon_* headers and the
    # message from the JSON body; animation_output stays "" on its side.
    body = json.dumps({"message": message, "animation_output": ""}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"bt_header_axon_status_code", str(status).encode()),
        (b"bt_header_axon_status_message", message.encode("ascii", "replace")),
    ]
    return {"type": "http.response.start", "status": status, "headers": headers}, body


class BodyGate:
    """ASGI middleware: refuse request bodies larger than ``max_bytes`` (HTTP 413), and large bodies the
    miner has no room for (HTTP 503), before reading them.

    A declared ``content-length`` over the cap is refused before a byte of the body is read. A chunked
    body is counted as it arrives and refused once it passes the cap (the application then sees a
    disconnect). A body over :data:`SMALL_BODY_BYTES`, or chunked, is read only if
    ``admission.admit_body()`` says so; otherwise the dendrite gets ``""`` at once.
    """

    def __init__(self, app: Any, max_bytes: int, admission: BodyAdmission | None = None) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.admission = admission

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        chunked = declared is None and b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        client = (scope.get("client") or ("?", 0))[0]
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            log.warning(
                "event=refused reason=body_too_large bytes=%s limit=%d client=%s path=%s",
                declared.decode("latin-1")[:20],
                self.max_bytes,
                client,
                scope.get("path"),
            )
            await self._send_refusal(send, 413, f"request body over {self.max_bytes} bytes")
            return
        large = chunked or (declared is not None and int(declared) > SMALL_BODY_BYTES)
        if not large or self.admission is None:
            await self._counted(scope, receive, send, chunked, client)
            return
        if not self.admission.admit_body():
            log.warning(
                "event=refused reason=busy_body_not_read bytes=%s client=%s path=%s",
                "chunked" if chunked else declared.decode("latin-1"),
                client,
                scope.get("path"),
            )
            await self._send_refusal(send, 503, "miner busy: request refused before reading its body")
            return
        try:
            await self._counted(scope, receive, send, chunked, client)
        finally:
            self.admission.body_done()

    async def _counted(self, scope: dict, receive: Any, send: Any, chunked: bool, client: str) -> None:
        """Run the app; a chunked body is counted as it arrives and cut off past the cap."""
        if not chunked:
            await self.app(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> dict:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if not refused:
                        refused = True
                        log.warning(
                            "event=refused reason=body_too_large bytes>%d limit=%d client=%s (chunked)",
                            self.max_bytes,
                            self.max_bytes,
                            client,
                        )
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counting_receive, send)

    @staticmethod
    async def _send_refusal(send: Any, status: int, message: str) -> None:
        start, body = _refusal(status, message)
        await send(start)
        await send({"type": "http.response.body", "body": body})


def build_axon(
    wallet: Any,
    *,
    port: int,
    bind_ip: str,
    external_ip: str | None,
    external_port: int | None,
    max_workers: int | None,
    max_body_bytes: int,
    admission: BodyAdmission | None = None,
) -> Any:
    """A ``bt.Axon`` that binds ``bind_ip`` and gates request bodies (:class:`BodyGate`; not started yet).

    ``external_ip`` ``None`` lets bittensor look up the public IP (online mode only); ``admission`` (the
    miner) decides whether large bodies are read.
    """
    import bittensor as bt

    axon = bt.Axon(
        wallet=wallet,
        port=port,
        ip=bind_ip,
        external_ip=external_ip,
        external_port=external_port,
        max_workers=max_workers,
    )
    axon.fast_server.config.host = bind_ip
    # Added after the axon's own middleware, so it wraps it: refused bodies never reach the parser.
    axon.app.add_middleware(BodyGate, max_bytes=max_body_bytes, admission=admission)
    return axon


def build_loopback_axon(
    wallet: Any,
    *,
    port: int,
    max_body_bytes: int,
    max_workers: int | None = 8,
    admission: BodyAdmission | None = None,
) -> Any:
    """A :func:`build_axon` on 127.0.0.1 that announces 127.0.0.1 too: offline mode, tests, benchmarks.

    Built inside :func:`no_external_ip_lookup`, so nothing is sent to a public IP service.
    """
    with no_external_ip_lookup():
        return build_axon(
            wallet,
            port=port,
            bind_ip=LOOPBACK,
            external_ip=LOOPBACK,
            external_port=port,
            max_workers=max_workers,
            max_body_bytes=max_body_bytes,
            admission=admission,
        )


def start_axon(axon: Any, timeout: float = 30.0) -> None:
    """``axon.start()`` and wait until uvicorn has bound its socket (``start()`` returns before)."""
    axon.start()
    deadline = time.monotonic() + timeout
    while not getattr(axon.fast_server, "started", False):
        if time.monotonic() > deadline:
            axon.stop()
            raise RuntimeError(
                f"axon did not start within {timeout:g} s on {axon.fast_server.config.host}:{axon.port} "
                "(port in use?)"
            )
        time.sleep(0.01)


def check_port_free(host: str, port: int) -> None:
    """Fail at once, in one line, when ``host:port`` cannot be listened on (another miner holds it).

    Without this check the miner loads and warms its model, then waits for an axon that never binds.
    The probe sets ``SO_REUSEADDR`` as uvicorn does, so only a port that uvicorn could not bind either
    is refused (not one left in TIME_WAIT by a miner that just stopped).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise A2AError(
                f"axon.port={port}: cannot listen on {host}:{port} ({exc.strerror or exc}); another miner "
                "may hold it: stop that one or choose another axon.port"
            ) from None
