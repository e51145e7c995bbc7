"""Inference speed of the full-size DiffuseStyleGesture denoiser and what it means per second of speech.

Model: :class:`a2a.models.DSGDenoiser` at ZEGGS size (9,001,781 parameters; 1141 channels, latent 256,
8 layers), eval mode, no grad, one 88-frame window (4.4 s at 20 fps) with WavLM-Large-sized audio
features (1024) and 8 seed frames. Timed: the denoiser forward at batch 1 (one window, no guidance) and
batch 2 (one window with classifier-free guidance: a2a evaluates the conditional and the unconditional
prediction as one doubled batch).

Seconds per second of speech are computed from those per-step times, not measured end to end: DSG's
seeded continuation denoises one window after the other, each adding 88 − 8 = 80 new frames (4.0 s), so

    s / s of speech = steps × forward time / 4.0

for 50 DDIM steps and for the original's 1000 DDPM steps. A short real sampler run (``--check-steps``
DDIM steps through :class:`a2a.diffusion.DDIMSampler`) checks that the sampler adds little beyond the
forward passes, and ``--end-to-end-seconds`` of speech are generated end to end through
``Generator.generate_features`` (seeded continuation, 50 DDIM steps, unguided and with style guidance 2,
decoding included). WavLM feature extraction is not included (its weights are a download).

Timing: ``--warmup`` untimed calls, then ``--iters`` timed ones; the median is reported (``best`` is the
fastest, the least disturbed on a shared machine).

    .venv/bin/python benchmarks/bench_dsg.py --threads 2
    .venv/bin/python benchmarks/bench_dsg.py --device cuda --iters 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch

from a2a.diffusion import CosineSchedule, DDIMSampler
from a2a.models import DSGDenoiser

FPS = 20
DDIM_STEPS = 50
DDPM_STEPS = 1000


def make_inputs(model: DSGDenoiser, batch: int, device: str) -> tuple[torch.Tensor, torch.Tensor, dict]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, model.seq_len, model.nfeats, generator=g)
    cond = {
        "audio": torch.randn(batch, model.seq_len, model.audio_dim, generator=g),
        "style": torch.eye(model.style_dim)[torch.arange(batch) % model.style_dim],
        "seed": torch.randn(batch, model.n_seed, model.nfeats, generator=g),
    }
    t = torch.full((batch,), 500, dtype=torch.long)
    return x.to(device), t.to(device), {k: v.to(device) for k, v in cond.items()}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_forwards(
    model: DSGDenoiser, batches: list[int], device: str, warmup: int, iters: int
) -> dict[int, dict[str, float]]:
    """Median and fastest forward time (seconds) of one window per batch size, the sizes taken in turn
    call by call so that load from other processes hits all of them alike."""
    inputs = {batch: make_inputs(model, batch, device) for batch in batches}
    times: dict[int, list[float]] = {batch: [] for batch in batches}
    with torch.no_grad():
        for i in range(warmup + iters):
            for batch, (x, t, cond) in inputs.items():
                sync(device)
                start = time.perf_counter()
                model(x, t, cond)
                sync(device)
                if i >= warmup:
                    times[batch].append(time.perf_counter() - start)
    return {batch: {"median": statistics.median(v), "best": min(v)} for batch, v in times.items()}


def time_sampler(model: DSGDenoiser, steps: int, device: str) -> float:
    """Seconds of a real ``steps``-step DDIM run on one window (no guidance)."""
    _, _, cond = make_inputs(model, 1, device)
    sampler = DDIMSampler(steps=steps, eta=0.0)
    schedule = CosineSchedule(num_steps=DDPM_STEPS, prediction="x0", clip_x0=False)
    sync(device)
    start = time.perf_counter()
    sampler.sample(model, (1, model.seq_len, model.nfeats), cond, schedule=schedule, device=device)
    sync(device)
    return time.perf_counter() - start


def time_training(batch: int, device: str, warmup: int, iters: int) -> dict[str, float]:
    """Seconds per training step of ``model=dsg`` (the real DiffusionModule: forward with condition
    dropout, SmoothL1, backward, AdamW, EMA) on random ZEGGS-shaped batches of ``batch`` windows."""
    from omegaconf import OmegaConf

    from a2a.config import compose_config, instantiate

    cfg = compose_config(
        "train", ["model=dsg", "data=zeggs", "features=wavlm", "features.path=null", "data.source=-"]
    )
    OmegaConf.resolve(cfg)
    module = instantiate(cfg.model).to(device)
    # no Trainer here: the step's self.log calls have nowhere to go
    warnings.filterwarnings("ignore", message=".*self.log.*trainer.*")
    optimizer = module.configure_optimizers()
    window, seed_frames, features = cfg.model.window, cfg.data.n_seed, cfg.features.dim
    motion = torch.randn(batch, window, module.representation.dim, device=device)
    styles = torch.eye(len(cfg.data.styles), device=device)[torch.arange(batch) % len(cfg.data.styles)]
    batch_dict = {
        "motion": motion,
        "cond": {
            "audio": torch.randn(batch, window, features, device=device),
            "style": styles,
            "seed": motion[:, :seed_frames],
        },
    }
    times = []
    for i in range(warmup + iters):
        start = time.perf_counter()
        loss = module.training_step(batch_dict, i)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        module.on_train_batch_end(None, batch_dict, i)
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "best": min(times)}


def time_end_to_end(seconds: float, steps: int, device: str, guidance: float | None) -> float:
    """Wall seconds of ``Generator.generate_features`` for ``seconds`` of speech with the full-size
    ``model=dsg`` (random weights, identity normaliser; random WavLM-Large-sized features, since the
    extraction needs the downloaded WavLM): seeded continuation window by window, ``steps`` DDIM steps,
    ``guidance`` on the style (None: unguided), decoding to joint rotations included."""
    from omegaconf import OmegaConf

    from a2a.config import compose_config, instantiate
    from a2a.generate import Generator
    from a2a.motion.normalizer import ZScoreNormalizer

    cfg = compose_config(
        "train", ["model=dsg", "data=zeggs", "features=wavlm", "features.path=null", "data.source=-"]
    )
    OmegaConf.resolve(cfg)
    torch.manual_seed(0)
    representation = instantiate(cfg.model.representation)
    identity = torch.stack([-torch.ones(representation.dim), torch.ones(representation.dim)])
    generator = Generator(
        instantiate(cfg.model.denoiser),
        instantiate(cfg.model.schedule),
        representation,
        ZScoreNormalizer().fit(identity),
        None,
        DDIMSampler(steps=steps, eta=0.0),
        instantiate(cfg.model.longform),
        sampler_config={"_target_": "a2a.diffusion.DDIMSampler", "steps": steps, "eta": 0.0},
        guidance_weight=1.0,
        vocabularies={"style": list(cfg.data.styles)},
        fps=float(cfg.model.fps),
        window=int(cfg.model.window),
        info={"path": "random dsg", "feature_dim": int(cfg.features.dim), "model": "dsg"},
        device=device,
    )
    frames = int(seconds * FPS)
    features = torch.randn(frames, int(cfg.features.dim), generator=torch.Generator().manual_seed(1)).numpy()
    weight = None if guidance is None else {"style": guidance}
    generator.generate_features(features[:FPS], seed=0, style="Happy", guidance=weight)  # warm-up
    sync(device)
    start = time.perf_counter()
    generator.generate_features(features, seed=0, style="Happy", guidance=weight)
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--check-steps", type=int, default=10, help="DDIM steps of the real sampler run")
    parser.add_argument("--train-batch", type=int, default=8, help="windows per training step (0: skip)")
    parser.add_argument(
        "--end-to-end-seconds",
        type=float,
        default=12.0,
        help="speech timed end to end, 50 DDIM steps (0: skip)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = DSGDenoiser().to(args.device).eval()
    params = sum(p.numel() for p in model.parameters())
    new_seconds = (model.seq_len - model.n_seed) / FPS
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(
        f"device={args.device} ({device_name}) torch={torch.__version__} threads={torch.get_num_threads()} "
        f"params={params:,} window={model.seq_len} frames, {new_seconds:g} s of new speech per window"
    )
    rows = []
    timings = time_forwards(model, args.batch_sizes, args.device, args.warmup, args.iters)
    for batch, timing in timings.items():
        row = {"batch": batch, "forward_ms": round(1000 * timing["median"], 2)}
        row["forward_best_ms"] = round(1000 * timing["best"], 2)
        for name, steps in (("ddim", DDIM_STEPS), ("ddpm", DDPM_STEPS)):
            row[f"{name}{steps}_s_per_s"] = round(steps * timing["median"] / new_seconds, 3)
            row[f"{name}{steps}_s_per_s_best"] = round(steps * timing["best"] / new_seconds, 3)
        rows.append(row)
        meaning = "one window" if batch == 1 else f"{batch} windows, or one with guidance (doubled batch)"
        print(
            f"batch {batch} ({meaning}): forward {row['forward_ms']} ms (best {row['forward_best_ms']}); "
            f"s per s of speech, from the per-step time (best): {DDIM_STEPS} DDIM steps "
            f"{row[f'ddim{DDIM_STEPS}_s_per_s']} ({row[f'ddim{DDIM_STEPS}_s_per_s_best']}), "
            f"{DDPM_STEPS} DDPM steps {row[f'ddpm{DDPM_STEPS}_s_per_s']} "
            f"({row[f'ddpm{DDPM_STEPS}_s_per_s_best']})"
        )
    check = None
    if args.check_steps:
        elapsed = time_sampler(model, args.check_steps, args.device)
        check = {"steps": args.check_steps, "seconds": round(elapsed, 3)}
        print(
            f"real DDIM run, {args.check_steps} steps, batch 1: {elapsed:.3f} s "
            f"({1000 * elapsed / args.check_steps:.1f} ms per step)"
        )
    end_to_end = None
    if args.end_to_end_seconds:
        end_to_end = {"seconds_of_speech": args.end_to_end_seconds, "steps": DDIM_STEPS}
        for label, guidance in (("unguided", None), ("style_guidance_2", 2.0)):
            elapsed = time_end_to_end(args.end_to_end_seconds, DDIM_STEPS, args.device, guidance)
            end_to_end[label] = {
                "seconds": round(elapsed, 3),
                "s_per_s": round(elapsed / args.end_to_end_seconds, 3),
            }
            print(
                f"end to end, {args.end_to_end_seconds:g} s of speech, {DDIM_STEPS} DDIM steps, {label}: "
                f"{elapsed:.2f} s = {elapsed / args.end_to_end_seconds:.3f} s per s of speech "
                "(feature extraction excluded)"
            )
    training = None
    if args.train_batch:
        timing = time_training(args.train_batch, args.device, 2, max(3, args.iters // 4))
        training = {
            "batch": args.train_batch,
            "windows_per_s": round(args.train_batch / timing["median"], 2),
            "windows_per_s_best": round(args.train_batch / timing["best"], 2),
        }
        print(
            f"training model=dsg, batch {args.train_batch}: {training['windows_per_s']} windows/s "
            f"(best {training['windows_per_s_best']})"
        )
    print(
        json.dumps(
            {
                "device": args.device,
                "threads": torch.get_num_threads(),
                "params": params,
                "rows": rows,
                "sampler_check": check,
                "end_to_end": end_to_end,
                "training": training,
            }
        )
    )


if __name__ == "__main__":
    main()
