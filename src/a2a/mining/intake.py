"""Safe audio intake for the miner: a request's ``audio_input`` → a checked mono waveform.

The synapse body is not signed (anyone on the path can rewrite it) and validators send URLs the miner
must fetch, so every request is treated as hostile:

- ``'data'``: base64 (whitespace and a ``data:...;base64,`` prefix tolerated), size checked *before*
  decoding;
- ``'url'``: http/https only; the host is resolved once and every address it resolves to must be
  globally routable (loopback, private, link-local, shared, reserved, unspecified and multicast
  addresses are refused unless ``allow_private_urls``, or inside ``allow_private_networks``), and the
  connection goes to exactly those checked addresses, so a DNS answer cannot change between the check
  and the connect; redirects are followed by hand, capped, and each hop is checked again; the whole
  download (all hops, connect and every read) has one deadline, the earlier of ``download_timeout`` and
  the request's; the body is capped while it streams;
- the bytes are decoded by :func:`a2a.audio.load_audio` (soundfile, else an ffmpeg child process), which
  refuses a declared duration over the cap before decoding and never decodes past it, and resampled to
  the model's rate.

Work for a request stops when its :class:`~a2a.cancel.CancelToken` is cancelled (the miner cancels it
when the request is answered): the socket is shut down, the ffmpeg child killed.

Every refusal raises :class:`~a2a.errors.AudioError` with a message that says what was refused and why;
the miner logs it and answers ``""``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import numpy as np

from a2a.audio.decode import load_audio
from a2a.cancel import CancelToken
from a2a.errors import AudioError

# A 5-minute 16-bit 48 kHz stereo WAV is 57,600,044 bytes: the largest common 5-minute file.
DEFAULT_MAX_BYTES = 58_000_000
# 'data' requests cost ~8x their body in the axon (bytes, text, JSON, two synapse copies) and validators
# never send them: 16 MiB holds 5 minutes of any lossy format up to 320 kbit/s (12 MB) or of 16-bit mono
# WAV up to 24 kHz (14.4 MB); send lossless stereo by URL.
DEFAULT_MAX_DATA_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SECONDS = 300.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_URL_LENGTH = 8192
_CHUNK = 64 * 1024
_DATA_URI = re.compile(r"^data:[^,]{0,200};base64,", re.IGNORECASE)
_WHITESPACE = re.compile(rb"\s+")


@dataclass(frozen=True)
class IntakeLimits:
    """What the miner accepts (``mine.*`` in ``conf/mine.yaml``).

    Attributes:
        max_bytes: largest downloaded audio file (``mine.max_audio_bytes``).
        max_data_bytes: largest base64-decoded ``'data'`` audio file (``mine.max_data_bytes``).
        max_seconds: longest audio.
        download_timeout: seconds for a whole URL download, redirects included.
        max_redirects: redirects followed before giving up.
        allow_private_urls: accept URLs whose host is loopback/private/link-local (local tests only).
        allow_private_networks: networks (CIDR, e.g. ``"127.0.0.1/32"``) whose addresses URLs may use
            although they are not global: a narrower ``allow_private_urls``.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_data_bytes: int = DEFAULT_MAX_DATA_BYTES
    max_seconds: float = DEFAULT_MAX_SECONDS
    download_timeout: float = 20.0
    max_redirects: int = 3
    allow_private_urls: bool = False
    allow_private_networks: tuple[str, ...] = ()
    _networks: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = {"max_bytes": "max_audio_bytes", "max_seconds": "max_audio_seconds"}
        for name in ("max_bytes", "max_data_bytes", "max_seconds", "download_timeout"):
            if not getattr(self, name) > 0:
                raise AudioError(
                    f"mine.{names.get(name, name)} must be positive, got {getattr(self, name)!r}"
                )
        if self.max_redirects < 0:
            raise AudioError(f"mine.max_redirects must be >= 0, got {self.max_redirects!r}")
        networks = []
        for network in self.allow_private_networks:
            try:
                networks.append(ipaddress.ip_network(str(network), strict=False))
            except ValueError:
                raise AudioError(
                    f"mine.allow_private_networks: {network!r} is not an address or network (e.g. 10.0.0.0/8)"
                ) from None
        object.__setattr__(self, "_networks", tuple(networks))

    @property
    def max_body_bytes(self) -> int:
        """Largest HTTP request body worth reading: base64 of ``max_data_bytes`` plus JSON and URL slack."""
        return (self.max_data_bytes + 2) // 3 * 4 + 64 * 1024

    def address_refusal(self, address: str) -> str | None:
        """Why URLs may not connect to ``address`` (an IP literal) under these limits, or ``None``."""
        if self.allow_private_urls:
            return None
        ip = _ip(address)
        if any(ip in network for network in self._networks):
            return None
        return address_refusal(address)


@dataclass
class RequestAudio:
    """Decoded request audio.

    Attributes:
        wave: ``[n]`` float32 mono waveform at ``sample_rate``.
        sample_rate: samples per second of ``wave``.
        encoded_bytes: size of the encoded file that was received.
        source: how logs name the input (the URL, or ``base64 data``).
        timings: seconds spent in ``fetch`` (download or base64) and ``decode`` (decode + resample).
    """

    wave: np.ndarray
    sample_rate: int
    encoded_bytes: int
    source: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.wave) / self.sample_rate


def decode_base64_audio(payload: str, max_bytes: int = DEFAULT_MAX_DATA_BYTES) -> bytes:
    """The audio file bytes in a ``'data'`` request.

    Raises:
        AudioError: for an empty payload, non-base64 characters or padding, or more than ``max_bytes``
            decoded bytes (checked from the length before decoding).
    """
    text = _DATA_URI.sub("", payload.lstrip(), count=1)
    try:
        raw = _WHITESPACE.sub(b"", text.encode("ascii"))
    except UnicodeEncodeError:
        raise AudioError("'data' audio_input is not base64: it contains non-ASCII characters") from None
    if not raw:
        raise AudioError("'data' audio_input is empty")
    decoded_size = len(raw) // 4 * 3
    if decoded_size > max_bytes:
        raise AudioError(
            f"'data' audio_input decodes to about {decoded_size} bytes, over mine.max_data_bytes={max_bytes}"
        )
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioError(f"'data' audio_input is not valid base64 ({exc})") from None


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``address`` as an IP object; IPv4-mapped IPv6 (``::ffff:a.b.c.d``) as the IPv4 it maps."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_refusal(address: str) -> str | None:
    """Why ``address`` (an IP literal) is not globally routable, or ``None`` when it is."""
    ip = _ip(address)
    for attribute, label in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(ip, attribute):
            return f"{label} address"
    if not ip.is_global:
        return "a non-global address"
    return None


def resolve_allowed(host: str, port: int, limits: IntakeLimits) -> list[tuple[int, tuple]]:
    """Resolve ``host`` and check every address; returns ``[(family, sockaddr), ...]`` to connect to.

    All addresses must pass, not just one: a hostname that resolves to a public and a private address
    is refused, since the connection could land on either.

    Raises:
        AudioError: the host does not resolve, or resolves to a refused address class.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise AudioError(f"URL host {host!r} does not resolve ({exc})") from None
    targets: list[tuple[int, tuple]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        reason = limits.address_refusal(address)
        if reason is not None:
            raise AudioError(
                f"URL host {host!r} resolves to {address}, {reason}: refused "
                "(mine.allow_private_urls=true or mine.allow_private_networks allow it)"
            )
        targets.append((family, sockaddr))
    if not targets:
        raise AudioError(f"URL host {host!r} resolves to no address")
    return targets


def _checked_parts(url: str):
    if len(url) > MAX_URL_LENGTH:
        raise AudioError(f"URL is {len(url)} characters long, over {MAX_URL_LENGTH}")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        raise AudioError(f"URL {url[:200]!r}: scheme {shown!r} refused (only http and https)")
    if not parts.hostname:
        raise AudioError(f"URL {url[:200]!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise AudioError(f"URL {url[:200]!r} has an invalid port") from None
    return parts, port or (443 if parts.scheme.lower() == "https" else 80)


def _pinned_connection(parts, port: int, timeout: float, limits: IntakeLimits) -> http.client.HTTPConnection:
    """An HTTP(S) connection that can only connect to the addresses checked by :func:`resolve_allowed`."""
    host = parts.hostname
    targets = resolve_allowed(host, port, limits)
    if parts.scheme.lower() == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def connect_checked(_address, timeout=timeout, source_address=None) -> socket.socket:
        # http.client calls this hook with (host, port); HTTPS still verifies the certificate and sends
        # SNI for `host`, but the TCP connection only ever goes to an address that passed the check.
        last_error: OSError | None = None
        for family, sockaddr in targets:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last_error = exc
        raise last_error or OSError(f"cannot connect to {host}")

    conn._create_connection = connect_checked  # the documented-by-source hook used by connect()
    return conn


def download_audio(url: str, limits: IntakeLimits, cancel: CancelToken | None = None) -> bytes:
    """GET ``url`` under ``limits`` (scheme, address classes, redirects, one deadline, size cap).

    The deadline is ``limits.download_timeout`` from now, or ``cancel``'s deadline when that is earlier;
    cancelling ``cancel`` shuts the connection down at once.

    Raises:
        AudioError: naming the URL and the refusal or failure.
        WorkCancelled: ``cancel`` was cancelled.
    """
    deadline = time.monotonic() + limits.download_timeout
    timeout_text = f"mine.download_timeout={limits.download_timeout:g} s"
    if cancel is not None and cancel.deadline is not None and cancel.deadline < deadline:
        deadline, timeout_text = cancel.deadline, "the request's deadline"
    interrupts = cancel if cancel is not None else CancelToken()
    current = url
    for _hop in range(limits.max_redirects + 1):
        parts, port = _checked_parts(current)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        conn = _pinned_connection(parts, port, remaining, limits)
        try:
            with interrupts.on_cancel(lambda conn=conn: _shut_down(conn)):
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request("GET", path, headers={"User-Agent": "a2a-miner", "Accept-Encoding": "identity"})
                response = conn.getresponse()
                if response.status in REDIRECT_STATUSES:
                    location = response.getheader("Location")
                    if not location:
                        raise AudioError(f"URL {current[:200]!r}: HTTP {response.status} without Location")
                    current = urljoin(current, location)
                    continue
                if response.status != 200:
                    raise AudioError(
                        f"URL {current[:200]!r} answered HTTP {response.status} {response.reason}"
                    )
                data = _read_capped(conn, response, current, limits, deadline)
            interrupts.raise_if_cancelled(f"URL {current[:200]!r}")  # a shut-down socket reads as the end
            return data
        except TimeoutError:
            raise AudioError(f"URL {current[:200]!r}: download timed out after {timeout_text}") from None
        except (OSError, http.client.HTTPException) as exc:
            interrupts.raise_if_cancelled(f"URL {current[:200]!r}")
            raise AudioError(f"URL {current[:200]!r}: download failed: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
    else:
        raise AudioError(f"URL {url[:200]!r}: more than mine.max_redirects={limits.max_redirects} redirects")
    raise AudioError(f"URL {url[:200]!r}: download timed out after {timeout_text}")


def _shut_down(conn: http.client.HTTPConnection) -> None:
    # Called from the cancelling thread: shutdown() wakes a recv() blocked in the downloading thread.
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed or never connected
            sock.shutdown(socket.SHUT_RDWR)


def _read_capped(conn, response, url: str, limits: IntakeLimits, deadline: float) -> bytes:
    declared = response.getheader("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise AudioError(
            f"URL {url[:200]!r} declares {int(declared)} bytes, over mine.max_audio_bytes={limits.max_bytes}"
        )
    chunks: list[bytes] = []
    total = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if conn.sock is not None:
            # A server that trickles one byte per socket timeout would otherwise never trip the deadline.
            conn.sock.settimeout(remaining)
        chunk = response.read1(_CHUNK)  # whatever has arrived: read() would block for a full chunk
        if not chunk:
            break
        total += len(chunk)
        if total > limits.max_bytes:
            raise AudioError(f"URL {url[:200]!r} sent over mine.max_audio_bytes={limits.max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_audio_bytes(
    input_type: str, audio_input: str, limits: IntakeLimits, cancel: CancelToken | None = None
) -> bytes:
    """The encoded audio file of a request: base64-decoded (``'data'``) or downloaded (``'url'``)."""
    if not isinstance(audio_input, str) or not audio_input:
        raise AudioError("audio_input is empty")
    if input_type == "data":
        return decode_base64_audio(audio_input, limits.max_data_bytes)
    if input_type == "url":
        return download_audio(audio_input, limits, cancel)
    raise AudioError(f"input_type must be 'url' or 'data', got {str(input_type)[:40]!r}")


def describe_input(input_type: str, audio_input: str) -> str:
    """How logs and errors name a request's audio: the URL (shortened) or ``base64 data (N chars)``."""
    if input_type == "url":
        return str(audio_input)[:200]
    return f"base64 data ({len(audio_input or '')} chars)"


def load_request_audio(
    input_type: str,
    audio_input: str,
    limits: IntakeLimits,
    sample_rate: int | None = None,
    cancel: CancelToken | None = None,
) -> RequestAudio:
    """Fetch and decode a request's audio: ``wave [n]`` float32 at ``sample_rate`` (native if ``None``).

    ``cancel`` bounds the work by its deadline and stops it when cancelled (download and decode).

    Raises:
        AudioError: any refusal (see the module docstring), with the input named.
        WorkCancelled: ``cancel`` was cancelled.
    """
    source = describe_input(input_type, audio_input)
    start = time.perf_counter()
    data = fetch_audio_bytes(input_type, audio_input, limits, cancel)
    fetched = time.perf_counter()
    try:
        wave, rate = load_audio(data, sr=sample_rate, max_seconds=limits.max_seconds, cancel=cancel)
    except AudioError as exc:
        raise AudioError(f"{source}: {str(exc).removeprefix('<bytes>: ')}") from None
    decoded = time.perf_counter()
    return RequestAudio(
        wave=wave,
        sample_rate=rate,
        encoded_bytes=len(data),
        source=source,
        timings={"fetch": fetched - start, "decode": decoded - fetched},
    )
