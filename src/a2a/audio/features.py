"""Per-frame audio features for the dance model: EDGE's 35-d baseline set and WavLM/HuBERT hidden states.

Frame convention (both extractors): frame ``j`` is centred at ``j / fps`` seconds and a clip of ``n`` samples
at the extractor rate ``sr`` has ``T = 1 + floor(n · fps / sr)`` frames; input at another rate is first
resampled to ``n = ceil(n_in · sr / sr_in)`` samples. For the baseline this is librosa's centred STFT count
``1 + n // hop_length`` (15360 / 512 = 30 fps exactly), so a 5 s clip gives 151 frames and EDGE keeps the
first 150.

Every extractor derives from :class:`AudioFeatureExtractor`: ``.name``, ``.dim``, ``.fps``, ``config()`` (a
JSON-able dict for cache keys), ``__call__(wave, sr, *, num_frames=None, **params) -> [T, dim]``,
``for_file(source, **params)`` and ``file_params`` (the per-file inputs beyond the audio content, e.g. the
baseline's ``start_bpm``, which the data layer reads from AIST++ names; see :func:`file_params`).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import math
import os
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import librosa
import numpy as np
import soundfile as sf

from a2a.audio.decode import AudioSource, load_audio
from a2a.errors import A2AError, AudioError

log = logging.getLogger(__name__)

# EDGE's tempo fallback, ``librosa.beat.tempo(y=librosa.load(path)[0])``, runs at librosa's default rate.
TEMPO_ESTIMATION_SR = 22050


class AudioFeatureExtractor(ABC):
    """Per-frame audio features ``[T, dim]`` at ``fps``: the base of every extractor a config can name.

    ``file_params`` lists the per-file inputs beyond the audio content that ``__call__``/``for_file``
    accept as keyword arguments (e.g. the baseline's ``start_bpm``, which the data layer knows for AIST++
    music); they are part of the cache key (:func:`file_params`).

    ``local_paths`` lists the settings that name local files or folders (model weights, a cache): a
    checkpoint's values for them are never used, only the ones the user gives (``features_path``), so a
    published checkpoint cannot make the loader read or write where it chooses.

    ``local_device`` names the setting that picks the torch device the extractor runs on, if it has one:
    like the paths, it is local — :func:`a2a.load` sets it to the generator's device, whatever the
    checkpoint stored (a model trained on a GPU still extracts on the device its user chose).
    """

    name: ClassVar[str] = "features"
    file_params: ClassVar[tuple[str, ...]] = ()
    local_paths: ClassVar[tuple[str, ...]] = ()
    local_device: ClassVar[str | None] = None
    fps: int
    sr: int

    @property
    @abstractmethod
    def dim(self) -> int:
        """Feature channels."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Parameters that determine the output (cache key)."""

    @abstractmethod
    def __call__(
        self, wave: np.ndarray, sr: int, *, num_frames: int | None = None, **params: Any
    ) -> np.ndarray:
        """Features of a waveform ``[n]`` at rate ``sr`` → ``[T, dim]`` float32."""

    def slices(self, pieces: list[np.ndarray], sr: int, num_frames: int, **params: Any) -> np.ndarray:
        """Features of each audio slice on its own → ``[n, num_frames, dim]`` (EDGE's per-slice way).

        Extractors that can batch slices (a large network on a GPU) override this.
        """
        out = np.empty((len(pieces), num_frames, self.dim), dtype=np.float32)
        for k, piece in enumerate(pieces):
            out[k] = self(piece, sr, num_frames=num_frames, **params)
        return out

    def for_file(
        self,
        source: AudioSource,
        *,
        num_frames: int | None = None,
        max_seconds: float | None = None,
        **params: Any,
    ) -> np.ndarray:
        """Decode ``source`` (path or bytes) and extract ``[T, dim]``."""
        wave, sr = load_audio(source, max_seconds=max_seconds)
        return self(wave, sr, num_frames=num_frames, **params)


WINDOWINGS = ("per_song", "per_slice")


def check_windowing(windowing: str) -> str:
    """``per_song`` (extract once, cut windows) or ``per_slice`` (extract each window's audio on its own)."""
    if windowing not in WINDOWINGS:
        raise A2AError(f"features.windowing must be one of {', '.join(WINDOWINGS)}, got {windowing!r}")
    return windowing


def audio_slices(wave: np.ndarray, sr: int, starts: list[int], frames: int, fps: float) -> list[np.ndarray]:
    """The audio of motion windows: ``frames`` frames from each start frame, as ``[samples]`` pieces.

    Window k spans samples ``round(start_k·sr/fps)`` to that plus ``round(frames·sr/fps)`` (EDGE's
    ``slice_audio``: ``int(window_s·sr)`` samples every ``int(stride_s·sr)``; the same numbers whenever
    the stride is a whole number of samples). A window that runs past the end of the audio gets what
    is left (an empty piece when it starts after the end); extractors pad to ``frames``.
    """
    length = round(frames * sr / fps)
    pieces = []
    for start in starts:
        first = round(start * sr / fps)
        pieces.append(wave[first : first + length])
    return pieces


def extract_slices(
    extractor: AudioFeatureExtractor,
    wave: np.ndarray,
    sr: int,
    starts: list[int],
    frames: int,
    **params: Any,
) -> np.ndarray:
    """Per-slice features of motion windows (see :func:`audio_slices`) → ``[n, frames, dim]``.

    Slices shorter than one analysis frame (the tail of the audio) are zero-padded to a tenth of a
    second first, so every window gets features (repeated last frame beyond the audio).
    """
    minimum = max(1, sr // 10)
    pieces = [
        piece if piece.size >= minimum else np.pad(piece, (0, minimum - piece.size))
        for piece in audio_slices(wave, sr, starts, frames, extractor.fps)
    ]
    return extractor.slices(pieces, sr, frames, **params)


def file_params(extractor: AudioFeatureExtractor, **hints: Any) -> dict[str, Any]:
    """The per-file inputs ``extractor`` takes, picked from what the caller knows about a file
    (``file_params(BaselineFeatures(), start_bpm=120.0)`` → ``{"start_bpm": 120.0}``; WavLM → ``{}``)."""
    return {name: hints.get(name) for name in getattr(extractor, "file_params", ())}


def frame_count(num_samples: int, sr: int, fps: int) -> int:
    """Frames for ``num_samples`` at rate ``sr``: ``1 + floor(num_samples · fps / sr)`` (centred frames)."""
    return 1 + (num_samples * fps) // sr


def fit_length(
    features: np.ndarray, num_frames: int | None, *, zero_pad_columns: slice | None = None
) -> np.ndarray:
    """Truncate or pad ``features [T, D]`` to ``[num_frames, D]``; ``None`` returns it unchanged.

    Padding repeats the last frame, except ``zero_pad_columns`` (event one-hots such as beats), which are
    padded with 0 so a beat on the last real frame is not repeated.
    """
    if num_frames is None:
        return features
    if num_frames < 1:
        raise A2AError(f"num_frames must be at least 1, got {num_frames}")
    if features.shape[0] >= num_frames:
        return features[:num_frames]
    padded = np.pad(features, ((0, num_frames - features.shape[0]), (0, 0)), mode="edge")
    if zero_pad_columns is not None:
        padded[features.shape[0] :, zero_pad_columns] = 0.0
    return padded


def estimate_tempo(wave: np.ndarray, sr: int) -> float:
    """Global tempo (BPM) of ``wave [n]``, as EDGE's fallback for non-AIST++ names.

    EDGE calls ``librosa.beat.tempo(y=librosa.load(path)[0])[0]`` (22.05 kHz, default hop 512). That function
    moved to ``librosa.feature.tempo`` in librosa 0.10; this resamples to 22.05 kHz and calls it
    with the same defaults, so the estimate matches EDGE's, not one computed at the 15.36 kHz feature rate.
    """
    if sr != TEMPO_ESTIMATION_SR:
        wave = librosa.resample(wave, orig_sr=sr, target_sr=TEMPO_ESTIMATION_SR)
    return float(librosa.feature.tempo(y=wave, sr=TEMPO_ESTIMATION_SR)[0])


def _check_wave_array(wave: np.ndarray, sr: int) -> np.ndarray:
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise AudioError(f"<array>: features need a mono waveform [n], got shape {wave.shape}")
    if wave.size == 0:
        raise AudioError("<array>: audio is empty (0 samples)")
    if sr <= 0:
        raise AudioError(f"<array>: sample rate must be positive, got {sr}")
    if not np.isfinite(wave).all():
        raise AudioError("<array>: audio contains NaN or infinite samples")
    return wave.astype(np.float32, copy=False)


@dataclass(frozen=True)
class BaselineFeatures(AudioFeatureExtractor):
    """EDGE's 35-d baseline audio features (``data/audio_extraction/baseline_features.py``), ``[T, 35]``.

    Columns, in EDGE's order (see ``COLUMNS``): onset-strength envelope (1), MFCC (20), chroma CENS (12),
    onset-peak one-hot (1), beat one-hot (1). Audio is resampled to ``sr`` = 15360 Hz (librosa's default
    ``soxr_hq``, as ``librosa.load(path, sr=15360)``) and analysed with hop 512, i.e. exactly 30 fps.
    """

    sr: int = 15360
    hop_length: int = 512
    fps: int = 30

    name: ClassVar[str] = "baseline"
    file_params: ClassVar[tuple[str, ...]] = ("start_bpm",)
    COLUMNS: ClassVar[dict[str, slice]] = {
        "envelope": slice(0, 1),
        "mfcc": slice(1, 21),
        "chroma": slice(21, 33),
        "onset": slice(33, 34),
        "beat": slice(34, 35),
    }
    _EVENT_COLUMNS: ClassVar[slice] = slice(33, 35)

    def __post_init__(self) -> None:
        if self.sr != self.hop_length * self.fps:
            raise A2AError(
                f"baseline features: sr ({self.sr}) must equal hop_length·fps ({self.hop_length}·{self.fps}) "
                "so that feature frames fall exactly on motion frames"
            )

    @property
    def dim(self) -> int:
        return 35

    def config(self) -> dict[str, Any]:
        """Parameters that determine the output (cache key)."""
        return {"name": self.name, "sr": self.sr, "hop_length": self.hop_length, "fps": self.fps}

    def __call__(
        self,
        wave: np.ndarray,
        sr: int,
        *,
        start_bpm: float | None = None,
        num_frames: int | None = None,
    ) -> np.ndarray:
        """Features of ``wave [n]`` at rate ``sr`` → ``[T, 35]`` float32, ``T = 1 + n' // hop_length``.

        ``n' = ceil(n · 15360 / sr)`` is the length after resampling (``= n`` at 15360 Hz).

        Args:
            start_bpm: tempo prior for ``beat_track`` (EDGE passes the AIST++ music tempo); ``None``
                estimates it with :func:`estimate_tempo` (EDGE's fallback).
            num_frames: truncate, or pad by repeating the last frame (event columns padded with 0), to
                exactly this many frames.
        """
        wave = _check_wave_array(wave, sr)
        if start_bpm is None:
            start_bpm = estimate_tempo(wave, sr)
        y = wave if sr == self.sr else librosa.resample(wave, orig_sr=sr, target_sr=self.sr)
        envelope = librosa.onset.onset_strength(y=y, sr=self.sr, hop_length=self.hop_length)  # [T]
        mfcc = librosa.feature.mfcc(y=y, sr=self.sr, n_mfcc=20, hop_length=self.hop_length).T  # [T, 20]
        with warnings.catch_warnings():
            # chroma_cens's CQT analyses its lowest octave on the signal downsampled 64×: under ~2.2 s at
            # 15360 Hz (the miner's warm-up tone, short requests) that is shorter than its 512-point FFT,
            # which librosa zero-pads and announces on every call. The padding is the intended result.
            warnings.filterwarnings(
                "ignore", message=r"n_fft=\d+ is too large for input signal", category=UserWarning
            )
            chroma = librosa.feature.chroma_cens(y=y, sr=self.sr, hop_length=self.hop_length, n_chroma=12).T
        peak_idxs = librosa.onset.onset_detect(
            onset_envelope=envelope, sr=self.sr, hop_length=self.hop_length
        )
        peak_onehot = np.zeros_like(envelope, dtype=np.float32)
        peak_onehot[peak_idxs] = 1.0
        _, beat_idxs = librosa.beat.beat_track(
            onset_envelope=envelope,
            sr=self.sr,
            hop_length=self.hop_length,
            start_bpm=float(start_bpm),
            tightness=100,
        )
        beat_onehot = np.zeros_like(envelope, dtype=np.float32)
        beat_onehot[beat_idxs] = 1.0
        features = np.concatenate(
            [envelope[:, None], mfcc, chroma, peak_onehot[:, None], beat_onehot[:, None]], axis=-1
        ).astype(np.float32, copy=False)
        return fit_length(features, num_frames, zero_pad_columns=self._EVENT_COLUMNS)

    def for_file(
        self,
        source: AudioSource,
        *,
        start_bpm: float | None = None,
        num_frames: int | None = None,
        max_seconds: float | None = None,
    ) -> np.ndarray:
        """Decode ``source`` (path or bytes) and extract ``[T, 35]``; ``start_bpm=None`` estimates the
        tempo from the audio as EDGE does for music without an AIST++ name
        (:func:`a2a.data.naming.tempo_from_name` gives the AIST++ tempo)."""
        wave, sr = load_audio(source, max_seconds=max_seconds)
        return self(wave, sr, start_bpm=start_bpm, num_frames=num_frames)


def edge_window_count(num_samples: int, sr: int, window_s: float = 5.0, stride_s: float = 0.5) -> int:
    """How many windows EDGE's ``slice_audio`` cuts from ``num_samples`` at rate ``sr``."""
    window, step = int(window_s * sr), int(stride_s * sr)
    if step < 1 or window < 1:
        raise A2AError(f"window_s ({window_s}) and stride_s ({stride_s}) must be at least one sample")
    return 0 if num_samples < window else (num_samples - window) // step + 1


def slice_features(
    features: np.ndarray, window: int = 150, stride: int = 15, num_windows: int | None = None
) -> np.ndarray:
    """Cut ``features [T, D]`` into ``[K, window, D]`` windows starting at frames ``0, stride, 2·stride, …``.

    ``num_windows`` defaults to every window that fits; pass :func:`edge_window_count` of the audio to get
    exactly EDGE's slices (the feature sequence has one frame more than whole windows would need).
    """
    available = 0 if features.shape[0] < window else (features.shape[0] - window) // stride + 1
    if num_windows is None:
        num_windows = available
    if num_windows > available:
        raise A2AError(
            f"asked for {num_windows} windows of {window} frames with stride {stride}, but "
            f"{features.shape[0]} frames hold only {available}"
        )
    starts = np.arange(num_windows) * stride
    return features[starts[:, None] + np.arange(window)[None, :]]


def _pcm16_round_trip(wave: np.ndarray, sr: int) -> np.ndarray:
    # EDGE writes its slices with soundfile's default WAV subtype (PCM_16) and reads them back.
    data = io.BytesIO()
    sf.write(data, wave, sr, format="WAV", subtype="PCM_16")
    data.seek(0)
    return sf.read(data, dtype="float32")[0]


def extract_per_slice(
    wave: np.ndarray,
    sr: int,
    extractor: BaselineFeatures | None = None,
    *,
    window_s: float = 5.0,
    stride_s: float = 0.5,
    start_bpm: float | None = None,
    pcm16: bool = False,
) -> np.ndarray:
    """EDGE's way: cut the audio into windows, then extract each separately → ``[K, window_s·fps, 35]``.

    Mirrors ``data/slice.py::slice_audio`` (windows cut at the native rate ``sr``) followed by
    ``baseline_features.extract`` on each slice (resampled to 15360 Hz, truncated to 150 frames). With
    ``start_bpm=None`` every slice gets its own tempo estimate, as EDGE does for non-AIST++ names.
    ``pcm16=True`` also reproduces the 16-bit quantisation of EDGE's slice WAV files.
    """
    extractor = extractor or BaselineFeatures()
    wave = _check_wave_array(wave, sr)
    window, step = int(window_s * sr), int(stride_s * sr)
    frames = round(window_s * extractor.fps)
    count = edge_window_count(wave.size, sr, window_s, stride_s)
    out = np.empty((count, frames, extractor.dim), dtype=np.float32)
    for k in range(count):
        piece = wave[k * step : k * step + window]
        if pcm16:
            piece = _pcm16_round_trip(piece, sr)
        out[k] = extractor(piece, sr, start_bpm=start_bpm, num_frames=frames)
    return out


def extract_per_song(
    wave: np.ndarray,
    sr: int,
    extractor: BaselineFeatures | None = None,
    *,
    window_s: float = 5.0,
    stride_s: float = 0.5,
    start_bpm: float | None = None,
) -> np.ndarray:
    """The fast way: extract once over the whole song, then slice the features → ``[K, window_s·fps, 35]``.

    Gives the same windows (count and frame alignment) as :func:`extract_per_slice`; values differ near
    window edges (STFT/CQT context, chroma smoothing) and in the beat column (tracked over the song).
    """
    extractor = extractor or BaselineFeatures()
    wave = _check_wave_array(wave, sr)
    stride_frames = stride_s * extractor.fps
    if not float(stride_frames).is_integer():
        raise A2AError(f"stride_s={stride_s} is not a whole number of frames at {extractor.fps} fps")
    features = extractor(wave, sr, start_bpm=start_bpm)
    return slice_features(
        features,
        window=round(window_s * extractor.fps),
        stride=int(stride_frames),
        num_windows=edge_window_count(wave.size, sr, window_s, stride_s),
    )


_DOWNLOAD_HINT = (
    "download a model on a machine with internet, e.g. "
    "`huggingface-cli download microsoft/wavlm-large --local-dir DIR` (DiffuseStyleGesture's WavLM-Large; "
    "or facebook/hubert-base-ls960), copy DIR here and pass features.path=DIR"
)


def import_transformers() -> Any:
    """The ``transformers`` module, or an :class:`AudioError` saying how to install it."""
    try:
        return importlib.import_module("transformers")
    except ImportError as error:
        raise AudioError(
            "WavLM/HuBERT features need the `transformers` package: `pip install transformers` "
            f"({type(error).__name__}: {error})"
        ) from error


class PretrainedAudioFeatures(AudioFeatureExtractor):
    """Hidden states of a local WavLM / HuBERT (any ``transformers`` speech encoder) at ``fps`` → ``[T, H]``.

    The model (``config.json``, weights, ``preprocessor_config.json``) is read from the directory ``path``
    with ``local_files_only=True``; nothing is downloaded. The encoder's 20 ms frames (hop 320 at 16 kHz,
    receptive field 400 samples, both read from the config) are linearly interpolated to frames centred at
    ``j / fps``. Audio longer than ``chunk_seconds`` is encoded in chunks with ``context_seconds`` of extra
    audio on both sides, which bounds attention memory (quadratic in length) at a small cost in fidelity.

    Args:
        path: local model directory.
        kind: the model type the config expects (``"wavlm"``, ``"hubert"``, …; the model's
            ``config.model_type``); a model of another type is refused. ``None`` accepts any.
        layer: ``None`` → ``last_hidden_state``; an int selects ``hidden_states[layer]`` (0 = input to the
            first transformer layer, ``num_hidden_layers`` = last; negative counts from the end).
        sr: model sample rate (must match the preprocessor's ``sampling_rate``).
        fps: output frame rate.
        device: torch device for the encoder.
        normalize: standardise the waveform (zero mean, unit variance over the whole clip) before the
            encoder: ``None`` follows the folder's ``preprocessor_config.json`` (``do_normalize``; raw
            waveform without one), ``True``/``False`` decide. WavLM-Large's own recipe normalises;
            DiffuseStyleGesture feeds it the raw waveform (``False``), which its weights were trained on.
    """

    local_paths: ClassVar[tuple[str, ...]] = ("path",)
    local_device: ClassVar[str | None] = "device"

    def __init__(
        self,
        path: str | os.PathLike | None,
        kind: str | None = None,
        layer: int | None = None,
        sr: int = 16000,
        fps: int = 30,
        device: str = "cpu",
        chunk_seconds: float = 30.0,
        context_seconds: float = 1.0,
        normalize: bool | None = None,
    ) -> None:
        if path is None:
            raise AudioError(
                f"WavLM/HuBERT features need a local model directory (features.path): {_DOWNLOAD_HINT}"
            )
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").is_file():
            raise AudioError(f"{self.path}: no model directory with a config.json here; {_DOWNLOAD_HINT}")
        transformers = import_transformers()
        import torch

        self._torch = torch
        try:
            # a local load needs no progress bar (it would clutter one-line CLI output)
            transformers.utils.logging.disable_progress_bar()
            self.model = transformers.AutoModel.from_pretrained(str(self.path), local_files_only=True)
        except Exception as error:
            raise AudioError(
                f"{self.path}: cannot load the model ({type(error).__name__}: {error})"
            ) from error
        self.model.eval().to(device)
        config = self.model.config
        try:
            preprocessor = transformers.AutoFeatureExtractor.from_pretrained(
                str(self.path), local_files_only=True
            )
        except (OSError, ValueError):
            preprocessor = None
            if normalize is None:
                log.warning(
                    "%s: no preprocessor_config.json; feeding the raw waveform (no normalisation)", self.path
                )
        if normalize is None:
            self.do_normalize = bool(getattr(preprocessor, "do_normalize", False))
        else:
            self.do_normalize = bool(normalize)
        model_sr = int(getattr(preprocessor, "sampling_rate", sr))
        if model_sr != sr:
            raise AudioError(f"{self.path}: the model expects {model_sr} Hz audio but sr={sr} was configured")
        num_layers = int(config.num_hidden_layers)
        if layer is not None and not -(num_layers + 1) <= layer <= num_layers:
            raise AudioError(f"{self.path}: layer={layer} is out of range for a {num_layers}-layer model")
        strides = tuple(getattr(config, "conv_stride", (5, 2, 2, 2, 2, 2, 2)))
        kernels = tuple(getattr(config, "conv_kernel", (10, 3, 3, 3, 3, 2, 2)))
        self.hop = math.prod(strides)
        # Receptive field of the conv stack: 1 + Σ (k_i − 1)·Π_{j<i} s_j (400 samples for wav2vec2 models).
        self.receptive_field = 1 + sum((k - 1) * math.prod(strides[:i]) for i, k in enumerate(kernels))
        self.name = str(config.model_type)
        if kind is not None and self.name != kind:
            raise AudioError(
                f"features={kind} but the model at {self.path} is a {self.name!r} model; "
                f"use features={self.name} or point features.path at a {kind} model"
            )
        self.layer = layer
        self.sr = sr
        self.fps = fps
        self.device = device
        self.hidden_size = int(config.hidden_size)
        self.chunk_seconds = chunk_seconds
        self.context_seconds = context_seconds

    @property
    def dim(self) -> int:
        return self.hidden_size

    def config(self) -> dict[str, Any]:
        """Parameters that determine the output. The model is identified by its config.json content and the
        names and sizes of its files (hashing gigabytes of weights on every run would be too slow)."""
        files = sorted(
            (p.name, p.stat().st_size)
            for p in self.path.iterdir()
            if p.is_file() and not p.name.startswith(".")
        )
        digest = hashlib.sha256((self.path / "config.json").read_bytes())
        digest.update(json.dumps(files).encode())
        return {
            "name": self.name,
            "model": digest.hexdigest(),
            "layer": self.layer,
            "normalize": self.do_normalize,
            "sr": self.sr,
            "fps": self.fps,
            "chunk_seconds": self.chunk_seconds,
            "context_seconds": self.context_seconds,
        }

    def __call__(self, wave: np.ndarray, sr: int, *, num_frames: int | None = None) -> np.ndarray:
        """Hidden states of ``wave [n]`` at rate ``sr`` → ``[T, dim]`` float32, ``T = 1 + ⌊n·fps/sr⌋``."""
        wave = _check_wave_array(wave, sr)
        if sr != self.sr:
            wave = librosa.resample(wave, orig_sr=sr, target_sr=self.sr)
        if self.do_normalize:
            # Wav2Vec2FeatureExtractor's zero-mean/unit-variance, applied once to the whole song.
            wave = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
        hidden = self._encode(wave)  # [T_model, H]
        out_frames = frame_count(wave.size, self.sr, self.fps)
        # Model frame i covers samples [i·hop, i·hop + receptive_field): centre (i·hop + rf/2) / sr.
        position = (np.arange(out_frames) * self.sr / self.fps - self.receptive_field / 2) / self.hop
        position = np.clip(position, 0.0, hidden.shape[0] - 1)
        lower = np.floor(position).astype(np.int64)
        upper = np.minimum(lower + 1, hidden.shape[0] - 1)
        weight = (position - lower)[:, None].astype(np.float32)
        features = (1.0 - weight) * hidden[lower] + weight * hidden[upper]
        return fit_length(features.astype(np.float32, copy=False), num_frames)

    def _encode(self, wave: np.ndarray) -> np.ndarray:
        """Encoder frames ``[T_model, H]`` of ``wave [n]`` (already at ``self.sr``), chunked when long."""
        if wave.size < self.receptive_field:
            wave = np.pad(wave, (0, self.receptive_field - wave.size))
        total = (wave.size - self.receptive_field) // self.hop + 1
        chunk = max(1, round(self.chunk_seconds * self.sr / self.hop)) * self.hop
        context = round(self.context_seconds * self.sr / self.hop) * self.hop
        if wave.size <= chunk + 2 * context:
            return self._run(wave)
        pieces = []
        for start in range(0, total * self.hop, chunk):
            seg_start = max(0, start - context)
            seg_end = min(wave.size, start + chunk + context + self.receptive_field - self.hop)
            hidden = self._run(wave[seg_start:seg_end])
            first = (start - seg_start) // self.hop
            pieces.append(hidden[first : first + chunk // self.hop])
        return np.concatenate(pieces)[:total]

    def _run(self, wave: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            inputs = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None].to(self.device)
            output = self.model(inputs, output_hidden_states=self.layer is not None)
            hidden = output.last_hidden_state if self.layer is None else output.hidden_states[self.layer]
        return hidden[0].float().cpu().numpy()


__all__ = [
    "TEMPO_ESTIMATION_SR",
    "AudioFeatureExtractor",
    "BaselineFeatures",
    "PretrainedAudioFeatures",
    "audio_slices",
    "check_windowing",
    "edge_window_count",
    "estimate_tempo",
    "extract_per_slice",
    "extract_per_song",
    "extract_slices",
    "file_params",
    "fit_length",
    "frame_count",
    "slice_features",
]
