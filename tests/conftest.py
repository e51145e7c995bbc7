"""Shared test setup."""

import torch

# Tiny tensors on a 2-core machine: one intra-op thread avoids oversubscription and keeps timings stable.
torch.set_num_threads(1)
