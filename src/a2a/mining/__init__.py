"""Mining on Bittensor subnet 25: serve any a2a checkpoint to validators (``python mine.py ckpt=...``).

- :mod:`~a2a.mining.protocol`: :class:`VPA2ASynapse`, the wire format.
- :mod:`~a2a.mining.intake`: safe audio intake (base64 / URL, caps, address checks, decoding).
- :mod:`~a2a.mining.chain`: caller lookups (metagraph or static) and the blacklist policy.
- :mod:`~a2a.mining.scheduler`: one model run at a time, bounded queue, stake priority.
- :mod:`~a2a.mining.reload`: hot reload of the checkpoint.
- :mod:`~a2a.mining.server`: axon plumbing (offline IP, body cap, loopback bind).
- :mod:`~a2a.mining.miner`: the :class:`Miner` (forward, blacklist, priority).
- :mod:`~a2a.mining.service`: :func:`serve`, the ``mine.py`` entry point.
- :mod:`~a2a.mining.client`: :func:`query`, a local validator.
"""

from a2a.mining.chain import BlacklistPolicy, Caller, ChainView, MetagraphView, StaticView
from a2a.mining.intake import IntakeLimits, load_request_audio
from a2a.mining.miner import Miner, MinerSettings
from a2a.mining.protocol import VPA2ASynapse
from a2a.mining.reload import ModelSlot
from a2a.mining.scheduler import InferenceQueue
from a2a.mining.service import serve

__all__ = [
    "BlacklistPolicy",
    "Caller",
    "ChainView",
    "InferenceQueue",
    "IntakeLimits",
    "MetagraphView",
    "Miner",
    "MinerSettings",
    "ModelSlot",
    "StaticView",
    "VPA2ASynapse",
    "load_request_audio",
    "serve",
]
