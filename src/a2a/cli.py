"""The ``a2a`` console command: small utilities around the three doors (train, evaluate, mine).

Each subcommand imports what it needs lazily so ``a2a --help`` stays instant. Errors caused by the
user's input (:class:`a2a.errors.A2AError`) print one clear line and exit with status 2; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from a2a.errors import A2AError
from a2a.version import __version__

log = logging.getLogger("a2a")

Handler = Callable[[argparse.Namespace], int]

# Names of a2a.metrics.validator.JOINT_MAPS (not imported here: it imports torch).
JOINT_MAP_CHOICES = ("auto", "edge_library", "edge_edge", "library_library")
JOINT_MAP_HELP = (
    "joint name map (default auto: from the files' joint names; edge_library is the validator's, an a2a "
    "answer against the subnet's library rig; edge_edge pairs two a2a/EDGE exports)"
)


def _cmd_data_synth(args: argparse.Namespace) -> int:
    from a2a.data.synthetic import synthesize

    out = synthesize(args.out, sequences=args.sequences, seconds=args.seconds, seed=args.seed)
    print(f"synthetic AIST++-layout dataset written to {out}")
    return 0


def _cmd_data_describe(args: argparse.Namespace) -> int:
    from a2a.data.describe import describe_dataset, print_description
    from a2a.data.sanity import SanityBounds

    limits = {"max_translation": args.max_translation, "max_root_speed": args.max_root_speed}
    bounds = SanityBounds(**{k: v for k, v in limits.items() if v is not None})
    description = describe_dataset(args.path, kind=args.kind, progress=not args.json, bounds=bounds)
    if args.json:
        print(json.dumps(description, default=str))
    else:
        print_description(description)
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    import a2a

    generator = a2a.load(args.ckpt, device=args.device, precision=args.precision)
    timings: dict[str, float] = {}
    text = generator.generate_bvh(
        args.audio,
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        samples=args.samples,
        reduce=args.reduce,
        timings=timings,
        progress=True,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    spent = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    print(f"wrote {args.out} ({spent})")
    return 0


def _load_any_motion(path: Path):
    """A Motion from .pkl/.npz, or from a BVH (SMPL or subnet-library rig, fitted from joint positions)."""
    from a2a.motion import Motion

    if path.suffix.lower() == ".bvh":
        from a2a.data.curated import bvh_to_smpl
        from a2a.motion.bvh import read_bvh

        bvh = read_bvh(path)
        return bvh_to_smpl(bvh, fps=bvh.fps)[0]
    return Motion.load(path)


def _cmd_render(args: argparse.Namespace) -> int:
    from a2a.render import render

    motions = [_load_any_motion(p) for p in args.motion]
    out = render(
        motions,
        args.out,
        audio=args.audio,
        titles=[p.stem for p in args.motion] if len(motions) > 1 else None,
        fps=args.fps,
        max_seconds=args.max_seconds,
    )
    print(f"wrote {out}")
    return 0


def _cmd_convert_edge(args: argparse.Namespace) -> int:
    from a2a.checkpoint.import_edge import convert_edge_checkpoint  # composes configs: only when asked

    out = convert_edge_checkpoint(args.src, args.out, use_ema=not args.raw_weights, num_heads=args.num_heads)
    print(f"wrote {out}; load it with a2a.load({str(out)!r})")
    return 0


def _cmd_convert_dsg(args: argparse.Namespace) -> int:
    from a2a.checkpoint.import_dsg import convert_dsg_checkpoint  # imports torch: only when asked

    out = convert_dsg_checkpoint(
        args.src,
        args.out,
        mean=args.mean,
        std=args.std,
        num_heads=args.num_heads,
        local_window=args.local_window,
        seq_len=args.seq_len,
    )
    print(f"wrote {out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from a2a.motion import Motion
    from a2a.motion.bvh import write_bvh

    motion = Motion.load(args.motion, fps=args.fps)
    out = write_bvh(motion, args.out)
    print(f"wrote {out} ({motion.num_frames} frames at {motion.fps:g} fps in, 30 fps out)")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from a2a.metrics.validator import missing_joints_message, score_files

    result = score_files(args.pred, args.ref, time=args.time, joint_map=args.joint_map)
    if result["missing_joints"]:
        log.warning(missing_joints_message(result["missing_joints"], result["joint_map"]))
    print(json.dumps(result))
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from a2a.mining.client import query_main  # imports bittensor (slow): only when asked

    return query_main(args)


def _add_query_parser(sub) -> None:
    from a2a.mining.defaults import DEFAULT_WALLET_PATH, INPUT_TYPES, LOOPBACK, VALIDATOR_TIMEOUT

    parser = sub.add_parser(
        "query",
        help="local validator: send audio to a miner, save and score the BVH",
        description="Send audio to a miner through a real Dendrite, as subnet-25 validators do; save the "
        "answer and score it against --reference. Try it against a local miner with no chain: "
        "`python mine.py ckpt=best.ckpt offline=true mine.allow_private_urls=true`.",
    )
    parser.add_argument("audio", type=Path, help="audio file to send")
    parser.add_argument("--port", type=int, required=True, help="the miner's axon port")
    parser.add_argument("--host", default=LOOPBACK, help=f"the miner's address (default {LOOPBACK})")
    parser.add_argument(
        "--input-type",
        choices=INPUT_TYPES,
        default="data",
        help="data: base64 in the request (default); url: served from a local HTTP server (the miner "
        "needs mine.allow_private_urls=true)",
    )
    parser.add_argument("--reference", type=Path, default=None, help="reference BVH to score against")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to save the answer (default AUDIO_STEM.answer.bvh)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite the --out file if it exists")
    parser.add_argument(
        "--joint-map",
        default="auto",
        choices=JOINT_MAP_CHOICES,
        help=JOINT_MAP_HELP,
    )
    parser.add_argument("--timeout", type=float, default=VALIDATOR_TIMEOUT, help="seconds (default 180)")
    parser.add_argument("--miner-hotkey", default=None, help="miner hotkey ss58 (default: from its wallet)")
    parser.add_argument("--miner-wallet-name", default="miner")
    parser.add_argument("--miner-wallet-hotkey", default="default")
    parser.add_argument("--wallet-name", default="a2a-validator", help="signing wallet (created if missing)")
    parser.add_argument("--wallet-hotkey", default="default")
    parser.add_argument("--wallet-path", default=DEFAULT_WALLET_PATH, help="folder of both wallets")
    parser.set_defaults(handler=_cmd_query)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="a2a", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"a2a {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log a2a's debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="datasets: make synthetic data, describe a dataset")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    synth = data_sub.add_parser("synth", help="write a synthetic dataset in the AIST++ layout")
    synth.add_argument("out", type=Path, help="output folder")
    synth.add_argument("--sequences", type=int, default=12, help="number of sequences (default 12)")
    synth.add_argument("--seconds", type=float, default=8.0, help="seconds per sequence (default 8)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.set_defaults(handler=_cmd_data_synth)

    describe = data_sub.add_parser("describe", help="counts, hours and genres per split of a dataset")
    describe.add_argument("path", type=Path, help="AIST++ folder, curated folder or saved HF dataset")
    describe.add_argument("--kind", default="auto", choices=["auto", "aistpp", "folder", "hf"])
    describe.add_argument("--json", action="store_true", help="print JSON instead of a table")
    describe.add_argument(
        "--max-translation", type=float, help="flag roots farther from the origin (m; default 100)"
    )
    describe.add_argument("--max-root-speed", type=float, help="flag faster roots (m/s; default 50)")
    describe.set_defaults(handler=_cmd_data_describe)

    generate = sub.add_parser("generate", help="checkpoint + audio -> validator-exact BVH")
    generate.add_argument("ckpt", type=Path, help="a2a checkpoint (.ckpt)")
    generate.add_argument("audio", type=Path, help="audio file (wav, flac, ogg, mp3)")
    generate.add_argument("out", type=Path, help="output .bvh")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--steps", type=int, default=None, help="sampler steps (default: the checkpoint's)")
    generate.add_argument(
        "--guidance", type=float, default=None, help="guidance weight (default: checkpoint's)"
    )
    generate.add_argument("--samples", type=int, default=1, help="draws to combine (default 1)")
    generate.add_argument("--reduce", default="mean", choices=["mean", "medoid"], help="how draws combine")
    generate.add_argument("--device", default="cpu", help="torch device (default cpu)")
    generate.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16"],
        help="bf16: CPUs with AVX512-BF16/AMX and GPUs; fp16: GPUs (default fp32)",
    )
    generate.set_defaults(handler=_cmd_generate)

    export = sub.add_parser("export", help="motion (.pkl AIST++ / .npz poses+trans) -> validator-exact BVH")
    export.add_argument("motion", type=Path, help="AIST++-style .pkl or .npz with poses/trans")
    export.add_argument("out", type=Path, help="output .bvh")
    export.add_argument(
        "--fps", type=float, default=None, help="input frame rate (default: .pkl 60, .npz its own)"
    )
    export.set_defaults(handler=_cmd_export)

    convert = sub.add_parser(
        "convert-edge", help="original EDGE checkpoint.pt -> a2a checkpoint (no code runs)"
    )
    convert.add_argument("src", type=Path, help="EDGE checkpoint.pt")
    convert.add_argument("out", type=Path, help="output .ckpt")
    convert.add_argument("--raw-weights", action="store_true", help="use model_state_dict instead of the EMA")
    convert.add_argument(
        "--num-heads", type=int, default=8, help="attention heads (not stored in weights; EDGE: 8)"
    )
    convert.set_defaults(handler=_cmd_convert_edge)

    convert_dsg = sub.add_parser(
        "convert-dsg", help="original DiffuseStyleGesture modelNNN.pt -> a2a checkpoint (no code runs)"
    )
    convert_dsg.add_argument("src", type=Path, help="DSG checkpoint, e.g. model000450000.pt")
    convert_dsg.add_argument("out", type=Path, help="output .ckpt")
    convert_dsg.add_argument("--mean", type=Path, default=None, help="DSG's mean.npz (needed for generation)")
    convert_dsg.add_argument("--std", type=Path, default=None, help="DSG's std.npz (floored at 0.01)")
    convert_dsg.add_argument(
        "--num-heads", type=int, default=4, help="transformer heads (not stored in weights; DSG: 4)"
    )
    convert_dsg.add_argument("--local-window", type=int, default=11, help="local-attention window (DSG: 11)")
    convert_dsg.add_argument("--seq-len", type=int, default=88, help="training window in frames (DSG: 88)")
    convert_dsg.set_defaults(handler=_cmd_convert_dsg)

    render = sub.add_parser("render", help="stick-figure video (.mp4 with audio via ffmpeg, else .gif)")
    render.add_argument(
        "motion", type=Path, nargs="+", help=".pkl / .npz / .bvh; several render side by side"
    )
    render.add_argument("out", type=Path, help="output .mp4 or .gif")
    render.add_argument("--audio", type=Path, default=None, help="audio track to mux into the .mp4")
    render.add_argument("--fps", type=float, default=None, help="render frame rate (default: motion's, ≤ 30)")
    render.add_argument("--max-seconds", type=float, default=None, help="render only the first seconds")
    render.set_defaults(handler=_cmd_render)

    score = sub.add_parser(
        "score", help="score a BVH against a reference exactly like the subnet-25 validator"
    )
    score.add_argument("pred", type=Path, help="the miner's BVH")
    score.add_argument("ref", type=Path, help="the reference BVH")
    score.add_argument(
        "--time", type=float, default=None, help="response time in seconds (default: 120, as the validator)"
    )
    score.add_argument("--joint-map", default="auto", choices=JOINT_MAP_CHOICES, help=JOINT_MAP_HELP)
    score.set_defaults(handler=_cmd_score)

    _add_query_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # -v is about a2a's own debug lines; other libraries stay at INFO (matplotlib's font search is long).
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    handler: Handler = args.handler
    try:
        return handler(args)
    except A2AError as exc:
        print(f"a2a {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"a2a {args.command}: error: {exc.filename or exc}: no such file", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
