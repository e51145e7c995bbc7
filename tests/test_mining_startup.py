"""Miner start-up checks: the subnet's on-chain identity, a free port — before any slow work.

The miner refuses a netuid whose on-chain identity is not the audio-to-animation subnet's. A fake chain
stands in for ``bt.Subtensor``: ``subnet(netuid)`` answers like bittensor 10.5's ``DynamicInfo``
(``subnet_name`` and an optional owner-set ``subnet_identity``); nothing leaves the machine.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import ClassVar

import pytest

from a2a.errors import A2AError
from a2a.mining.identity import SubnetIdentity, check_subnet, is_audio_to_animation, read_identity


def owner_identity(name: str, repo: str = "", description: str = "") -> SimpleNamespace:
    return SimpleNamespace(subnet_name=name, github_repo=repo, description=description)


class FakeChain:
    """``subnet(netuid)`` from a table; a missing netuid is ``None``, an exception is raised."""

    def __init__(self, subnets: dict) -> None:
        self.subnets = subnets
        self.asked: list[int] = []

    def subnet(self, netuid: int):
        self.asked.append(netuid)
        answer = self.subnets.get(netuid)
        if isinstance(answer, Exception):
            raise answer
        return answer


MAINFRAME = SimpleNamespace(
    subnet_name="Mainframe",
    subnet_identity=owner_identity("Mainframe", "https://github.com/macrocosm-os/mainframe", "folding"),
)
RELAUNCH = SimpleNamespace(
    subnet_name="gamma",
    subnet_identity=owner_identity("Virtuals A2A", "https://github.com/Virtual-Protocol/tao-vpsubnet"),
)


def test_identity_is_read_from_the_dynamic_info():
    chain = FakeChain({25: MAINFRAME, 3: SimpleNamespace(subnet_name="gamma", subnet_identity=None)})
    assert read_identity(chain, 25) == SubnetIdentity(
        25, "Mainframe", "Mainframe", "https://github.com/macrocosm-os/mainframe", "folding"
    )
    bare = read_identity(chain, 3)
    assert bare == SubnetIdentity(3, "gamma") and not bare.has_identity
    assert read_identity(chain, 99) is None


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (SubnetIdentity(25, "Mainframe", "Mainframe", "https://github.com/macrocosm-os/mainframe"), False),
        (
            SubnetIdentity(7, "gamma", "Virtuals A2A", "https://github.com/Virtual-Protocol/tao-vpsubnet"),
            True,
        ),
        (SubnetIdentity(7, "gamma", "VPA2A"), True),
        (SubnetIdentity(7, "Audio-to-Animation"), True),
        (SubnetIdentity(7, "gamma", "audio 2 animation"), True),
        (SubnetIdentity(7, "gamma"), False),
    ],
)
def test_which_identities_are_the_audio_to_animation_subnet(identity, expected):
    assert is_audio_to_animation(identity) is expected


def test_another_subnet_is_refused_unless_forced(caplog):
    chain = FakeChain({25: MAINFRAME})
    with pytest.raises(A2AError) as refused:
        check_subnet(chain, 25, "finney")
    assert str(refused.value) == (
        "netuid 25 on finney identifies as 'Mainframe' (https://github.com/macrocosm-os/mainframe), not the "
        "audio-to-animation subnet (Virtual-Protocol/tao-vpsubnet). Its validators would not send a2a's "
        "requests, and registering there burns TAO. Point netuid=/subtensor.network= at the "
        "audio-to-animation subnet, or pass mine.force=true to serve anyway"
    )
    with caplog.at_level(logging.WARNING, logger="a2a.mining"):
        assert check_subnet(chain, 25, "finney", force=True).name == "Mainframe"
    assert "event=subnet_check_overridden netuid=25 network=finney" in caplog.text


def test_the_audio_to_animation_subnet_passes(caplog):
    with caplog.at_level(logging.INFO, logger="a2a.mining"):
        identity = check_subnet(FakeChain({7: RELAUNCH}), 7, "test")
    assert identity.github_repo.endswith("tao-vpsubnet")
    assert "event=subnet netuid=7 network=test identity='Virtuals A2A'" in caplog.text


@pytest.mark.parametrize(
    ("subnets", "reason"),
    [
        ({}, "netuid 25 on local does not exist."),
        (
            {25: SimpleNamespace(subnet_name="omicron", subnet_identity=None)},
            "netuid 25 on local offers no identity, only the chain name 'omicron', so a2a cannot tell "
            "whether it is the audio-to-animation subnet (Virtual-Protocol/tao-vpsubnet).",
        ),
        (
            {25: RuntimeError("runtime API SubnetInfoRuntimeApi not found")},
            "could not read the identity of netuid 25 on local (RuntimeError: runtime API "
            "SubnetInfoRuntimeApi not found).",
        ),
    ],
    ids=["no-subnet", "no-identity", "chain-error"],
)
def test_an_unknown_identity_is_refused_unless_forced(subnets, reason):
    with pytest.raises(A2AError) as refused:
        check_subnet(FakeChain(subnets), 25, "local")
    assert str(refused.value).startswith(reason)
    assert str(refused.value).endswith("or pass mine.force=true to serve anyway")
    check_subnet(FakeChain(subnets), 25, "local", force=True)  # forced: a warning, no error


def test_serve_checks_the_identity_before_anything_else_on_chain(tmp_path, monkeypatch):
    """mine.py on a chain whose netuid 25 is another subnet: one error before the metagraph is read."""
    bt = pytest.importorskip("bittensor")
    from a2a.config import compose_config
    from a2a.mining.service import serve

    wallet = bt.Wallet(name="miner", hotkey="default", path=str(tmp_path / "wallets"))
    wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
    ckpt = tmp_path / "best.ckpt"
    ckpt.write_bytes(b"not loaded before the chain checks")

    class FakeSubtensor(FakeChain):
        networks: ClassVar[list[str]] = []

        def __init__(self, network: str) -> None:
            super().__init__({25: MAINFRAME})
            self.networks.append(network)

        def metagraph(self, netuid: int):  # reached only past the identity check
            return SimpleNamespace(S=[], validator_permit=[], hotkeys=[])

        def get_current_block(self) -> int:
            return 1

    monkeypatch.setattr(bt, "Subtensor", FakeSubtensor)
    overrides = [f"ckpt={ckpt}", f"wallet.path={tmp_path / 'wallets'}", "logging.level=WARNING"]
    with pytest.raises(A2AError, match="^netuid 25 on finney identifies as 'Mainframe'"):
        serve(compose_config("mine", overrides))
    assert FakeSubtensor.networks == ["finney"]
    # Forced past the identity check, it stops at the next one: the hotkey is not registered there.
    with pytest.raises(
        A2AError, match=f"^hotkey {wallet.hotkey.ss58_address} is not registered on netuid 25"
    ):
        serve(compose_config("mine", [*overrides, "mine.force=true"]))


def test_busy_port_fails_at_once_in_one_line(tmp_path):
    """A second miner on the same port used to load its model, then wait 30 s and print a traceback."""
    import socket
    import time

    pytest.importorskip("bittensor")
    from a2a.config import compose_config
    from a2a.mining.service import serve

    ckpt = tmp_path / "best.ckpt"
    ckpt.write_bytes(b"never loaded: the port is checked first")
    with socket.socket() as other_miner:
        other_miner.bind(("127.0.0.1", 0))
        other_miner.listen(1)
        port = other_miner.getsockname()[1]
        overrides = [f"ckpt={ckpt}", "offline=true", f"axon.port={port}", f"wallet.path={tmp_path / 'w'}"]
        start = time.monotonic()
        with pytest.raises(A2AError) as refused:
            serve(compose_config("mine", [*overrides, "logging.level=WARNING"]))
    assert time.monotonic() - start < 5.0
    assert str(refused.value) == (
        f"axon.port={port}: cannot listen on 127.0.0.1:{port} (Address already in use); another miner may "
        "hold it: stop that one or choose another axon.port"
    )


def test_unedited_netuid_placeholder_is_one_line(tmp_path):
    from a2a.config import compose_config
    from a2a.mining.service import serve

    ckpt = tmp_path / "best.ckpt"
    ckpt.write_bytes(b"x")
    with pytest.raises(A2AError, match="^netuid must be the subnet's number, got 'NETUID'$"):
        serve(compose_config("mine", [f"ckpt={ckpt}", "netuid=NETUID", "subtensor.network=NETWORK"]))


def test_offline_mode_never_creates_the_wallet_users_register(tmp_path):
    """Offline mode creates an unencrypted, unbacked-up wallet: it must not be the README's ``miner``."""
    pytest.importorskip("bittensor")
    from a2a.cli import build_parser
    from a2a.config import compose_config
    from a2a.mining.service import open_wallet

    wallets = tmp_path / "wallets"
    offline = compose_config("mine", ["ckpt=x.ckpt", "offline=true", f"wallet.path={wallets}"])
    open_wallet(offline)
    assert sorted(p.name for p in wallets.iterdir()) == ["a2a-offline"]
    online = compose_config("mine", ["ckpt=x.ckpt", f"wallet.path={wallets}"])
    with pytest.raises(
        A2AError, match=f"^wallet miner/default not found under {wallets}; create and register"
    ):
        open_wallet(online)  # on a chain the default is still the registered wallet, never created
    # The local validator looks up the offline miner's hotkey in that wallet by default.
    args = build_parser().parse_args(["query", "--port", "8091", "song.wav"])
    assert args.miner_wallet_name == "a2a-offline"
