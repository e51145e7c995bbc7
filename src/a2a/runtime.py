"""How a denoiser runs at generation time: numeric precision, ``torch.compile`` and the CPU thread count.

None of this changes what is computed, only how: ``fp32`` is the reference, and the caches and kernels
of the fast path keep its outputs equal to the straightforward computation within 1e-4
(``benchmarks/latency.py`` measures it). ``bf16``/``fp16`` trade accuracy for speed; their cost in
quality is measured by the benchmark (motion difference) and ``evaluate.py precision=bf16`` (reward, FID).

Precisions:

- ``fp32``: float32 everywhere.
- ``bf16``: matrix multiplications and attention in bfloat16 through :func:`torch.autocast` (weights
  cast once per request and cached), norms, softmax and the sampler's chain in float32
  (:func:`select_kernels` picks the attention kernel).
  On CUDA where the GPU supports bf16; on CPU only where the CPU has native bf16 instructions
  (AVX512-BF16 or AMX-BF16, see :func:`cpu_bf16_instructions`): elsewhere bf16 is emulated and slower
  than fp32, so it is refused.
- ``fp16``: float16 autocast, CUDA only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from a2a.errors import A2AError

PRECISIONS = ("fp32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# /proc/cpuinfo flags of native bf16 matrix instructions, best first
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:  # not Linux: no flags to read
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_bf16_instructions(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, ...]:
    """The native bf16 instructions of this CPU that torch's kernels use (``("amx_bf16",
    "avx512_bf16")``, ``("avx512_bf16",)``, or ``()``).

    torch dispatches its CPU kernels by capability (:func:`torch.backends.cpu.get_cpu_capability`);
    bf16 matmuls are fast only where that is AVX512 (or better) and the CPU flags name AMX-BF16 or
    AVX512-BF16.
    """
    if not torch.backends.cpu.get_cpu_capability().startswith(("AVX512", "AMX")):
        return ()
    flags = _cpu_flags(cpuinfo)
    return tuple(flag for flag in CPU_BF16_FLAGS if flag in flags)


def check_precision(precision: str, device: torch.device | str, option: str = "precision") -> str:
    """``precision`` if it is known and ``device`` runs it natively; :class:`A2AError` naming ``option``
    otherwise."""
    if precision not in PRECISIONS:
        raise A2AError(f"{option}={precision!r}: choose one of {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if precision == "fp32":
        return precision
    if kind == "cuda":
        # (without CUDA at all, the device check that follows names the problem)
        if precision == "bf16" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            raise A2AError(f"{option}=bf16: this GPU has no bf16 support; use {option}=fp16 or fp32")
        return precision
    if kind == "cpu" and precision == "bf16":
        if not cpu_bf16_instructions():
            raise A2AError(
                f"{option}=bf16: this CPU has no native bf16 instructions (AVX512-BF16 or AMX-BF16; torch "
                f"capability {torch.backends.cpu.get_cpu_capability()}), so bf16 would be slower than "
                f"fp32; use {option}=fp32"
            )
        return precision
    raise A2AError(f"{option}={precision}: not supported on {kind}; use {option}=fp32")


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device | str) -> Iterator[None]:
    """Run the enclosed model calls at ``precision`` (autocast for bf16/fp16, nothing for fp32).

    Enter it once around a whole request: autocast then casts each weight once and reuses it.
    """
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, dtype=AUTOCAST_DTYPES[precision]):
        yield


def select_kernels(denoiser: nn.Module, precision: str, device: torch.device | str) -> None:
    """Pick the fastest attention kernel for ``precision`` on ``device`` where the denoiser offers a
    choice (an ``attention_backend`` attribute; every backend computes the same thing).

    On a CPU in bf16 the explicit ``softmax(QKᵀ/√d)·V`` (two bf16 matmuls, float32 softmax) beats torch's
    flash-attention kernel, which gains nothing from bf16 at EDGE's sizes (full-size EDGE, 30 s of audio,
    one thread: 1.00 s against 1.15 s per two steps, fp32 2.9 s). Elsewhere the model's setting stays.
    """
    if precision == "bf16" and torch.device(device).type == "cpu" and hasattr(denoiser, "attention_backend"):
        denoiser.attention_backend = "manual"


def compile_denoiser(denoiser: nn.Module) -> nn.Module:
    """``torch.compile`` with dynamic shapes, so requests with different window counts share one graph.

    The first call compiles (tens of seconds on a CPU; inductor needs a C++ compiler there); the
    returned module forwards attribute access (``prepare_conditions``, ``conditions``) to ``denoiser``.
    """
    return torch.compile(denoiser, dynamic=True)


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads share a core's matrix units, so torch's
    intra-op threads gain nothing from them)."""
    import psutil

    physical = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else physical
    return max(1, min(physical, allowed))


def resolve_threads(threads: int | None, option: str = "threads") -> int:
    """The intra-op thread count to use: ``threads``, or :func:`physical_cores` for ``None``."""
    if threads is None:
        return physical_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise A2AError(f"{option}={threads!r}: must be a positive integer or null (physical cores)")
    return threads
