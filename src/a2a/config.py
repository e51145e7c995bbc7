"""Config helpers: OmegaConf resolvers (registered on import) and an error-preserving ``instantiate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra.utils
from hydra.errors import InstantiationException
from omegaconf import OmegaConf

from a2a.errors import A2AError

# The Hydra config tree of a source checkout (editable install): <repo>/conf.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose_config(name: str, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Compose ``conf/<name>.yaml`` with ``overrides`` outside a Hydra run (tests, notebooks, scripts)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(name, overrides=list(overrides))


def _frames(seconds: float, fps: float) -> int:
    """Whole frames in ``seconds`` at ``fps`` (``${a2a.frames:5.0,30}`` → 150)."""
    return round(float(seconds) * float(fps))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("a2a.frames"):
        OmegaConf.register_new_resolver("a2a.frames", _frames)


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
