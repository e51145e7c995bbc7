"""Which subnet a netuid is, from its on-chain identity: checked before the miner serves on it.

Netuids are reused. The audio-to-animation subnet (``Virtual-Protocol/tao-vpsubnet``, package
``vpa2a``) held netuid 25 on finney only in May 2024; since 20 May 2024 finney's netuid 25 belongs to
another subnet, whose validators do not send :class:`~a2a.mining.protocol.VPA2ASynapse` requests. A
miner registered there burns its registration fee and earns nothing. So before serving on a chain the
miner reads the subnet's identity and refuses unless it names the audio-to-animation subnet, or the
user passes ``mine.force=true`` (a relaunch under another name, a local subtensor without identities).

bittensor 10.5's ``Subtensor.subnet(netuid)`` returns the subnet's ``DynamicInfo``: ``subnet_name``
(every subnet has one; a default one unless the owner set it) and ``subnet_identity`` (owner-set
``subnet_name``, ``github_repo``, ``description``, ...; ``None`` when never set), or ``None`` when no
subnet has that netuid.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from a2a.errors import A2AError

log = logging.getLogger("a2a.mining")

# Normalised (lower case, letters and digits only) names the audio-to-animation subnet goes by.
SUBNET_MARKERS = ("vpa2a", "taovpsubnet", "audiotoanimation", "audio2animation")
SUBNET_DESCRIPTION = "the audio-to-animation subnet (Virtual-Protocol/tao-vpsubnet)"
FORCE_OPTION = "mine.force=true"


@dataclass(frozen=True)
class SubnetIdentity:
    """What the chain says a subnet is.

    Attributes:
        netuid: the subnet.
        chain_name: the chain's name for it (``DynamicInfo.subnet_name``).
        name / github_repo / description: the owner-set identity; all ``None`` when the chain has none.
    """

    netuid: int
    chain_name: str = ""
    name: str | None = None
    github_repo: str | None = None
    description: str | None = None

    @property
    def has_identity(self) -> bool:
        return self.name is not None

    def describe(self) -> str:
        """``'Name' (github repo)``, or the chain name when the owner set no identity."""
        if not self.has_identity:
            return f"{self.chain_name!r} (no owner-set identity)"
        repo = f" ({self.github_repo})" if self.github_repo else ""
        return f"{self.name!r}{repo}"


def _normalise(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def is_audio_to_animation(identity: SubnetIdentity) -> bool:
    """Whether the chain name, the identity's name or its GitHub repository names the subnet."""
    fields = (identity.chain_name, identity.name, identity.github_repo)
    return any(marker in _normalise(text) for text in fields for marker in SUBNET_MARKERS)


def read_identity(subtensor: Any, netuid: int) -> SubnetIdentity | None:
    """The identity of ``netuid`` from ``subtensor.subnet(netuid)``; ``None`` when no such subnet exists.

    Raises whatever the chain call raises (an old chain without the subnet-info runtime API).
    """
    info = subtensor.subnet(int(netuid))
    if info is None:
        return None
    chain_name = str(getattr(info, "subnet_name", "") or "")
    owner_set = getattr(info, "subnet_identity", None)
    if owner_set is None:
        return SubnetIdentity(int(netuid), chain_name)
    return SubnetIdentity(
        int(netuid),
        chain_name,
        name=str(owner_set.subnet_name),
        github_repo=str(owner_set.github_repo or "") or None,
        description=str(owner_set.description or "") or None,
    )


def check_subnet(subtensor: Any, netuid: int, network: str, force: bool = False) -> SubnetIdentity | None:
    """Refuse to serve on a netuid that is not the audio-to-animation subnet, unless ``force``.

    Returns:
        The identity read (``None`` when the chain offered none and ``force`` let it pass).

    Raises:
        A2AError: the subnet does not exist, offers no identity, cannot be read, or identifies as
            another subnet — and ``force`` is false. The message names netuid, network and the identity.
    """
    where = f"netuid {netuid} on {network}"
    try:
        identity = read_identity(subtensor, netuid)
    except Exception as exc:  # any chain failure: the identity is unknown, which is itself a reason to stop
        identity, problem = None, f"could not read the identity of {where} ({type(exc).__name__}: {exc})"
    else:
        problem = None if identity is not None else f"{where} does not exist"
    if identity is not None:
        if is_audio_to_animation(identity):
            log.info("event=subnet netuid=%d network=%s identity=%s", netuid, network, identity.describe())
            return identity
        if identity.has_identity:
            problem = f"{where} identifies as {identity.describe()}, not {SUBNET_DESCRIPTION}"
        else:
            problem = (
                f"{where} offers no identity, only the chain name {identity.chain_name!r}, so a2a "
                f"cannot tell whether it is {SUBNET_DESCRIPTION}"
            )
    if force:
        log.warning("event=subnet_check_overridden netuid=%d network=%s reason=%r", netuid, network, problem)
        return identity
    raise A2AError(
        f"{problem}. Its validators would not send a2a's requests, and registering there burns TAO. Point "
        f"netuid=/subtensor.network= at the audio-to-animation subnet, or pass {FORCE_OPTION} to serve anyway"
    )
