"""Import DiffuseStyleGesture's released ``model000450000.pt`` as an a2a checkpoint (``a2a convert-dsg``).

**Reading without running foreign code.** DSG's ``training_loop.py`` saves the plain ``MDM.state_dict()``
(an ``OrderedDict`` of tensors, buffers included) with ``torch.save``. It is read with torch's
weights-only unpickler, which admits nothing but tensors and plain containers; a static scan first names
any other global the pickle refers to, and the file is refused with a :class:`CheckpointError` naming it
(see :mod:`a2a.checkpoint.foreign`). Every entry must be a tensor.

**Statistics.** DSG normalises motion with ``(x − mean) / max(std, 0.01)``. Its ``mean.npz`` (key
``mean``) and ``std.npz`` (key ``std``) hold the raw statistics (``np.std`` of the ZEGGS train and valid
frames); the 0.01 floor is applied where they are used (``zeggs_data_to_lmdb.py``, ``sample.py``), so the
converter applies it too and stores a :class:`~a2a.motion.normalizer.ZScoreNormalizer` state. Without
them the checkpoint has no normaliser, and generation cannot turn model output into motion.

**What is written.** An a2a checkpoint (:mod:`a2a.checkpoint.format`): ``state_dict`` with the weights
under ``ema_denoiser.*`` and ``denoiser.*`` (DSG trains without EMA; the two share storage in the file),
``hyper_parameters`` from :func:`dsg_hyper_parameters`, and the ``a2a`` block (``kind: "dsg-converted"``,
the normaliser, fps 20, the window).

``num_heads`` (4), the local window (11) and the training window (88 frames) leave no trace in the
weights, so they are arguments; the rotary/local-attention group count is read off the stored rotary
frequencies.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from a2a.checkpoint.configs import build
from a2a.checkpoint.dsg_names import (
    ROTARY_FREQS,
    a2a_state_dict_to_dsg,
    dsg_config_from_state_dict,
    dsg_state_dict_to_a2a,
)
from a2a.checkpoint.foreign import check_weights_fit, composed_hyper_parameters, load_failure, unsafe_globals
from a2a.checkpoint.format import lightning_version, metadata, save_checkpoint
from a2a.errors import A2AError, CheckpointError
from a2a.models.dsg import DSGDenoiser
from a2a.motion.normalizer import ZScoreNormalizer

log = logging.getLogger(__name__)

CONVERTED_KIND = "dsg-converted"
DSG_FPS = 20
DSG_NUM_HEADS = 4
DSG_LOCAL_WINDOW = 11
DSG_SEQ_LEN = 88
DSG_DROPOUT = 0.1
DSG_STD_FLOOR = 0.01
DSG_CONDITIONS = ("audio", "style", "seed")
# Read before anything else: without these the file is not an MDM of DSG's kind.
_SIZE_KEYS = (
    "input_process.poseEmbedding.weight",
    "embed_style.weight",
    "embed_text.weight",
    "WavEncoder.audio_feature_map.weight",
    "seqTransEncoder.layers.0.linear1.weight",
    ROTARY_FREQS,
)


def read_dsg_state_dict(src: str | os.PathLike) -> dict[str, Tensor]:
    """Load DSG's saved ``MDM.state_dict()`` with no code from the file run (see the module docstring)."""
    src = Path(src)
    if not src.is_file():
        raise CheckpointError(f"{src}: no such DSG checkpoint file")
    is_zip = zipfile.is_zipfile(src)
    if is_zip:
        unsafe = unsafe_globals(src)
        if unsafe:
            raise CheckpointError(
                f"{src}: refused: the pickle names {', '.join(sorted(unsafe))}, which a DSG checkpoint never "
                "holds (only tensors in a state dict); nothing from the file was run"
            )
    try:
        sd = torch.load(src, map_location="cpu", weights_only=True, mmap=is_zip)
    except Exception as exc:  # weights-only refusals of files the scan could not read land here
        raise CheckpointError(f"{src}: not a readable DSG checkpoint ({load_failure(exc)})") from None
    if not isinstance(sd, Mapping) or not sd:
        raise CheckpointError(f"{src}: holds a {type(sd).__name__}, not DSG's state dict of MDM weights")
    for name, value in sd.items():
        if not isinstance(name, str) or not isinstance(value, Tensor):
            raise CheckpointError(f"{src}: entry {name!r} is a {type(value).__name__}, not a tensor")
    return dict(sd)


def dsg_normalizer_state(
    mean_path: str | os.PathLike, std_path: str | os.PathLike, channels: int
) -> dict[str, Any]:
    """DSG's ``mean.npz``/``std.npz`` → a :meth:`ZScoreNormalizer.state_dict` with std floored at 0.01."""
    mean = _read_statistic(Path(mean_path), "mean", channels)
    std = _read_statistic(Path(std_path), "std", channels)
    if (std < 0).any():
        raise CheckpointError(f"{std_path}: 'std' has negative entries")
    state = {
        "mean": torch.from_numpy(mean),
        "std": torch.from_numpy(std).clamp(min=DSG_STD_FLOOR),
        "std_floor": torch.tensor(DSG_STD_FLOOR, dtype=torch.float64),
    }
    return ZScoreNormalizer.from_state_dict(state).state_dict()


def _read_statistic(path: Path, key: str, channels: int) -> np.ndarray:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {key}.npz file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if key not in data.files:
                raise CheckpointError(
                    f"{path}: no {key!r} array (has {', '.join(map(repr, data.files)) or 'nothing'}); "
                    f"DSG's {key}.npz stores it under {key!r}"
                )
            values = np.asarray(data[key])
    except CheckpointError:
        raise
    except Exception as exc:  # not a zip, pickled objects refused, truncated file
        raise CheckpointError(f"{path}: not a readable .npz of plain arrays ({exc})") from None
    if not np.issubdtype(values.dtype, np.floating):
        raise CheckpointError(f"{path}: {key!r} has dtype {values.dtype}, not floating point")
    values = values.astype(np.float64).squeeze()
    if values.shape != (channels,):
        raise CheckpointError(
            f"{path}: {key!r} has shape {list(values.shape)} after squeezing; the weights have {channels} "
            "motion channels"
        )
    if not np.isfinite(values).all():
        raise CheckpointError(f"{path}: {key!r} has NaN or infinite entries")
    return values


def dsg_hyper_parameters(
    denoiser: Mapping[str, Any], *, fps: float, window: int
) -> tuple[dict[str, Any], list[str]]:
    """Training-module hyper-parameters of a converted DSG: ``conf/model/dsg.yaml`` composed with
    ``conf/data/zeggs.yaml``, ``conf/features/wavlm.yaml`` (WavLM-Large, whose folder the user gives at
    generation: ``features_path``) and ``conf/sampler/ddpm.yaml`` without EDGE's guidance cap (the released
    ``sample.py``: ancestral DDPM over all 1000 steps), then the denoiser sizes read off the weights.
    Also returns the styles in one-hot order (``conf/data/zeggs.yaml``: DSG's Happy, Sad, Neutral, Old,
    Angry, Relaxed)."""
    hparams, cfg = composed_hyper_parameters(
        [
            "model=dsg",
            "data=zeggs",
            "features=wavlm",
            "features.path=null",
            "sampler=ddpm",
            "sampler.cap_guidance_below=0.0",
            f"features.fps={fps:g}",
            f"model.window={int(window)}",
            "data.source=-",
        ],
        denoiser,
    )
    hparams["longform"]["n_seed"] = hparams["denoiser"]["n_seed"]
    hparams["features"]["dim"] = hparams["denoiser"]["audio_dim"]  # WavLM-Large: 1024
    return hparams, [str(style) for style in cfg.data.styles]


def convert_dsg_checkpoint(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    mean: str | os.PathLike | None = None,
    std: str | os.PathLike | None = None,
    num_heads: int = DSG_NUM_HEADS,
    local_window: int = DSG_LOCAL_WINDOW,
    seq_len: int = DSG_SEQ_LEN,
) -> Path:
    """Convert DSG's ``modelNNNNNNNNN.pt`` into an a2a checkpoint at ``out`` (written atomically).

    Args:
        src: the original checkpoint (``torch.save`` of ``MDM.state_dict()``).
        out: where to write the a2a checkpoint (parent folders are created).
        mean, std: DSG's ``mean.npz`` and ``std.npz`` (both or neither); without them the checkpoint has
            no normaliser and a warning says that generation needs them.
        num_heads: transformer heads (not recoverable from the weights; DSG: 4).
        local_window: local-attention window (DSG: 11). seq_len: training window in frames (DSG: 88).

    Returns:
        ``out`` as a Path.

    Raises:
        CheckpointError: unreadable or unsafe file, weights of unknown names or wrong shapes, statistics of
            the wrong shape (the message names the file and the entry).
    """
    src, out = Path(src), Path(out)
    where = f"{src}: "
    if out.exists() and out.resolve() == src.resolve():
        raise CheckpointError(f"{where}the output path is the input file; choose another OUT")
    if (mean is None) != (std is None):
        raise CheckpointError("give both --mean and --std (DSG's mean.npz and std.npz), or neither")
    dsg_weights = read_dsg_state_dict(src)
    absent = [k for k in _SIZE_KEYS if k not in dsg_weights]
    if absent:
        raise CheckpointError(
            f"{where}the weights lack {', '.join(map(repr, absent))}; is this a DiffuseStyleGesture MDM "
            "(cross_local_attention3_style1) checkpoint?"
        )
    latent_dim = dsg_weights["input_process.poseEmbedding.weight"].shape[0]
    group_dim = 2 * dsg_weights[ROTARY_FREQS].numel()
    if latent_dim % group_dim:
        raise CheckpointError(
            f"{where}{ROTARY_FREQS!r} has {group_dim // 2} frequencies: groups of {group_dim} channels do "
            f"not divide the width {latent_dim}"
        )
    try:
        weights = dsg_state_dict_to_a2a(dsg_weights)
        sizes = dsg_config_from_state_dict(weights, groups=latent_dim // group_dim)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}{exc}") from None
    denoiser_config = {
        **sizes,
        "num_heads": int(num_heads),
        "local_window": int(local_window),
        "dropout": DSG_DROPOUT,
        "seq_len": int(seq_len),
    }
    try:
        model = DSGDenoiser(**denoiser_config)
    except A2AError as exc:
        raise CheckpointError(f"{where}the weights' sizes give no valid DSG denoiser: {exc}") from None
    check_weights_fit(
        dsg_weights, a2a_state_dict_to_dsg(model.state_dict(), model.groups), where, "DSG", "MDM"
    )
    model.load_state_dict(weights)  # cannot fail after the check above; proves a2a.load will succeed

    if mean is not None and std is not None:
        normalizer = dsg_normalizer_state(mean, std, sizes["nfeats"])
    else:
        normalizer = {}
        log.warning(
            "%s: converted without --mean/--std: the checkpoint has no normaliser, and generation needs "
            "DSG's mean.npz and std.npz (ZEGGS processed statistics) to turn model output into motion",
            src,
        )
    hyper_parameters, styles = dsg_hyper_parameters(denoiser_config, fps=DSG_FPS, window=seq_len)
    tensors = {k: v.detach().contiguous() for k, v in weights.items()}
    state_dict = {f"ema_denoiser.{k}": v for k, v in tensors.items()}
    state_dict.update({f"denoiser.{k}": v for k, v in tensors.items()})
    converted = {
        "pytorch-lightning_version": lightning_version(),
        "state_dict": state_dict,
        "hyper_parameters": hyper_parameters,
        "a2a": metadata(
            kind=CONVERTED_KIND,
            normalizer=normalizer,
            representation=build(hyper_parameters["representation"], "representation", "dsg").config(),
            fps=DSG_FPS,
            window=seq_len,
            source=str(src),
            # DSG's styles for the released ZEGGS model; a model of another size gets numbered styles
            vocabularies={
                "style": styles
                if len(styles) == sizes["style_dim"]
                else [f"style{i}" for i in range(sizes["style_dim"])]
            },
        ),
    }
    return save_checkpoint(converted, out)
