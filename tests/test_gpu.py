"""Tier 3: CUDA paths (skipped without a GPU)."""

import pytest
import torch

from a2a.models import EdgeDenoiser

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_edge_sdpa_matches_manual_attention_on_cuda():
    model = EdgeDenoiser().cuda().eval()
    x = torch.randn(4, 150, 151, device="cuda")
    t = torch.randint(0, 1000, (4,), device="cuda")
    cond = torch.randn(4, 150, 35, device="cuda")
    with torch.no_grad():
        model.attention_backend = "sdpa"
        fast = model(x, t, cond)
        model.attention_backend = "manual"
        slow = model(x, t, cond)
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=1e-4)


def test_edge_trains_under_fp16_autocast():
    model = EdgeDenoiser().cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda")
    x = torch.rand(8, 150, 151, device="cuda") * 2 - 1
    cond = torch.randn(8, 150, 35, device="cuda")
    for _ in range(3):
        with torch.autocast("cuda", dtype=torch.float16):
            out = model(x, torch.randint(0, 1000, (8,), device="cuda"), cond)
            loss = torch.nn.functional.mse_loss(out.float(), x)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert torch.isfinite(loss)
