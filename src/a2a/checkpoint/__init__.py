"""The one owner of the checkpoint format: write, read, validate, migrate, and import released weights.

- :mod:`~a2a.checkpoint.format`: what a checkpoint holds; :func:`read_checkpoint` (weights-only load,
  migration of older formats, validation), :func:`metadata`, :func:`save_checkpoint`.
- :mod:`~a2a.checkpoint.configs`: stored configs are data, not code — :func:`build` makes objects only of
  trusted classes at the places meant to build something; :func:`trust_modules` for your own families.
- :mod:`~a2a.checkpoint.import_edge` / :mod:`~a2a.checkpoint.edge_names`: EDGE's released
  ``checkpoint.pt`` → an a2a checkpoint (``a2a convert-edge``), and its key names.
- :mod:`~a2a.checkpoint.import_dsg` / :mod:`~a2a.checkpoint.dsg_names`: DiffuseStyleGesture's released
  ``model000450000.pt`` → an a2a checkpoint (``a2a convert-dsg``), and its key names.
- :mod:`~a2a.checkpoint.foreign`: reading other projects' torch files without running their code.
"""

from a2a.checkpoint.configs import build, build_network, check_config, trust_modules
from a2a.checkpoint.format import (
    FORMAT,
    denoiser_weights,
    metadata,
    migrate,
    read_checkpoint,
    save_checkpoint,
)

__all__ = [
    "FORMAT",
    "build",
    "build_network",
    "check_config",
    "denoiser_weights",
    "metadata",
    "migrate",
    "read_checkpoint",
    "save_checkpoint",
    "trust_modules",
]
