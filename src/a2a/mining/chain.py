"""Who is calling: hotkey → uid, stake and validator permit, and the miner's blacklist policy.

The miner only needs four answers from the chain, so they sit behind :class:`ChainView`:
:class:`MetagraphView` reads them from a synced ``bt.Metagraph`` (online), :class:`StaticView` from a
mapping (tests and offline mode). ``bt.MockSubtensor`` cannot stand in here: its metagraph calls raise.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from a2a.errors import A2AError


@dataclass(frozen=True)
class Caller:
    """A registered hotkey's standing on the subnet."""

    uid: int
    stake: float
    validator_permit: bool


class ChainView(Protocol):
    """The chain lookups the miner needs."""

    def lookup(self, hotkey: str) -> Caller | None:
        """The registered neuron with ``hotkey``, or ``None`` when it is not registered."""
        ...

    def sync(self) -> None:
        """Refresh from the chain (a no-op for static views)."""
        ...

    def current_block(self) -> int:
        """The chain's current block number."""
        ...


class StaticView:
    """A fixed hotkey → :class:`Caller` table: the fake metagraph of the tests and of offline mode."""

    def __init__(self, callers: Mapping[str, Caller] | None = None, block: int = 0) -> None:
        self.callers = dict(callers or {})
        self.block = block
        self.syncs = 0

    def lookup(self, hotkey: str) -> Caller | None:
        return self.callers.get(hotkey)

    def sync(self) -> None:
        self.syncs += 1

    def current_block(self) -> int:
        return self.block


class MetagraphView:
    """:class:`ChainView` over ``subtensor.metagraph(netuid)`` (lite), re-read on :meth:`sync`.

    Lookups read an immutable snapshot swapped in whole by :meth:`sync`, so the axon's event loop can
    look up callers while a background thread resyncs.
    """

    def __init__(self, subtensor: Any, netuid: int) -> None:
        self.subtensor = subtensor
        self.netuid = int(netuid)
        self._lock = threading.Lock()
        self._table: dict[str, Caller] = {}
        self.last_sync_block = -1
        self.sync()

    def sync(self) -> None:
        with self._lock:
            block = self.current_block()
            metagraph = self.subtensor.metagraph(self.netuid)
            stakes = [float(s) for s in metagraph.S]
            permits = [bool(p) for p in metagraph.validator_permit]
            table = {
                str(hotkey): Caller(uid=uid, stake=stakes[uid], validator_permit=permits[uid])
                for uid, hotkey in enumerate(metagraph.hotkeys)
            }
            self._table = table
            self.last_sync_block = block

    def lookup(self, hotkey: str) -> Caller | None:
        return self._table.get(hotkey)

    def current_block(self) -> int:
        return int(self.subtensor.get_current_block())


@dataclass(frozen=True)
class BlacklistPolicy:
    """Which callers the axon refuses (``blacklist.*`` in ``conf/mine.yaml``).

    Attributes:
        allow_non_registered: serve hotkeys that are not registered on the subnet.
        force_validator_permit: refuse registered callers without a validator permit.
        min_stake: refuse registered callers with less stake than this.
    """

    allow_non_registered: bool = False
    force_validator_permit: bool = True
    min_stake: float = 0.0

    @classmethod
    def open(cls) -> BlacklistPolicy:
        """Serve every (signed) caller: offline mode."""
        return cls(allow_non_registered=True, force_validator_permit=False, min_stake=float("-inf"))

    def check(self, view: ChainView, hotkey: str | None) -> tuple[bool, str]:
        """``(blacklisted, reason)`` for a caller's claimed hotkey (the axon checks the signature after).

        Registration is checked before anything indexes by uid (the reference miner's order raised
        ``ValueError`` → HTTP 500 for unregistered callers instead of 403).
        """
        if not hotkey:
            return True, "no caller hotkey"
        caller = view.lookup(hotkey)
        if caller is None:
            if self.allow_non_registered:
                return False, "unregistered hotkey allowed"
            return True, "unregistered hotkey"
        if self.force_validator_permit and not caller.validator_permit:
            return True, f"uid {caller.uid} has no validator permit"
        if caller.stake < self.min_stake:
            return True, f"uid {caller.uid} stake {caller.stake:g} < blacklist.min_stake={self.min_stake:g}"
        return False, f"uid {caller.uid} allowed"

    def priority(self, view: ChainView, hotkey: str | None) -> float:
        """Serving priority: the caller's stake (0 for unknown callers)."""
        caller = view.lookup(hotkey) if hotkey else None
        return float(caller.stake) if caller is not None else 0.0


def require_registered(view: ChainView, hotkey: str, netuid: int) -> Caller:
    """The miner's own registration, or an error that says how to register."""
    caller = view.lookup(hotkey)
    if caller is None:
        raise A2AError(
            f"hotkey {hotkey} is not registered on netuid {netuid}; register it first with "
            f"`btcli subnet register --netuid {netuid} --wallet.name NAME --wallet.hotkey HOTKEY`"
        )
    return caller
