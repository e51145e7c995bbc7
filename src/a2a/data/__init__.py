"""Datasets: the AIST++ layout, curated folders and Hugging Face datasets, ZEGGS gesture takes, windows,
the normaliser and the Lightning datamodules (dance, gesture).

Names are imported on first use, so ``import a2a.data.naming`` (used by the audio code) does not pull in
Lightning or ``datasets``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AISTPPDataset": "a2a.data.aistpp",
    "read_name_list": "a2a.data.aistpp",
    "CuratedFolder": "a2a.data.curated",
    "HFDanceDataset": "a2a.data.curated",
    "SUBNET_LIBRARY_TO_SMPL": "a2a.data.curated",
    "bvh_to_smpl": "a2a.data.curated",
    "open_source": "a2a.data.curated",
    "MotionDataModule": "a2a.data.datamodule",
    "GestureDataModule": "a2a.data.gesture",
    "ZeggsFolder": "a2a.data.zeggs",
    "DSG_STYLES": "a2a.data.zeggs",
    "parse_zeggs_name": "a2a.data.zeggs",
    "WindowDataset": "a2a.data.datamodule",
    "seed_worker": "a2a.data.datamodule",
    "describe_dataset": "a2a.data.describe",
    "format_description": "a2a.data.describe",
    "print_description": "a2a.data.describe",
    "BadItem": "a2a.data.windows",
    "DanceSequence": "a2a.data.windows",
    "DanceSource": "a2a.data.windows",
    "WindowSpec": "a2a.data.windows",
    "window_starts": "a2a.data.windows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'a2a.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
