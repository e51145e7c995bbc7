"""Benchmark: one validator request end to end through the miner's loopback round trip, split into stages.

Starts the real Axon on 127.0.0.1 with a checkpoint, sends ``--seconds`` of audio (default 30 s, the
length validators send) through a real bittensor Dendrite as ``'url'`` (fetched from a local HTTP server,
as validators do) and ``'data'`` requests, and prints where the time goes: the dendrite's
``process_time`` (what the validator scores), the miner's own total, its stages (fetch, decode, wait,
features, sampling, export) and the transport overhead (signing, JSON, HTTP). The first request is a
warm-up (allocator, kernels) and is reported separately.

    python benchmarks/bench_miner.py --ckpt best.ckpt [--device cuda] [--seconds 30] [--repeats 3]

Without ``--ckpt`` it trains the 2-step tiny test checkpoint first (CPU, ~20 s): the numbers then show
the serving overhead, not a real model's sampling time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import a2a
from a2a.mining.chain import BlacklistPolicy, StaticView
from a2a.mining.client import serve_file
from a2a.mining.intake import IntakeLimits
from a2a.mining.miner import STAGES, Miner, MinerSettings
from a2a.mining.protocol import VPA2ASynapse
from a2a.mining.reload import ModelSlot
from a2a.mining.server import LOOPBACK, build_loopback_axon, no_external_ip_lookup, start_axon


def tiny_checkpoint(tmp: Path) -> Path:
    from a2a.data.synthetic import synthesize
    from a2a.train import train_tiny

    return train_tiny(synthesize(tmp / "syn", sequences=6, seconds=5, seed=0, progress=False), tmp / "run")


def music(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A 120 bpm click track over a chord: enough onsets and harmony for the features."""
    t = np.arange(int(seconds * sr)) / sr
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    clicks = np.exp(-40 * (t % 0.5)) * np.sin(2 * np.pi * 1000 * t)
    sf.write(path, (0.3 * chord + 0.5 * clicks).astype(np.float32), sr)
    return path


async def one_request(wallet, info, synapse: VPA2ASynapse) -> VPA2ASynapse:
    import bittensor as bt

    with no_external_ip_lookup():
        dendrite = bt.Dendrite(wallet=wallet)
    try:
        return await dendrite.call(info, synapse=synapse, timeout=180.0, deserialize=False)
    finally:
        await dendrite.aclose_session()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, default=None, help="checkpoint (default: train the tiny one)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 (default cpu)")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length (default 30)")
    parser.add_argument("--repeats", type=int, default=3, help="timed requests per input type (default 3)")
    args = parser.parse_args(argv)

    import bittensor as bt

    with tempfile.TemporaryDirectory(prefix="a2a-bench-miner-") as tmp_dir:
        tmp = Path(tmp_dir)
        ckpt = args.ckpt or tiny_checkpoint(tmp)
        audio = music(tmp / "song.wav", args.seconds)
        wallets = []
        for name in ("miner", "validator"):
            wallet = bt.Wallet(name=name, hotkey="default", path=str(tmp / "wallets"))
            wallet.create_if_non_existent(
                coldkey_use_password=False, hotkey_use_password=False, suppress=True
            )
            wallets.append(wallet)

        slot = ModelSlot(ckpt, lambda path: a2a.load(path, device=args.device), poll_seconds=0)
        limits = IntakeLimits(allow_private_urls=True)
        miner = Miner(slot, StaticView(), BlacklistPolicy.open(), MinerSettings(limits=limits, seed=0))
        with socket.socket() as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        axon = build_loopback_axon(wallets[0], port=port, max_body_bytes=limits.max_body_bytes)
        miner.attach(axon)
        start_axon(axon)
        rows = []
        try:
            payload = base64.b64encode(audio.read_bytes()).decode()
            with serve_file(audio) as url:
                plan = [("warm-up", "url", url)]
                plan += [("url", "url", url)] * args.repeats + [("data", "data", payload)] * args.repeats
                for label, input_type, value in plan:
                    start = time.perf_counter()
                    answer = asyncio.run(
                        one_request(
                            wallets[1], axon.info(), VPA2ASynapse(input_type=input_type, audio_input=value)
                        )
                    )
                    wall = time.perf_counter() - start
                    fields = dict(miner.last_request)
                    if not answer.animation_output:
                        print(f"empty answer: {fields.get('reason')}", file=sys.stderr)
                        return 1
                    rows.append((label, float(answer.dendrite.process_time), wall, fields))
        finally:
            axon.stop()
            miner.close()

    info = slot.current.info
    print(
        f"# miner loopback round trip: {args.seconds:g} s audio, {info.get('model')} checkpoint "
        f"{Path(str(info.get('path'))).name}, device {args.device}, window {info.get('window')} frames"
    )
    columns = ("process_time", "miner_total", *STAGES[:2], "wait", *STAGES[2:], "transport")
    print("| request | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for label in ("warm-up", "url", "data"):
        group = [r for r in rows if r[0] == label]
        if not group:
            continue

        def med(values):
            return statistics.median(values)

        process = med([r[1] for r in group])
        total = med([r[3]["total"] for r in group])
        stages = [med([r[3].get(s) or 0.0 for r in group]) for s in (*STAGES[:2], "wait", *STAGES[2:])]
        cells = [process, total, *stages, process - total]
        print(f"| {label} (median of {len(group)}) | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    per_minute = statistics.median([r[1] for r in rows if r[0] == "url"]) * 60 / args.seconds
    print(f"\nseconds per audio minute (process_time, url): {per_minute:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
