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


def _cmd_data_synth_gesture(args: argparse.Namespace) -> int:
    from a2a.data.synthetic_gesture import synthesize_gestures

    out = synthesize_gestures(args.out, sequences=args.sequences, seconds=args.seconds, seed=args.seed)
    print(f"synthetic ZEGGS-layout gesture dataset written to {out}")
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


def _edit_from_args(args: argparse.Namespace, generator):
    """The ``--keep`` / ``--prefix`` / ``--inbetween`` edit, its motions at the model's frame rate."""
    from a2a import editing

    chosen = [flag for flag in ("keep", "prefix", "inbetween") if getattr(args, flag)]
    if len(chosen) > 1:
        raise A2AError(f"choose one of --keep, --prefix and --inbetween, not --{' and --'.join(chosen)}")
    if args.keep_joints and not args.keep:
        raise A2AError("--keep-joints needs --keep MOTION (the motion whose joints are kept)")
    if not chosen:
        return None

    def motion(path: Path):
        loaded = _load_any_motion(path)
        return loaded if abs(loaded.fps - generator.fps) < 1e-6 else loaded.resample(generator.fps)

    if args.keep:
        return editing.keep_joints(motion(args.keep), args.keep_joints or "lower_body")
    if args.prefix:
        return editing.prefix(motion(args.prefix))
    from a2a.audio import load_audio

    start, end = (motion(p) for p in args.inbetween)
    wave, sr = load_audio(args.audio)
    return editing.inbetween(start, end, int(len(wave) / sr * generator.fps))


def _check_output(out: Path, inputs: Sequence[Path | None]) -> None:
    """Refuse an output path that cannot be written (a directory, a read-only folder) or that is one of
    the inputs, before any work is spent on what would be written there."""
    import os

    if any(p is not None and p.resolve() == out.resolve() for p in inputs):
        raise A2AError(f"{out}: the output would overwrite an input; choose another OUT")
    if out.is_dir():
        raise A2AError(f"{out}: is a directory; OUT names the file to write (e.g. {out / 'dance.bvh'})")
    if out.exists() and not os.access(out, os.W_OK):
        raise A2AError(f"{out}: the file is not writable")
    folder = out.parent
    while not folder.exists():  # the folders still to be created: the nearest existing one must be writable
        folder = folder.parent
    if not folder.is_dir():
        raise A2AError(f"{out}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise A2AError(f"{out}: cannot write in {folder} (permission denied)")


def _cmd_generate(args: argparse.Namespace) -> int:
    import a2a
    from a2a.doors import check_device

    _check_output(args.out, [args.audio, args.ckpt, args.keep, args.prefix, *(args.inbetween or [])])
    device = str(check_device(args.device, "--device"))
    generator = a2a.load(args.ckpt, device=device, precision=args.precision, features_path=args.features_path)
    edit = _edit_from_args(args, generator)
    guidance = args.guidance
    if args.style_guidance is not None:
        if guidance is not None:
            raise A2AError(
                "give --guidance (every condition) or --style-guidance (the style alone), not both"
            )
        if generator.style_key is None:
            raise A2AError(f"{args.ckpt}: --style-guidance: this model has no style input")
        guidance = {generator.style_key: args.style_guidance}
    style = args.style if args.style is None or len(args.style) > 1 else args.style[0]
    sampler = None
    if args.sampler is not None:
        from a2a.config import group_member

        sampler = group_member("sampler", args.sampler)
    timings: dict[str, float] = {}
    decided: dict = {}
    text = generator.generate_bvh(
        args.audio,
        seed=args.seed,
        sampler=sampler,
        steps=args.steps,
        guidance=guidance,
        samples=args.samples,
        reduce=args.reduce,
        style=style,
        style_mix=args.style_mix,
        edit=edit,
        timings=timings,
        info=decided,
        progress=True,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    spent = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    if "style" in decided:  # picked by the checkpoint's classifier (style=auto)
        heard = f"{decided['style']} (probability {decided['style_probability']:.2f}, picked from the audio)"
        print(f"{generator.style_key or 'style'}: {heard}")
    print(f"wrote {args.out} ({spent})")
    return 0


def _load_any_motion(path: Path):
    """A Motion from .pkl/.npz, or from a BVH: the ZEGGS rig as it is, SMPL or the subnet-library rig
    fitted to SMPL-24 from joint positions."""
    from a2a.motion import Motion

    if path.suffix.lower() == ".bvh":
        from a2a.data.curated import bvh_to_smpl
        from a2a.data.zeggs import snap_fps
        from a2a.motion.bvh import bvh_to_motion, read_bvh
        from a2a.motion.rigs import ZEGGS75

        bvh = read_bvh(path)
        if bvh.names == ZEGGS75.names:
            return bvh_to_motion(bvh, fps=snap_fps(bvh.fps))
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
    print(f"wrote {out} ({_parameter_count(out):,} parameters); load it with a2a.load({str(out)!r})")
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
    print(f"wrote {out} ({_parameter_count(out):,} parameters)")
    return 0


def _parameter_count(ckpt: Path) -> int:
    """Learned parameters of a checkpoint's denoiser, counted on the denoiser its configuration builds (the
    checkpoint's tensors also hold buffers, which are not parameters). Built on the meta device: shapes
    only, no memory and no random initialisation."""
    import torch

    from a2a.checkpoint import build, read_checkpoint

    config = read_checkpoint(ckpt)["hyper_parameters"]["denoiser"]
    with torch.device("meta"):
        denoiser = build(config, "denoiser", f"{ckpt} denoiser")
    return sum(p.numel() for p in denoiser.parameters())


def _cmd_train_fgd_encoder(args: argparse.Namespace) -> int:
    from a2a.metrics.fgd import train_fgd_encoder  # imports torch: only when asked
    from a2a.metrics.motion_windows import read_joint_clips
    from a2a.metrics.window_nets import parameter_count

    data = read_joint_clips(args.data)
    encoder = train_fgd_encoder(
        data.clips,
        data.fps,
        window=args.window,
        stride=args.stride,
        root=args.root,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        latent=args.latent,
        channels=args.channels,
        hidden=args.hidden,
        seed=args.seed,
    )
    windows = encoder.windows(data.clips)
    out = encoder.save(args.out)
    print(
        f"wrote {out}: FGD encoder for {encoder.spec.describe()}, {len(windows)} windows from "
        f"{len(data.clips)} clips, {args.steps} steps, reconstruction loss "
        f"{encoder.reconstruction_loss(windows):.4f}, {parameter_count(encoder.net):,} parameters"
    )
    return 0


def _cmd_train_style_classifier(args: argparse.Namespace) -> int:
    import numpy as np

    from a2a.metrics.motion_windows import read_joint_clips
    from a2a.metrics.style import style_accuracy, train_style_classifier  # imports torch: only when asked
    from a2a.metrics.window_nets import parameter_count

    data = read_joint_clips(args.data, need_style=True)
    assert data.styles is not None
    classifier = train_style_classifier(
        data.clips,
        data.styles,
        data.fps,
        window=args.window,
        stride=args.stride,
        root=args.root,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        channels=args.channels,
        hidden=args.hidden,
        seed=args.seed,
    )
    windows = classifier.windows(data.clips)
    labels = np.repeat(data.styles, [classifier.spec.count(len(clip)) for clip in data.clips])
    out = classifier.save(args.out)
    print(
        f"wrote {out}: style classifier for {classifier.spec.describe()}, styles "
        f"{', '.join(classifier.styles)}, {len(windows)} windows from {len(data.clips)} clips, {args.steps} "
        f"steps, training accuracy {style_accuracy(classifier, windows, labels):.3f}, "
        f"{parameter_count(classifier.net):,} parameters"
    )
    return 0


def _root_joint(value: str) -> int | None:
    """``--root``: a joint index, or ``none`` for world positions."""
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a joint index or 'none', got {value!r}") from None


def _add_window_net_parser(sub, name: str, help_text: str, steps: int, lr: float) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "data", type=Path, help="folder of .npz clips (or one .npz) with joints [N, J, 3] and fps"
    )
    parser.add_argument("out", type=Path, help="output file (.pt, weights only)")
    parser.add_argument("--window", type=int, default=34, help="frames per window (default 34)")
    parser.add_argument("--stride", type=int, default=None, help="frames between windows (default window/2)")
    parser.add_argument(
        "--root", type=_root_joint, default=0, help="joint subtracted per frame, or 'none' (default 0)"
    )
    parser.add_argument("--steps", type=int, default=steps, help=f"Adam steps (default {steps})")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per step (default 64)")
    parser.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr:g})")
    parser.add_argument("--channels", type=int, default=32, help="conv channels (default 32)")
    parser.add_argument("--hidden", type=int, default=128, help="MLP width (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def _cmd_attach_classifier(args: argparse.Namespace) -> int:
    from a2a.checkpoint.attach import attach_classifier

    out = attach_classifier(args.model, args.classifier, args.out)
    print(f"wrote {out}: generating without a style now picks the one the music implies (style=auto)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from a2a.motion import SMPL24, Motion
    from a2a.motion.bvh import write_bvh, write_rig_bvh

    motion = Motion.load(args.motion, fps=args.fps)
    if motion.skeleton.names != SMPL24.names:  # a gesture rig: its own joints, at its own rate, cm
        out = write_rig_bvh(motion, args.out)
        joints = motion.skeleton.num_joints
        print(f"wrote {out} ({motion.num_frames} frames at {motion.fps:g} fps, {joints}-joint rig)")
        return 0
    out = write_bvh(motion, args.out)
    print(f"wrote {out} ({motion.num_frames} frames at {motion.fps:g} fps in, 30 fps out)")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    import math

    from a2a.metrics.validator import missing_joints_message, score_files

    if args.time is not None and not (math.isfinite(args.time) and args.time >= 0):
        raise A2AError(f"--time {args.time:g}: the response time must be a finite number of seconds >= 0")
    result = score_files(args.pred, args.ref, time=args.time, joint_map=args.joint_map)
    if result["missing_joints"]:
        log.warning(missing_joints_message(result["missing_joints"], result["joint_map"]))
    print(json.dumps(result))
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from a2a.mining.client import query_main  # imports bittensor (slow): only when asked

    return query_main(args)


def _add_query_parser(sub) -> None:
    from a2a.mining.defaults import (
        DEFAULT_WALLET_PATH,
        INPUT_TYPES,
        LOOPBACK,
        OFFLINE_WALLET,
        VALIDATOR_TIMEOUT,
    )

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
    parser.add_argument(
        "--miner-wallet-name",
        default=OFFLINE_WALLET,
        help=f"wallet of the miner's hotkey (default {OFFLINE_WALLET}, the one mine.py offline=true creates)",
    )
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

    synth_gesture = data_sub.add_parser(
        "synth-gesture",
        help="write a synthetic gesture dataset in the ZEGGS layout (speech + styled gestures)",
    )
    synth_gesture.add_argument("out", type=Path, help="output folder")
    synth_gesture.add_argument("--sequences", type=int, default=24, help="number of takes (default 24)")
    synth_gesture.add_argument("--seconds", type=float, default=10.0, help="seconds per take (default 10)")
    synth_gesture.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth_gesture.set_defaults(handler=_cmd_data_synth_gesture)

    describe = data_sub.add_parser(
        "describe", help="counts, hours and genres (styles) per split of a dataset"
    )
    describe.add_argument(
        "path", type=Path, help="AIST++ folder, curated folder, saved HF dataset or ZEGGS gesture takes"
    )
    describe.add_argument("--kind", default="auto", choices=["auto", "aistpp", "folder", "hf", "zeggs"])
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
    generate.add_argument(
        "--sampler", default=None, metavar="NAME", help="a member of conf/sampler (default: the checkpoint's)"
    )
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
    generate.add_argument(
        "--features-path",
        type=Path,
        default=None,
        metavar="DIR",
        help="weights of the audio features a checkpoint names but does not carry (WavLM-Large, Jukebox)",
    )
    styles = generate.add_argument_group("style (DiffuseStyleGesture styles, dance genres)")
    styles.add_argument(
        "--style",
        nargs="+",
        default=None,
        metavar="NAME",
        help="one style, or two to mix (default: the first)",
    )
    styles.add_argument(
        "--style-mix",
        type=float,
        default=None,
        metavar="G",
        help="two styles: weight of the first (0..1); one style: G > 1 exaggerates it (away from no style)",
    )
    styles.add_argument(
        "--style-guidance", type=float, default=None, metavar="W", help="guidance on the style"
    )
    edits = generate.add_argument_group("editing (EDGE): keep part of a motion, generate the rest to fit")
    edits.add_argument("--keep", type=Path, default=None, metavar="MOTION", help="keep joints of MOTION")
    edits.add_argument(
        "--keep-joints",
        default=None,
        metavar="PART",
        help="with --keep: lower_body (default; with the root), upper_body, or comma-separated joint names",
    )
    edits.add_argument("--prefix", type=Path, default=None, metavar="MOTION", help="continue MOTION")
    edits.add_argument(
        "--inbetween",
        type=Path,
        nargs=2,
        default=None,
        metavar=("START", "END"),
        help="fill between two clips",
    )
    generate.set_defaults(handler=_cmd_generate)

    attach = sub.add_parser(
        "attach-classifier", help="put a genre classifier into a genre model's checkpoint (style=auto)"
    )
    attach.add_argument("model", type=Path, help="genre-conditioned model checkpoint")
    attach.add_argument("classifier", type=Path, help="model=genre_classifier checkpoint")
    attach.add_argument("out", type=Path, help="output .ckpt")
    attach.set_defaults(handler=_cmd_attach_classifier)

    export = sub.add_parser(
        "export",
        help="motion (.pkl AIST++ / .npz poses+trans) -> validator-exact BVH (a gesture rig: its own)",
    )
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

    fgd = _add_window_net_parser(
        sub,
        "train-fgd-encoder",
        "train the FGD motion autoencoder on a training split (GENEA protocol)",
        steps=4000,
        lr=5e-4,
    )
    fgd.add_argument("--latent", type=int, default=32, help="latent features (default 32)")
    fgd.set_defaults(handler=_cmd_train_fgd_encoder)
    style = _add_window_net_parser(
        sub,
        "train-style-classifier",
        "train the style classifier behind style accuracy (each .npz also holds a style string)",
        steps=2000,
        lr=1e-3,
    )
    style.set_defaults(handler=_cmd_train_style_classifier)

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
