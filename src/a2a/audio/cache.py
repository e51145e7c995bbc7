"""On-disk cache of audio features, keyed by audio content, extractor config and a2a version.

Layout: ``root/<key[:2]>/<key>.npy`` plus a sidecar ``<key>.json`` holding the array's shape, dtype and
sha256, the extractor config and the per-file parameters. Both are written atomically (temporary file +
``os.replace``), the array first, so a crash leaves at worst an array without sidecar. An entry is only
trusted if the sidecar parses and the array loads with the recorded shape, dtype and checksum; anything
else is logged, recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from a2a.audio.decode import describe_source
from a2a.audio.features import AudioFeatureExtractor, file_params
from a2a.errors import A2AError, AudioError
from a2a.version import __version__

log = logging.getLogger(__name__)

_HASH_BLOCK = 1 << 20


def audio_sha256(audio: str | os.PathLike | bytes) -> str:
    """sha256 of the encoded audio content (file bytes), so renamed or copied files share entries."""
    digest = hashlib.sha256()
    if isinstance(audio, bytes | bytearray | memoryview):
        digest.update(audio)
        return digest.hexdigest()
    if not isinstance(audio, str | os.PathLike):
        raise AudioError(
            f"the feature cache keys encoded audio (a path or bytes), not a {type(audio).__name__}"
        )
    path = Path(audio)
    try:
        with path.open("rb") as file:
            while block := file.read(_HASH_BLOCK):
                digest.update(block)
    except FileNotFoundError as error:
        raise AudioError(f"{path}: no such audio file") from error
    except OSError as error:
        raise AudioError(f"{path}: cannot read audio file ({error})") from error
    return digest.hexdigest()


def _stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class FeatureCache:
    """Feature arrays on disk under ``root``; see the module docstring for layout and integrity rules."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def key(
        self,
        audio: str | os.PathLike | bytes,
        extractor: AudioFeatureExtractor,
        params: dict[str, Any] | None = None,
    ) -> str:
        """Entry key: sha256 over audio content hash, extractor class + config, ``params`` and a2a version.

        ``params`` are per-file inputs beyond the audio (:func:`a2a.audio.file_params`, e.g. the AIST++
        tempo the data layer reads from the file name) — the same bytes may give other features with
        other inputs. ``None`` means the extractor's inputs all unset.
        """
        if params is None:
            params = file_params(extractor)
        return self._key(audio_sha256(audio), extractor, params)

    def _key(self, content_sha: str, extractor: AudioFeatureExtractor, params: dict[str, Any]) -> str:
        description = {
            "audio": content_sha,
            "extractor": f"{type(extractor).__module__}.{type(extractor).__qualname__}",
            "config": extractor.config(),
            "params": params,
            "a2a": __version__,
        }
        return hashlib.sha256(_stable_json(description).encode()).hexdigest()

    def entry_path(self, key: str) -> Path:
        """Where the array of ``key`` lives (its sidecar is the same path with ``.json``)."""
        return self.root / key[:2] / f"{key}.npy"

    def load(self, key: str) -> np.ndarray | None:
        """The cached array of ``key``, or ``None`` if absent or not trustworthy (logged as a warning)."""
        array_path = self.entry_path(key)
        meta_path = array_path.with_suffix(".json")
        if not array_path.exists() and not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            array = np.load(array_path, allow_pickle=False)
            problem = None
            if list(array.shape) != meta["shape"] or str(array.dtype) != meta["dtype"]:
                problem = (
                    f"array is {array.dtype}{list(array.shape)}, sidecar says {meta['dtype']}{meta['shape']}"
                )
            elif hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest() != meta["sha256"]:
                problem = "checksum mismatch"
        except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is not None:
            log.warning("feature cache entry %s is corrupt (%s); recomputing it", array_path, problem)
            return None
        return array

    def store(self, key: str, array: np.ndarray, info: dict[str, Any] | None = None) -> Path:
        """Write ``array`` under ``key`` atomically with its sidecar (``info``: extra sidecar fields)."""
        array = np.ascontiguousarray(array)
        array_path = self.entry_path(key)
        array_path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            **(info or {}),
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
            "a2a": __version__,
        }
        _atomic_write(array_path, lambda file: np.save(file, array, allow_pickle=False))
        _atomic_write(array_path.with_suffix(".json"), lambda file: file.write(_stable_json(meta).encode()))
        return array_path

    def get_or_compute(
        self,
        audio: str | os.PathLike | bytes,
        extractor: AudioFeatureExtractor,
        compute_fn: Callable[[], np.ndarray] | None = None,
        *,
        params: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """Cached features of ``audio``, computing and storing them on a miss or a corrupt entry.

        Args:
            audio: path or encoded bytes (its content is hashed).
            extractor: supplies the config part of the key (and the default computation).
            compute_fn: computes the array on a miss; default ``extractor.for_file(audio, **params)``.
            params: per-file inputs (:func:`a2a.audio.file_params`); default all unset.
        """
        if params is None:
            params = file_params(extractor)
        content_sha = audio_sha256(audio)
        key = self._key(content_sha, extractor, params)
        cached = self.load(key)
        if cached is not None:
            return cached
        array = compute_fn() if compute_fn is not None else extractor.for_file(audio, **params)
        self.store(
            key,
            array,
            {
                "audio_sha256": content_sha,
                "source": describe_source(audio),
                "config": extractor.config(),
                "params": params,
            },
        )
        return array


def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class ExtractedFeatures(dict[Path, np.ndarray]):
    """``extract_many``'s result: path → features, in input order; ``failed`` maps skipped paths to errors."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: dict[Path, str] = {}


def _extract_one(
    path: Path, extractor: AudioFeatureExtractor, cache_root: Path | None, params: dict[str, Any]
) -> tuple[np.ndarray | None, str | None]:
    """Worker body (top level, so spawned processes can unpickle it): (features, None) | (None, error)."""
    try:
        if cache_root is None:
            return extractor.for_file(path, **params), None
        return FeatureCache(cache_root).get_or_compute(path, extractor, params=params), None
    except Exception as error:  # any failure of one file is reported per file, not as a pool crash
        message = str(error) if isinstance(error, A2AError) else f"{type(error).__name__}: {error}"
        return None, message


def extract_many(
    paths: Iterable[str | os.PathLike],
    extractor: AudioFeatureExtractor,
    cache: FeatureCache | None = None,
    *,
    workers: int = 1,
    progress: bool = True,
    skip_bad: bool = False,
    params: Mapping[Path, dict[str, Any]] | None = None,
) -> ExtractedFeatures:
    """Features for many audio files, optionally cached, in ``workers`` spawned processes.

    Args:
        paths: audio files (duplicates are extracted once).
        extractor: must be picklable for ``workers > 1`` (BaselineFeatures is; a loaded WavLM is heavy to
            ship per process, so use ``workers=1`` with a GPU model).
        cache: read and fill this cache; ``None`` always computes.
        workers: processes (``spawn`` context, safe with torch/CUDA in the parent); 1 runs inline.
        progress: show a tqdm bar.
        skip_bad: record failing files in ``result.failed`` and go on; otherwise raise ``AudioError`` naming
            the first failing file.
        params: per-file inputs by path (:func:`a2a.audio.file_params`); missing paths get none.

    Returns:
        ``ExtractedFeatures``: ``{Path: array [T, D]}`` in input order, plus ``.failed``.
    """
    unique = list(dict.fromkeys(Path(p) for p in paths))
    per_file = {Path(p): dict(v) for p, v in (params or {}).items()}

    def inputs(path: Path) -> dict[str, Any]:
        return per_file.get(path) or file_params(extractor)

    cache_root = cache.root if cache is not None else None
    outcomes: dict[Path, tuple[np.ndarray | None, str | None]] = {}

    def record(path: Path, outcome: tuple[np.ndarray | None, str | None]) -> None:
        error = outcome[1]
        if error is not None:
            message = error if str(path) in error else f"{path}: {error}"
            if not skip_bad:
                raise AudioError(message)
            log.warning("skipping %s", message)
            outcome = (None, message)
        outcomes[path] = outcome

    with tqdm(total=len(unique), desc="audio features", unit="file", disable=not progress) as bar:
        if workers <= 1 or len(unique) <= 1:
            for path in unique:
                record(path, _extract_one(path, extractor, cache_root, inputs(path)))
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(unique)), mp_context=context) as pool:
                futures: dict[Future, Path] = {
                    pool.submit(_extract_one, path, extractor, cache_root, inputs(path)): path
                    for path in unique
                }
                try:
                    for future in as_completed(futures):
                        record(futures[future], future.result())
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise

    result = ExtractedFeatures()
    for path in unique:
        features, error = outcomes[path]
        if error is not None:
            result.failed[path] = error
        else:
            assert features is not None
            result[path] = features
    if result.failed:
        log.warning("%d of %d audio files failed and were skipped", len(result.failed), len(unique))
    return result
