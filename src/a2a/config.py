"""Config helpers: OmegaConf resolvers (registered on import) and an error-preserving ``instantiate``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra.utils
from hydra.errors import HydraException, InstantiationException
from omegaconf import OmegaConf

from a2a.errors import A2AError

# The Hydra config tree of a source checkout (editable install): <repo>/conf.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose_config(name: str, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Compose ``conf/<name>.yaml`` with ``overrides`` outside a Hydra run (tests, notebooks, scripts).

    As in a Hydra run, the composition (which member of each group was chosen) is recorded in
    ``HydraConfig``, so error messages can name the config files (:func:`config_source`).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def check_command_line(name: str, program: str, argv: list[str]) -> None:
    """Compose ``conf/<name>.yaml`` with a door's command-line overrides before Hydra runs it, so a bad
    group member, key or override is refused in one line with exit status 2 (Hydra itself prints several
    lines and exits 1). Command lines with Hydra's own flags (``--help``, ``--cfg``, ``-m``) go to Hydra.
    """
    import sys

    if any(arg.startswith("-") for arg in argv):
        return
    try:
        cfg = compose_config(name, argv)
        # The defaults the value overrides replace: the same groups chosen, no values changed.
        defaults = compose_config(name, [arg for arg in argv if _is_group_choice(arg)])
        problem = (
            _missing_value(cfg)
            or _unchosen_group_override(name, defaults, argv)
            or _mistyped_override(cfg, defaults, argv)
        )
    except (HydraException, ValueError) as exc:
        problem = _override_error(exc, name, argv)
    if problem:
        print(f"{program}: error: {problem}", file=sys.stderr)
        sys.exit(2)


def _is_group_choice(arg: str) -> bool:
    """``model=edge``-style overrides (and Hydra's own ``hydra.*``): they choose defaults, not values."""
    key = arg.partition("=")[0].lstrip("+~")
    return key.startswith("hydra.") or (CONF_DIR / key).is_dir()


def _missing_value(cfg: Any) -> str | None:
    """The first mandatory (``???``) key left unset, as one line (OmegaConf raises it much later)."""

    def walk(node: Any, prefix: str) -> str | None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            path = f"{prefix}{key}"
            if value == "???":
                return path
            found = walk(value, f"{path}.")
            if found:
                return found
        return None

    key = walk(OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False), "")
    return f"{key} is required: give {key}=VALUE on the command line" if key else None


# Keys whose default is a number or a flag but that Lightning also takes as a word or a list
# (devices: 2, "auto", [0, 1]; deterministic: true, false, "warn").
FREE_FORM = frozenset({"trainer.devices", "trainer.deterministic"})
# Keys (last part) whose whole-number default may be given as a fraction: Lightning's batch limits and
# check interval take a share of the epoch (0.1), and durations are seconds.
FRACTIONAL = frozenset(
    {
        "limit_train_batches",
        "limit_val_batches",
        "limit_test_batches",
        "limit_predict_batches",
        "overfit_batches",
        "val_check_interval",
    }
)
# Keys (last part) whose number default may also be given per condition: ``{genre: 3, audio: 2}``
# (classifier-free guidance weights, see conf/model/edge_genre.yaml).
PER_CONDITION = frozenset({"guidance_weight", "guidance"})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _takes_fraction(key: str) -> bool:
    leaf = key.rpartition(".")[2]
    return leaf in FRACTIONAL or leaf.endswith(("seconds", "timeout"))


@dataclass(frozen=True)
class _Expected:
    """What an override must be: ``description`` for the message, ``accepts`` to test a value."""

    description: str
    accepts: Callable[[Any], bool]


def _expected(key: str, default: Any) -> _Expected | None:
    """What an override of ``key`` whose default is ``default`` must be, or None where anything goes."""
    if isinstance(default, bool):
        return _Expected("true or false", lambda value: isinstance(value, bool))
    if _number(default):
        whole = _whole(default) and not _takes_fraction(key)
        number, fits = ("a whole number", _whole) if whole else ("a number", _number)
        if key.rpartition(".")[2] in PER_CONDITION:
            return _Expected(
                f"{number} or a {{condition: {number.removeprefix('a ')}}} mapping",
                lambda value: (
                    fits(value) or (isinstance(value, dict) and all(fits(v) for v in value.values()))
                ),
            )
        return _Expected(number, fits)
    if isinstance(default, list):
        for fits, number in ((_whole, "whole number"), (_number, "number")):
            if default and all(fits(v) for v in default):
                return _Expected(
                    f"a {number} or a list of {number}s",
                    lambda value, fits=fits: (
                        fits(value) or (isinstance(value, list) and all(fits(v) for v in value))
                    ),
                )
        return _Expected("a list", lambda value: isinstance(value, list))
    return None


def _override_key(arg: str) -> str | None:
    """The key a ``key=value`` or ``++key=value`` override sets in the composed config; None for the
    overrides that have no default to compare with (``+key`` adds a key, ``~key`` deletes one)."""
    key, equals, _ = arg.partition("=")
    if not equals or _is_group_choice(arg):
        return None
    if key.startswith("++"):
        return key[2:]
    return None if key.startswith(("+", "~")) else key


def _mistyped_override(cfg: Any, defaults: Any, argv: list[str]) -> str | None:
    """The first ``key=value`` override whose value is not of its default's type (``samples=abc`` where
    the default is ``[1]``), as one line; ``null`` always passes (it means "not set")."""
    for arg in argv:
        key = _override_key(arg)
        if key is None or key in FREE_FORM:
            continue
        try:
            default = OmegaConf.to_object(OmegaConf.select(defaults, key, throw_on_missing=False))
        except ValueError:  # not a container: a plain value
            default = OmegaConf.select(defaults, key, throw_on_missing=False)
        except Exception:  # an interpolation that cannot resolve here: the run itself reports it
            continue
        expected = _expected(key, default)
        value = OmegaConf.select(cfg, key, throw_on_missing=False)
        value = OmegaConf.to_object(value) if OmegaConf.is_config(value) else value
        if expected is None or value is None or expected.accepts(value):
            continue
        return f"{arg}: {key} must be {expected.description} (default {_show(default)})"
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)


def _group_members(group: str) -> str:
    return ", ".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))


def _unchosen_group_message(name: str, arg: str) -> str:
    """``sampler.steps=20`` where no sampler is chosen: the door's own key of that name (evaluate.py's
    ``steps``) or choosing a member that has the key first, instead of Hydra's ``+sampler.steps=20``
    (which builds a sampler config with nothing to build)."""
    key, _, value = arg.lstrip("+").partition("=")
    group, _, rest = key.partition(".")
    own = OmegaConf.to_container(OmegaConf.load(CONF_DIR / f"{name}.yaml"), resolve=False)

    def own_keys(node: dict, prefix: str) -> list[str]:
        found = []
        for child, item in node.items():
            if isinstance(item, dict) and child != "hydra":
                found += own_keys(item, f"{prefix}{child}.")
            elif child == rest:
                found.append(f"{prefix}{child}")
        return found

    hints = [f"{own_key}={value}" for own_key in own_keys(own, "")]
    having = [p.stem for p in sorted((CONF_DIR / group).glob("*.yaml")) if rest in OmegaConf.load(p)]
    if having:
        hints.append(f"choose a {group} first: {group}={having[0]} {group}.{rest}={value}")
    hint = "; use " + ", or ".join(hints) if hints else ""
    return f"{arg}: no {group} is chosen, so there is no {key} to set{hint}"


def _unchosen_group_override(name: str, defaults: Any, argv: list[str]) -> str | None:
    """A ``+group.key=value`` override where no member of ``group`` is chosen: it would build a config
    with no ``_target_``; refused with :func:`_unchosen_group_message`."""
    for arg in argv:
        key, equals, _ = arg.partition("=")
        group = key.lstrip("+").partition(".")[0]
        if (
            equals
            and key.startswith("+")
            and "." in key
            and (CONF_DIR / group).is_dir()
            and OmegaConf.select(defaults, group) is None
        ):
            return _unchosen_group_message(name, arg)
    return None


def _override_error(exc: Exception, name: str, argv: list[str]) -> str:
    """Hydra's composition error as one line that names the override."""
    text = str(exc).split("Config search path:")[0]
    missing = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if missing and (CONF_DIR / missing.group(1)).is_dir():
        group, member = missing.groups()
        return f"{group}={member}: no such {group}; the {group} group has {_group_members(group)}"
    if "Config group override must be a string" in text:
        for arg in argv:
            key, _, value = arg.partition("=")
            if value == "null" and (CONF_DIR / key).is_dir():
                return f"{arg}: {key} is a config group; name one of its members: {_group_members(key)}"
    absent = re.search(r"Could not override '([^']+)'", text)
    if absent and "." in absent.group(1) and (CONF_DIR / absent.group(1).partition(".")[0]).is_dir():
        arg = next((a for a in argv if a.partition("=")[0] == absent.group(1)), None)
        if arg is not None:
            try:
                chosen = compose_config(name, [a for a in argv if _is_group_choice(a)])
            except (HydraException, ValueError):
                chosen = None
            if chosen is not None and OmegaConf.select(chosen, absent.group(1).partition(".")[0]) is None:
                return _unchosen_group_message(name, arg)
    return " ".join(text.split())


def group_member(group: str, name: str) -> dict:
    """``conf/<group>/<name>.yaml`` as a plain dict (e.g. a sampler for ``a2a generate --sampler ddim``);
    an unknown name lists the group's members."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        members = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        raise A2AError(f"no {group} named {name!r}; the {group} group has {', '.join(members)}")
    node = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    assert isinstance(node, dict)
    return node


def config_source(group: str) -> str:
    """How errors name a config group: ``model=edge (conf/model/edge.yaml)`` when Hydra composed the
    config (a door or :func:`compose_config`), else just ``model``."""
    from hydra.core.hydra_config import HydraConfig

    try:
        choice = HydraConfig.get().runtime.choices.get(group)
    except ValueError:  # not composed by Hydra
        return group
    if not choice:
        return group
    return f"{group}={choice} (conf/{group}/{choice}.yaml)"


def _frames(seconds: float, fps: float) -> int:
    """Whole frames in ``seconds`` at ``fps`` (``${a2a.frames:5.0,30}`` → 150)."""
    return round(float(seconds) * float(fps))


def _representation_dim(representation: Any) -> int:
    """Channels of a representation config (``${a2a.dim:${..representation}}`` → 151 for EDGE's)."""
    return int(instantiate(representation).dim)


def _run_of_checkpoint(ckpt_path: str | None) -> Path | None:
    """The run directory a checkpoint was written in (``RUN/checkpoints/NAME.ckpt`` with ``RUN/.hydra``)."""
    if not ckpt_path:
        return None
    run = Path(str(ckpt_path)).parent.parent
    if Path(str(ckpt_path)).parent.name == "checkpoints" and (run / ".hydra").is_dir():
        return run
    return None


def _run_dir(ckpt_path: str | None, fresh: str) -> str:
    """``hydra.run.dir`` of train.py: a run resumed from a checkpoint continues in that checkpoint's run
    directory (top-k tracking, logs and checkpoints stay together); any other run gets ``fresh``."""
    run = _run_of_checkpoint(ckpt_path)
    return str(run) if run is not None else fresh


def _config_subdir(ckpt_path: str | None, stamp: str) -> str:
    """``hydra.output_subdir``: a resumed run keeps the original ``.hydra/`` and writes its own config to
    ``.hydra/resumed-STAMP/``."""
    return ".hydra" if _run_of_checkpoint(ckpt_path) is None else f".hydra/resumed-{stamp}"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("a2a.frames"):
        OmegaConf.register_new_resolver("a2a.frames", _frames)
    if not OmegaConf.has_resolver("a2a.len"):
        OmegaConf.register_new_resolver("a2a.len", lambda items: len(items))
    if not OmegaConf.has_resolver("a2a.dim"):
        OmegaConf.register_new_resolver("a2a.dim", _representation_dim)
    if not OmegaConf.has_resolver("a2a.run_dir"):
        OmegaConf.register_new_resolver("a2a.run_dir", _run_dir)
    if not OmegaConf.has_resolver("a2a.config_subdir"):
        OmegaConf.register_new_resolver("a2a.config_subdir", _config_subdir)


def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, but an a2a error raised inside comes out as itself, not wrapped in
    Hydra's ``InstantiationException`` — so the user sees which file/field/option is at fault."""
    try:
        return hydra.utils.instantiate(config, *args, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        while isinstance(cause, InstantiationException):
            cause = cause.__cause__
        if isinstance(cause, A2AError):
            raise cause from None
        raise


register_resolvers()
