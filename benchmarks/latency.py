"""Benchmark: end-to-end generation time for 10/30/60 s of audio, straightforward vs optimized sampling.

For each model (full-size ``edge`` with random weights of the real architecture, or the model of
``--ckpt``; ``edge_tiny``) and audio length it times, split by stage (decode, features, sampling,
export = join + motion + BVH text):

- **reference**: the straightforward path, EDGE's way (``long_ddim_sample``): at every DDIM step each
  window separately, the conditional and the unconditional pass separately, the full forward (music
  encoder included) every time. Written out below as a faithful loop over the model's public forward;
  same weights, same noise draws as the library's sampler.
- **optimized** (``a2a``'s path, what :meth:`a2a.Generator.generate_features` runs): all windows and both
  guidance passes in one batch, the music encoder and its cross-attention keys/values computed once
  per request (``prepare_conditions``), ``torch.inference_mode``; fp32, then bf16 (where the CPU has
  AVX512-BF16/AMX or on a GPU), fp16 on a GPU, and ``--compile``.
- **posterior mean** (``PosteriorMeanSampler(k)``): one batched model evaluation.

For each optimized row: max |difference| of the sampled windows (the model's normalised output, what
the motion is decoded from) against the reference (fp32) or the fp32 optimized path (bf16/fp16), and the
speed ratio. It also measures this machine's matmul peak (fp32, bf16) with a large matmul and states
how close the optimized sampling runs to it, from the FLOPs the model performs (counted by
``torch.utils.flop_counter``).

    python benchmarks/latency.py                               # edge + edge_tiny, 10/30/60 s, CPU
    python benchmarks/latency.py --models edge --seconds 30    # the issue's target case
    python benchmarks/latency.py --ckpt edge.ckpt --device cuda
    python benchmarks/latency.py --reference-max-seconds 10    # the reference is slow on a CPU

Prints a table and writes JSON (``--json``, default ``outputs/bench/latency.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.flop_counter import FlopCounterMode

import a2a
from a2a.config import compose_config, instantiate
from a2a.diffusion import (
    ConstantGuidance,
    DDIMSampler,
    OverlapStitch,
    PosteriorMeanSampler,
    RampGuidance,
    WindowOverlap,
    standard_normal,
    window_conditions,
)
from a2a.errors import A2AError
from a2a.generate import Generator
from a2a.motion.bvh import motion_to_bvh
from a2a.motion.normalizer import MinMaxNormalizer
from a2a.runtime import cpu_bf16_instructions, physical_cores, precision_context

AUDIO = "audio"


# --- inputs --------------------------------------------------------------------------------------------


def music(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A 120 bpm click track over a chord (onsets and harmony for the features)."""
    t = np.arange(int(seconds * sr)) / sr
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    clicks = np.exp(-40 * (t % 0.5)) * np.sin(2 * np.pi * 1000 * t)
    sf.write(path, (0.3 * chord + 0.5 * clicks).astype(np.float32), sr)
    return path


def random_generator(model: str, device: str, precision: str = "fp32", compile: bool = False) -> Generator:
    """A generator of ``conf/model/<model>.yaml`` with random weights (seed 0) and an identity normaliser."""
    cfg = compose_config("train", [f"model={model}"]).model
    torch.manual_seed(0)
    denoiser = instantiate(cfg.denoiser)
    representation = instantiate(cfg.representation)
    identity = torch.stack([-torch.ones(representation.dim), torch.ones(representation.dim)])
    return Generator(
        denoiser,
        instantiate(cfg.schedule),
        representation,
        MinMaxNormalizer().fit(identity),
        instantiate(cfg.features.extractor),
        instantiate(cfg.sampler),
        instantiate(cfg.longform),
        sampler_config=dict(cfg.sampler),
        guidance_weight=float(cfg.guidance_weight),
        fps=float(cfg.fps),
        window=int(cfg.window),
        info={"path": f"random {model}", "feature_dim": int(cfg.features.dim), "model": model},
        device=device,
        precision=precision,
        compile=compile,
    )


# --- the straightforward path (EDGE's long_ddim_sample), for reference ------------------------------------


@torch.inference_mode()
def reference_windows(
    generator: Generator, sampler: DDIMSampler, feats: torch.Tensor, seed: int
) -> torch.Tensor:
    """EDGE's way, written out: windows ``[n, window, D]`` for features ``[N, F]``.

    Every step runs, for each window on its own, the conditional and the unconditional forward (music
    encoder included), guides ``unc + (cond − unc)·w``, clamps x̂0, takes EDGE's DDIM step and copies
    each window's overlap from the previous window. The noise comes from a generator seeded like the
    library's, drawn in the same order (x_T, then one draw per stochastic step), so the result must
    equal the optimized path's up to float rounding.
    """
    strategy: OverlapStitch = generator.longform
    denoiser, schedule, device = generator.denoiser, generator.schedule, generator.device
    plan = strategy.plan(len(feats), generator.window)
    cond = window_conditions({AUDIO: feats}, {}, plan)[AUDIO].to(device)
    weight = float(generator.guidance_weight)
    guidance = RampGuidance(weight) if len(plan) > 1 and strategy.ramp_guidance else ConstantGuidance(weight)
    overlap = WindowOverlap(plan.hop, final=strategy.constrain_final)
    rng = torch.Generator(device="cpu").manual_seed(seed)
    shape = (len(plan), generator.window, generator.representation.dim)
    x = standard_normal(shape, generator=rng, device=device, dtype=torch.float32)
    keep, drop = (
        torch.ones(1, dtype=torch.bool, device=device),
        torch.zeros(1, dtype=torch.bool, device=device),
    )
    for t, t_next, w in sampler.plan(schedule, guidance):
        t_one = torch.full((1,), t, dtype=torch.long, device=device)
        guided = []
        for i in range(len(plan)):
            conditional = denoiser(x[i : i + 1], t_one, cond[i : i + 1], keep)
            unconditional = denoiser(x[i : i + 1], t_one, cond[i : i + 1], drop)
            guided.append(unconditional + (conditional - unconditional) * w)
        x0 = schedule.predict_x0(x, t, torch.cat(guided))
        if schedule.clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
        if t_next < 0:
            x = x0
        else:
            # EDGE's ddim_sample: x_next = √ᾱ_next·x̂0 + √(1 − ᾱ_next − σ²)·ε̂ + σ·z
            alpha, alpha_next = float(schedule.alphas_cumprod[t]), float(schedule.alphas_cumprod[t_next])
            sigma = sampler.eta * ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)) ** 0.5
            eps = schedule.eps_from_x0(x, t, x0)
            x = alpha_next**0.5 * x0 + max(1 - alpha_next - sigma**2, 0.0) ** 0.5 * eps
            if sigma > 0:
                x = x + sigma * standard_normal(x.shape, generator=rng, device=device, dtype=x.dtype)
        x = overlap.apply(x, t_next, schedule, rng)
    return x


# --- timing --------------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float, float]:
    """``(result, wall seconds, process CPU seconds)``."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - wall, time.process_time() - cpu


@torch.inference_mode()
def optimized_windows(generator: Generator, sampler, feats: torch.Tensor, seed: int) -> torch.Tensor:
    """The library's sampling stage, exactly as :meth:`Generator.generate_features` calls it."""
    rng = torch.Generator(device="cpu").manual_seed(seed)
    with precision_context(generator.precision, generator.device):
        return generator.longform.sample(
            sampler,
            generator.model,
            frames=len(feats),
            window=generator.window,
            dim=generator.representation.dim,
            frame_cond={AUDIO: feats},
            static_cond={},
            schedule=generator.schedule,
            guidance=generator.guidance_weight,
            generator=rng,
            device=generator.device,
        )


def export(generator: Generator, windows: torch.Tensor, frames: int) -> str:
    """Windows → one motion → validator-exact BVH text (the generator's own join and export)."""
    raw = generator.normalizer.inverse(windows.detach().double().cpu())
    joined = generator.longform.join(
        generator.representation.stitch_space(raw), frames, generator.representation.blend
    )
    return motion_to_bvh(generator.representation.motion_from_stitch(joined, generator.fps))


def sampling_flops(generator: Generator, feats: torch.Tensor, sampler) -> int:
    """FLOPs of the optimized sampling (``torch.utils.flop_counter``): the condition cache once, then
    per step one evaluation of 2·windows rows (guided) or of windows rows (weight None, 0 or 1)."""
    generator.denoiser.requires_grad_(False)  # the counter's module hooks trip over parameters needing grad
    strategy: OverlapStitch = generator.longform
    plan = strategy.plan(len(feats), generator.window)
    cond = window_conditions({AUDIO: feats}, {}, plan)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        generator.denoiser.prepare_conditions(cond)
    prepare = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:  # the cache plus one guided step
        optimized_windows(generator, PosteriorMeanSampler(), feats, 0)
    guided = counter.get_total_flops() - prepare
    weight = float(generator.guidance_weight)
    ramp = len(plan) > 1 and strategy.ramp_guidance
    weights = [w for _, _, w in sampler.plan(generator.schedule, RampGuidance(weight) if ramp else weight)]
    return prepare + sum(guided if w not in (None, 0.0, 1.0) else guided // 2 for w in weights)


def matmul_peak(
    device: torch.device, dtype: torch.dtype, threads: int, size: int = 2048, repeats: int = 10
) -> float:
    """GFLOPS of a [size × size]·[size × size] matmul, best of ``repeats``: over the CPU time per thread
    on a CPU (as the sampling rows are measured, so time spent waiting for a core on a shared machine
    does not count), over the wall clock on a GPU."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    a @ b
    runs = [timed(lambda: a @ b, device) for _ in range(repeats)]
    seconds = (
        min(wall for _, wall, _ in runs) if device.type == "cuda" else min(c for _, _, c in runs) / threads
    )
    return 2 * size**3 / seconds / 1e9


# --- one case ------------------------------------------------------------------------------------------


def run_case(
    make: Callable[..., Generator],
    label: str,
    seconds: float,
    args: argparse.Namespace,
    audio_dir: Path,
    peaks: dict[str, float],
) -> list[dict[str, Any]]:
    generator = make("fp32")
    device = generator.device
    path = music(audio_dir / f"music_{seconds:g}s.wav", seconds)
    timings: dict[str, float] = {}
    if generator.features is None:  # a checkpoint whose features a2a cannot compute (Jukebox)
        frames = int(seconds * generator.fps)
        feats = torch.randn(
            frames, int(generator.info["feature_dim"]), generator=torch.Generator().manual_seed(0)
        )
        front = {"decode": None, "features": None}
    else:
        generator.audio_features(str(path))  # warm-up: librosa/numba compile on the first call
        per_frame, frames = generator.audio_features(str(path), timings=timings)
        if per_frame.ndim != 2:
            raise SystemExit(f"{label}: per-slice features are not supported here; time a per-song model")
        feats = torch.as_tensor(per_frame)
        front = {"decode": timings["decode"], "features": timings["features"]}
    frames = len(feats)
    windows_count = len(generator.longform.plan(frames, generator.window))
    ddim = DDIMSampler(steps=args.steps, eta=1.0)
    flops = sampling_flops(generator, feats, ddim)
    rows: list[dict[str, Any]] = []

    def row(name: str, precision: str, windows, wall: float, cpu: float, against=None, base=None) -> dict:
        text, export_s, _ = timed(lambda: export(generator, windows, frames), torch.device("cpu"))
        known = [v for v in front.values() if v is not None]
        out = {
            "model": label,
            "seconds": seconds,
            "windows": windows_count,
            "path": name,
            "precision": precision,
            **front,
            "sampling": wall,
            "sampling_cpu": cpu,
            "export": export_s,
            "total": sum(known) + wall + export_s,
            "bvh_chars": len(text),
        }
        if against is not None:
            out["max_abs_diff"] = float((windows.float().cpu() - against.float().cpu()).abs().max())
            out["speedup"] = base["sampling"] / wall
            out["speedup_cpu"] = base["sampling_cpu"] / cpu
            out["speedup_total"] = base["total"] / out["total"]
        rows.append(out)
        return out

    def throughput(out: dict, flops: int, precision: str) -> None:
        # On a shared machine the wall clock includes time spent waiting for a core; the CPU time of
        # the run (per thread) is the time it actually computed.
        out["sampling_flops"] = flops
        out["achieved_gflops"] = flops / out["sampling"] / 1e9
        per_thread = out["sampling"] if device.type == "cuda" else out["sampling_cpu"] / args.threads
        out["achieved_gflops_cpu"] = flops / per_thread / 1e9
        if precision in peaks:
            out[f"fraction_of_{precision}_peak"] = out["achieved_gflops_cpu"] / peaks[precision]

    def best_of(fn: Callable[[Any], torch.Tensor], sampler) -> tuple[torch.Tensor, float, float]:
        fn(DDIMSampler(steps=1))  # warm-up: lazy kernel set-up and allocations are not the path's cost
        results = [timed(lambda: fn(sampler), device) for _ in range(args.repeats)]
        return min(results, key=lambda r: r[1])

    fp32 = generator
    reference = None
    if args.reference_max_seconds is None or seconds <= args.reference_max_seconds:
        windows, wall, cpu = best_of(lambda sampler: reference_windows(fp32, sampler, feats, args.seed), ddim)
        reference = row("reference (EDGE's way)", "fp32", windows, wall, cpu)
        reference_windows_out = windows
    windows, wall, cpu = best_of(lambda sampler: optimized_windows(fp32, sampler, feats, args.seed), ddim)
    if reference is not None:
        optimized = row("optimized", "fp32", windows, wall, cpu, reference_windows_out, reference)
    else:
        optimized = row("optimized", "fp32", windows, wall, cpu)
    throughput(optimized, flops, "fp32")
    fp32_windows = windows

    for precision in args.precisions:
        if precision == "fp32":
            continue
        try:
            fast = make(precision)
        except A2AError as exc:
            print(f"  skipping {precision}: {exc}")
            continue
        windows, wall, cpu = best_of(
            lambda sampler, fast=fast: optimized_windows(fast, sampler, feats, args.seed), ddim
        )
        out = row("optimized", precision, windows, wall, cpu, fp32_windows, optimized)
        throughput(out, flops, precision)
    for precision in args.precisions if args.compile else ():
        try:
            compiled = make(precision, compile=True)
        except A2AError:
            continue
        _, first, _ = timed(
            lambda compiled=compiled: optimized_windows(compiled, ddim, feats, args.seed), device
        )
        windows, wall, cpu = best_of(
            lambda sampler, compiled=compiled: optimized_windows(compiled, sampler, feats, args.seed), ddim
        )
        out = row("optimized, compiled", precision, windows, wall, cpu, fp32_windows, optimized)
        out["first_call_with_compilation"] = first
        throughput(out, flops, precision)

    posterior = PosteriorMeanSampler(k=args.k)
    for precision in args.precisions:
        try:
            fast = make(precision)
        except A2AError:
            continue
        windows, wall, cpu = best_of(
            lambda sampler, fast=fast: optimized_windows(fast, sampler, feats, args.seed), posterior
        )
        row(f"posterior mean (k={args.k})", precision, windows, wall, cpu)
    return rows


# --- report --------------------------------------------------------------------------------------------


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}e}" if 0 < abs(value) < 1e-3 else f"{value:.{digits}f}"
    return str(value)


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = [
        ("model", "model"),
        ("seconds", "audio s"),
        ("windows", "win"),
        ("path", "path"),
        ("precision", "prec"),
        ("decode", "decode"),
        ("features", "features"),
        ("sampling", "sampling"),
        ("sampling_cpu", "samp. CPU"),
        ("export", "export"),
        ("total", "total"),
        ("speedup", "× faster"),
        ("speedup_cpu", "× (CPU)"),
        ("max_abs_diff", "max |Δ|"),
        ("achieved_gflops_cpu", "GFLOPS"),
    ]
    table = [[title for _, title in columns]]
    table += [
        [f"{r['seconds']:g}" if key == "seconds" else _cell(r.get(key)) for key, _ in columns] for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for i, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * width for width in widths))


def peak_summary(rows: list[dict[str, Any]]) -> list[str]:
    """One line per optimized row: FLOPs of its sampling and how close to the matmul peak it computed
    (FLOPs over its CPU time per thread, so waiting for a core on a shared machine does not count)."""
    lines = []
    for r in rows:
        fraction = r.get(f"fraction_of_{r['precision']}_peak")
        if not r["path"].startswith("optimized") or fraction is None:
            continue
        lines.append(
            f"{r['model']} {r['seconds']:g} s, {r['path']} {r['precision']}: "
            f"{r['sampling_flops'] / 1e12:.2f} TFLOP at {r['achieved_gflops_cpu']:.0f} GFLOPS = "
            f"{100 * fraction:.0f} % of the {r['precision']} matmul peak"
        )
    return lines


def machine(device: torch.device, threads: int) -> dict[str, Any]:
    info = {
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
        "cores_physical": physical_cores(),
        "threads": threads,
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": list(cpu_bf16_instructions()),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["edge", "edge_tiny"], help="conf/model members")
    parser.add_argument(
        "--ckpt", type=Path, default=None, help="a converted/trained checkpoint replaces edge"
    )
    parser.add_argument("--seconds", nargs="+", type=float, default=[10.0, 30.0, 60.0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default physical cores)"
    )
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of the default sampler (EDGE: 50)")
    parser.add_argument("--k", type=int, default=1, help="posterior-mean noise draws (default 1)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per row; the fastest is kept")
    parser.add_argument(
        "--precisions", nargs="+", default=None, help="default: fp32 and bf16 (CPU with bf16) / fp16 (GPU)"
    )
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow first call)")
    parser.add_argument(
        "--reference-max-seconds",
        type=float,
        default=None,
        help="run the straightforward path only up to this audio length (it is slow on a CPU)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("outputs/bench/latency.json"))
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    threads = args.threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    if args.precisions is None:
        args.precisions = ["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"]
    peaks = {"fp32": matmul_peak(device, torch.float32, threads)}
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if name in args.precisions and (
            device.type == "cuda" or (name == "bf16" and cpu_bf16_instructions())
        ):
            peaks[name] = matmul_peak(device, dtype, threads)
    about = machine(device, threads)
    print(f"machine: {about}")
    print("matmul peak (2048³): " + ", ".join(f"{k} {v:.0f} GFLOPS" for k, v in peaks.items()))

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="a2a-latency-") as tmp:
        for model in args.models:
            if model == "edge" and args.ckpt is not None:
                label = f"ckpt {args.ckpt.name}"

                def make(precision, compile=False):
                    return a2a.load(args.ckpt, device=str(device), precision=precision, compile=compile)
            else:
                label = f"{model} (random weights)"

                def make(precision, compile=False, model=model):
                    return random_generator(model, str(device), precision, compile)

            generator = make("fp32")
            params = sum(p.numel() for p in generator.denoiser.parameters())
            print(f"\n{label}: {params / 1e6:.1f} M parameters, window {generator.window} frames")
            for seconds in args.seconds:
                case = run_case(make, label, seconds, args, Path(tmp), peaks)
                for r in case:
                    r["parameters"] = params
                rows += case
                print_table(case)
    print("\nall cases:")
    print_table(rows)
    for line in peak_summary(rows):
        print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": about,
                "peaks_gflops": peaks,
                "args": {k: str(v) for k, v in vars(args).items()},
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
