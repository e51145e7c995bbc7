"""Shared test setup and fixtures."""

import logging
from pathlib import Path

import pytest
import torch

# Tiny tensors on a 2-core machine: one intra-op thread avoids oversubscription and keeps timings stable.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _a2a_loggers_enabled() -> None:
    """Importing bittensor (the mining tests do, at collection) sets every existing logger to CRITICAL;
    undo that for a2a's loggers so tests that check log lines see them."""
    for name in list(logging.root.manager.loggerDict):
        if name == "a2a" or name.startswith("a2a."):
            logger = logging.getLogger(name)
            logger.setLevel(logging.NOTSET)
            logger.disabled = False
            logger.propagate = True


REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic AIST++-layout dataset shared by the whole session (read-only for tests)."""
    from a2a.data.synthetic import synthesize

    return synthesize(
        tmp_path_factory.mktemp("synthetic") / "aistpp", sequences=12, seconds=5.0, seed=0, progress=False
    )


def compose_train(overrides: list[str]):
    """Compose conf/train.yaml with overrides, outside of a Hydra run."""
    from a2a.config import compose_config

    return compose_config("train", overrides)


@pytest.fixture(scope="session")
def tiny_checkpoint(synthetic_root, tmp_path_factory) -> Path:
    """A tiny EDGE trained for two steps on the synthetic data (the end-to-end tests' checkpoint)."""
    from a2a.train import train_tiny

    return train_tiny(synthetic_root, tmp_path_factory.mktemp("tiny_run"))


@pytest.fixture(scope="session")
def gesture_root(tmp_path_factory) -> Path:
    """A small synthetic ZEGGS-layout gesture dataset (2 takes of each DSG style, 6 s) for the session."""
    from a2a.data.synthetic_gesture import synthesize_gestures

    return synthesize_gestures(
        tmp_path_factory.mktemp("gestures") / "zeggs", sequences=12, seconds=6.0, seed=0, progress=False
    )
