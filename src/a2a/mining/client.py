"""A local validator: send one :class:`VPA2ASynapse` to a miner the way subnet-25 validators do.

:func:`query` signs with a local wallet, calls the miner's axon through a real ``bt.Dendrite``
(``deserialize=False``, the validators' 180 s timeout), saves the returned BVH, and scores it against a
reference with :mod:`a2a.metrics.validator` using the dendrite's ``process_time``, as the validator does.
``input_type='url'`` serves the audio file from a throwaway HTTP server on 127.0.0.1 (the miner needs
``mine.allow_private_urls=true`` to fetch it); ``'data'`` sends it base64-encoded.

Meant for loopback: bittensor's public-IP lookup is replaced while the dendrite is built.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.server
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from a2a.errors import A2AError
from a2a.mining.defaults import DEFAULT_WALLET_PATH, INPUT_TYPES, OFFLINE_WALLET, VALIDATOR_TIMEOUT
from a2a.mining.protocol import VPA2ASynapse
from a2a.mining.sdk import import_bittensor
from a2a.mining.server import LOOPBACK, no_external_ip_lookup

log = logging.getLogger(__name__)


@contextlib.contextmanager
def serve_file(path: Path, host: str = LOOPBACK) -> Iterator[str]:
    """Serve ``path`` over HTTP on ``host`` (an ephemeral port) for the block; yields its URL."""
    data = path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep the CLI output clean
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/{path.name}"
    finally:
        server.shutdown()
        server.server_close()


def load_wallet(name: str, hotkey: str, path: str, *, create: bool) -> Any:
    """A wallet from disk; ``create`` makes an unencrypted one when it does not exist."""
    import bittensor as bt

    wallet = bt.Wallet(name=name, hotkey=hotkey, path=str(Path(path).expanduser()))
    if not wallet.hotkey_file.exists_on_device():
        if not create:
            raise A2AError(f"wallet {name}/{hotkey} not found under {path}")
        wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
    return wallet


def miner_hotkey_from_wallet(name: str, hotkey: str, path: str) -> str:
    """The ss58 address of a miner's hotkey, read from its wallet (the miner signs with it)."""
    return load_wallet(name, hotkey, path, create=False).hotkey.ss58_address


async def _call(wallet: Any, axon_info: Any, synapse: VPA2ASynapse, timeout: float) -> VPA2ASynapse:
    import bittensor as bt

    with no_external_ip_lookup():
        dendrite = bt.Dendrite(wallet=wallet)
    try:
        return await dendrite.call(axon_info, synapse=synapse, timeout=timeout, deserialize=False)
    finally:
        await dendrite.aclose_session()  # sessions are bound to this event loop


def answer_path(audio: Path, reference: Path | None, out: Path | None, force: bool) -> Path:
    """Where the answer goes: ``out``, or ``<audio stem>.answer.bvh`` next to the audio.

    Raises:
        A2AError: the path is the audio or the reference (an input is never overwritten), or it exists
            and ``force`` is not set.
    """
    path = Path(out) if out is not None else audio.with_name(f"{audio.stem}.answer.bvh")
    for role, source in (("audio", audio), ("reference", reference)):
        if source is not None and path.resolve() == Path(source).resolve():
            raise A2AError(f"{path} is the {role} of this query: the answer needs another --out")
    if path.exists() and not force:
        raise A2AError(f"{path} exists; pass --force to overwrite it or --out to choose another file")
    return path


def query(
    audio: str | Path,
    *,
    port: int,
    host: str = LOOPBACK,
    input_type: str = "data",
    reference: str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    miner_hotkey: str | None = None,
    miner_wallet: tuple[str, str, str] = (OFFLINE_WALLET, "default", DEFAULT_WALLET_PATH),
    wallet: tuple[str, str, str] = ("a2a-validator", "default", DEFAULT_WALLET_PATH),
    timeout: float = VALIDATOR_TIMEOUT,
    joint_map: str = "auto",
) -> dict:
    """Send ``audio`` to the miner at ``host:port`` and report what a validator would see.

    Args:
        audio: audio file to send.
        input_type: ``'data'`` (base64 in the request) or ``'url'`` (served from 127.0.0.1).
        reference: reference BVH to score against (optional; read before the request is sent).
        out: where to save the answer (default ``<audio stem>.answer.bvh`` next to the audio); never the
            audio or the reference, and an existing file only with ``force``.
        miner_hotkey: the miner's hotkey ss58; default: read from ``miner_wallet`` (name, hotkey, path).
        wallet: (name, hotkey, path) of the signing wallet, created unencrypted if missing.
        joint_map: ``auto`` (from the joint names), ``edge_edge`` for a2a-exported references,
            ``edge_library`` for the subnet's library rig.

    Returns:
        ``{"status_code", "status_message", "process_time", "bvh", "bvh_bytes", "frames", "score"}``;
        ``bvh`` is the saved path (``None`` for an empty answer, ``status_message`` then says why),
        ``score`` the validator score dict (``None`` without a reference).
    """
    from a2a.motion.bvh import read_bvh

    audio = Path(audio)
    if not audio.is_file():
        raise A2AError(f"{audio}: no such audio file")
    if input_type not in INPUT_TYPES:
        raise A2AError(f"input_type must be one of {', '.join(INPUT_TYPES)}, got {input_type!r}")
    out_path = answer_path(audio, Path(reference) if reference is not None else None, out, force)
    ref = read_bvh(reference) if reference is not None else None

    bt = import_bittensor()
    signer = load_wallet(*wallet, create=True)
    axon_hotkey = miner_hotkey or miner_hotkey_from_wallet(*miner_wallet)
    axon_info = bt.AxonInfo(
        version=0, ip=host, port=int(port), ip_type=4, hotkey=axon_hotkey, coldkey=axon_hotkey
    )
    with contextlib.ExitStack() as stack:
        if input_type == "url":
            payload = stack.enter_context(serve_file(audio))
        else:
            payload = base64.b64encode(audio.read_bytes()).decode("ascii")
        synapse = VPA2ASynapse(input_type=input_type, audio_input=payload)
        started = time.perf_counter()
        answer = asyncio.run(_call(signer, axon_info, synapse, float(timeout)))
        wall = time.perf_counter() - started

    text = answer.animation_output
    process_time = answer.dendrite.process_time if answer.dendrite is not None else None
    result: dict = {
        "status_code": answer.dendrite.status_code if answer.dendrite is not None else None,
        "status_message": answer.dendrite.status_message if answer.dendrite is not None else None,
        "process_time": float(process_time) if process_time is not None else None,
        "wall_seconds": wall,
        "bvh": None,
        "bvh_bytes": len(text) if isinstance(text, str) else None,
        "frames": None,
        "score": None,
        "answer_type": type(text).__name__,
    }
    if isinstance(text, str) and text:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text)
        result["bvh"] = str(out_path)
        pred = read_bvh(text)
        result["frames"] = pred.num_frames
        if ref is not None:
            from a2a.metrics.validator import score

            result["score"] = score(pred, ref, result["process_time"], joint_map)
    elif ref is not None:
        # An empty or missing answer scores 0, as on the validator.
        result["score"] = {"reward": 0.0, "rmse": None, "correctness": None, "speed": None, "frames": 0}
    return result


def query_main(args: argparse.Namespace) -> int:
    """Run :func:`query` from parsed ``a2a query`` options (:mod:`a2a.cli`); print the result as JSON.

    Says on stderr why an answer is empty (the miner's status message) and which mapped joints are
    missing from a scored pair. Returns 0 when the miner answered BVH text, 1 for an empty answer.
    """
    result = query(
        args.audio,
        port=args.port,
        host=args.host,
        input_type=args.input_type,
        reference=args.reference,
        out=args.out,
        force=args.force,
        miner_hotkey=args.miner_hotkey,
        miner_wallet=(args.miner_wallet_name, args.miner_wallet_hotkey, args.wallet_path),
        wallet=(args.wallet_name, args.wallet_hotkey, args.wallet_path),
        timeout=args.timeout,
        joint_map=args.joint_map,
    )
    print(json.dumps(result, indent=2))
    missing = (result["score"] or {}).get("missing_joints")
    if missing:
        from a2a.metrics.validator import missing_joints_message

        log.warning(missing_joints_message(missing, result["score"]["joint_map"]))
    if result["bvh"]:
        return 0
    print(
        f"a2a query: empty answer (status {result['status_code']}: "
        f"{result['status_message'] or 'no reason given'})",
        file=sys.stderr,
    )
    return 1
