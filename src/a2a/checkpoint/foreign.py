"""Reading torch files written by other projects (released EDGE/DSG weights) without running their code.

The files go through torch's weights-only unpickler, which builds tensors, storages and plain containers
only (plus classes a caller admits through ``torch.serialization.safe_globals``). Before that, a static
scan of the pickle names every other global it refers to, so a refusal can say what the file asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from a2a.errors import CheckpointError


def unsafe_globals(src: Path) -> list[str]:
    """Globals in the pickle outside the weights-only allow-list (admitted classes included), by static scan.

    The scan only serves a clear message: when it cannot parse the file (TorchScript, a pickle protocol it
    does not know, corruption) it reports nothing and the weights-only load refuses or fails on its own.
    """
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(src)
    except Exception:
        return []


def load_failure(exc: Exception) -> str:
    """The reason inside a failed weights-only load, without torch's advice to retry unsafely."""
    text = str(exc)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return f"the pickle names {named.group(1)}, which is refused; nothing from the file was run"
    refused = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", text, re.DOTALL)
    if refused:
        return (
            f"its pickle holds more than tensors and plain containers ({refused.group(1)}); "
            "nothing from the file was run"
        )
    return describe(exc)


def describe(exc: Exception) -> str:
    """``ExceptionType: first line of its message``."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}"


def _listed(keys: list[str], limit: int = 8) -> str:
    return ", ".join(map(repr, keys[:limit])) + (" ..." if len(keys) > limit else "")


def check_weights_fit(
    weights: Mapping[str, Tensor], expected: Mapping[str, Tensor], where: str, family: str, whole: str
) -> None:
    """Compare a foreign state dict with the one the model built from its implied sizes expects (the same
    names, shapes, and floating-point values): ``family`` names the weights (``EDGE``), ``whole`` the
    model they should form (``DanceDecoder``)."""
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong = [
        f"{k!r} is {list(weights[k].shape)}, expected {list(v.shape)}"
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected {_listed(unexpected)}")
    if wrong:
        problems.append("wrong shape: " + "; ".join(wrong[:8]) + (" ..." if len(wrong) > 8 else ""))
    if problems:
        raise CheckpointError(
            f"{where}{family} weights do not form one consistent {whole}: {'; '.join(problems)}"
        )
    for k, v in weights.items():
        if not v.is_floating_point():
            raise CheckpointError(f"{where}{family} weight {k!r} has dtype {v.dtype}, not floating point")


def composed_hyper_parameters(
    overrides: Sequence[str], denoiser: Mapping[str, Any]
) -> tuple[dict[str, Any], Any]:
    """A converted model's training-module hyper-parameters: ``train`` composed with ``overrides`` (the
    family's ``conf/model`` member and its settings, not restated here), resolved to plain values without
    the module's own ``_target_``, with the denoiser sizes read off the weights (``denoiser``) on top.
    Also returns the composed config, for what the model config does not hold (e.g. the data's styles)."""
    from omegaconf import OmegaConf

    from a2a.config import compose_config

    cfg = compose_config("train", list(overrides))
    hparams = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(hparams, dict)
    for key in ("_target_", "_recursive_"):
        hparams.pop(key, None)
    hparams["denoiser"] = {**hparams["denoiser"], **denoiser}
    return hparams, cfg
