"""Decode audio from a file, encoded bytes or an array into a mono float32 waveform.

Files and bytes are decoded by ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis, and MP3 from libsndfile
1.1 on). Anything libsndfile cannot read (M4A/AAC, WMA, MP3 with libsndfile < 1.1) falls back to
``audioread`` (as ``librosa.load`` does), which needs ffmpeg (or GStreamer / Core Audio) for those.
Resampling uses ``librosa.resample`` with its default ``soxr_hq`` resampler, the same call
``librosa.load(path, sr=...)`` makes.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from a2a.errors import AudioError

AudioSource = str | os.PathLike | bytes | np.ndarray

# A waveform whose peak stays below this (−100 dBFS, a third of a 16-bit LSB) is treated as silent.
SILENCE_PEAK = 1e-5


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
) -> tuple[np.ndarray, int]:
    """Decode ``source`` to a mono float32 waveform ``[n]`` and its sample rate.

    Args:
        source: a path (str / PathLike), encoded file bytes, or a waveform array ``[n]``, ``[n, C]`` or
            ``[C, n]`` (the shorter axis is taken as channels). Integer arrays are scaled to [-1, 1).
        sr: resample to this rate; ``None`` keeps the source rate.
        source_sr: sample rate of an array ``source`` (required for arrays, ignored otherwise).
        max_seconds: reject audio longer than this (checked from the header before decoding when possible).
        allow_silent: accept an all-silent waveform (peak below ``SILENCE_PEAK``) instead of raising.

    Returns:
        ``(wave [n] float32, sample_rate)``; multichannel audio is averaged to mono (as ``librosa.load``).

    Raises:
        AudioError: naming the source, for a missing, unreadable or undecodable file, 0 samples, NaN or
            infinite samples, silence (unless ``allow_silent``), or a duration above ``max_seconds``.
    """
    name = describe_source(source)
    if isinstance(source, np.ndarray):
        if source_sr is None:
            raise AudioError(f"{name}: pass source_sr=<sample rate> when giving a waveform array")
        wave, native_sr = _array_to_mono(source, name), int(source_sr)
    elif isinstance(source, bytes | bytearray | memoryview):
        wave, native_sr = _decode_bytes(bytes(source), name, max_seconds)
    elif isinstance(source, str | os.PathLike):
        wave, native_sr = _decode_file(Path(source), name, max_seconds)
    else:
        raise AudioError(f"cannot read audio from a {type(source).__name__}; give a path, bytes or an array")

    if native_sr <= 0:
        raise AudioError(f"{name}: sample rate must be positive, got {native_sr}")
    _check_wave(wave, native_sr, name, max_seconds=max_seconds, allow_silent=allow_silent)
    if sr is not None and int(sr) != native_sr:
        wave = librosa.resample(wave, orig_sr=native_sr, target_sr=int(sr))
        native_sr = int(sr)
    return np.ascontiguousarray(wave, dtype=np.float32), native_sr


def _check_wave(
    wave: np.ndarray, sr: int, name: str, *, max_seconds: float | None, allow_silent: bool
) -> None:
    if wave.size == 0:
        raise AudioError(f"{name}: audio is empty (0 samples)")
    finite = np.isfinite(wave)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise AudioError(
            f"{name}: audio contains NaN or infinite samples ({int((~finite).sum())} of {wave.size}, "
            f"first at sample {first} = {first / sr:.3f} s)"
        )
    if max_seconds is not None and wave.size / sr > max_seconds:
        raise AudioError(
            f"{name}: audio is {wave.size / sr:.2f} s long, longer than max_seconds={max_seconds}"
        )
    if not allow_silent and float(np.max(np.abs(wave))) < SILENCE_PEAK:
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


def _decode_file(path: Path, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioError(f"{name}: no such audio file")
    if path.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    try:
        info = sf.info(str(path))
        _check_header_duration(info.frames, info.samplerate, name, max_seconds)
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
        return _decode_with_audioread(path, name, sf_error)
    return _array_to_mono(data, name, channels_last=True), int(rate)


def _decode_bytes(data: bytes, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    if len(data) == 0:
        raise AudioError(f"{name}: audio is empty (0 bytes)")
    try:
        info = sf.info(io.BytesIO(data))
        _check_header_duration(info.frames, info.samplerate, name, max_seconds)
        wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
        # audioread only reads files, so spill the bytes to a temporary one.
        with tempfile.TemporaryDirectory(prefix="a2a-audio-") as tmp:
            tmp_path = Path(tmp) / "audio"
            tmp_path.write_bytes(data)
            return _decode_with_audioread(tmp_path, name, sf_error)
    return _array_to_mono(wave, name, channels_last=True), int(rate)


def _check_header_duration(frames: int, rate: int, name: str, max_seconds: float | None) -> None:
    # Checked before decoding so an hour-long upload is rejected without reading it into memory.
    if max_seconds is not None and rate > 0 and frames / rate > max_seconds:
        raise AudioError(
            f"{name}: audio is {frames / rate:.2f} s long, longer than max_seconds={max_seconds}"
        )


def _decode_with_audioread(path: Path, name: str, sf_error: Exception) -> tuple[np.ndarray, int]:
    # audioread directly rather than librosa.load: same decoders, without librosa's seconds-long first
    # import, which every worker process of extract_many would otherwise pay for a bad file.
    import audioread

    try:
        with audioread.audio_open(str(path)) as decoder:
            rate, channels = int(decoder.samplerate), int(decoder.channels)
            pcm = b"".join(decoder)  # 16-bit little-endian interleaved PCM
    except Exception as ar_error:
        ffmpeg = shutil.which("ffmpeg")
        reason = (
            "no audioread backend could decode it"
            if isinstance(ar_error, audioread.NoBackendError)
            else f"{type(ar_error).__name__}: {ar_error}"
        )
        hint = (
            "ffmpeg is installed but could not decode it either"
            if ffmpeg
            else "ffmpeg is not installed: for M4A/AAC and other compressed formats (and MP3 with libsndfile "
            "< 1.1) install it (e.g. `apt-get install ffmpeg`) or convert the file to WAV/FLAC"
        )
        raise AudioError(
            f"{name}: cannot decode audio (soundfile: {sf_error}; audioread: {reason}); {hint}"
        ) from ar_error
    wave = np.frombuffer(pcm, dtype="<i2").reshape(-1, max(channels, 1))
    return _array_to_mono(wave, name, channels_last=True), rate
