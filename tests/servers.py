"""Throwaway servers on 127.0.0.1 for the intake and miner tests (nothing else is ever contacted)."""

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def http_server(routes: dict[str, Callable]) -> Iterator[tuple[str, list]]:
    """Serve ``routes`` (path → callable(handler)) on 127.0.0.1; yields (base URL, request log).

    The log holds each request's path; ``handler.headers`` is there for routes that want more.
    """
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(self.path)
            routes.get(self.path, lambda h: h.send_error(404))(self)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[tuple[int, list]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers; yields (port, accepted)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(1)
        for conn in accepted:
            conn.close()
        listener.close()


def send_bytes(data: bytes, content_length: bool = True) -> Callable:
    """A route that answers 200 with ``data`` (with a Content-Length, or chunked)."""

    def route(handler) -> None:
        handler.send_response(200)
        if content_length:
            handler.send_header("Content-Length", str(len(data)))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if content_length:
            handler.wfile.write(data)
        else:
            for start in range(0, len(data), 4096):
                chunk = data[start : start + 4096]
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")

    return route


def redirect_to(location: str) -> Callable:
    """A route that answers 302 to ``location``."""

    def route(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def stall_after(pieces: list[tuple[float, bytes]], release: threading.Event) -> Callable:
    """A route that answers 200 (Content-Length 1000), then sends each ``(delay, bytes)`` piece after its
    delay, then sends nothing until ``release`` is set."""

    def route(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.flush()
        for delay, piece in pieces:
            time.sleep(delay)
            handler.wfile.write(piece)
            handler.wfile.flush()
        release.wait(10)

    return route
