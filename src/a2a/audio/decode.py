"""Decode audio from a file, encoded bytes or an array into a mono float32 waveform.

Files and bytes are decoded by ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis/Opus, and MP3 from
libsndfile 1.1 on), block by block, averaging the channels as it reads. Anything libsndfile cannot read
(M4A/AAC, Matroska/WebM, WMA, MP3 with libsndfile < 1.1) goes to :mod:`a2a.audio.ffmpeg`, which decodes in
a child process under the same caps. Resampling of libsndfile's output uses ``librosa.resample`` with its
default ``soxr_hq`` resampler, the same call ``librosa.load(path, sr=...)`` makes; ffmpeg resamples its
own output.

Files and bytes are always decoded under a duration cap: ``max_seconds`` (the miner's requests set it),
else :func:`default_max_seconds` (one hour; ``A2A_MAX_AUDIO_SECONDS`` changes it), so a small file whose
header claims days of audio cannot exhaust memory in ``a2a generate``, evaluation or training either. At
most the cap's worth of mono samples is held, at the file's rate from libsndfile (plus its resampled copy)
or at the output rate from ffmpeg: the duration a header declares is checked before decoding, memory
grows with the samples actually decoded (never preallocated from a header), libsndfile reads no further
than its header's frame count, ffmpeg is cut at the cap, and sample rates over
:data:`~a2a.audio.ffmpeg.MAX_SAMPLE_RATE` are refused.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from a2a.audio import ffmpeg
from a2a.cancel import CancelToken
from a2a.errors import AudioError

AudioSource = str | os.PathLike | bytes | np.ndarray

# A waveform whose peak stays below this (−100 dBFS, a third of a 16-bit LSB) is treated as silent.
SILENCE_PEAK = 1e-5
_BLOCK_SAMPLES = 1 << 18  # samples per libsndfile block, all channels together (1 MiB of float32)
_FIRST_SAMPLES = 1 << 20  # mono samples allocated before any are decoded (4 MiB)
MAX_SECONDS_ENV = "A2A_MAX_AUDIO_SECONDS"
DEFAULT_MAX_SECONDS = 3600.0


def default_max_seconds() -> float:
    """The duration cap for files and bytes decoded without ``max_seconds``: ``$A2A_MAX_AUDIO_SECONDS``,
    else :data:`DEFAULT_MAX_SECONDS` (one hour at up to 192 kHz is at most 2.8 GB of mono float32)."""
    raw = os.environ.get(MAX_SECONDS_ENV)
    if raw is None:
        return DEFAULT_MAX_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise AudioError(f"{MAX_SECONDS_ENV}={raw!r} must be a positive number of seconds")
    return value


def describe_source(source: AudioSource) -> str:
    """How error messages name an audio source: the path, ``<bytes>`` or ``<array>``."""
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    if isinstance(source, np.ndarray):
        return "<array>"
    return str(source)


def load_audio(
    source: AudioSource,
    sr: int | None = None,
    *,
    source_sr: int | None = None,
    max_seconds: float | None = None,
    allow_silent: bool = False,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, int]:
    """Decode ``source`` to a mono float32 waveform ``[n]`` and its sample rate.

    Args:
        source: a path (str / PathLike), encoded file bytes, or a waveform array ``[n]``, ``[n, C]`` or
            ``[C, n]`` (the shorter axis is taken as channels). Integer arrays are scaled to [-1, 1).
        sr: resample to this rate; ``None`` keeps the source rate.
        source_sr: sample rate of an array ``source`` (required for arrays, ignored otherwise).
        max_seconds: reject audio longer than this: checked from the header before decoding, and the
            decoding itself stops at this length (see the module docstring); also refuses sample rates
            over 192 kHz. ``None``: :func:`default_max_seconds` for files and bytes, no cap for arrays.
        allow_silent: accept an all-silent waveform (peak below ``SILENCE_PEAK``) instead of raising.
        cancel: stops decoding when cancelled or past its deadline (raising ``WorkCancelled`` or
            ``AudioError``); an ffmpeg child is killed.

    Returns:
        ``(wave [n] float32, sample_rate)``; multichannel audio is averaged to mono (as ``librosa.load``).

    Raises:
        AudioError: naming the source, for a missing, unreadable or undecodable file, 0 samples, NaN or
            infinite samples, silence (unless ``allow_silent``), or a duration above ``max_seconds``.
        WorkCancelled: ``cancel`` was cancelled.
    """
    name = describe_source(source)
    if max_seconds is None and not isinstance(source, np.ndarray):
        max_seconds = _DefaultCap(default_max_seconds())
    if isinstance(source, np.ndarray):
        if source_sr is None:
            raise AudioError(f"{name}: pass source_sr=<sample rate> when giving a waveform array")
        wave, native_sr = _array_to_mono(source, name), int(source_sr)
    elif isinstance(source, bytes | bytearray | memoryview):
        wave, native_sr = _decode_bytes(bytes(source), name, sr, max_seconds, cancel)
    elif isinstance(source, str | os.PathLike):
        wave, native_sr = _decode_file(Path(source), name, sr, max_seconds, cancel)
    else:
        raise AudioError(f"cannot read audio from a {type(source).__name__}; give a path, bytes or an array")

    if native_sr <= 0:
        raise AudioError(f"{name}: sample rate must be positive, got {native_sr}")
    _check_wave(wave, native_sr, name, max_seconds=max_seconds, allow_silent=allow_silent)
    if sr is not None and int(sr) != native_sr:
        wave = librosa.resample(wave, orig_sr=native_sr, target_sr=int(sr))
        native_sr = int(sr)
    return np.ascontiguousarray(wave, dtype=np.float32), native_sr


class _DefaultCap(float):
    """:func:`default_max_seconds` as ``max_seconds``: the same number, named so in refusals."""


def _over(max_seconds: float) -> str:
    if isinstance(max_seconds, _DefaultCap):
        return f"longer than a2a's cap for audio files ({max_seconds:g} s; {MAX_SECONDS_ENV} sets it)"
    return f"longer than max_seconds={max_seconds:g}"


def _check_wave(
    wave: np.ndarray, sr: int, name: str, *, max_seconds: float | None, allow_silent: bool
) -> None:
    if wave.size == 0:
        raise AudioError(f"{name}: audio is empty (0 samples)")
    high, low = float(np.max(wave)), float(np.min(wave))  # NaN propagates; no copy of a long wave
    if not (np.isfinite(high) and np.isfinite(low)):
        finite = np.isfinite(wave)
        first = int(np.flatnonzero(~finite)[0])
        raise AudioError(
            f"{name}: audio contains NaN or infinite samples ({int((~finite).sum())} of {wave.size}, "
            f"first at sample {first} = {first / sr:.3f} s)"
        )
    if max_seconds is not None and wave.size / sr > max_seconds:
        raise AudioError(f"{name}: audio is {wave.size / sr:.2f} s long, {_over(max_seconds)}")
    if not allow_silent and max(high, -low) < SILENCE_PEAK:
        raise AudioError(
            f"{name}: audio is silent (peak below {SILENCE_PEAK:g}); pass allow_silent=True to accept it"
        )


def _array_to_mono(array: np.ndarray, name: str, *, channels_last: bool = False) -> np.ndarray:
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise AudioError(f"{name}: waveform dtype must be float or integer PCM, got {array.dtype}")
    if array.ndim not in (1, 2):
        raise AudioError(f"{name}: waveform must have shape [n], [n, C] or [C, n], got {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        # Unsigned PCM (8-bit WAV) is offset-binary: centre it before scaling.
        centre = (int(info.max) + 1) // 2 if info.min == 0 else 0
        scale = float(int(info.max) + 1 - centre)
        array = (array.astype(np.float64) - centre) / scale
    array = array.astype(np.float32, copy=False)
    if array.size == 0:
        return np.zeros(0, dtype=np.float32)
    if array.ndim == 2:
        # Decoders give [n, C]; for a user's array the shorter axis is taken as channels.
        channel_axis = 1 if channels_last or array.shape[0] >= array.shape[1] else 0
        array = array.mean(axis=channel_axis, dtype=np.float32)
    return array


def _decode_file(
    path: Path, name: str, sr: int | None, max_seconds: float | None, cancel: CancelToken | None
) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioError(f"{name}: no such audio file")
    if path.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    try:
        return _read_soundfile(str(path), name, max_seconds, cancel)
    except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
        return _decode_with_ffmpeg(path, name, sr, max_seconds, cancel, sf_error)


def _decode_bytes(
    data: bytes, name: str, sr: int | None, max_seconds: float | None, cancel: CancelToken | None
) -> tuple[np.ndarray, int]:
    if len(data) == 0:
        raise AudioError(f"{name}: audio is empty (0 bytes)")
    try:
        return _read_soundfile(io.BytesIO(data), name, max_seconds, cancel)
    except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
        # ffmpeg needs a seekable file (MP4 keeps its index at the end), so spill the bytes to one.
        with tempfile.TemporaryDirectory(prefix="a2a-audio-") as tmp:
            tmp_path = Path(tmp) / "audio"
            tmp_path.write_bytes(data)
            return _decode_with_ffmpeg(tmp_path, name, sr, max_seconds, cancel, sf_error)


def _read_soundfile(
    file: str | io.BytesIO, name: str, max_seconds: float | None, cancel: CancelToken | None
) -> tuple[np.ndarray, int]:
    """libsndfile's decode, averaged to mono block by block: memory is one mono copy plus one block."""
    with sf.SoundFile(file) as audio:
        frames, rate = int(audio.frames), int(audio.samplerate)
        # Checked before decoding so an hour-long upload is rejected without reading it into memory.
        if max_seconds is not None and rate > 0 and frames / rate > max_seconds:
            raise AudioError(f"{name}: audio is {frames / rate:.2f} s long, {_over(max_seconds)}")
        if isinstance(max_seconds, _DefaultCap):
            # your own files may have any rate, but not more samples than the cap's length at 192 kHz
            if frames > max_seconds * ffmpeg.MAX_SAMPLE_RATE:
                raise AudioError(
                    f"{name}: audio holds {frames} samples, more than {max_seconds:g} s at "
                    f"{ffmpeg.MAX_SAMPLE_RATE} Hz (a2a's cap for audio files; {MAX_SECONDS_ENV} sets it)"
                )
        elif max_seconds is not None and rate > ffmpeg.MAX_SAMPLE_RATE:
            raise AudioError(f"{name}: sample rate {rate} Hz is over {ffmpeg.MAX_SAMPLE_RATE} Hz; refused")
        block_buffer = np.empty((max(1, _BLOCK_SAMPLES // audio.channels), audio.channels), dtype=np.float32)
        # The header's frame count is a claim, not a fact: the mono buffer starts small and doubles (up to
        # that count) as samples really arrive; resize() reallocates in place where it can, so the peak is
        # one mono copy for an honest header and at most twice what was decoded for one that lies.
        # blocks() stops at the header's frame count, so a stream longer than its header is cut there;
        # with out= it refills one buffer instead of copying every block.
        wave = np.empty(min(frames, _FIRST_SAMPLES), dtype=np.float32)
        filled = 0
        for block in audio.blocks(dtype="float32", always_2d=True, out=block_buffer):
            if cancel is not None:
                cancel.raise_if_cancelled(name)
            if len(block) == 0:  # the data ended before the header's frame count
                break
            if filled + len(block) > wave.size:
                wave.resize(min(frames, max(2 * wave.size, filled + len(block))), refcheck=False)
            wave[filled : filled + len(block)] = block.mean(axis=1, dtype=np.float32)
            filled += len(block)
    wave.resize(filled, refcheck=False)
    return wave, rate


def _decode_with_ffmpeg(
    path: Path,
    name: str,
    sr: int | None,
    max_seconds: float | None,
    cancel: CancelToken | None,
    sf_error: Exception,
) -> tuple[np.ndarray, int]:
    try:
        return ffmpeg.decode(path, name, sr=sr, max_seconds=max_seconds, cancel=cancel)
    except ffmpeg.Undecodable as exc:
        raise AudioError(
            f"{name}: cannot decode audio (soundfile: {sf_error}; ffmpeg: {exc.reason})"
        ) from None
