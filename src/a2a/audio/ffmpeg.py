"""Decode audio that libsndfile cannot read with an ffmpeg child process, without trusting the file.

The executable is ``ffmpeg`` on ``PATH`` when there is one, else the static binary of the
``imageio-ffmpeg`` package (a dependency, so every install can decode MP4/M4A/AAC, Matroska/WebM/Opus,
WMA, and MP3 where libsndfile is older than 1.1). A few hundred kilobytes of compressed audio can
declare, or simply contain, hours of samples, so the decoder bounds what it does:

1. **probe**: ``ffmpeg -i`` prints the container's declared duration and sample rate; a declared
   duration over ``max_seconds`` is refused before anything is decoded. The printed header is advisory
   (metadata can forge lines, a stream can outlast its header), so nothing below relies on it;
2. **decode**: ffmpeg writes mono float32 at the output rate (resampled and downmixed in the child) to
   a pipe and stops itself after ``max_seconds + 1`` s (``-t``); the parent keeps at most
   ``max_seconds · rate`` samples plus one read, then kills the child and refuses the audio, so a file
   that lies about its duration or declares none is cut at the cap;
3. **deadline and cancel**: the child is killed when the :class:`~a2a.cancel.CancelToken`'s deadline
   passes or when it is cancelled, and on every refusal or error;
4. **no side doors**: only plain audio demuxers and the ``file`` protocol are enabled, so a playlist,
   a concat script or a reference inside the file cannot make ffmpeg open other files or URLs.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import selectors
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2a.cancel import CancelToken
from a2a.errors import AudioError

# The demuxers ffmpeg may use (its -format_whitelist): audio files only; matroska also reads WebM, mov
# also MP4/M4A/3GP. Playlists (hls), scripts (concat) and image sequences are left out on purpose.
DEMUXERS = "aac,ac3,aiff,amr,ape,asf,au,caf,eac3,flac,matroska,mov,mp3,ogg,w64,wav,wv"
# Highest sample rate decoded when a duration cap is set: real recordings stop at 192 kHz, and the rate
# times max_seconds bounds the samples held in memory.
MAX_SAMPLE_RATE = 192_000
_READ_BYTES = 1 << 20
_MESSAGE_BYTES = 64 * 1024
# Exactly two spaces: input-level lines of ffmpeg's dump; metadata lines are indented further.
_DURATION = re.compile(r"^  Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)", re.MULTILINE)
_AUDIO_STREAM = re.compile(r"^  Stream #\d+:\d+\S*: Audio: [^\n]*?, (\d+) Hz", re.MULTILINE)


def find_ffmpeg() -> str | None:
    """Path of an ffmpeg executable: ``ffmpeg`` on ``PATH``, else ``imageio_ffmpeg``'s, else ``None``."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # no binary for this platform
        return None


class Undecodable(AudioError):
    """ffmpeg cannot decode the file (or there is no ffmpeg); ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: cannot decode audio (ffmpeg: {reason})")
        self.reason = reason


@dataclass(frozen=True)
class Probe:
    """What ffmpeg's header dump declares: duration (``None`` when unknown) and the first audio stream's
    sample rate."""

    seconds: float | None
    sample_rate: int


@dataclass
class _Run:
    out: bytearray
    messages: str
    returncode: int | None
    over_cap: bool


def _input_args(ffmpeg: str, path: Path) -> list[str]:
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-format_whitelist",
        DEMUXERS,
        "-protocol_whitelist",
        "file",
        "-i",
        f"file:{path}",  # the prefix keeps a ':' in the name from selecting a protocol
    ]


def _last_line(messages: str, path: Path) -> str:
    lines = [line.strip() for line in messages.splitlines() if line.strip()]
    if not lines:
        return "no message"
    return lines[-1].replace(f"file:{path}: ", "").replace(f"file:{path}", "<input>")


def _run(command: list[str], name: str, cancel: CancelToken | None, out_cap: int | None) -> _Run:
    """Run ``command``, keeping its stdout (stop and kill past ``out_cap`` bytes) and the first 64 KiB of
    its messages; kill it at the token's deadline or when the token is cancelled."""
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
    )
    out, messages = bytearray(), bytearray()
    over_cap = False
    try:
        interrupt = cancel.on_cancel(process.kill) if cancel is not None else contextlib.nullcontext()
        with interrupt, selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            selector.register(process.stderr, selectors.EVENT_READ)
            while selector.get_map() and not over_cap:
                timeout = cancel.remaining() if cancel is not None else None
                if timeout is not None and timeout <= 0:
                    raise AudioError(f"{name}: decoding ran past its deadline; ffmpeg was stopped")
                for key, _events in selector.select(timeout):
                    chunk = os.read(key.fd, _READ_BYTES)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is process.stdout:
                        out += chunk
                        over_cap = out_cap is not None and len(out) > out_cap
                    else:
                        messages += chunk[: max(0, _MESSAGE_BYTES - len(messages))]
        if cancel is not None:
            cancel.raise_if_cancelled(name)  # a cancel kills the child, which looks like an early EOF
        returncode = None if over_cap else process.wait()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()
    return _Run(out, messages.decode("utf-8", "replace"), returncode, over_cap)


def probe(ffmpeg: str, path: Path, name: str, cancel: CancelToken | None = None) -> Probe:
    """Declared duration and sample rate of ``path`` from ffmpeg's header dump (nothing is decoded).

    Raises:
        Undecodable: ffmpeg cannot open the file, or it has no audio stream.
    """
    run = _run(_input_args(ffmpeg, path), name, cancel, out_cap=0)
    if "Input #0" not in run.messages:
        raise Undecodable(name, _last_line(run.messages, path))
    stream = _AUDIO_STREAM.search(run.messages)
    if stream is None:
        raise Undecodable(name, "the file has no audio stream")
    duration = _DURATION.search(run.messages)
    seconds = None
    if duration is not None:
        hours, minutes, secs = duration.groups()
        seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
    return Probe(seconds=seconds, sample_rate=int(stream.group(1)))


def decode(
    path: Path,
    name: str,
    *,
    sr: int | None = None,
    max_seconds: float | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, int]:
    """Decode ``path`` to a mono float32 waveform ``[n]`` at ``sr`` (the file's rate when ``None``).

    Channels are averaged (ffmpeg's downmix normalised to unit gain: stereo gives ``(L + R) / 2``) and
    resampling is ffmpeg's. See the module docstring for the caps.

    Raises:
        Undecodable: no ffmpeg, or ffmpeg cannot decode the file.
        AudioError: a declared or decoded duration over ``max_seconds``, a sample rate over
            :data:`MAX_SAMPLE_RATE` with ``max_seconds`` set, or the token's deadline.
        WorkCancelled: the token was cancelled.
    """
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        raise Undecodable(
            name,
            "not found, neither on PATH nor from the imageio-ffmpeg package; install one of them or "
            "convert the file to WAV/FLAC",
        )
    declared = probe(ffmpeg, path, name, cancel)
    if max_seconds is not None and declared.seconds is not None and declared.seconds > max_seconds:
        raise AudioError(
            f"{name}: audio is {declared.seconds:.2f} s long (declared by the file), longer than "
            f"max_seconds={max_seconds:g}; not decoded"
        )
    rate = int(sr) if sr is not None else declared.sample_rate
    if rate <= 0:
        raise AudioError(f"{name}: sample rate must be positive, got {rate}")
    if max_seconds is not None and rate > MAX_SAMPLE_RATE:
        raise AudioError(f"{name}: sample rate {rate} Hz is over {MAX_SAMPLE_RATE} Hz; refused")
    command = [
        *_input_args(ffmpeg, path),
        "-loglevel",
        "error",
        "-map",
        "0:a:0",
        "-af",
        "aresample=rematrix_maxval=1",  # unit-gain downmix: the mean of the channels, as soundfile's path
        "-ac",
        "1",
        "-ar",
        str(rate),
        "-f",
        "f32le",
    ]
    out_cap = None
    if max_seconds is not None:
        command += ["-t", f"{max_seconds + 1:g}"]
        out_cap = 4 * math.floor(max_seconds * rate)
    run = _run([*command, "pipe:1"], name, cancel, out_cap)
    if run.over_cap:
        raise AudioError(
            f"{name}: audio is longer than max_seconds={max_seconds:g} (decoding stopped there; the file "
            f"declares {'no duration' if declared.seconds is None else f'{declared.seconds:.2f} s'})"
        )
    if run.returncode != 0:
        raise Undecodable(name, _last_line(run.messages, path))
    usable = len(run.out) // 4 * 4
    return np.frombuffer(run.out, dtype="<f4", count=usable // 4), rate
