"""Mining on Bittensor subnet 25: serve any a2a checkpoint to validators (``python mine.py ckpt=...``).

- :mod:`~a2a.mining.defaults`: constants shared with the command line (no bittensor import).
- :mod:`~a2a.mining.sdk`: the one import of bittensor, which keeps other loggers working.
- :mod:`~a2a.mining.protocol`: :class:`VPA2ASynapse`, the wire format.
- :mod:`~a2a.mining.intake`: safe audio intake (base64 / URL, caps, address checks, decoding).
- :mod:`~a2a.mining.chain`: caller lookups (metagraph or static) and the blacklist policy.
- :mod:`~a2a.mining.identity`: which subnet a netuid is, from its on-chain identity.
- :mod:`~a2a.mining.scheduler`: one model run at a time, bounded queue, stake priority.
- :mod:`~a2a.mining.reload`: hot reload of the checkpoint.
- :mod:`~a2a.mining.server`: axon plumbing (offline IP, body cap, loopback bind).
- :mod:`~a2a.mining.miner`: the :class:`Miner` (forward, blacklist, priority).
- :mod:`~a2a.mining.service`: :func:`serve`, the ``mine.py`` entry point.
- :mod:`~a2a.mining.client`: :func:`query`, a local validator.

Names are imported on first use: importing bittensor is slow and creates ``~/.bittensor``, so only the
parts that talk to the network (protocol, miner, service, client) pull it in.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BlacklistPolicy": "a2a.mining.chain",
    "Caller": "a2a.mining.chain",
    "ChainView": "a2a.mining.chain",
    "MetagraphView": "a2a.mining.chain",
    "StaticView": "a2a.mining.chain",
    "IntakeLimits": "a2a.mining.intake",
    "load_request_audio": "a2a.mining.intake",
    "InferenceQueue": "a2a.mining.scheduler",
    "ModelSlot": "a2a.mining.reload",
    "Miner": "a2a.mining.miner",
    "MinerSettings": "a2a.mining.miner",
    "VPA2ASynapse": "a2a.mining.protocol",
    "serve": "a2a.mining.service",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'a2a.mining' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
