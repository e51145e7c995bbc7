"""Safe audio intake (a2a.mining.intake): base64, URL checks, redirects, caps, timeouts, decoding.

Every server here listens on 127.0.0.1; refused addresses are refused before any connection is made.
"""

import base64
import io
import socket
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from a2a.cancel import CancelToken, WorkCancelled
from a2a.errors import AudioError
from a2a.mining.intake import (
    IntakeLimits,
    address_refusal,
    decode_base64_audio,
    download_audio,
    load_request_audio,
    resolve_allowed,
)
from tests.servers import http_server, redirect_to, send_bytes, silent_server, stall_after

LOCAL = IntakeLimits(allow_private_urls=True, download_timeout=2.0)
# 127.0.0.1 allowed by configuration, every other non-global address (127.0.0.2 included) still refused.
ONLY_127_0_0_1 = IntakeLimits(allow_private_networks=("127.0.0.1/32",), download_timeout=2.0)


def wav_bytes(seconds: float = 1.0, sr: int = 22050) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


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
    with pytest.raises(AudioError, match="3000 bytes, over mine.max_data_bytes=2999"):
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
        resolve_allowed("10.0.0.7", 80, IntakeLimits())
    assert resolve_allowed("127.0.0.1", 80, LOCAL)[0][1][:2] == ("127.0.0.1", 80)


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
        assert time.monotonic() - start < 1.0


@pytest.mark.timeout(10)
def test_each_read_waits_only_until_the_deadline():
    # A byte at 0.05 s and at 0.7 s, then silence: the read after the second byte may only wait the 0.3 s
    # left, not a whole socket timeout (that would end near 1.7 s instead of 1.0 s).
    release = threading.Event()
    route = stall_after([(0.05, b"x"), (0.65, b"x")], release)
    with http_server({"/stall": route, "/ok": send_bytes(b"fine")}) as (base, _):
        try:
            start = time.monotonic()
            with pytest.raises(AudioError, match="timed out after mine.download_timeout=1 s"):
                download_audio(f"{base}/stall", IntakeLimits(allow_private_urls=True, download_timeout=1.0))
            assert time.monotonic() - start < 1.25
        finally:
            release.set()
        assert download_audio(f"{base}/ok", LOCAL) == b"fine"


# --- address guards: which address, every address, the address connected to -----------------------------


def test_allow_private_networks_allows_only_those_addresses():
    assert ONLY_127_0_0_1.address_refusal("127.0.0.1") is None
    assert ONLY_127_0_0_1.address_refusal("::ffff:127.0.0.1") is None  # the same address, IPv4-mapped
    assert ONLY_127_0_0_1.address_refusal("127.0.0.2") == "a loopback address"
    assert ONLY_127_0_0_1.address_refusal("::1") == "a loopback address"
    assert ONLY_127_0_0_1.address_refusal("10.0.0.1") == "a private address"
    assert IntakeLimits(allow_private_networks=("10.0.0.0/8",)).address_refusal("10.9.8.7") is None
    assert IntakeLimits().address_refusal("127.0.0.1") == "a loopback address"


def test_redirect_into_a_refused_address_is_refused_before_connecting():
    data = wav_bytes(0.2)
    routes = {"/a.wav": send_bytes(data)}
    with http_server(routes) as (base, seen):
        port = base.rsplit(":", 1)[1]
        routes["/r"] = redirect_to(f"http://127.0.0.2:{port}/a.wav")  # same port, refused address
        with pytest.raises(
            AudioError, match=r"URL host '127\.0\.0\.2' resolves to 127\.0\.0\.2, a loopback address: refused"
        ):
            download_audio(f"{base}/r", ONLY_127_0_0_1)
        assert seen == ["/r"]
        assert download_audio(f"{base}/a.wav", ONLY_127_0_0_1) == data  # the allowed address still works


class FakeDNS:
    """Answers ``getaddrinfo`` for the name ``audio.test`` with the next list of addresses in ``answers``
    (the last one repeats); every other name goes to the real resolver (only IP literals are used here)."""

    def __init__(self, monkeypatch, answers: list[list[str]]) -> None:
        self.answers = answers
        self.calls = 0
        self.real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, *args, **kwargs):
        if host != "audio.test":
            return self.real(host, port, *args, **kwargs)
        addresses = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port))) for address in addresses]


@pytest.mark.parametrize("addresses", [["127.0.0.1", "127.0.0.2"], ["127.0.0.2", "127.0.0.1"]])
def test_every_resolved_address_is_checked(monkeypatch, addresses):
    data = wav_bytes(0.2)
    with http_server({"/a.wav": send_bytes(data)}) as (base, seen):
        port = base.rsplit(":", 1)[1]
        FakeDNS(monkeypatch, [addresses])
        with pytest.raises(AudioError, match=r"'audio\.test' resolves to 127\.0\.0\.2, a loopback address"):
            download_audio(f"http://audio.test:{port}/a.wav", ONLY_127_0_0_1)
        assert seen == []  # refused before any connection


def test_connection_goes_to_the_checked_address_when_dns_changes(monkeypatch):
    # DNS rebinding: the name resolves to an allowed address for the check, then to a refused one. The
    # connection must go to the checked address (here: the only one where a server listens).
    data = wav_bytes(0.2)
    hosts: list[str] = []

    def record_host(handler) -> None:
        hosts.append(handler.headers["Host"])
        send_bytes(data)(handler)

    with http_server({"/a.wav": record_host}) as (base, seen):
        port = base.rsplit(":", 1)[1]
        dns = FakeDNS(monkeypatch, [["127.0.0.1"], ["127.0.0.2"]])
        assert download_audio(f"http://audio.test:{port}/a.wav", ONLY_127_0_0_1) == data
        assert dns.calls == 1  # resolved once, for the check; the connection reused that answer
        assert seen == ["/a.wav"] and hosts == [f"audio.test:{port}"]


# --- cancellation ----------------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_cancelling_a_download_stops_it_at_once():
    with silent_server() as (port, accepted):
        token = CancelToken()
        threading.Timer(0.3, token.cancel).start()
        start = time.monotonic()
        with pytest.raises(WorkCancelled, match=r"URL 'http://127\.0\.0\.1:\d+/a\.wav': cancelled"):
            download_audio(f"http://127.0.0.1:{port}/a.wav", IntakeLimits(allow_private_urls=True), token)
        assert 0.25 < time.monotonic() - start < 0.8  # not the 20 s download_timeout
        assert len(accepted) == 1


@pytest.mark.timeout(10)
def test_the_requests_deadline_bounds_the_download():
    with silent_server() as (port, _):
        token = CancelToken(deadline=time.monotonic() + 0.4)
        start = time.monotonic()
        with pytest.raises(AudioError, match="download timed out after the request's deadline"):
            download_audio(f"http://127.0.0.1:{port}/a.wav", IntakeLimits(allow_private_urls=True), token)
        assert 0.35 < time.monotonic() - start < 0.8


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
    # The body cap follows the 'data' cap (base64 is 4/3 of it), not the download cap.
    assert IntakeLimits(max_data_bytes=3, max_bytes=10**9).max_body_bytes == 4 + 64 * 1024
    assert IntakeLimits().max_body_bytes == 22_435_160  # 4 * ceil(16 MiB / 3) + 64 KiB
    with pytest.raises(AudioError, match="mine.download_timeout must be positive"):
        IntakeLimits(download_timeout=0)
    with pytest.raises(AudioError, match="mine.max_audio_bytes must be positive, got 0"):
        IntakeLimits(max_bytes=0)
    with pytest.raises(AudioError, match=r"mine.allow_private_networks: '10\.0\.0\.0/33' is not an address"):
        IntakeLimits(allow_private_networks=("10.0.0.0/33",))


def test_default_caps_fit_five_minutes():
    limits = IntakeLimits()
    assert limits.max_seconds == 300
    assert limits.max_bytes >= 44 + 300 * 48_000 * 2 * 2  # 16-bit 48 kHz stereo WAV
    assert limits.max_data_bytes >= 300 * 320_000 // 8  # any lossy format at 320 kbit/s
    assert limits.max_data_bytes >= 44 + 300 * 24_000 * 2  # 16-bit mono WAV at 24 kHz
