"""The bittensor SDK, imported so that it leaves every other library's logging alone.

Importing bittensor 10.5 builds its logging machine, which removes the handlers of every logger that
exists at that moment and sets its level to CRITICAL: a2a's own warnings (and Hydra's, Lightning's)
would vanish for the rest of the process. :func:`import_bittensor` records the state of the loggers
that exist before the first import and puts it back afterwards; bittensor's own loggers are new and
untouched, and its start-up INFO line is held back. Importing bittensor also creates
``~/.bittensor/{wallets,miners}``, so only the commands that talk to the network import it.
"""

from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType


def _logger_states() -> dict[str, tuple[int, list[logging.Handler], bool, bool]]:
    return {
        name: (logger.level, list(logger.handlers), logger.propagate, logger.disabled)
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }


def import_bittensor() -> ModuleType:
    """``import bittensor``, keeping the level, handlers and propagation of every existing logger."""
    if "bittensor" in sys.modules:
        return sys.modules["bittensor"]
    before = _logger_states()
    previous_disable = logging.root.manager.disable
    # bittensor announces "Enabling default logging" at INFO on its own stdout handler while importing,
    # which would land in front of the JSON that `a2a query` prints.
    logging.disable(logging.INFO)
    try:
        module = importlib.import_module("bittensor")
    finally:
        logging.disable(previous_disable)
    for name, (level, handlers, propagate, disabled) in before.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.disabled = disabled
    return module
