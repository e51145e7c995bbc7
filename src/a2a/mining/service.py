"""``python mine.py``: wallet, chain, axon and the serving loop around :class:`~a2a.mining.miner.Miner`.

Online: connect to ``subtensor.network``, check that ``netuid`` identifies on chain as the
audio-to-animation subnet (:mod:`a2a.mining.identity`; ``mine.force=true`` overrides), check the hotkey
is registered on ``netuid``, serve the axon on chain, resync the metagraph every ``mine.epoch_length``
blocks (exit if the hotkey was deregistered).
Offline (``offline=true``): bind 127.0.0.1, never construct a Subtensor, never look up the public IP,
accept any correctly signed caller, and create the wallet if it does not exist.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from a2a.doors import check_device
from a2a.errors import A2AError
from a2a.mining.chain import BlacklistPolicy, ChainView, MetagraphView, StaticView, require_registered
from a2a.mining.defaults import LOOPBACK, OFFLINE_WALLET, ONLINE_WALLET
from a2a.mining.identity import check_subnet
from a2a.mining.intake import IntakeLimits
from a2a.mining.miner import Miner, MinerSettings
from a2a.mining.reload import ModelSlot
from a2a.mining.server import build_axon, build_loopback_axon, check_port_free, start_axon
from a2a.runtime import check_precision, resolve_threads

log = logging.getLogger("a2a.mining")

BLOCK_SECONDS = 12.0
GENERATE_OPTIONS = ("steps", "eta", "guidance", "samples", "style", "style_mix")
# The settings the warm-up generation uses too (it keeps its own one-step sampler).
WARM_UP_OPTIONS = ("guidance", "samples", "style", "style_mix")


def configure_logging(level: str = "INFO") -> None:
    """Make a2a's loggers emit at ``level`` again.

    Importing bittensor sets every logger that exists at that moment to CRITICAL and strips its
    handlers; a2a's loggers propagate to the root (Hydra's console and file handlers).
    """
    numeric = logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise A2AError(f"logging.level must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("a2a."):
            logging.getLogger(name).setLevel(logging.NOTSET)
    root_a2a = logging.getLogger("a2a")
    root_a2a.setLevel(numeric)
    root_a2a.propagate = True
    if not logging.root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; anything else as given (``cuda:1``) when
    this machine has it (:class:`A2AError` naming ``mine.device`` otherwise)."""
    if device != "auto":
        return str(check_device(str(device), "mine.device"))
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_port(port: Any, option: str) -> int:
    """A TCP port a server can listen on (1..65535), or :class:`A2AError` naming ``option``."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise A2AError(f"{option}={port}: not a TCP port; choose one from 1 to 65535")
    return port


def settings_from_config(cfg: DictConfig) -> MinerSettings:
    """:class:`MinerSettings` from the ``mine`` and ``seed`` entries of ``conf/mine.yaml``."""
    mine = cfg.mine
    limits = IntakeLimits(
        max_bytes=int(mine.max_audio_bytes),
        max_data_bytes=int(mine.max_data_bytes),
        max_seconds=float(mine.max_audio_seconds),
        download_timeout=float(mine.download_timeout),
        max_redirects=int(mine.max_redirects),
        allow_private_urls=bool(mine.allow_private_urls),
        allow_private_networks=tuple(str(network) for network in mine.allow_private_networks or ()),
    )
    generate_kwargs = {k: mine.generate[k] for k in GENERATE_OPTIONS if mine.generate.get(k) is not None}
    if "style" in generate_kwargs and OmegaConf.is_config(generate_kwargs["style"]):
        generate_kwargs["style"] = list(generate_kwargs["style"])  # two styles to mix
    samples = generate_kwargs.get("samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise A2AError(f"mine.generate.samples={samples}: draws per answer must be a whole number >= 1")
    if cfg.get("sampler"):
        generate_kwargs["sampler"] = OmegaConf.to_container(cfg.sampler, resolve=True)
    return MinerSettings(
        limits=limits,
        queue_size=int(mine.queue_size),
        deadline_seconds=float(mine.deadline_seconds),
        seed=None if cfg.seed is None else int(cfg.seed),
        generate_kwargs=generate_kwargs,
    )


def warm_loader(settings: MinerSettings, **load_options: Any) -> Callable[[Path], Any]:
    """The :class:`ModelSlot` loader: ``path -> generator`` by ``a2a.load(path, **load_options)``, its
    generate settings checked and warmed up, at start and before a hot-reload swap (so no validator
    request pays the set-up, and a checkpoint the settings do not fit is refused while the old model
    keeps serving, instead of every request being answered "")."""
    import a2a

    kwargs = settings.generate_kwargs
    used = {k: v for k, v in kwargs.items() if k in WARM_UP_OPTIONS}

    def load_warm(path: Path) -> Any:
        generator = a2a.load(path, **load_options)
        if not generator.representation.validator_rig:
            log.warning(
                "event=rig_warning ckpt=%s rig=%s: the subnet-25 validators score SMPL-24 joint names; this "
                "model answers in its own rig, so every answer scores as missing joints",
                path,
                type(generator.representation).__name__,
            )
        generator.sampler_for(kwargs.get("sampler"), kwargs.get("steps"), kwargs.get("eta"))
        try:  # the warm-up answers with the configured style and draws: one this model cannot use fails
            generator.warm_up(**used)
        except A2AError as exc:
            if not used:
                raise
            named = " ".join(f"mine.generate.{k}={v}" for k, v in used.items())
            raise A2AError(f"{named}: {exc}") from None
        return generator

    return load_warm


def policy_from_config(cfg: DictConfig) -> BlacklistPolicy:
    if cfg.offline:
        return BlacklistPolicy.open()
    return BlacklistPolicy(
        allow_non_registered=bool(cfg.blacklist.allow_non_registered),
        force_validator_permit=bool(cfg.blacklist.force_validator_permit),
        min_stake=float(cfg.blacklist.min_stake),
    )


def wallet_name(cfg: DictConfig) -> str:
    """``wallet.name``, or by default ``miner`` on a chain and ``a2a-offline`` offline: the wallet offline
    mode creates is unencrypted and never backed up, so it must not be the one a user registers."""
    if cfg.wallet.get("name"):
        return str(cfg.wallet.name)
    return OFFLINE_WALLET if cfg.offline else ONLINE_WALLET


def open_wallet(cfg: DictConfig) -> Any:
    """The miner's wallet; offline mode creates an unencrypted one if it is missing."""
    import bittensor as bt

    name = wallet_name(cfg)
    wallet = bt.Wallet(name=name, hotkey=cfg.wallet.hotkey, path=str(cfg.wallet.path))
    if not wallet.hotkey_file.exists_on_device():
        if not cfg.offline:
            raise A2AError(
                f"wallet {name}/{cfg.wallet.hotkey} not found under {cfg.wallet.path}; create and "
                "register it with btcli (see the README's mining section) or set wallet.name/wallet.hotkey"
            )
        wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
        log.info("event=wallet_created name=%s hotkey=%s path=%s", name, cfg.wallet.hotkey, cfg.wallet.path)
    return wallet


def serve(cfg: DictConfig, on_serving: Callable[[], None] | None = None) -> None:
    """Run the miner described by ``cfg`` (``conf/mine.yaml``) until SIGINT/SIGTERM; ``on_serving`` is
    called once the axon answers requests."""
    import bittensor as bt

    configure_logging(cfg.logging.level)
    ckpt = Path(str(cfg.ckpt)).expanduser()
    if not ckpt.is_file():
        raise A2AError(f"ckpt={ckpt}: no such checkpoint file")
    if not cfg.offline and not str(cfg.netuid).isdigit():
        raise A2AError(f"netuid must be the subnet's number, got {cfg.netuid!r}")
    settings = settings_from_config(cfg)
    policy = policy_from_config(cfg)
    device = resolve_device(str(cfg.mine.device))
    precision = check_precision(str(cfg.mine.get("precision", "fp32")), device, "mine.precision")
    threads = resolve_threads(cfg.mine.get("threads"), "mine.threads")
    compile_model = bool(cfg.mine.get("compile", False))
    bind_ip = LOOPBACK if cfg.offline else str(cfg.axon.ip or "0.0.0.0")
    port = check_port(cfg.axon.port, "axon.port")
    if cfg.axon.get("external_port") is not None:
        check_port(cfg.axon.external_port, "axon.external_port")
    check_port_free(bind_ip, port)
    wallet = open_wallet(cfg)
    hotkey = wallet.hotkey.ss58_address

    subtensor = None
    chain: ChainView
    if cfg.offline:
        chain = StaticView()
    else:
        subtensor = bt.Subtensor(network=str(cfg.subtensor.network))
        check_subnet(subtensor, int(cfg.netuid), str(cfg.subtensor.network), force=bool(cfg.mine.force))
        chain = MetagraphView(subtensor, int(cfg.netuid))
        caller = require_registered(chain, hotkey, int(cfg.netuid))
        log.info("event=registered netuid=%d uid=%d hotkey=%s", int(cfg.netuid), caller.uid, hotkey)

    import torch

    torch.set_num_threads(threads)
    features_path = cfg.mine.get("features_path")

    load_warm = warm_loader(
        settings, device=device, precision=precision, compile=compile_model, features_path=features_path
    )
    slot = ModelSlot(ckpt, load_warm, float(cfg.mine.reload_poll_seconds))
    miner = Miner(slot, chain, policy, settings)
    if cfg.offline:
        axon = build_loopback_axon(
            wallet,
            port=port,
            max_body_bytes=settings.limits.max_body_bytes,
            max_workers=cfg.axon.max_workers,
            admission=miner,
        )
    else:
        axon = build_axon(
            wallet,
            port=port,
            bind_ip=bind_ip,
            external_ip=cfg.axon.external_ip,
            external_port=cfg.axon.external_port,
            max_workers=cfg.axon.max_workers,
            max_body_bytes=settings.limits.max_body_bytes,
            admission=miner,
        )
    miner.attach(axon)
    start_axon(axon)
    if subtensor is not None:
        subtensor.serve_axon(netuid=int(cfg.netuid), axon=axon)
    log.info(
        "event=serving mode=%s bind=%s:%d external=%s:%s hotkey=%s device=%s precision=%s threads=%d "
        "compile=%s ckpt=%s model=%s",
        "offline" if cfg.offline else str(cfg.subtensor.network),
        axon.fast_server.config.host,
        port,
        axon.external_ip,
        axon.external_port,
        hotkey,
        device,
        precision,
        threads,
        compile_model,
        ckpt,
        getattr(slot.current, "info", {}),
    )
    if on_serving is not None:
        on_serving()

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: slot.request_reload())
    slot.start()
    try:
        _serve_loop(cfg, chain, miner, hotkey, stop, online=subtensor is not None)
    finally:
        axon.stop()
        slot.stop()
        miner.close()
        log.info(
            "event=stopped served=%d empty=%d queue_full=%d",
            miner.stats.served,
            miner.stats.empty,
            miner.stats.queue_full,
        )


def _serve_loop(
    cfg: DictConfig, chain: ChainView, miner: Miner, hotkey: str, stop: threading.Event, online: bool
) -> None:
    epoch_length = int(cfg.mine.epoch_length)
    last_sync = chain.current_block() if online else 0
    while not stop.wait(BLOCK_SECONDS if online else 60.0):
        stats = miner.stats
        if not online:
            log.info(
                "event=heartbeat served=%d empty=%d queue_full=%d",
                stats.served,
                stats.empty,
                stats.queue_full,
            )
            continue
        try:
            block = chain.current_block()
            if block - last_sync < epoch_length:
                continue
            chain.sync()
            last_sync = block
        except Exception as exc:  # a flaky RPC endpoint must not take the axon down; retry next block
            log.warning("event=resync_failed error=%s: %s", type(exc).__name__, exc)
            continue
        caller = chain.lookup(hotkey)
        if caller is None:
            raise A2AError(f"hotkey {hotkey} is no longer registered on netuid {cfg.netuid}; re-register it")
        log.info(
            "event=resync block=%d uid=%d stake=%g served=%d empty=%d queue_full=%d",
            block,
            caller.uid,
            caller.stake,
            stats.served,
            stats.empty,
            stats.queue_full,
        )
