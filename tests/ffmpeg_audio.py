"""Compressed audio files that ffmpeg itself writes for the tests, including decompression bombs.

Long files are made without encoding long audio: ten seconds are encoded once, then the packets are
copied over and over (``-stream_loop``), which takes a fraction of a second for 25 minutes.
"""

import subprocess
from pathlib import Path

from a2a.audio.ffmpeg import find_ffmpeg


def ffmpeg_exe() -> str:
    found = find_ffmpeg()
    assert found is not None, "imageio-ffmpeg is a dependency: an ffmpeg must be found"
    return found


def run_ffmpeg(*args: str) -> bytes:
    """Run ffmpeg quietly; returns its stdout."""
    return subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        capture_output=True,
    ).stdout


def opus_mka(path: Path, seconds: float = 10.0, freq: float = 440.0) -> Path:
    """A 48 kHz stereo 440 Hz tone as Opus (6 kbit/s) in Matroska: libsndfile cannot read it."""
    run_ffmpeg(
        "-f", "lavfi", "-i", f"sine=f={freq}:r=48000", "-t", f"{seconds:g}", "-ac", "2",
        "-c:a", "libopus", "-b:a", "6k", str(path),
    )  # fmt: skip
    return path


def looped_mka(short: Path, path: Path, times: int, *, header: str = "true") -> Path:
    """``short`` repeated ``times`` times by copying packets into Matroska.

    ``header``: ``"true"`` declares the real duration; ``"lie"`` streams to a pipe, so the header keeps
    ``short``'s duration while the packets run ``times`` as long; ``"none"`` writes a live stream that
    declares no duration at all.
    """
    args = ["-stream_loop", str(times - 1), "-i", str(short), "-c", "copy"]
    if header == "true":
        run_ffmpeg(*args, str(path))
    elif header == "lie":
        path.write_bytes(run_ffmpeg(*args, "-f", "matroska", "pipe:1"))
    elif header == "none":
        run_ffmpeg(*args, "-live", "1", "-f", "matroska", str(path))
    else:
        raise ValueError(f"header must be true, lie or none, got {header!r}")
    return path
