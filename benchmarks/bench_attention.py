"""Throughput and peak memory of EdgeDenoiser with its attention backends (sdpa vs manual).

train = forward + backward in train mode (dropout 0.1 active, 25 % condition dropout);
eval = no-grad forward in eval mode. Windows are ``seq_len``-frame clips (150 for the full model).

Timing: one model per configuration, the backends switched round-robin step by step (same weights,
same inputs) so that load from other processes hits all of them alike; throughput comes from each
backend's fastest step (the least disturbed one on a shared machine). Memory: every (configuration,
backend) runs two train steps in a fresh subprocess; on CPU the peak is the high-water RSS (``VmHWM``,
Linux) above the RSS after building the model and inputs, on CUDA ``torch.cuda.max_memory_allocated``
minus what was allocated before the first step.

    .venv/bin/python benchmarks/bench_attention.py                    # CPU: full size B=4,8 and tiny
    .venv/bin/python benchmarks/bench_attention.py --device cuda --batch-sizes 8 64 --iters 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from a2a.diffusion.conditions import ConditionDropout
from a2a.models import EdgeDenoiser

CONFIGS: dict[str, dict[str, int | float]] = {
    "full": {"seq_len": 150, "latent_dim": 512, "ff_size": 1024, "num_layers": 8, "num_heads": 8},
    "tiny": {
        "seq_len": 30,
        "latent_dim": 64,
        "ff_size": 128,
        "num_layers": 2,
        "num_heads": 2,
        "music_layers": 1,
    },
}
BACKENDS = ("sdpa", "manual")


class Workload:
    """A model with fixed inputs and the two steps that are timed."""

    def __init__(self, config: str, batch: int, device: str) -> None:
        torch.manual_seed(0)
        self.model = EdgeDenoiser(cond_feature_dim=35, **CONFIGS[config]).to(device)
        m = self.model
        self.x = torch.randn(batch, m.seq_len, m.nfeats, device=device)
        self.cond = torch.randn(batch, m.seq_len, m.cond_feature_dim, device=device)
        self.t = torch.randint(0, 1000, (batch,), device=device)
        self.keep = ConditionDropout({"audio": 0.25}).keep_masks(batch, device=device)
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def train_step(self) -> None:
        self.model.train()
        loss = F.mse_loss(self.model(self.x, self.t, self.cond, self.keep), self.x)
        loss.backward()
        self.model.zero_grad(set_to_none=True)

    def eval_step(self) -> None:
        self.model.eval()
        with torch.no_grad():
            self.model(self.x, self.t, self.cond)

    def seconds(self, step: Callable[[], None]) -> float:
        self.sync()
        start = time.perf_counter()
        step()
        self.sync()
        return time.perf_counter() - start


def time_backends(
    config: str, batch: int, device: str, iters: int, warmup: int
) -> dict[str, dict[str, float]]:
    """Median seconds per train and eval step for every backend, measured round-robin."""
    work = Workload(config, batch, device)
    times: dict[str, dict[str, list[float]]] = {b: {"train": [], "eval": []} for b in BACKENDS}
    for i in range(warmup + iters):
        for backend in BACKENDS:
            work.model.attention_backend = backend
            train_s, eval_s = work.seconds(work.train_step), work.seconds(work.eval_step)
            if i >= warmup:
                times[backend]["train"].append(train_s)
                times[backend]["eval"].append(eval_s)
    return {b: {k: min(v) for k, v in times[b].items()} for b in BACKENDS}


def _proc_status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _reset_and_read_rss() -> int:
    """Reset the peak-RSS mark (Linux ``clear_refs`` 5) and return the current RSS in bytes.

    ``ru_maxrss`` cannot serve: Linux carries it over from the parent across fork and exec.
    """
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _proc_status_bytes("VmRSS")


def peak_memory_mib(config: str, batch: int, backend: str, device: str, steps: int = 2) -> float:
    """Peak memory growth over ``steps`` train steps (call in a fresh process for CPU)."""
    work = Workload(config, batch, device)
    work.model.attention_backend = backend
    if work.cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _reset_and_read_rss()
    for _ in range(steps):
        work.train_step()
    work.sync()
    if work.cuda:
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    return (_proc_status_bytes("VmHWM") - before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--tiny-batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--memory-worker", nargs=3, metavar=("CONFIG", "BATCH", "BACKEND"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.memory_worker:
        config, batch, backend = args.memory_worker
        print(json.dumps(peak_memory_mib(config, int(batch), backend, args.device)))
        return

    runs = [("full", b) for b in args.batch_sizes] + [("tiny", b) for b in args.tiny_batch_sizes]
    print(
        f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} "
        f"iters={args.iters} warmup={args.warmup}"
    )
    header = (
        f"{'config':<6} {'B':>4} {'backend':<7} {'train win/s':>12} {'eval win/s':>11} {'peak MiB':>9} "
        f"{'train x':>8} {'eval x':>7} {'mem x':>6}"
    )
    print(header)
    print("-" * len(header))
    for config, batch in runs:
        timing = time_backends(config, batch, args.device, args.iters, args.warmup)
        memory = {}
        for backend in BACKENDS:
            command = [sys.executable, __file__, "--device", args.device]
            command += ["--memory-worker", config, str(batch), backend]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            memory[backend] = json.loads(output.strip().splitlines()[-1])
        manual = timing["manual"]
        for backend in BACKENDS:
            train_rate, eval_rate = batch / timing[backend]["train"], batch / timing[backend]["eval"]
            train_x = manual["train"] / timing[backend]["train"]
            eval_x = manual["eval"] / timing[backend]["eval"]
            mem_x = memory[backend] / memory["manual"] if memory["manual"] > 0 else float("nan")
            print(
                f"{config:<6} {batch:>4} {backend:<7} {train_rate:>12.2f} {eval_rate:>11.2f} "
                f"{memory[backend]:>9.1f} {train_x:>8.2f} {eval_x:>7.2f} {mem_x:>6.2f}"
            )
    print("x = relative to the manual softmax(QK^T)V path on the same config (higher is faster)")


if __name__ == "__main__":
    main()
