"""Jukebox features as EDGE uses them: OpenAI Jukebox's 5B top-level prior, layer 66, ``[T, 4800]`` at 30 fps.

EDGE (``data/audio_extraction/jukebox_features.py``) runs jukemirlib's recipe on every 5-s slice of music:

1. the slice at 44.1 kHz, mono, divided by its peak ``|sample|``;
2. the VQ-VAE's top-level encoder (hop 128: 44100 / 128 = 344.53 tokens/s) and its nearest codebook entries,
   ``z [D]`` (1722 tokens for 5 s);
3. the prior's input: token embeddings shifted right by one, position 0 holding the label embedding of artist
   "unknown" and genre "unknown"; plus the learned position embedding and the timing embedding of a 62-s
   song read from offset 0 (jukemirlib's conditioning: the prior was trained on songs of at least 60 s);
4. the first 66 of the prior's 72 transformer blocks (width 4800, 8 heads, causal attention alternating
   within 64-token blocks, across blocks and onto the previous block) → ``[D, 4800]``;
5. FFT resampling from 344.53 Hz to 30 fps (``scipy.signal.resample``, which jukemirlib calls through
   ``librosa.resample(res_type="fft")``) → 150 frames for a 5-s slice.

The network is rebuilt in :mod:`a2a.audio.jukebox_model` from those facts (``jukebox-infer``, the
maintained PyPI port, builds all 72 blocks before loading, asserts CUDA tensors in its label embedding and
keeps attention caches as module state, so it does not fit a CPU-tested, load-what-you-use extractor).
Only what the recipe reads is loaded: the
VQ-VAE's top encoder and codebook, the prior's embeddings and its first ``layer`` blocks (9.4 of the 10.3 GB),
in fp16 on CUDA and fp32 on CPU. The VQ-VAE and the embeddings stay fp32 (as in Jukebox's fp16 inference,
which only halves the transformer's linear layers; layer norms and softmax run in fp32).

Weights are read from a local folder (``features.path``); nothing is ever downloaded::

    wget -P DIR https://openaipublic.azureedge.net/jukebox/models/5b/vqvae.pth.tar          # ≈ 7.5 MB
    wget -P DIR https://openaipublic.azureedge.net/jukebox/models/5b/prior_level_2.pth.tar  # 10,288,727,721 B

Both are ``torch.save`` dicts whose ``model`` entry is the state dict; they are read with
``weights_only=True``, so nothing in them runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import librosa
import numpy as np
import scipy.signal
import torch
from torch import nn

from a2a.audio.features import AudioFeatureExtractor, _check_wave_array, fit_length, frame_count
from a2a.audio.jukebox_model import (
    JUKEBOX_5B,
    JukeboxArchitecture,
    TensorSpecs,
    TopEncoder,
    TopPrior,
    in_compute_dtype,
    prior_tensors,
    vqvae_tensors,
)
from a2a.errors import AudioError

log = logging.getLogger(__name__)

VQVAE_FILE = "vqvae.pth.tar"
PRIOR_FILE = "prior_level_2.pth.tar"
RELEASE_URL = "https://openaipublic.azureedge.net/jukebox/models/5b/"
PRIOR_RELEASE_BYTES = 10_288_727_721  # the official 5b/prior_level_2.pth.tar
EDGE_LAYER = 66
EDGE_SLICE_SECONDS = 5.0
_DOWNLOAD = f"wget -P DIR {RELEASE_URL}{VQVAE_FILE} {RELEASE_URL}{PRIOR_FILE}"
_HASH_SPAN = 1 << 20  # bytes hashed at each end of a weight file for the cache identity
_ACTIVATION_RESERVE = 512 << 20  # allocator slack, VQ-VAE and conditioning on the GPU


# ---------------------------------------------------------------------------------------------------------
# Weight files


def _numpy_scalar_globals() -> list[Any]:
    """What the weights-only unpickler needs for numpy scalars in a checkpoint's ``hps`` (Jukebox computes
    some hyper-parameters with numpy, e.g. sample lengths from ``np.prod`` of the strides)."""
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    names = ("Int64DType", "Int32DType", "Float64DType", "Float32DType", "BoolDType")
    dtypes = getattr(np, "dtypes", None)
    return [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        *(getattr(dtypes, name) for name in names if dtypes is not None and hasattr(dtypes, name)),
    ]


def _describe_failure(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` failed, without torch's advice to retry unsafely."""
    text = str(exc)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return f"its pickle names {named.group(1)}, which is refused; nothing from the file was run"
    refused = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", text, re.DOTALL)
    if refused:
        return f"its pickle is not a plain checkpoint: {refused.group(1)}; nothing from the file was run"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"


def _read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """The ``model`` state dict of a Jukebox ``torch.save`` file (legacy or zip format), weights only."""
    is_zip = zipfile.is_zipfile(path)
    try:
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except MemoryError:
        raise AudioError(
            f"{path}: not enough memory to read it ({path.stat().st_size / 1e9:.1f} GB must fit in RAM)"
        ) from None
    except Exception as exc:  # truncated, corrupt or foreign files fail in many ways inside torch.load
        raise AudioError(
            f"{path}: not a readable {what} ({_describe_failure(exc)}); download it again: "
            f"{RELEASE_URL}{path.name}"
        ) from None
    model = checkpoint.get("model") if isinstance(checkpoint, dict) else None
    if not isinstance(model, Mapping):
        raise AudioError(f"{path}: holds no 'model' state dict, so it is not a {what}")
    return {name.removeprefix("module."): tensor for name, tensor in model.items()}


def _min_file_bytes(specs: TensorSpecs) -> int:
    """A file holding these tensors has at least 2 bytes per number (fp16 is the narrowest a load accepts)."""
    return sum(2 * math.prod(shape) for shape, _ in specs.values())


def _file_identity(path: Path) -> list[Any]:
    """Name, size and hashes of the first and last MiB: tells weight files apart without reading gigabytes."""
    size = path.stat().st_size
    with path.open("rb") as file:
        head = hashlib.sha256(file.read(_HASH_SPAN)).hexdigest()
        file.seek(max(0, size - _HASH_SPAN))
        tail = hashlib.sha256(file.read(_HASH_SPAN)).hexdigest()
    return [path.name, size, head, tail]


def _check_tensors(
    path: Path,
    tensors: Mapping[str, torch.Tensor],
    specs: TensorSpecs,
    hint: str,
) -> None:
    for name, (shape, _) in specs.items():
        tensor = tensors.get(name)
        if tensor is None:
            raise AudioError(f"{path}: has no {name}: {hint}")
        if tuple(tensor.shape) != shape or not tensor.is_floating_point():
            raise AudioError(
                f"{path}: {name} is {tensor.dtype} {list(tensor.shape)}, expected floating point "
                f"{list(shape)}: {hint}"
            )


def _describe_prior(tensors: Mapping[str, torch.Tensor]) -> str:
    """What kind of top-level prior a state dict holds (for messages)."""
    layers = {
        int(m.group(1))
        for name in tensors
        if (m := re.match(r"prior\.transformer\._attn_mods\.(\d+)\.", name))
    }
    embedding = tensors.get("prior.x_emb.weight")
    width = (
        f"width {embedding.shape[-1]}" if embedding is not None and embedding.dim() == 2 else "unknown width"
    )
    lyrics = " with a lyrics encoder" if any(name.startswith("prime_prior.") for name in tensors) else ""
    return f"a prior of {len(layers)} blocks, {width}{lyrics}"


# ---------------------------------------------------------------------------------------------------------
# The extractor


class JukeboxFeatures(AudioFeatureExtractor):
    """Jukebox layer-``layer`` activations at ``fps`` (EDGE's 4800-d features) from local weight files.

    Two ways to call it:

    * ``extractor(wave, sr, num_frames=None) → [T, 4800]``, a whole song (per song, ``T = 1 + ⌊n·fps/sr⌋``):
      the song is peak-normalised once and run at once if it fits the prior's context (23.78 s for the 5B
      model), else in consecutive chunks of the longest length that fits and ends on a whole frame (8085
      tokens = 23.47 s = 704 frames), each chunk on its own;
    * ``extractor.slices(pieces, sr, num_frames=None) → [n, F, 4800]``, EDGE's way: every slice (e.g. 5 s
      cut with a 2.5-s or 0.5-s stride) peak-normalised and run on its own, batched; 5-s slices give
      ``F = 150``, as EDGE's features (:meth:`frames_per_slice` gives ``F`` for any length). This is what
      ``features.windowing=per_slice`` uses (:func:`a2a.audio.extract_slices`).

    Args:
        path: folder with ``vqvae.pth.tar`` and ``prior_level_2.pth.tar`` of the 5B model (module docstring).
        layer: how many prior blocks to run (EDGE: 66); only those are loaded.
        fps: output frame rate.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        dtype: the transformer's dtype, ``"auto"`` (fp16 on CUDA, fp32 on CPU), ``"float32"``,
            ``"float16"`` or ``"bfloat16"``; EDGE's own features came from fp32 activations.
        batch_size: 5-s slices per forward pass (longer inputs go fewer at a time, same token count).
        architecture: model sizes, default :data:`JUKEBOX_5B` (tests use tiny ones).

    Everything that can be checked is checked before the prior is read: the files exist, the prior file is
    big enough for the blocks asked for, and a CUDA device has the memory (``AudioError`` naming the file
    or the need). Loading then takes the file into RAM once (10.3 GB for the 5B prior in its legacy
    format; zip-format files are memory-mapped) and keeps only the needed tensors on ``device``.
    """

    name: ClassVar[str] = "jukebox"
    local_paths: ClassVar[tuple[str, ...]] = ("path",)
    local_device: ClassVar[str | None] = "device"

    def __init__(
        self,
        path: str | os.PathLike | None,
        layer: int = EDGE_LAYER,
        fps: int = 30,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        architecture: JukeboxArchitecture | Mapping[str, Any] | None = None,
    ) -> None:
        arch = (
            architecture
            if isinstance(architecture, JukeboxArchitecture)
            else JukeboxArchitecture(**(architecture or {}))
        )
        self.architecture = arch
        self.sr = arch.sr
        self.fps = int(fps)
        self.layer = int(layer)
        self.batch_size = int(batch_size)
        if not 1 <= self.layer <= arch.depth:
            raise AudioError(f"Jukebox features: layer={layer} is out of range 1..{arch.depth}")
        if self.batch_size < 1 or self.fps < 1:
            raise AudioError(
                f"Jukebox features: batch_size ({batch_size}) and fps ({fps}) must be at least 1"
            )
        self.device = self._resolve_device(device)
        self.dtype = self._resolve_dtype(dtype, self.device)
        self.path = self._check_folder(path)
        vqvae_path, prior_path = self.path / VQVAE_FILE, self.path / PRIOR_FILE
        vqvae_specs = vqvae_tensors(arch, top_only=True)
        prior_specs = prior_tensors(arch, self.layer)
        self._check_file_size(vqvae_path, vqvae_specs, "the VQ-VAE's top encoder")
        self._check_file_size(prior_path, prior_specs, f"the top-level prior's blocks 1..{self.layer}")
        # Tokens per forward pass: batch_size 5-s slices.
        self._batch_tokens = self.batch_size * arch.tokens(int(EDGE_SLICE_SECONDS * arch.sr))
        self._check_device_memory(prior_specs)
        self._identity = [_file_identity(vqvae_path), _file_identity(prior_path)]

        self.encoder = self._load(
            lambda: TopEncoder(arch), vqvae_path, vqvae_specs, "Jukebox VQ-VAE (5b/vqvae.pth.tar)"
        )
        self.prior = self._load(
            lambda: TopPrior(arch, self.layer),
            prior_path,
            prior_specs,
            "Jukebox 5B top-level prior (5b/prior_level_2.pth.tar)",
        )
        self._chunk_tokens = self._song_chunk_tokens()

    # -- construction helpers ------------------------------------------------------------------------

    @staticmethod
    def _resolve_device(device: str) -> torch.device:
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except RuntimeError as exc:
            raise AudioError(f"Jukebox features: device={device!r} is not a torch device ({exc})") from None
        if resolved.type == "cuda" and not torch.cuda.is_available():
            raise AudioError(
                f"Jukebox features: device={device!r} but CUDA is not available here; use device=cpu"
            )
        if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
            raise AudioError(
                f"Jukebox features: device={device!r} but this machine has {torch.cuda.device_count()} GPU(s)"
            )
        return resolved

    @staticmethod
    def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
        if dtype == "auto":
            return torch.float16 if device.type == "cuda" else torch.float32
        choices = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
        if dtype not in choices:
            raise AudioError(f"Jukebox features: dtype={dtype!r}; choose auto, {', '.join(choices)}")
        return choices[dtype]

    @staticmethod
    def _check_folder(path: str | os.PathLike | None) -> Path:
        if path is None:
            raise AudioError(
                "Jukebox features need the 5B model's weights in a local folder (features.path): "
                f"{_DOWNLOAD} (≈ 10.3 GB), then features.path=DIR"
            )
        folder = Path(path).expanduser()
        missing = [name for name in (VQVAE_FILE, PRIOR_FILE) if not (folder / name).is_file()]
        if missing:
            raise AudioError(
                f"{folder}: no Jukebox weights here (missing {', '.join(missing)}); download them once with "
                f"{_DOWNLOAD} (≈ 10.3 GB) and pass features.path=DIR"
            )
        return folder

    def _check_file_size(self, path: Path, specs: TensorSpecs, what: str) -> None:
        size = path.stat().st_size
        need = _min_file_bytes(specs)
        if size < need:
            release = (
                f"; the official {PRIOR_FILE} is {PRIOR_RELEASE_BYTES:,} bytes"
                if path.name == PRIOR_FILE and self.architecture == JUKEBOX_5B
                else ""
            )
            other = ", or another model's prior (1b_lyrics' is ≈ 1.8 GB)" if path.name == PRIOR_FILE else ""
            raise AudioError(
                f"{path}: {size:,} bytes cannot hold {what} (at least {need:,} bytes{release}): an "
                f"incomplete download{other}? Download {RELEASE_URL}{path.name}"
            )

    def _weight_bytes(self, specs: TensorSpecs) -> int:
        return sum(
            math.prod(shape) * (self.dtype.itemsize if in_compute_dtype(name) else 4)
            for name, (shape, _) in specs.items()
        )

    def _check_device_memory(self, prior_specs: TensorSpecs) -> None:
        """Refuse a CUDA device whose free memory cannot hold the blocks and one batch (estimate)."""
        if self.device.type != "cuda":
            return
        # Live per token and channel inside a block: ~8 activations in the compute dtype, 2 in fp32.
        activations = self._batch_tokens * self.architecture.width * (8 * self.dtype.itemsize + 8)
        need = self._weight_bytes(prior_specs) + activations + _ACTIVATION_RESERVE
        free, total = torch.cuda.mem_get_info(self.device)
        if free < need:
            raise AudioError(
                f"Jukebox features on {self.device} need about {need / 2**30:.1f} GiB of GPU memory "
                f"(blocks 1..{self.layer} in {str(self.dtype).removeprefix('torch.')}, batch_size="
                f"{self.batch_size}); the GPU has {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB: "
                "free it, lower features.extractor.batch_size or use features.extractor.device=cpu"
            )

    def _load(
        self,
        build: Callable[[], nn.Module],
        path: Path,
        specs: TensorSpecs,
        what: str,
    ) -> nn.Module:
        """Read ``path`` and move the tensors ``specs`` names onto the device, into the module ``build()``
        makes without allocating (on the meta device)."""
        tensors = _read_state_dict(path, what)
        if path.name == PRIOR_FILE:
            if any(name.startswith("prime_prior.") for name in tensors):
                raise AudioError(
                    f"{path}: holds {_describe_prior(tensors)}, a lyrics-conditioned prior (5b_lyrics or "
                    f"1b_lyrics); EDGE's features come from the 5b prior: {RELEASE_URL}{PRIOR_FILE}"
                )
            hint = (
                f"this is {_describe_prior(tensors)}, not the prior EDGE's features come from "
                f"({RELEASE_URL}{PRIOR_FILE})"
            )
        else:
            hint = f"not the VQ-VAE of Jukebox's 5b model ({RELEASE_URL}{VQVAE_FILE})"
        _check_tensors(path, tensors, specs, hint)
        state = {}
        for name in specs:
            dtype = self.dtype if in_compute_dtype(name) else torch.float32
            state[name] = tensors.pop(name).to(device=self.device, dtype=dtype)
        del tensors  # the rest of the file (later blocks, output head, other levels) is freed here
        with torch.device("meta"):
            module = build()
        module.load_state_dict(state, strict=True, assign=True)
        log.info("%s: %d tensors loaded to %s", path, len(state), self.device)
        return module.to(self.device).eval().requires_grad_(False)

    def _song_chunk_tokens(self) -> int:
        """Tokens per per-song chunk: the most that fit the context and end on a whole frame."""
        arch = self.architecture
        step = arch.sr // math.gcd(arch.sr, self.fps * arch.hop_length)  # tokens per whole number of frames
        return (arch.n_ctx // step) * step or arch.n_ctx

    # -- public API -----------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.architecture.width

    def config(self) -> dict[str, Any]:
        """Parameters that determine the output (cache key): the weight files by name, size and the hashes
        of their first and last MiB, the layer, rate, dtype and architecture."""
        weights = hashlib.sha256(json.dumps(self._identity).encode()).hexdigest()
        return {
            "name": self.name,
            "weights": weights,
            "layer": self.layer,
            "fps": self.fps,
            "dtype": str(self.dtype).removeprefix("torch."),
            "architecture": asdict(self.architecture),
        }

    def frames_per_slice(self, num_samples: int, sr: int) -> int:
        """Frames :meth:`slices` returns for slices of ``num_samples`` at ``sr`` (150 for 5 s)."""
        # librosa.resample's output length
        resampled = num_samples if sr == self.sr else int(np.ceil(num_samples * (float(self.sr) / sr)))
        return self._frames(self.architecture.tokens(resampled))

    def __call__(self, wave: np.ndarray, sr: int, *, num_frames: int | None = None) -> np.ndarray:
        """Per-song features of ``wave [n]`` at rate ``sr`` → ``[T, dim]`` float32, ``T = 1 + ⌊n'·fps/44100⌋``
        for the length ``n'`` at 44.1 kHz (or ``num_frames``: truncated, or padded with the last frame)."""
        audio = _peak_normalised(self._at_model_rate(_check_wave_array(wave, sr), sr))
        hop = self.architecture.hop_length
        if audio.size < hop:
            raise AudioError(
                f"<array>: {audio.size} samples at {self.sr} Hz are too few for Jukebox features "
                f"(at least {hop})"
            )
        # The whole song when it fits the context, else chunks that end on whole frames.
        fits = self.architecture.tokens(audio.size) <= self.architecture.n_ctx
        chunk = audio.size if fits else self._chunk_tokens * hop
        pieces = [audio[start : start + chunk] for start in range(0, audio.size - hop + 1, chunk)]
        features = np.concatenate(self._extract_pieces(pieces), axis=0)
        total = frame_count(audio.size, self.sr, self.fps) if num_frames is None else num_frames
        return fit_length(features, total)

    def slices(
        self, pieces: Sequence[np.ndarray], sr: int, num_frames: int | None = None, **params: Any
    ) -> np.ndarray:
        """EDGE's per-slice features: each audio piece ``[L_k]`` (or the rows of ``[n, L]``) peak-normalised
        and run on its own, pieces of one length batched together → ``[n, F, dim]`` float32.

        ``F`` is ``num_frames`` (each piece's frames truncated, or padded with its last frame), or, when
        ``None``, the pieces' common :meth:`frames_per_slice` (150 for 5 s). This is the
        :meth:`AudioFeatureExtractor.slices` that :func:`a2a.audio.extract_slices` calls for
        ``features.windowing=per_slice``; ``params`` are accepted for that interface and unused.
        """
        arrays = [_check_wave_array(piece, sr) for piece in pieces]
        if not arrays:
            raise AudioError("Jukebox features: no slices given")
        prepared = [_peak_normalised(self._at_model_rate(a, sr)) for a in arrays]
        context = self.architecture.n_ctx
        for k, piece in enumerate(prepared):
            tokens = self.architecture.tokens(piece.size)
            if not 1 <= tokens <= context:
                raise AudioError(
                    f"Jukebox features: slice {k} ({piece.size / self.sr:.3f} s) gives {tokens} tokens; the "
                    f"prior takes 1..{context} ({context * self.architecture.hop_length / self.sr:.2f} s)"
                )
        features = self._extract_pieces(prepared)
        if num_frames is not None:
            return np.stack([fit_length(f, num_frames) for f in features])
        counts = sorted({f.shape[0] for f in features})
        if len(counts) > 1:
            raise AudioError(
                f"Jukebox features: slices of different lengths give {counts} frames; pass num_frames"
            )
        return np.stack(features)

    # -- extraction -----------------------------------------------------------------------------------

    def _at_model_rate(self, wave: np.ndarray, sr: int) -> np.ndarray:
        if sr == self.sr:
            return wave
        return librosa.resample(wave, orig_sr=sr, target_sr=self.sr).astype(np.float32, copy=False)

    def _frames(self, tokens: int) -> int:
        """Frames from ``tokens`` tokens: ``⌈tokens·fps·hop/sr⌉``, librosa's resampling length (exactly)."""
        return -(-tokens * self.fps * self.architecture.hop_length // self.sr)

    def _extract_pieces(self, pieces: list[np.ndarray]) -> list[np.ndarray]:
        """Features ``[F_i, dim]`` of each normalised 44.1-kHz piece, run in batches of equal length."""
        out: list[np.ndarray | None] = [None] * len(pieces)
        for batch in self._batches([p.size for p in pieces]):
            audio = np.stack([pieces[i] for i in batch])
            for i, features in zip(batch, self._run(audio), strict=True):
                out[i] = features
        return out  # type: ignore[return-value]

    def _batches(self, lengths: list[int]) -> Iterator[list[int]]:
        groups: dict[int, list[int]] = {}
        for i, length in enumerate(lengths):
            groups.setdefault(length, []).append(i)
        for length, members in groups.items():
            size = max(1, self._batch_tokens // max(1, self.architecture.tokens(length)))
            for start in range(0, len(members), size):
                yield members[start : start + size]

    def _run(self, audio: np.ndarray) -> np.ndarray:
        """``audio [B, n]`` (44.1 kHz, normalised) → features ``[B, F, dim]`` float32."""
        try:
            with torch.inference_mode():
                z = self.encoder(torch.from_numpy(np.ascontiguousarray(audio)).to(self.device))
                activations = self.prior(z, self.dtype).float().cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            raise AudioError(
                f"Jukebox features: out of GPU memory on {self.device} for {audio.shape[0]} piece(s) of "
                f"{audio.shape[1] / self.sr:.1f} s; lower features.extractor.batch_size "
                f"(now {self.batch_size})"
            ) from None
        return resample_tokens(activations, self._frames(activations.shape[1]))


def resample_tokens(activations: np.ndarray, frames: int) -> np.ndarray:
    """FFT-resample ``activations [B, D, C]`` along time to ``[B, frames, C]`` float32: jukemirlib's
    ``librosa.resample(res_type="fft")``, i.e. ``scipy.signal.resample`` (the signal taken as periodic)."""
    return scipy.signal.resample(activations, frames, axis=1).astype(np.float32, copy=False)


def _peak_normalised(audio: np.ndarray) -> np.ndarray:
    """``audio / max|audio|`` (unchanged when silent), as jukemirlib's ``load_audio``."""
    peak = float(np.abs(audio).max())
    return audio / np.float32(peak) if peak > 0 else audio


def save_random_jukebox(folder: str | os.PathLike, architecture: JukeboxArchitecture, seed: int = 0) -> Path:
    """Write a randomly initialised Jukebox of ``architecture`` to ``folder`` as the release lays it out:
    ``vqvae.pth.tar`` and ``prior_level_2.pth.tar`` in torch's legacy format, each ``{"hps", "model",
    "opt", "step"}`` with the release's tensor names and dtypes (every level's encoder and codebook, every
    prior block and the output head). For tests and benchmarks; deterministic in ``seed``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)

    def draw(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        # Unit-variance signals through every layer, so tokens and activations depend on the audio.
        noise = torch.randn(shape, generator=generator)
        if name.endswith(("ln_0.weight", "ln_1.weight")):
            return 1.0 + 0.02 * noise
        if name.endswith((".bias", ".b")):
            return 0.02 * noise
        if name.endswith(".w"):  # Conv1D [n_in, n_out]
            return noise / math.sqrt(shape[0])
        if name.endswith(".weight") and len(shape) == 3:  # Conv1d [out, in, kernel]
            return noise / math.sqrt(shape[1] * shape[2])
        return noise  # embeddings and codebooks

    # Jukebox computes some hyper-parameters with numpy; its pickled hps may hold numpy scalars.
    hps = {"sr": architecture.sr, "sample_length": np.int64(architecture.n_ctx * architecture.hop_length)}
    for name, specs in ((VQVAE_FILE, vqvae_tensors(architecture)), (PRIOR_FILE, prior_tensors(architecture))):
        model = {key: draw(key, shape).to(dtype) for key, (shape, dtype) in specs.items()}
        payload = {"hps": hps, "model": model, "opt": None, "step": 0}
        torch.save(payload, folder / name, _use_new_zipfile_serialization=False)
    return folder


__all__ = [
    "EDGE_LAYER",
    "PRIOR_FILE",
    "PRIOR_RELEASE_BYTES",
    "RELEASE_URL",
    "VQVAE_FILE",
    "JukeboxFeatures",
    "resample_tokens",
    "save_random_jukebox",
]
