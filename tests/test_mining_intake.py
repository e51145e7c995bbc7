"""Safe audio intake (a2a.mining.intake): base64, URL checks, redirects, caps, timeouts, decoding.

Every server here listens on 127.0.0.1; refused addresses are refused before any connection is made.
"""

import base64
import http.server
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import soundfile as sf

from a2a.errors import AudioError
from a2a.mining.intake import (
    IntakeLimits,
    address_refusal,
    decode_base64_audio,
    download_audio,
    load_request_audio,
    resolve_allowed,
)

LOCAL = IntakeLimits(allow_private_urls=True, download_timeout=2.0)


def wav_bytes(seconds: float = 1.0, sr: int = 22050) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


@contextmanager
def http_server(routes: dict) -> Iterator[tuple[str, list]]:
    """Serve ``routes`` (path → callable(handler)) on 127.0.0.1; yields (base URL, request log)."""
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
    listener.listen(8)
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


def send_bytes(data: bytes, content_length: bool = True):
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


def redirect_to(location: str):
    def route(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


# --- base64 -----------------------------------------------------------------------------------------


def test_base64_round_trip_tolerates_whitespace_and_data_uri():
    data = wav_bytes(0.1)
    text = base64.b64encode(data).decode()
    wrapped = "data:audio/wav;base64," + "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert decode_base64_audio(text) == data
    assert decode_base64_audio(wrapped) == data


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not base64 at all!", "not valid base64"),
        ("", "empty"),
        ("QUJD\u00e9", "non-ASCII"),
        ("QUJDRA=", "base64"),
    ],
)
def test_base64_refusals(payload, message):
    with pytest.raises(AudioError, match=message):
        decode_base64_audio(payload)


def test_base64_size_cap_checked_before_decoding():
    payload = "A" * 4000  # decodes to 3000 bytes
    assert len(decode_base64_audio(payload, max_bytes=3000)) == 3000
    with pytest.raises(AudioError, match="3000 bytes, over mine.max_audio_bytes=2999"):
        decode_base64_audio(payload, max_bytes=2999)


# --- address checks (no connections) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "a non-global address"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_refusal_classes(address, reason):
    assert address_refusal(address) == reason


def test_resolve_allowed_refuses_literal_private_ip_without_connecting():
    # getaddrinfo on an IP literal does no DNS query and no connection.
    with pytest.raises(AudioError, match=r"resolves to 10\.0\.0\.7, a private address: refused"):
        resolve_allowed("10.0.0.7", 80, allow_private=False)
    assert resolve_allowed("127.0.0.1", 80, allow_private=True)[0][1][:2] == ("127.0.0.1", 80)


def test_loopback_url_refused_before_any_connection():
    with http_server({"/a.wav": send_bytes(wav_bytes())}) as (base, seen):
        strict = IntakeLimits(download_timeout=2.0)
        with pytest.raises(AudioError, match="a loopback address: refused.*allow_private_urls=true"):
            download_audio(f"{base}/a.wav", strict)
        assert seen == []  # the refusal came before connecting
        assert download_audio(f"{base}/a.wav", LOCAL) == wav_bytes()
        assert seen == ["/a.wav"]


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/a.wav", "file:///etc/passwd", "gopher://x/", "127.0.0.1/a.wav"]
)
def test_only_http_and_https(url):
    with pytest.raises(AudioError, match="refused \\(only http and https\\)"):
        download_audio(url, LOCAL)


# --- redirects, caps, timeouts -------------------------------------------------------------------------


def test_redirects_followed_up_to_the_cap_and_rechecked():
    data = wav_bytes(0.2)
    routes = {
        "/r1": redirect_to("/r2"),
        "/r2": redirect_to("/r3"),
        "/r3": redirect_to("/ok"),
        "/ok": send_bytes(data),
    }
    with http_server(routes) as (base, seen):
        assert download_audio(f"{base}/r1", LOCAL) == data  # 3 redirects = max_redirects
        assert seen == ["/r1", "/r2", "/r3", "/ok"]
        with pytest.raises(AudioError, match="more than mine.max_redirects=2 redirects"):
            download_audio(f"{base}/r1", IntakeLimits(allow_private_urls=True, max_redirects=2))
    # Each hop is checked again: a redirect to a non-http scheme is refused.
    redirect = {"/r": redirect_to("file:///etc/passwd")}
    with http_server(redirect) as (base, _), pytest.raises(AudioError, match="scheme 'file' refused"):
        download_audio(f"{base}/r", LOCAL)


def test_http_error_status_is_refused():
    with http_server({}) as (base, _), pytest.raises(AudioError, match="answered HTTP 404"):
        download_audio(f"{base}/missing.wav", LOCAL)


def test_size_cap_declared_and_streamed():
    data = b"x" * 20_000
    limits = IntakeLimits(allow_private_urls=True, max_bytes=10_000)
    routes = {"/declared": send_bytes(data), "/chunked": send_bytes(data, content_length=False)}
    with http_server(routes) as (base, _):
        with pytest.raises(AudioError, match="declares 20000 bytes, over mine.max_audio_bytes=10000"):
            download_audio(f"{base}/declared", limits)
        with pytest.raises(AudioError, match="sent over mine.max_audio_bytes=10000"):
            download_audio(f"{base}/chunked", limits)
        assert download_audio(f"{base}/chunked", LOCAL) == data


@pytest.mark.timeout(10)
def test_url_that_never_answers_times_out_on_schedule():
    with silent_server() as (port, accepted):
        start = time.monotonic()
        with pytest.raises(AudioError, match="timed out after mine.download_timeout=0.5 s"):
            download_audio(
                f"http://127.0.0.1:{port}/a.wav", IntakeLimits(allow_private_urls=True, download_timeout=0.5)
            )
        assert 0.4 < time.monotonic() - start < 2.0
        assert len(accepted) == 1


@pytest.mark.timeout(10)
def test_trickling_server_hits_the_overall_deadline():
    def trickle(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(50):  # one byte every 0.1 s: each read succeeds, the total does not
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.1)

    with http_server({"/slow": trickle}) as (base, _):
        start = time.monotonic()
        with pytest.raises(AudioError, match="timed out"):
            download_audio(f"{base}/slow", IntakeLimits(allow_private_urls=True, download_timeout=0.6))
        assert time.monotonic() - start < 2.0


# --- decoding -----------------------------------------------------------------------------------------


def test_load_request_audio_decodes_and_resamples():
    payload = base64.b64encode(wav_bytes(1.5, sr=22050)).decode()
    audio = load_request_audio("data", payload, IntakeLimits(), sample_rate=16000)
    assert audio.sample_rate == 16000
    assert audio.wave.dtype == np.float32 and audio.wave.shape == (24000,)
    assert audio.seconds == pytest.approx(1.5)
    assert audio.encoded_bytes == len(wav_bytes(1.5))
    assert set(audio.timings) == {"fetch", "decode"}
    with http_server({"/a.wav": send_bytes(wav_bytes(0.5, sr=8000))}) as (base, _):
        native = load_request_audio("url", f"{base}/a.wav", LOCAL)
    assert (native.sample_rate, native.wave.shape) == (8000, (4000,))


def test_load_request_audio_refusals_name_the_input():
    with pytest.raises(AudioError, match=r"base64 data \(16 chars\): cannot decode audio"):
        load_request_audio("data", base64.b64encode(b"not an audio").decode(), IntakeLimits())
    with pytest.raises(AudioError, match="2.00 s long, longer than max_seconds=1"):
        load_request_audio("data", base64.b64encode(wav_bytes(2.0)).decode(), IntakeLimits(max_seconds=1))
    with pytest.raises(AudioError, match="input_type must be 'url' or 'data', got 'file'"):
        load_request_audio("file", "/etc/passwd", IntakeLimits())
    with pytest.raises(AudioError, match="audio_input is empty"):
        load_request_audio("url", "", IntakeLimits())


def test_limits_validation_and_body_cap():
    assert IntakeLimits(max_bytes=3).max_body_bytes == 4 + 64 * 1024
    assert IntakeLimits().max_body_bytes > 4 * IntakeLimits().max_bytes // 3
    with pytest.raises(AudioError, match="mine.download_timeout must be positive"):
        IntakeLimits(download_timeout=0)
