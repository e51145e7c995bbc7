"""Import the released EDGE ``checkpoint.pt`` (Stanford-TML/EDGE) as an a2a checkpoint (``a2a convert-edge``).

**Reading without running foreign code.** EDGE's ``train.py`` saves ``{"ema_state_dict",
"model_state_dict", "optimizer_state_dict", "normalizer"}`` with ``torch.save``; the normaliser is a pickled
``dataset.preprocess.Normalizer`` holding a ``dataset.scaler.MinMaxScaler``. Loading it the usual way
(``weights_only=False``) would import EDGE's modules, or run whatever callable a crafted file names. Here
the file goes through torch's own weights-only unpickler (tensors, storages and plain containers only),
with two inert stand-in classes admitted under exactly those two class paths through
``torch.serialization.safe_globals([(cls, "module.Name"), ...])``. That unpickler only creates allow-listed
classes with ``cls.__new__`` (pickle ``NEWOBJ``) and fills them through ``__setstate__``; the stand-ins keep
the fields as data and have no other behaviour (calling one, pickle ``REDUCE``, is refused). Before
anything is unpickled, a static scan of the pickle (``get_unsafe_globals_in_checkpoint``) names every other
global, and the file is refused with a :class:`CheckpointError` naming it; files the scan cannot read
(legacy non-zip saves, other pickle protocols) are still refused by the unpickler itself, which is where
the safety lies. Torch's mechanism suffices, so no hand-written unpickler is needed.

**What is written.** An a2a checkpoint (:mod:`a2a.checkpoint.format`) that :func:`a2a.load` rebuilds and
``torch.load(weights_only=True)`` reads with no allow-list: ``hyper_parameters`` composed from
``conf/model/edge.yaml`` and ``conf/sampler/ddim.yaml`` (so they follow the configs, not a copy of them)
with the EDGE denoiser sizes read off the weights and window = the weights' ``seq_len``, an ``a2a`` block
(``kind: "edge-converted"``, the source path, the normaliser as plain tensors), and ``state_dict`` with
the chosen EDGE weights under both ``ema_denoiser.*`` (what generation uses) and ``denoiser.*`` (the
starting point of fine-tuning; the two share storage in the file).

**Features.** The feature width is read off the weights: 35 is EDGE's librosa baseline
(:class:`a2a.audio.BaselineFeatures`); 4800 is Jukebox layer 66, which a2a cannot compute (it needs the
5B-parameter Jukebox prior), so the features config has ``extractor: null`` and generation takes
precomputed features (``Generator.generate_features``) only. The released checkpoint is the Jukebox model.

``num_heads`` leaves no trace in the weights (the attention projections are ``[3D, D]`` whatever the head
count), so it is an argument; EDGE uses 8. Dropout (0.1) and the GELU activation are EDGE's fixed values.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from a2a.checkpoint.edge_names import (
    DDP_PREFIX,
    a2a_state_dict_to_edge,
    edge_config_from_state_dict,
    edge_state_dict_to_a2a,
)
from a2a.checkpoint.foreign import check_weights_fit, composed_hyper_parameters, load_failure, unsafe_globals
from a2a.checkpoint.format import lightning_version, metadata, save_checkpoint
from a2a.errors import A2AError, CheckpointError
from a2a.models.edge import EdgeDenoiser
from a2a.motion.normalizer import MinMaxNormalizer
from a2a.motion.representation import EdgeRepresentation

EDGE_NORMALIZER_CLASS = "dataset.preprocess.Normalizer"
EDGE_SCALER_CLASS = "dataset.scaler.MinMaxScaler"
EDGE_CHECKPOINT_KEYS = ("ema_state_dict", "model_state_dict", "optimizer_state_dict", "normalizer")
# A GaussianDiffusion state dict (rather than EDGE's saved DanceDecoder ones) nests the denoiser here.
DIFFUSION_EMA_PREFIX = "master_model."
DIFFUSION_MODEL_PREFIX = "model."

EDGE_FPS = 30
EDGE_DROPOUT = 0.1
EDGE_NUM_HEADS = 8
BASELINE_FEATURE_DIM = 35
JUKEBOX_FEATURE_DIM = 4800
CONVERTED_KIND = "edge-converted"

# EDGE weights are read from these EDGE-named entries before anything else (edge_config_from_state_dict).
_SIZE_KEYS = ("null_cond_embed", "input_projection.weight", "cond_projection.weight")
_FIRST_DECODER_FF = "seqTransDecoder.stack.0.linear1.weight"
_SCALER_TENSORS = {"scale_": "scale", "min_": "min", "data_min_": "data_min", "data_max_": "data_max"}


class _PickledFields:
    """Inert stand-in for one of EDGE's pickled classes: keeps the unpickled fields as data, nothing more.

    The weights-only unpickler makes it with ``cls.__new__`` and hands the pickled ``__dict__`` to
    :meth:`__setstate__`; constructing it directly (what a crafted pickle's ``REDUCE`` would do) fails.
    """

    edge_class = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise CheckpointError(
            f"the pickle calls {self.edge_class}(...) instead of restoring its fields; "
            "EDGE's checkpoints never do that"
        )

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]  # (dict, slots) form; EDGE's classes have no slots
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise CheckpointError(f"pickled {self.edge_class} has state of type {type(state).__name__}")
        self.fields = dict(state)


class _EdgeNormalizerFields(_PickledFields):
    edge_class = EDGE_NORMALIZER_CLASS


class _EdgeScalerFields(_PickledFields):
    edge_class = EDGE_SCALER_CLASS


_SHIMS = [(_EdgeNormalizerFields, EDGE_NORMALIZER_CLASS), (_EdgeScalerFields, EDGE_SCALER_CLASS)]


def read_edge_checkpoint(src: str | os.PathLike) -> dict[str, Any]:
    """Load an original EDGE checkpoint with no code from it run (see the module docstring).

    Returns the top-level dict; its ``normalizer`` entry (if any) comes back as an inert field holder,
    which :func:`edge_normalizer_state` turns into plain tensors. Zip-format files are memory-mapped, so
    the optimizer state the converter does not need is never read into memory.
    """
    src = Path(src)
    if not src.is_file():
        raise CheckpointError(f"{src}: no such EDGE checkpoint file")
    is_zip = zipfile.is_zipfile(src)
    with torch.serialization.safe_globals(_SHIMS):
        if is_zip:
            unsafe = unsafe_globals(src)
            if unsafe:
                raise CheckpointError(
                    f"{src}: refused: the pickle names {', '.join(sorted(unsafe))}, which an EDGE checkpoint "
                    f"never holds (only tensors, plain containers, {EDGE_NORMALIZER_CLASS} and "
                    f"{EDGE_SCALER_CLASS}); nothing from the file was run"
                )
        try:
            ckpt = torch.load(src, map_location="cpu", weights_only=True, mmap=is_zip)
        except CheckpointError as exc:  # raised by a stand-in class while unpickling
            raise CheckpointError(f"{src}: {exc}; nothing from the file was run") from None
        except Exception as exc:  # weights-only refusals of files the scan could not read land here
            raise CheckpointError(f"{src}: not a readable EDGE checkpoint ({load_failure(exc)})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{src}: holds a {type(ckpt).__name__}, not EDGE's checkpoint dict")
    return ckpt


def edge_denoiser_weights(
    ckpt: Mapping[str, Any], *, use_ema: bool = True, where: str = ""
) -> dict[str, Tensor]:
    """The ``DanceDecoder`` state dict (EDGE names) in an EDGE checkpoint dict, prefixes removed.

    ``use_ema`` picks ``ema_state_dict`` (EDGE's ``master_model``, what it samples with) over
    ``model_state_dict``. Accepts ``module.`` prefixes (multi-process saves) and, defensively, a
    ``GaussianDiffusion`` state dict nesting the denoiser under ``master_model.`` / ``model.``.
    """
    key = "ema_state_dict" if use_ema else "model_state_dict"
    if key not in ckpt:
        raise CheckpointError(
            f"{where}no {key!r} entry (has {', '.join(map(repr, ckpt)) or 'nothing'}); an EDGE train.py "
            f"checkpoint has {', '.join(EDGE_CHECKPOINT_KEYS)}"
        )
    sd = ckpt[key]
    if not isinstance(sd, Mapping) or not sd:
        raise CheckpointError(f"{where}{key!r} is a {type(sd).__name__} (empty or not a state dict)")
    for name, value in sd.items():
        if not isinstance(name, str) or not isinstance(value, Tensor):
            raise CheckpointError(f"{where}{key}[{name!r}] is a {type(value).__name__}, not a tensor")

    weights = _strip_prefix(dict(sd), DDP_PREFIX)
    nested = DIFFUSION_EMA_PREFIX if use_ema else DIFFUSION_MODEL_PREFIX
    if any(k.startswith(nested) for k in weights):
        weights = _strip_prefix(
            {k[len(nested) :]: v for k, v in weights.items() if k.startswith(nested)}, DDP_PREFIX
        )
    return weights


def _strip_prefix(sd: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    if sd and all(k.startswith(prefix) for k in sd):
        return {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


def edge_normalizer_state(normalizer: Any, channels: int, *, where: str = "") -> dict[str, Tensor]:
    """EDGE's pickled ``Normalizer`` (as read by :func:`read_edge_checkpoint`) → a
    :meth:`MinMaxNormalizer.state_dict` (float64 ``[C]`` ``scale``/``min``/``data_min``/``data_max``,
    ``feature_range``, ``clip``). ``scale_``/``min_`` are taken as stored, not refitted."""
    if not isinstance(normalizer, _EdgeNormalizerFields):
        raise CheckpointError(
            f"{where}'normalizer' is a {type(normalizer).__name__}, not EDGE's {EDGE_NORMALIZER_CLASS}"
        )
    scaler = normalizer.fields.get("scaler")
    if not isinstance(scaler, _EdgeScalerFields):
        raise CheckpointError(
            f"{where}normalizer.scaler is a {type(scaler).__name__}, not EDGE's {EDGE_SCALER_CLASS}"
        )
    fields = scaler.fields
    state: dict[str, Tensor] = {}
    for edge_name, a2a_name in _SCALER_TENSORS.items():
        value = fields.get(edge_name)
        if not isinstance(value, Tensor):
            raise CheckpointError(
                f"{where}normalizer.scaler.{edge_name} is {type(value).__name__}, expected a tensor "
                f"of {channels} channels"
            )
        if value.shape != (channels,):
            raise CheckpointError(
                f"{where}normalizer.scaler.{edge_name} has shape {list(value.shape)}, expected [{channels}] "
                "(one entry per motion channel)"
            )
        if not torch.isfinite(value).all():
            raise CheckpointError(f"{where}normalizer.scaler.{edge_name} has NaN or infinite entries")
        state[a2a_name] = value.detach().to(torch.float64).clone()
    feature_range = fields.get("feature_range", (-1, 1))
    try:
        low, high = (float(v) for v in feature_range)
    except (TypeError, ValueError):
        raise CheckpointError(
            f"{where}normalizer.scaler.feature_range is {feature_range!r}, not (low, high)"
        ) from None
    state["feature_range"] = torch.tensor([low, high], dtype=torch.float64)
    state["clip"] = torch.tensor(bool(fields.get("clip", True)))
    try:
        return MinMaxNormalizer.from_state_dict(state).state_dict()
    except A2AError as exc:
        raise CheckpointError(f"{where}normaliser: {exc}") from None


def edge_hyper_parameters(denoiser: Mapping[str, Any], feature_dim: int, window: int) -> dict[str, Any]:
    """Training-module hyper-parameters of a converted EDGE: ``conf/model/edge.yaml`` (with
    ``conf/sampler/ddim.yaml`` and ``conf/features/baseline.yaml``) composed, then the denoiser sizes read
    off the weights, the window, and the features of width ``feature_dim`` (35: EDGE's baseline; other
    widths — 4800 is Jukebox layer 66 — have no a2a extractor: ``generate_features`` only)."""
    # The released model listens to Jukebox (weights given at generation: features_path=DIR)
    jukebox = feature_dim == JUKEBOX_FEATURE_DIM
    features = ["features=jukebox", "features.path=null"] if jukebox else ["features=baseline"]
    hparams, _ = composed_hyper_parameters(
        [
            "model=edge",
            "sampler=ddim",
            *features,
            "features.windowing=per_slice",  # EDGE extracts each 5-s slice's audio on its own
            f"model.window={int(window)}",
            "data.source=-",
        ],
        denoiser,
    )
    if feature_dim == JUKEBOX_FEATURE_DIM:
        hparams["features"]["name"] = "Jukebox 5B layer 66, 4800-d (features_path=DIR: its two weight files)"
    elif feature_dim != BASELINE_FEATURE_DIM:
        name = f"{feature_dim}-d features of a custom EDGE training"
        hparams["features"] = {
            "dim": feature_dim,
            "fps": EDGE_FPS,
            "windowing": "per_slice",
            "name": name,
            "extractor": None,
        }
    return hparams


def convert_edge_checkpoint(
    src: str | os.PathLike, out: str | os.PathLike, *, use_ema: bool = True, num_heads: int = EDGE_NUM_HEADS
) -> Path:
    """Convert EDGE's ``checkpoint.pt`` into an a2a checkpoint at ``out`` (written atomically).

    Args:
        src: original EDGE checkpoint (``torch.save`` of ``ema_state_dict``, ``model_state_dict``,
            ``optimizer_state_dict``, ``normalizer``). The optimizer state is ignored.
        out: where to write the a2a checkpoint (parent folders are created).
        use_ema: take ``ema_state_dict`` (EDGE samples with it) rather than ``model_state_dict``.
        num_heads: attention heads (not recoverable from the weights; EDGE: 8).

    Returns:
        ``out`` as a Path.

    Raises:
        CheckpointError: unreadable or unsafe file, missing entries, or weights/normaliser of the wrong
            names or shapes (the message names the entry).
    """
    src, out = Path(src), Path(out)
    where = f"{src}: "
    if out.exists() and out.resolve() == src.resolve():
        raise CheckpointError(f"{where}the output path is the input file; choose another OUT")
    ckpt = read_edge_checkpoint(src)
    edge_weights = edge_denoiser_weights(ckpt, use_ema=use_ema, where=where)

    absent = [k for k in (*_SIZE_KEYS, _FIRST_DECODER_FF) if k not in edge_weights]
    if absent:
        raise CheckpointError(
            f"{where}EDGE weights lack {', '.join(map(repr, absent))}; is this an EDGE checkpoint?"
        )
    try:
        weights = edge_state_dict_to_a2a(edge_weights)
        sizes = edge_config_from_state_dict(weights)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}{exc}") from None
    representation = EdgeRepresentation()
    if sizes["nfeats"] != representation.dim:
        raise CheckpointError(
            f"{where}'input_projection.weight' takes {sizes['nfeats']} motion channels; "
            f"EDGE's representation has {representation.dim}"
        )
    denoiser_config = {**sizes, "num_heads": int(num_heads), "dropout": EDGE_DROPOUT}
    try:
        model = EdgeDenoiser(**denoiser_config)
    except A2AError as exc:
        raise CheckpointError(f"{where}the weights' sizes give no valid EDGE denoiser: {exc}") from None
    check_weights_fit(edge_weights, a2a_state_dict_to_edge(model.state_dict()), where, "EDGE", "DanceDecoder")
    model.load_state_dict(weights)  # cannot fail after the check above; proves a2a.load will succeed

    if "normalizer" not in ckpt:
        raise CheckpointError(f"{where}no 'normalizer' entry (has {', '.join(map(repr, ckpt))})")
    normalizer = edge_normalizer_state(ckpt["normalizer"], representation.dim, where=where)

    window = int(sizes["seq_len"])
    hyper_parameters = edge_hyper_parameters(denoiser_config, int(sizes["cond_feature_dim"]), window)
    # Same tensor objects under both prefixes: torch.save stores each storage once.
    tensors = {k: v.detach().contiguous() for k, v in weights.items()}
    state_dict = {f"ema_denoiser.{k}": v for k, v in tensors.items()}
    state_dict.update({f"denoiser.{k}": v for k, v in tensors.items()})
    converted = {
        # Lightning's load_from_checkpoint reads this to decide on migrations.
        "pytorch-lightning_version": lightning_version(),
        "state_dict": state_dict,
        "hyper_parameters": hyper_parameters,
        "a2a": metadata(
            kind=CONVERTED_KIND,
            normalizer=normalizer,
            representation=representation.config(),
            fps=EDGE_FPS,
            window=window,
            source=str(src),
            edge_weights="ema_state_dict" if use_ema else "model_state_dict",
        ),
    }
    return save_checkpoint(converted, out)
