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
