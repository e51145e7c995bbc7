"""Training throughput (windows/s) and peak memory of the real ``DiffusionModule`` training step.

One step = ``training_step`` (forward with condition dropout, diffusion losses incl. FK and foot contact)
+ ``backward`` + ``optimizer.step`` + ``on_train_batch_end`` (EMA update), on random batches shaped like
the data module's: ``motion`` [B, T, 151] in [-1, 1] (normalised EDGE representation), ``cond``
[B, T, 35] (baseline audio features), T = 150 (5 s at 30 fps). The module, its optimizer and its
normaliser come from the project's config (``conf/train.yaml`` with ``model=edge`` / ``model=edge_tiny``);
on CUDA the step runs under ``trainer=gpu``'s precision (``16-mixed``: fp16 autocast and a gradient
scaler, as Lightning does).

Timing: warm-up steps, then ``--iters`` timed steps; windows/s comes from the median step (``best``
from the fastest, the least disturbed one on a shared machine: when another process keeps the cores busy,
a two-thread step can take many times a one-thread step, as the threads wait for each other at every
operation; ``--threads 1`` gives steadier numbers there). The sdpa vs manual attention comparison
(``model.denoiser.attention_backend``) of the full model alternates the two modules step by step so that
load from other processes hits both alike. Memory: every configuration runs two steps in a fresh
subprocess; on CPU the peak is the high-water RSS (``VmHWM``, Linux) above the RSS after building the
module, optimizer and batches (so it counts activations, gradients and the optimizer state created by the
first step; ``ru_maxrss`` cannot serve, Linux carries it over from the parent across fork and exec), on
CUDA ``torch.cuda.max_memory_allocated`` above what was allocated before the first step.

    .venv/bin/python benchmarks/bench_train.py                      # CPU: full B=4,8; tiny B=32
    .venv/bin/python benchmarks/bench_train.py --device cuda        # full B=32,64; tiny B=256
    .venv/bin/python benchmarks/bench_train.py --batch-sizes 2 --iters 5 --no-backends
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig

from a2a import config as a2a_config
from a2a.config import instantiate
from a2a.lightning import DiffusionModule
from a2a.motion.normalizer import MinMaxNormalizer

MODELS = ("edge", "edge_tiny")
BACKENDS = ("sdpa", "manual")
DEFAULT_BATCHES = {"cpu": {"edge": [4, 8], "edge_tiny": [32]}, "cuda": {"edge": [32, 64], "edge_tiny": [256]}}


def compose_config(model: str, device: str, backend: str) -> DictConfig:
    """``conf/train.yaml`` with ``model=<model>`` (and ``trainer=gpu`` on CUDA); no data is built."""
    overrides = [
        f"model={model}",
        f"trainer={'gpu' if device.startswith('cuda') else 'cpu'}",
        "data.source=unused",  # the data module is never instantiated; only its window length is read
        f"model.denoiser.attention_backend={backend}",
    ]
    return a2a_config.compose_config("train", overrides)


@dataclass
class Config:
    """One measured configuration."""

    model: str
    batch: int
    backend: str = "sdpa"

    @property
    def label(self) -> str:
        return f"{self.model} B={self.batch} {self.backend}"


class TrainStep:
    """A ``DiffusionModule`` with its optimizer, fixed random batches and the step that is timed."""

    def __init__(self, config: Config, device: str, seed: int = 0) -> None:
        cfg = compose_config(config.model, device, config.backend)
        torch.manual_seed(seed)
        self.module: DiffusionModule = instantiate(cfg.model).to(device)
        self.module.train()
        self.device = torch.device(device)
        window, dim = int(cfg.model.window), self.module.representation.dim
        cond_dim = int(cfg.model.denoiser.cond_feature_dim)
        # The losses un-normalise for FK/foot terms, so the module needs statistics; any fitted range will do.
        self.module.set_normalizer(MinMaxNormalizer().fit(torch.randn(4096, dim, dtype=torch.float64)))
        self.optimizer = self.module.configure_optimizers()
        self.batches = [
            {
                "motion": torch.rand(config.batch, window, dim, device=device) * 2 - 1,
                "cond": torch.randn(config.batch, window, cond_dim, device=device),
            }
            for _ in range(2)
        ]
        precision = str(cfg.trainer.precision)
        self.cuda = self.device.type == "cuda"
        self.autocast_dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(precision)
        self.scaler = torch.amp.GradScaler(device.split(":")[0], enabled=precision == "16-mixed")
        self.steps = 0

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def step(self) -> None:
        batch = self.batches[self.steps % len(self.batches)]
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.module.training_step(batch, self.steps)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.module.on_train_batch_end(loss, batch, self.steps)
        self.steps += 1

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def seconds(self) -> float:
        """Wall time of one step."""
        self.sync()
        start = time.perf_counter()
        self.step()
        self.sync()
        return time.perf_counter() - start


def time_round_robin(configs: list[Config], device: str, iters: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per timed step of every configuration, the configurations taking turns step by step."""
    steps = [TrainStep(c, device) for c in configs]
    times: dict[str, list[float]] = {c.label: [] for c in configs}
    for i in range(warmup + iters):
        for config, step in zip(configs, steps, strict=True):
            seconds = step.seconds()
            if i >= warmup:
                times[config.label].append(seconds)
    return times


def _proc_status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _reset_and_read_rss() -> int:
    """Reset the peak-RSS mark (Linux ``clear_refs`` 5) and return the current RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _proc_status_bytes("VmRSS")


def peak_memory(config: Config, device: str, steps: int = 2) -> dict[str, float]:
    """MiB: ``base`` after building everything, ``peak`` growth above it over ``steps`` training steps
    (call in a fresh process for CPU)."""
    work = TrainStep(config, device)
    if work.cuda:
        torch.cuda.reset_peak_memory_stats(work.device)
        before = torch.cuda.memory_allocated(work.device)
    else:
        before = _reset_and_read_rss()
    for _ in range(steps):
        work.step()
    work.sync()
    peak = torch.cuda.max_memory_allocated(work.device) if work.cuda else _proc_status_bytes("VmHWM")
    return {"base": before / 2**20, "peak": (peak - before) / 2**20}


def measure_memory(config: Config, device: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--device", device, "--threads", str(torch.get_num_threads())]
    command += ["--memory-worker", config.model]
    command += [str(config.batch), config.backend]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def parameter_count(model: str) -> int:
    cfg = compose_config(model, "cpu", "sdpa")
    return sum(p.numel() for p in instantiate(cfg.model.denoiser).parameters())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", help="full model (default cpu: 4 8, cuda: 32 64)"
    )
    parser.add_argument(
        "--tiny-batch-sizes", type=int, nargs="+", help="edge_tiny (default cpu: 32, cuda: 256)"
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, one per core)")
    parser.add_argument("--iters", type=int, default=3, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument(
        "--no-backends", action="store_true", help="skip the sdpa vs manual attention comparison"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument(
        "--memory-worker", nargs=3, metavar=("MODEL", "BATCH", "BACKEND"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    # training_step calls self.log, which warns (once per key) without a Trainer; that is expected here.
    warnings.filterwarnings("ignore", message=".*self.log.*")
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.memory_worker:
        model, batch, backend = args.memory_worker
        print(json.dumps(peak_memory(Config(model, int(batch), backend), args.device)))
        return
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: torch.cuda.is_available() is False")

    defaults = DEFAULT_BATCHES["cuda" if args.device.startswith("cuda") else "cpu"]
    full_batches = args.batch_sizes or defaults["edge"]
    tiny_batches = args.tiny_batch_sizes or defaults["edge_tiny"]
    # Backend pairs for the full model take turns; every other configuration is timed on its own.
    groups: list[list[Config]] = []
    for batch in full_batches:
        backends = BACKENDS if not args.no_backends else BACKENDS[:1]
        groups.append([Config("edge", batch, b) for b in backends])
    groups += [[Config("edge_tiny", batch)] for batch in tiny_batches]

    device_name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(
        f"device={args.device} ({device_name}) torch={torch.__version__} threads={torch.get_num_threads()} "
        f"iters={args.iters} warmup={args.warmup}"
    )
    print(", ".join(f"{m}: {parameter_count(m) / 1e6:.2f}M denoiser params" for m in MODELS))
    header = (
        f"{'model':<10} {'B':>4} {'attention':<9} {'s/step':>8} {'win/s':>8} {'best win/s':>10} "
        f"{'base MiB':>9} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, dict[str, Any]] = {}
    for group in groups:
        times = time_round_robin(group, args.device, args.iters, args.warmup)
        for config in group:
            median = statistics.median(times[config.label])
            memory = {"base": float("nan"), "peak": float("nan")}
            if not args.no_memory:
                memory = measure_memory(config, args.device)
            results[config.label] = {"median": median, "best": min(times[config.label]), **memory}
            print(
                f"{config.model:<10} {config.batch:>4} {config.backend:<9} {median:>8.3f} "
                f"{config.batch / median:>8.2f} {config.batch / min(times[config.label]):>10.2f} "
                f"{memory['base']:>9.1f} {memory['peak']:>9.1f}",
                flush=True,
            )

    print()
    print("peak MiB = memory growth over two training steps above the built module, optimizer and batches")
    if not args.no_backends:
        for batch in full_batches:
            sdpa, manual = (results[Config("edge", batch, b).label] for b in BACKENDS)
            line = (
                f"edge B={batch}: sdpa / manual throughput x{manual['median'] / sdpa['median']:.2f} "
                f"(best x{manual['best'] / sdpa['best']:.2f})"
            )
            if manual["peak"] > 0:
                line += f", peak memory x{sdpa['peak'] / manual['peak']:.2f}"
            print(line)
    for batch in full_batches[1:]:
        first, this = results[Config("edge", full_batches[0]).label], results[Config("edge", batch).label]
        scaling = (batch / this["median"]) / (full_batches[0] / first["median"])
        print(f"edge sdpa B={batch} vs B={full_batches[0]}: throughput x{scaling:.2f}")
    tiny = results[Config("edge_tiny", tiny_batches[0]).label]
    full = results[Config("edge", full_batches[0]).label]
    ratio = (tiny_batches[0] / tiny["median"]) / (full_batches[0] / full["median"])
    print(f"edge_tiny B={tiny_batches[0]} vs edge B={full_batches[0]}: throughput x{ratio:.1f}")


if __name__ == "__main__":
    main()
