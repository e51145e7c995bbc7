"""What the command-line doors (``train.py``, ``evaluate.py``, ``mine.py``) share: a2a's user errors as one
line with exit status 2, no run directory left by a failed run, and the device checks that must pass
before any long work starts."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import torch

from a2a.errors import A2AError


@contextlib.contextmanager
def one_line_errors(program: str) -> Iterator[None]:
    """Print an :class:`A2AError` raised inside as ``PROGRAM: error: MESSAGE`` (one line, on stderr) and
    exit with status 2; anything else propagates with its traceback (a bug, not bad input)."""
    try:
        yield
    except A2AError as exc:
        print(f"{program}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)


def holds_only_hydra_files(run_dir: Path, log_name: str) -> bool:
    """True when ``run_dir`` holds nothing but what Hydra writes when a run starts."""
    return run_dir.is_dir() and all(p.name in (".hydra", log_name) for p in run_dir.iterdir())


class FailedRunCleanup:
    """Removes the Hydra run directory a door created when the run fails before it is worth keeping.

    Used as ``with FailedRunCleanup() as run: ...``; ``run.keep()`` marks the point from which the
    directory holds something the user wants even if the run fails later (a miner's request log). A
    directory that held anything else beforehand (``hydra.run.dir`` pointing at an existing folder) is
    never touched.

    ``keep_checkpoints=True`` is train.py's rule: a run directory that holds a checkpoint is kept (the
    run failed after saving one), and a failed resume removes only the config folder it added to the
    original run (``hydra.output_subdir``, ``.hydra/resumed-STAMP``).
    """

    def __init__(self, keep_checkpoints: bool = False) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        self.run_dir = Path(hydra_cfg.runtime.output_dir)
        self.created_here = holds_only_hydra_files(self.run_dir, f"{hydra_cfg.job.name}.log")
        self.keep_checkpoints = keep_checkpoints
        subdir = str(hydra_cfg.output_subdir or "")
        # A resumed run writes its config into a folder of its own inside the original run's .hydra/.
        self.added_config = self.run_dir / subdir if subdir.startswith(".hydra/resumed-") else None
        self.kept = False

    def keep(self) -> None:
        self.kept = True

    def __enter__(self) -> FailedRunCleanup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None or self.kept:
            return
        if self.created_here and not (self.keep_checkpoints and any(self.run_dir.rglob("*.ckpt"))):
            shutil.rmtree(self.run_dir, ignore_errors=True)
        elif self.keep_checkpoints and self.added_config is not None:
            shutil.rmtree(self.added_config, ignore_errors=True)


def _no_cuda_reason() -> str:
    if torch.version.cuda is None:
        return f"this torch build ({torch.__version__}) has no CUDA support"
    return "no CUDA device is visible"


def check_device(device: str, option: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` that this machine has; :class:`A2AError` naming ``option``
    otherwise (instead of torch's assertion deep inside the first ``.to(device)``)."""
    try:
        parsed = torch.device(str(device))
    except (RuntimeError, TypeError) as exc:
        raise A2AError(f"{option}={device}: not a torch device ({exc})") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise A2AError(f"{option}={device}: {_no_cuda_reason()}; use {option}=cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise A2AError(f"{option}={device}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise A2AError(f"{option}={device}: MPS is not available on this machine; use {option}=cpu")
    return parsed


def check_accelerator(accelerator: str | None, option: str = "trainer.accelerator") -> None:
    """Refuse a Lightning accelerator this machine lacks (``cuda`` without CUDA, ``gpu`` without CUDA or
    MPS, ``mps`` without MPS) with one line naming ``option``; ``auto`` and ``cpu`` always pass."""
    name = str(accelerator or "auto").lower()
    mps = torch.backends.mps.is_available()
    if (name == "cuda" or (name == "gpu" and not mps)) and not torch.cuda.is_available():
        raise A2AError(f"{option}={accelerator}: {_no_cuda_reason()}; train with trainer=cpu")
    if name == "mps" and not mps:
        raise A2AError(
            f"{option}={accelerator}: MPS is not available on this machine; train with trainer=cpu"
        )
