"""The a2a checkpoint format: what a file holds, how it is read, validated, migrated and written.

A checkpoint is a ``torch.save``d dict that ``torch.load(weights_only=True)`` reads (tensors and plain
containers only; no pickled classes):

- ``state_dict``: ``ema_denoiser.*`` (the weights that generate) and, in training checkpoints,
  ``denoiser.*`` plus Lightning's loop and optimizer state;
- ``hyper_parameters``: the model family's resolved configs (``denoiser``, ``schedule``,
  ``representation``, ``sampler``, ``longform``, ``loss``, ``optimizer``, ``features``, ``conditions``,
  ``cond_drop``, ``guidance_weight``, ``fps``, ``window``, …) — the training module's keyword arguments;
- ``a2a``: ``format`` (:data:`FORMAT`), ``version`` (the a2a that wrote it), ``kind`` (``diffusion`` for
  trained models, ``edge-converted`` for imported weights), ``normalizer`` (plain tensors with a
  ``kind``), ``representation`` (its plain description), ``fps``, ``window``.

History: format 1 (a2a 0.1, EDGE only) had ``cond_drop_prob`` instead of per-key ``cond_drop``, a loss
without ``_target_``, no ``longform``, no ``conditions``, no feature ``windowing``, and named feature
extractors through ``a2a.audio.build_features``; :func:`migrate` turns it into format 2 in memory. A single
window generates exactly as before; longer audio gets EDGE's seamless long form (see ``EDGE_LONGFORM``),
and converted EDGE weights get EDGE's per-slice features.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import torch

from a2a.audio.features import WINDOWINGS
from a2a.checkpoint.configs import check_config, check_plain
from a2a.errors import CheckpointError
from a2a.version import __version__

FORMAT = 2
READABLE_FORMATS = (1, 2)
EMA_PREFIX = "ema_denoiser."
TRAINED_KIND = "diffusion"

# hyper-parameter → the place its config builds at (see a2a.checkpoint.configs.PLACES)
BUILT_HPARAMS = {
    "denoiser": "denoiser",
    "schedule": "schedule",
    "representation": "representation",
    "sampler": "sampler",
    "longform": "longform",
    "loss": "loss",
    "optimizer": "optimizer",
    "network": "classifier",
}
REQUIRED_HPARAMS = (
    "denoiser",
    "schedule",
    "representation",
    "sampler",
    "longform",
    "features",
    "fps",
    "window",
)
# Frame rates and windows a model can sensibly have; a stored value outside is refused before generating
# allocates for it (a window's activations grow with its square in attention).
MAX_FPS = 240.0
MAX_WINDOW = 4096
# a condition classifier (model=genre_classifier) is not a generator
CLASSIFIER_KIND = "classifier"
CLASSIFIER_HPARAMS = ("network", "target", "features", "fps", "window")

# a2a 0.1 copied the overlaps on the final x̂0 too, which left a seam at every window boundary; migrated
# checkpoints get EDGE's long form (one window generates exactly as before; pass
# longform={..., constrain_final: true} at generation for 0.1's multi-window output).
EDGE_LONGFORM = {
    "_target_": "a2a.diffusion.OverlapStitch",
    "hop_fraction": 0.5,
    "ramp_guidance": True,
    "constrain_final": False,
}


def lightning_version() -> str:
    """The installed Lightning's version (Lightning reads it from a checkpoint to pick migrations)."""
    return package_version("pytorch-lightning")


def metadata(
    *,
    kind: str,
    normalizer: Mapping[str, Any],
    representation: Mapping[str, Any],
    fps: float,
    window: int,
    **extra: Any,
) -> dict[str, Any]:
    """The ``a2a`` block of a checkpoint written by this version."""
    return {
        "format": FORMAT,
        "version": __version__,
        "kind": kind,
        "normalizer": dict(normalizer),
        "representation": dict(representation),
        "fps": float(fps),
        "window": int(window),
        **extra,
    }


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load an a2a checkpoint with ``weights_only=True``, migrate it to :data:`FORMAT` and validate it.

    Raises:
        CheckpointError: missing or unreadable file, not an a2a checkpoint, a format this a2a cannot read,
            missing entries, or stored configs that are not safe to build (naming the key).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise CheckpointError(f"{where}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle/EOF errors all mean "not a readable checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"{where}: not a readable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("a2a"), dict):
        raise CheckpointError(
            f"{where}: not an a2a checkpoint (no 'a2a' block); convert EDGE weights with `a2a convert-edge`"
        )
    ckpt = migrate(ckpt, where)
    validate(ckpt, where)
    return ckpt


def migrate(ckpt: dict[str, Any], where: str) -> dict[str, Any]:
    """``ckpt`` in the current format (a migrated copy for older formats; unchanged if current)."""
    meta = ckpt.get("a2a") or {}
    fmt = meta.get("format")
    if fmt == FORMAT:
        return ckpt
    if fmt == 1:
        return _format_1_to_2(ckpt)
    raise CheckpointError(
        f"{where}: checkpoint format {fmt!r} (written by a2a {meta.get('version', '?')}) is not one this "
        f"a2a {__version__} reads (formats {', '.join(map(str, READABLE_FORMATS))}); "
        + ("upgrade a2a" if isinstance(fmt, int) and fmt > FORMAT else "the file is not a valid checkpoint")
    )


def _format_1_to_2(ckpt: dict[str, Any]) -> dict[str, Any]:
    out = dict(ckpt)
    hparams = copy.deepcopy(dict(ckpt.get("hyper_parameters") or {}))
    if "cond_drop_prob" in hparams:
        hparams["cond_drop"] = {"audio": hparams.pop("cond_drop_prob")}
    loss = hparams.get("loss")
    if isinstance(loss, dict) and "_target_" not in loss:
        hparams["loss"] = {"_target_": "a2a.losses.EdgeMotionLoss", **loss}
    hparams.setdefault("longform", dict(EDGE_LONGFORM))
    hparams.setdefault("conditions", ["audio"])
    features = hparams.get("features")
    extractor = features.get("extractor") if isinstance(features, dict) else None
    if isinstance(extractor, dict) and extractor.get("_target_") == "a2a.audio.build_features":
        extractor = dict(extractor)
        name = extractor.pop("name", None)
        if name == "baseline":
            extractor["_target_"] = "a2a.audio.BaselineFeatures"
        else:
            extractor.update({"_target_": "a2a.audio.PretrainedAudioFeatures", "kind": name})
        hparams["features"] = {**features, "extractor": extractor}
    if isinstance(hparams.get("features"), dict) and "windowing" not in hparams["features"]:
        # trained models extracted once per song; EDGE's released weights saw each 5-s slice on its own
        converted = (ckpt.get("a2a") or {}).get("kind") == "edge-converted"
        hparams["features"] = {**hparams["features"], "windowing": "per_slice" if converted else "per_song"}
    out["hyper_parameters"] = hparams
    meta = dict(ckpt["a2a"])
    meta["format"] = FORMAT
    meta["migrated_from"] = 1
    normalizer = meta.get("normalizer")
    if isinstance(normalizer, dict) and "kind" not in normalizer:
        meta["normalizer"] = {"kind": "minmax", **normalizer}
    out["a2a"] = meta
    return out


def validate(ckpt: Mapping[str, Any], where: str) -> None:
    """Check entries and stored configs of a current-format checkpoint (see :mod:`a2a.checkpoint.configs`)."""
    meta = ckpt["a2a"]
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict):
        hparams = {}
    required = CLASSIFIER_HPARAMS if meta.get("kind") == CLASSIFIER_KIND else REQUIRED_HPARAMS
    missing = [k for k in required if k not in hparams]
    missing += [f"a2a.{k}" for k in ("normalizer",) if k not in meta]
    if not isinstance(ckpt.get("state_dict"), dict):
        missing.append("state_dict")
    if missing:
        raise CheckpointError(
            f"{where}: checkpoint lacks {', '.join(missing)} (written by a2a {meta.get('version', '?')}, "
            f"this is a2a {__version__})"
        )
    for key, value in hparams.items():
        label = f"{where}: checkpoint config {key}"
        if key in BUILT_HPARAMS:
            check_config(value, BUILT_HPARAMS[key], label)
        elif key == "features":
            _check_features(value, label)
        elif key == "validation" and isinstance(value, dict):
            for name, item in value.items():
                if name == "sampler" and item is not None:
                    check_config(item, "sampler", f"{label}.sampler")
                else:
                    check_plain(item, f"{label}.{name}")
        else:
            check_plain(value, label)
    for key, value in meta.items():
        if key == "classifier":
            _check_classifier(value, f"{where}: checkpoint a2a.classifier")
        elif key != "normalizer":
            check_plain(value, f"{where}: checkpoint a2a.{key}")
    _check_values(hparams, f"{where}: checkpoint config ")
    _check_values(meta, f"{where}: checkpoint a2a.")
    _check_normalizer(meta["normalizer"], f"{where}: checkpoint a2a.normalizer")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _refuse(label: str, value: Any, wanted: str) -> CheckpointError:
    return CheckpointError(f"{label} = {repr(value)[:60]}: must be {wanted}")


def _check_values(entries: Mapping[str, Any], prefix: str) -> None:
    """Types and sane ranges of the plain entries the loader reads (the fps and window size what
    generating allocates)."""
    fps = entries.get("fps")
    if "fps" in entries and not (_number(fps) and 0 < fps <= MAX_FPS):
        raise _refuse(f"{prefix}fps", fps, f"a number in (0, {MAX_FPS:g}]")
    window = entries.get("window")
    if "window" in entries and not (
        isinstance(window, int) and not isinstance(window, bool) and 1 <= window <= MAX_WINDOW
    ):
        raise _refuse(f"{prefix}window", window, f"a whole number of frames in 1..{MAX_WINDOW}")
    weight = entries.get("guidance_weight", 1.0)
    weights = weight.values() if isinstance(weight, Mapping) else [weight]
    if not all(_number(w) and math.isfinite(w) and w >= 0 for w in weights):
        raise _refuse(
            f"{prefix}guidance_weight", weight, "a finite number >= 0 or a mapping of condition to one"
        )
    conditions = entries.get("conditions", [])
    if not (isinstance(conditions, list) and all(isinstance(c, str) for c in conditions)):
        raise _refuse(f"{prefix}conditions", conditions, "a list of condition names")
    drops = entries.get("cond_drop", {})
    if not (isinstance(drops, Mapping) and all(_number(p) and 0 <= p <= 1 for p in drops.values())):
        raise _refuse(f"{prefix}cond_drop", drops, "a mapping of condition to a probability")
    vocabularies = entries.get("vocabularies", {})
    if not (
        isinstance(vocabularies, Mapping)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in vocabularies.values())
    ):
        raise _refuse(f"{prefix}vocabularies", vocabularies, "a mapping of condition to a list of names")
    features = entries.get("features")
    if isinstance(features, Mapping):
        dim = features.get("dim")
        if not (isinstance(dim, int) and not isinstance(dim, bool) and dim >= 1):
            raise _refuse(f"{prefix}features.dim", dim, "a positive whole number")
        if "fps" in features and not (_number(features["fps"]) and 0 < features["fps"] <= MAX_FPS):
            raise _refuse(f"{prefix}features.fps", features["fps"], f"a number in (0, {MAX_FPS:g}]")
        windowing = features.get("windowing", WINDOWINGS[0])
        if windowing not in WINDOWINGS:
            raise _refuse(f"{prefix}features.windowing", windowing, f"one of {', '.join(WINDOWINGS)}")


def _check_normalizer(state: Any, label: str) -> None:
    if not isinstance(state, Mapping):
        raise _refuse(label, state, "a mapping of a kind and tensors")
    for key, value in state.items():
        if key == "kind":
            if not isinstance(value, str):
                raise _refuse(f"{label}.kind", value, "the name of a normaliser kind")
        elif not isinstance(value, torch.Tensor):
            raise _refuse(f"{label}.{key}", value, "a tensor")


def _check_classifier(entry: Any, label: str) -> None:
    """An attached classifier (:func:`a2a.checkpoint.attach.attach_classifier`): its network config is
    built like any other, its weights are tensors, the rest plain."""
    if not isinstance(entry, dict) or not {"network", "state_dict", "target", "labels"} <= set(entry):
        raise CheckpointError(f"{label} must hold network, state_dict, target and labels")
    check_config(entry["network"], "classifier", f"{label}.network")
    weights = entry["state_dict"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{label}.state_dict must map names to tensors")
    for key, value in entry.items():
        if key not in ("network", "state_dict"):
            check_plain(value, f"{label}.{key}")


def _check_features(features: Any, label: str) -> None:
    if not isinstance(features, dict):
        raise CheckpointError(f"{label} must be a mapping with dim, fps and extractor")
    for name, item in features.items():
        if name == "extractor" and item is not None:
            check_config(item, "features", f"{label}.extractor")
        else:
            check_plain(item, f"{label}.{name}")


def denoiser_weights(ckpt: Mapping[str, Any], where: str) -> dict[str, torch.Tensor]:
    """The generating (EMA) denoiser weights of a checkpoint, prefix removed."""
    weights = {k[len(EMA_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(EMA_PREFIX)}
    if not weights:
        raise CheckpointError(f"{where}: no EMA denoiser weights ('{EMA_PREFIX}*') in the state_dict")
    return weights


def save_checkpoint(obj: Mapping[str, Any], out: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``out``, then rename: a crash never leaves half a file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        # Through a file object, so the zip's internal folder is torch's fixed "archive", not the
        # temporary name: the same content gives the same bytes.
        with open(tmp, "wb") as handle:
            torch.save(dict(obj), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
