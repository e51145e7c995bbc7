"""Build objects from a checkpoint's stored configs — as data, never as code.

A checkpoint carries the configs that rebuild its generator (``{"_target_": "a2a.models.EdgeDenoiser",
"latent_dim": 512, ...}``). The file may come from anyone (miners hot-load published checkpoints), so
these configs are read with rules instead of ``hydra.utils.instantiate``:

- a ``_target_`` is allowed only at the *places* that are meant to build something (:data:`PLACES`:
  the denoiser, schedule, sampler, representation, audio features, long-form strategy, loss, optimizer, an
  attached classifier),
  and nowhere else — not inside a number, a string or a list;
- it must name a **class** defined in a trusted package (``a2a`` itself; model families the user trusts
  through :func:`trust_modules` or an ``a2a.families`` entry point; ``torch.optim``/``adan_pytorch``
  for the optimizer) that is a subclass of the place's base class. Attribute chains that leave the
  package (``a2a.generate.torch.load``, ``a2a.generate.os.open``) and functions defined in a2a
  (``a2a.mining.intake.download_audio``) are refused;
- every other value must be plain data (``_partial_: true|false`` aside): ``None``, booleans, numbers,
  strings without ``${`` interpolations, and lists/dicts of those; keys starting with ``_`` are refused;
- the class is called with the plain keyword arguments directly (no Hydra, no interpolation, no
  recursion).

Configs the user composes on the command line are the user's own and go through Hydra as usual.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from a2a.errors import CheckpointError

TARGET = "_target_"
PARTIAL = "_partial_"  # a bool that only delays the call (optimizers get their parameters later)
FAMILY_ENTRY_POINTS = "a2a.families"

# place → (dotted base class, extra trusted roots for that place)
PLACES: dict[str, tuple[str, tuple[str, ...]]] = {
    "denoiser": ("torch.nn.Module", ()),
    "schedule": ("a2a.diffusion.schedules.NoiseSchedule", ()),
    "sampler": ("a2a.diffusion.samplers.Sampler", ()),
    "representation": ("a2a.motion.representation.MotionRepresentation", ()),
    "features": ("a2a.audio.features.AudioFeatureExtractor", ()),
    "longform": ("a2a.diffusion.longform.LongFormStrategy", ()),
    "loss": ("a2a.losses.MotionLoss", ()),
    "classifier": ("torch.nn.Module", ()),
    "optimizer": ("torch.optim.Optimizer", ("torch.optim", "adan_pytorch")),
}

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_trusted: set[str] = {"a2a"}


def trust_modules(*names: str) -> None:
    """Trust the classes of these packages/modules in checkpoints (e.g. a model family of your own).

    Installed packages can instead declare an ``a2a.families`` entry point whose value is the module.
    """
    for name in names:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name):
            raise CheckpointError(f"trust_modules: {name!r} is not a module name")
        _trusted.add(name)


def trusted_roots() -> set[str]:
    """``a2a``, the modules given to :func:`trust_modules` and those of ``a2a.families`` entry points."""
    roots = set(_trusted)
    for entry in entry_points(group=FAMILY_ENTRY_POINTS):
        roots.add(entry.value.split(":", 1)[0])
    return roots


def _within(name: str, roots: set[str]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def _base_class(place: str) -> type:
    dotted, _ = PLACES[place]
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def resolve_target(target: Any, place: str, where: str) -> type:
    """The class ``target`` names, if it may be built at ``place``; else :class:`CheckpointError`."""
    if place not in PLACES:
        raise CheckpointError(f"{where}: {place!r} is not a place where a checkpoint config builds objects")
    if not isinstance(target, str) or not _DOTTED.fullmatch(target):
        raise CheckpointError(f"{where}._target_ must be a dotted class path, got {str(target)[:80]!r}")
    roots = trusted_roots() | set(PLACES[place][1])
    refused = (
        f"{where}._target_ = {target!r}: only {place} classes from a2a (or model families you trust with "
        "a2a.checkpoint.trust_modules) are built from a checkpoint; refused, nothing was run"
    )
    if not _within(target, roots):
        raise CheckpointError(refused)
    parts = target.split(".")
    module = None
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i])
        if not _within(name, roots):
            break
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        obj: Any = module
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                raise CheckpointError(f"{where}._target_ = {target!r}: {name} has no {'.'.join(parts[i:])}")
            obj = getattr(obj, attr)
        break
    if module is None:
        raise CheckpointError(f"{where}._target_ = {target!r}: no such module")
    if not inspect.isclass(obj):
        kind = "module" if inspect.ismodule(obj) else type(obj).__name__
        shown = getattr(obj, "__module__", None) or getattr(obj, "__name__", "?")
        raise CheckpointError(
            f"{refused[:-33]} (it resolves to a {kind} of {shown}); refused, nothing was run"
        )
    if not _within(obj.__module__, roots):
        raise CheckpointError(
            f"{refused[:-33]} (it resolves to {obj.__module__}.{obj.__qualname__}); refused, nothing was run"
        )
    base = _base_class(place)
    if not issubclass(obj, base):
        raise CheckpointError(
            f"{where}._target_ = {target!r} is {obj.__module__}.{obj.__qualname__}, not a {place} "
            f"({base.__module__}.{base.__qualname__}); refused, nothing was run"
        )
    return obj


def check_plain(value: Any, where: str) -> None:
    """Raise :class:`CheckpointError` unless ``value`` is plain data (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, str):
        if "${" in value:
            raise CheckpointError(
                f"{where} holds an interpolation {value[:60]!r}; checkpoint values are literal"
            )
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{where} has a non-string key {key!r}")
            if key.startswith("_"):
                shown = f" ({str(item)[:60]})" if key == TARGET else ""
                raise CheckpointError(
                    f"{where}.{key}{shown}: a setting must be a plain value, not a config to build; "
                    "refused, nothing was run"
                )
            check_plain(item, f"{where}.{key}")
        return
    raise CheckpointError(f"{where} is a {type(value).__name__}; checkpoint settings must be plain values")


def check_config(config: Any, place: str, where: str) -> type:
    """Validate a config to build at ``place`` without building it; returns the class."""
    if not isinstance(config, Mapping) or TARGET not in config:
        raise CheckpointError(f"{where} must be a config with a _target_, got {type(config).__name__}")
    cls = resolve_target(config[TARGET], place, where)
    for key, value in config.items():
        if key == TARGET or (key == PARTIAL and isinstance(value, bool)):
            continue
        if key.startswith("_"):
            raise CheckpointError(f"{where}.{key}: only _target_ is allowed in a checkpoint config; refused")
        check_plain(value, f"{where}.{key}")
    return cls


def build(config: Any, place: str, where: str, **extra: Any) -> Any:
    """Validate ``config`` (see :func:`check_config`) and call its class with the plain settings and
    ``extra`` keyword arguments (objects the caller adds, e.g. a loss's representation)."""
    cls = check_config(config, place, where)
    if config.get(PARTIAL):
        raise CheckpointError(f"{where}: a partial config ({PARTIAL}: true) cannot be built here")
    kwargs = {key: value for key, value in config.items() if key not in (TARGET, PARTIAL)}
    try:
        inspect.signature(cls).bind(**kwargs, **extra)
    except TypeError as exc:
        settings = [name for name in inspect.signature(cls).parameters if name not in extra]
        raise CheckpointError(
            f"{where}: {cls.__name__} does not take these settings ({exc}); it takes {', '.join(settings)}"
        ) from None
    return cls(**kwargs, **extra)
