"""Build objects from a checkpoint's stored configs — as data, never as code.

A checkpoint carries the configs that rebuild its generator (``{"_target_": "a2a.models.EdgeDenoiser",
"latent_dim": 512, ...}``). The file may come from anyone (miners hot-load published checkpoints), so
these configs are read with rules instead of ``hydra.utils.instantiate``:

- a ``_target_`` is allowed only at the *places* that are meant to build something (:data:`PLACES`:
  the denoiser, schedule, sampler, representation, audio features, long-form strategy, loss, optimizer, an
  attached classifier),
  and nowhere else — not inside a number, a string or a list;
- in a2a it must name one of the classes :data:`BUILDABLE` lists for the place (the denoisers, samplers,
  feature extractors, ... a checkpoint is made of — no training modules, wrappers or internals); any other
  a2a name (``a2a.generate.torch.load``, ``a2a.mining.intake.download_audio``,
  ``a2a.lightning.DiffusionModule``) is refused before a module is imported;
- outside a2a it must name a public **class** defined in a package the user trusts (model families
  through :func:`trust_modules` or an ``a2a.families`` entry point; ``torch.optim``/``adan_pytorch`` for
  the optimizer), not a training module, that subclasses the place's base class;
- every other value must be plain data (``_partial_: true|false`` aside): ``None``, booleans, numbers,
  strings without ``${`` interpolations, and lists/dicts of those; keys starting with ``_`` are refused;
- the class is called with the plain keyword arguments directly (no Hydra, no interpolation, no
  recursion), after their types are checked against its annotations; whatever it raises becomes one
  :class:`CheckpointError` line naming the place;
- a network whose weights the file holds is built by :func:`build_network`: on the ``meta`` device first,
  its shapes checked against the file's tensors, so a config cannot allocate more than the file holds.

Configs the user composes on the command line are the user's own and go through Hydra as usual.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
import typing
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import torch

from a2a.errors import A2AError, CheckpointError

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

# The a2a classes a checkpoint may build, per place, named where they are defined. A ``_target_`` may
# spell one through any a2a package above its module (``a2a.models.EdgeDenoiser``). Nothing else in a2a
# is built from a checkpoint: no training modules, wrappers, private helpers or feature-network internals,
# and a name that is not listed is refused before any module is imported. A new a2a family adds its
# classes here; families outside a2a are trusted with trust_modules (or an a2a.families entry point).
BUILDABLE: dict[str, tuple[str, ...]] = {
    "denoiser": (
        "a2a.models.edge.EdgeDenoiser",
        "a2a.models.edge_genre.EdgeGenreDenoiser",
        "a2a.models.dsg.DSGDenoiser",
    ),
    "schedule": ("a2a.diffusion.schedules.CosineSchedule", "a2a.diffusion.schedules.LinearSchedule"),
    "sampler": (
        "a2a.diffusion.samplers.DDIMSampler",
        "a2a.diffusion.samplers.DDPMSampler",
        "a2a.diffusion.samplers.PosteriorMeanSampler",
    ),
    "representation": ("a2a.motion.representation.EdgeRepresentation", "a2a.motion.dsg.DSGRepresentation"),
    "features": (
        "a2a.audio.features.BaselineFeatures",
        "a2a.audio.features.PretrainedAudioFeatures",
        "a2a.audio.wavlm_tiny.TinyWavLMFeatures",
        "a2a.audio.jukebox.JukeboxFeatures",
    ),
    "longform": ("a2a.diffusion.longform.OverlapStitch", "a2a.diffusion.longform.SeededContinuation"),
    "loss": ("a2a.losses.EdgeMotionLoss", "a2a.losses.SmoothL1MotionLoss"),
    "classifier": ("a2a.models.classifier.AudioClassifier",),
    "optimizer": (),
}

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_OWN = "a2a"
_TRAINING_PACKAGES = ("pytorch_lightning", "lightning")
_trusted: set[str] = set()
_SMALL_BUFFERS = 1 << 20  # derived buffers (position tables, ...) always allowed, whatever the file holds


def trust_modules(*names: str) -> None:
    """Trust the classes of these packages/modules in checkpoints (e.g. a model family of your own).

    Installed packages can instead declare an ``a2a.families`` entry point whose value is the module.
    a2a's own classes are the fixed set :data:`BUILDABLE`, whatever is trusted.
    """
    for name in names:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name):
            raise CheckpointError(f"trust_modules: {name!r} is not a module name")
        _trusted.add(name)


def trusted_roots() -> set[str]:
    """The modules given to :func:`trust_modules` and those of ``a2a.families`` entry points."""
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


def _refused(where: str, target: str, place: str, why: str = "") -> CheckpointError:
    shown = ", ".join(name.rsplit(".", 1)[-1] for name in BUILDABLE[place]) or "none"
    return CheckpointError(
        f"{where}._target_ = {target!r}{why}: a checkpoint builds only a2a's {place} classes ({shown}) "
        "or those of model families you trust with a2a.checkpoint.trust_modules; refused, nothing was run"
    )


def _own_class(target: str, place: str, where: str) -> type:
    """The listed a2a class ``target`` spells; nothing is imported for a name that is not listed."""
    package, _, name = target.rpartition(".")
    for dotted in BUILDABLE[place]:
        module, _, class_name = dotted.rpartition(".")
        if name == class_name and (package == module or module.startswith(package + ".")):
            obj = getattr(importlib.import_module(package), name, None)
            if inspect.isclass(obj) and f"{obj.__module__}.{obj.__qualname__}" == dotted:
                return obj
    raise _refused(where, target, place)


def _trusted_class(target: str, place: str, where: str, roots: set[str]) -> type:
    """The class ``target`` names in a trusted module, checked to be a public class defined there."""
    parts = target.split(".")
    obj: Any = None
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i])
        if not _within(name, roots):
            break
        try:
            obj = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                raise CheckpointError(f"{where}._target_ = {target!r}: {name} has no {'.'.join(parts[i:])}")
            obj = getattr(obj, attr)
        break
    if obj is None:
        raise CheckpointError(f"{where}._target_ = {target!r}: no such module")
    if not inspect.isclass(obj):
        kind = "module" if inspect.ismodule(obj) else type(obj).__name__
        shown = getattr(obj, "__module__", None) or getattr(obj, "__name__", "?")
        raise _refused(where, target, place, f" (it resolves to a {kind} of {shown})")
    # A trusted module's attributes can be anything it imported (toyfam.torch.nn.Linear): only classes
    # it defines count.
    if not _within(obj.__module__, roots):
        raise _refused(where, target, place, f" (it resolves to {obj.__module__}.{obj.__qualname__})")
    if any(part.startswith("_") for part in obj.__qualname__.split(".")):
        raise _refused(where, target, place, " (a private class)")
    if any(c.__module__.split(".")[0] in _TRAINING_PACKAGES for c in obj.__mro__):
        raise _refused(where, target, place, " (a training module, which builds its own configs)")
    return obj


def resolve_target(target: Any, place: str, where: str) -> type:
    """The class ``target`` names, if it may be built at ``place``; else :class:`CheckpointError`."""
    if place not in PLACES:
        raise CheckpointError(f"{where}: {place!r} is not a place where a checkpoint config builds objects")
    if not isinstance(target, str) or not _DOTTED.fullmatch(target):
        raise CheckpointError(f"{where}._target_ must be a dotted class path, got {str(target)[:80]!r}")
    if _within(target, {_OWN}):
        obj = _own_class(target, place, where)
    else:
        roots = trusted_roots() | set(PLACES[place][1])
        if not _within(target, roots):
            raise _refused(where, target, place)
        obj = _trusted_class(target, place, where, roots)
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
    if not isinstance(config, Mapping):
        raise CheckpointError(f"{where} must be a config with a _target_, got {type(config).__name__}")
    if TARGET not in config:
        keys = ", ".join(map(str, config)) or "nothing"
        raise CheckpointError(f"{where} has no _target_ (it holds {keys}): name the class to build")
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
    ``extra`` keyword arguments (objects the caller adds, e.g. a loss's representation).

    Raises:
        CheckpointError: one line naming ``where`` and the setting, for a refused config, settings the
            class does not take or of the wrong type, or any failure while the class is built (an
            :class:`~a2a.errors.A2AError` subclass from the class keeps its type, prefixed with ``where``).
    """
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
    _check_types(cls, kwargs, where)
    try:
        return cls(**kwargs, **extra)
    except A2AError as exc:  # a2a's own refusal of the settings; its kind is kept where it says more
        raise (CheckpointError if type(exc) is A2AError else type(exc))(f"{where}: {exc}") from None
    except Exception as exc:  # whatever the settings make the class do, it is one line
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckpointError(
            f"{where}: {cls.__name__} cannot be built from these settings ({type(exc).__name__}: {first})"
        ) from None


def build_network(
    config: Any, place: str, where: str, weights: Mapping[str, torch.Tensor]
) -> torch.nn.Module:
    """Build a network whose weights come from the checkpoint, with ``weights`` loaded.

    It is built on PyTorch's ``meta`` device first (shapes, no memory) and its parameters and buffers are
    checked against ``weights`` — already in memory — before it is built for real, so the sizes in a
    config can never make the loader allocate more than the file holds (non-persistent buffers, which
    the file does not carry, may hold at most as many elements as the file does).
    """
    with torch.device("meta"):
        shell = build(config, place, where)
    expected = shell.state_dict()
    missing = [name for name in expected if name not in weights]
    unexpected = [name for name in weights if name not in expected]
    wrong = [
        f"{name} is {list(weights[name].shape)} in the file but {list(tensor.shape)} in the config"
        for name, tensor in expected.items()
        if name in weights and tuple(tensor.shape) != tuple(weights[name].shape)
    ]
    problems = [
        *([f"missing {_some(missing)}"] if missing else []),
        *([f"unexpected {_some(unexpected)}"] if unexpected else []),
        *wrong[:3],
    ]
    if problems:
        raise CheckpointError(f"{where}: weights do not fit the stored model config: {'; '.join(problems)}")
    held = sum(tensor.numel() for tensor in weights.values())
    derived = sum(buffer.numel() for name, buffer in shell.named_buffers() if name not in expected)
    if derived > max(held, _SMALL_BUFFERS):
        raise CheckpointError(
            f"{where}: the config makes {derived:,} elements of derived buffers, more than the "
            f"{held:,} the file holds; refused"
        )
    network = build(config, place, where)
    network.load_state_dict(dict(weights))
    return network


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")


def _check_types(cls: type, kwargs: Mapping[str, Any], where: str) -> None:
    """Refuse settings whose value the class's annotations rule out (``latent_dim: '64'``)."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # annotations that cannot be resolved are not checked
        return
    for key, value in kwargs.items():
        if key in hints and _fits(value, hints[key]) is False:
            shown = repr(value)[:60]
            raise CheckpointError(
                f"{where}.{key} = {shown}: {cls.__name__} takes {_hint_name(hints[key])} here, "
                f"not a {type(value).__name__}"
            )


def _fits(value: Any, hint: Any) -> bool | None:
    """Whether a plain ``value`` fits the annotation ``hint`` (``None``: cannot tell)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        results = [_fits(value, arg) for arg in args]
        return True if True in results else (None if None in results else False)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        return isinstance(value, list | tuple) or None
    if origin in (dict, Mapping) or hint is dict:
        return isinstance(value, Mapping) or None
    return None


def _hint_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
