"""Jukebox features (EDGE's 4800-d layer-66 activations) on a tiny random Jukebox in the release's layout.

The tiny model has the real module structure and state-dict names at small widths; the real VQ-VAE hop (128
samples at 44.1 kHz), block size (64 tokens) and label vocabulary are kept, so 5-s slices give the real
1722 tokens and 150 frames. The tier-3 tests at the end time the real 5B model (``A2A_JUKEBOX_DIR``).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from a2a.audio import FeatureCache, extract_slices
from a2a.audio.jukebox import (
    PRIOR_FILE,
    PRIOR_RELEASE_BYTES,
    VQVAE_FILE,
    JukeboxFeatures,
    resample_tokens,
    save_random_jukebox,
)
from a2a.audio.jukebox_model import JUKEBOX_5B, JukeboxArchitecture, label_bins, prior_tensors, vqvae_tensors
from a2a.checkpoint.configs import build
from a2a.errors import A2AError, AudioError

SR = 44100
TINY = JukeboxArchitecture(
    vqvae_width=8,
    vqvae_depth=2,
    vqvae_emb_width=16,
    codebook_size=256,
    width=32,
    depth=5,
    heads=2,
    n_ctx=2048,
    blocks=32,
)
LAYER = 4  # of the tiny model's 5 blocks: the last one and the output head stay unread, as layers 67..72


def music(seconds: float, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Chords, a bass line and noise bursts on the beat: a song-like signal ``[n]`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (220.0, 277.2, 329.6))
    y += 0.3 * np.sin(2 * np.pi * 55.0 * (1 + (t // 0.5 % 4) / 4) * t)
    for beat in np.arange(0.0, seconds, 0.5):
        i = int(beat * sr)
        n = min(int(0.05 * sr), t.size - i)
        y[i : i + n] += rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * sr))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_random_jukebox(tmp_path_factory.mktemp("jukebox"), TINY, seed=0)


@pytest.fixture(scope="module")
def extractor(tiny_dir: Path) -> JukeboxFeatures:
    return JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def state(tiny_dir: Path) -> dict[str, torch.Tensor]:
    """The tiny prior's and VQ-VAE's state dicts as the test wrote them, read back independently."""
    tensors = {}
    for name in (VQVAE_FILE, PRIOR_FILE):
        tensors.update(torch.load(tiny_dir / name, weights_only=False)["model"])
    return {name: tensor.float() for name, tensor in tensors.items()}


# --------------------------------------------------------------------------------------------------------
# The release's layout and the recipe's constants


def test_tensor_layout_matches_the_released_files():
    prior = prior_tensors(JUKEBOX_5B)
    assert len(prior) == 7 + 72 * 12 + 1
    assert prior["prior.transformer._attn_mods.0.attn.c_attn.w"] == ((4800, 3600), torch.float16)
    assert prior["prior.transformer._attn_mods.71.mlp.c_proj.b"] == ((4800,), torch.float32)
    assert prior["prior.pos_emb.pos_emb"] == ((8192, 4800), torch.float32)
    assert prior["y_emb.artist_emb.emb.weight"] == ((4111, 4800), torch.float32)
    assert prior["prior.x_out.weight"] == ((2048, 4800), torch.float32)
    # The official file is 10,288,727,721 bytes; its tensors (fp16 transformer matrices, fp32 rest) account
    # for all but the pickle's names and storage headers.
    data = sum(math.prod(shape) * dtype.itemsize for shape, dtype in prior.values())
    assert data == 10_288_531_200 and 0 < PRIOR_RELEASE_BYTES - data < 250_000
    # Only blocks 1..66 and the embeddings are read: 9.42 GB of it.
    needed = prior_tensors(JUKEBOX_5B, 66)
    assert len(needed) == 7 + 66 * 12 and "prior.x_out.weight" not in needed
    assert sum(math.prod(s) * d.itemsize for s, d in needed.values()) == 9_418_876_800

    vqvae = vqvae_tensors(JUKEBOX_5B, top_only=True)
    # openai/jukebox's VQ-VAE (hvqvae_multipliers (2, 1, 1)): encoders.2 has 132 tensors, 168,224 numbers.
    assert len(vqvae) == 133
    assert sum(math.prod(s) for name, (s, _) in vqvae.items() if name.startswith("encoders.")) == 168_224
    assert vqvae["encoders.2.level_blocks.0.model.0.0.weight"][0] == (32, 1, 4)
    assert vqvae["encoders.2.level_blocks.1.model.0.0.weight"][0] == (32, 64, 4)
    assert vqvae["encoders.2.level_blocks.0.model.2.1.model.3.model.1.weight"][0] == (32, 32, 3)
    assert vqvae["encoders.2.level_blocks.2.model.2.weight"][0] == (64, 32, 3)
    assert vqvae["bottleneck.level_blocks.2.k"] == ((2048, 64), torch.float32)
    assert vqvae_tensors(JUKEBOX_5B)["encoders.0.level_blocks.0.model.0.1.model.7.model.3.weight"][0] == (
        64,
        64,
        1,
    )


def test_timing_conditioning_bins_are_jukemirlibs():
    # A 62-s song (2,734,080 samples, a multiple of the 128 hop), read from 0 for 8192 tokens (1,048,576).
    total_bin, absolute, relative = label_bins(JUKEBOX_5B)
    assert total_bin == (128 * (2_734_080 - 60 * SR)) // (540 * SR) == 0
    i = np.arange(8192)
    np.testing.assert_array_equal(absolute.numpy(), (128 * 128 * i) // (600 * SR))
    np.testing.assert_array_equal(relative.numpy(), (128 * 1_048_576 * i) // (2_734_080 * 8192))
    assert absolute.max() == 5 and relative[-1] == 49


def test_resampling_to_30_fps_hand_computed():
    tokens, frames = 1722, 150  # a 5-s slice: ⌊220500 / 128⌋ tokens, ⌈1722 · 30 · 128 / 44100⌉ frames
    i, j = np.arange(tokens), np.arange(frames)
    # Below the output Nyquist (75 cycles per window) a periodic cosine resamples exactly.
    cycles, phase, offset = (
        np.array([0, 1, 7, 74]),
        np.array([0.0, 0.3, 1.0, -2.0]),
        np.array([1.0, 0, -2, 0.5]),
    )
    acts = offset + np.cos(2 * np.pi * cycles * i[:, None] / tokens + phase)
    expected = offset + np.cos(2 * np.pi * cycles * j[:, None] / frames + phase)
    out = resample_tokens(acts[None].astype(np.float32), frames)
    assert out.shape == (1, 150, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], expected, atol=2e-4)
    # jukemirlib's own call on the same activations
    rate = 8192 / (1_048_576 / SR)
    theirs = librosa.resample(acts.T.astype(np.float32), orig_sr=rate, target_sr=30, res_type="fft").T
    np.testing.assert_allclose(out[0], theirs, atol=1e-6)


def test_frame_counts(extractor: JukeboxFeatures):
    assert extractor.frames_per_slice(5 * SR, SR) == 150
    assert extractor.frames_per_slice(5 * 48000, 48000) == 150
    assert extractor.frames_per_slice(735 * 128, SR) == 64  # 735 tokens are exactly 64 frames
    assert extractor.frames_per_slice(736 * 128, SR) == 65
    assert extractor.frames_per_slice(int(2.5 * SR), SR) == 75


# --------------------------------------------------------------------------------------------------------
# The network against a dense re-statement of Jukebox's computation


def _reference_tokens(sd: dict[str, torch.Tensor], audio: np.ndarray) -> torch.Tensor:
    """Top-level VQ-VAE tokens ``[D]`` of one normalised 44.1-kHz clip, with plain convolutions."""
    x = torch.from_numpy(audio)[None, None]
    for stage, down in enumerate(TINY.vqvae_downs):
        pre = f"encoders.2.level_blocks.{stage}.model."
        for i in range(down):
            x = F.conv1d(x, sd[f"{pre}{i}.0.weight"], sd[f"{pre}{i}.0.bias"], stride=2, padding=1)
            for j in range(TINY.vqvae_depth):
                res = f"{pre}{i}.1.model.{j}.model."
                h = F.conv1d(F.relu(x), sd[res + "1.weight"], sd[res + "1.bias"], padding=3**j, dilation=3**j)
                x = x + F.conv1d(F.relu(h), sd[res + "3.weight"], sd[res + "3.bias"])
        x = F.conv1d(x, sd[f"{pre}{down}.weight"], sd[f"{pre}{down}.bias"], padding=1)
    return torch.cdist(x[0].T, sd["bottleneck.level_blocks.2.k"]).argmin(dim=-1)


def _reference_activations(sd: dict[str, torch.Tensor], z: torch.Tensor, layers: int) -> torch.Tensor:
    """Prior activations ``[D, width]`` after ``layers`` blocks, with each attention pattern written as a
    dense ``[D, D]`` mask: within block (j ≤ i), same position of earlier blocks (j ≤ i), previous block."""
    length, bc, heads = z.shape[0], TINY.block_ctx, TINY.heads
    start = sd["y_emb.bow_genre_emb.emb.weight"][0] + sd["y_emb.artist_emb.emb.weight"][0]
    x = torch.cat([start[None], sd["prior.x_emb.weight"][z[:-1]]]) + sd["prior.pos_emb.pos_emb"][:length]
    i = torch.arange(length)
    # Timing bins of a 62-s song (2,734,080 samples) read from 0 for 2048 tokens (262,144 samples).
    total = sd["y_emb.total_length_emb.emb.weight"][(128 * (2_734_080 - 60 * SR)) // (540 * SR)]
    absolute = sd["y_emb.absolute_pos_emb.emb.weight"][(128 * 128 * i) // (600 * SR)]
    relative = sd["y_emb.relative_pos_emb.emb.weight"][(128 * 262_144 * i) // (2_734_080 * 2048)]
    x = x + total + absolute + relative
    row, col = i[:, None], i[None, :]
    masks = {
        1: (row // bc == col // bc) & (col <= row),
        2: (row % bc == col % bc) & (col <= row),
        0: col // bc == row // bc - 1,
    }
    for layer in range(layers):
        p = f"prior.transformer._attn_mods.{layer}."
        h = F.layer_norm(x, (TINY.width,), sd[p + "ln_0.weight"], sd[p + "ln_0.bias"])
        q, k, v = (h @ sd[p + "attn.c_attn.w"] + sd[p + "attn.c_attn.b"]).chunk(3, dim=-1)
        mask = masks[(layer + 1) % 3]
        outs = []
        for head in range(heads):
            cols = slice(head * q.shape[1] // heads, (head + 1) * q.shape[1] // heads)
            logits = q[:, cols] @ k[:, cols].T / math.sqrt(q.shape[1] // heads)
            weights = torch.softmax(logits.masked_fill(~mask, -math.inf), dim=-1).nan_to_num(0.0)
            outs.append(weights @ v[:, cols])  # a row with no key (the first block, pattern 3) gives 0
        a = torch.cat(outs, dim=-1) @ sd[p + "attn.c_proj.w"] + sd[p + "attn.c_proj.b"]
        h = F.layer_norm(x + a, (TINY.width,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
        h = h @ sd[p + "mlp.c_fc.w"] + sd[p + "mlp.c_fc.b"]
        m = (h * torch.sigmoid(1.702 * h)) @ sd[p + "mlp.c_proj.w"] + sd[p + "mlp.c_proj.b"]
        x = x + a + m
    return x


def test_tiny_model_matches_a_dense_reference(extractor: JukeboxFeatures, state: dict[str, torch.Tensor]):
    clip = music(5.0, seed=1)
    normalised = clip / np.abs(clip).max()
    z = _reference_tokens(state, normalised)
    assert z.shape == (1722,) and len(torch.unique(z)) > 10  # 1722 = 26 blocks of 64 + 58: padding is used
    with torch.inference_mode():
        ours = extractor.encoder(torch.from_numpy(normalised)[None])[0]
    assert torch.equal(ours, z)
    expected = _reference_activations(state, z, LAYER)
    with torch.inference_mode():
        activations = extractor.prior(z[None], torch.float32)[0]
    torch.testing.assert_close(activations, expected, atol=1e-4, rtol=1e-4)
    # End to end: jukemirlib's resampling of the reference activations.
    rate = 8192 / (1_048_576 / SR)
    frames = librosa.resample(expected.numpy().T, orig_sr=rate, target_sr=30, res_type="fft").T
    features = extractor.slices([clip], SR)
    assert features.shape == (1, 150, 32)
    np.testing.assert_allclose(features[0], frames, atol=1e-4, rtol=1e-4)
    # Only the first LAYER blocks exist; the prior's weights stay fp32 on the CPU.
    assert len(extractor.prior.prior.transformer._attn_mods) == LAYER
    assert {p.dtype for p in extractor.prior.parameters()} == {torch.float32}


# --------------------------------------------------------------------------------------------------------
# Slices and songs


def test_slices_batched_equal_one_by_one_and_are_deterministic(extractor: JukeboxFeatures, tiny_dir: Path):
    song = music(12.0, seed=2)
    starts = [0, int(2.5 * SR), 5 * SR]
    slices = np.stack([song[s : s + 5 * SR] for s in starts])
    batched = extractor.slices(slices, SR)  # batch_size 2: batches of 2 and 1
    alone = np.concatenate([extractor.slices(slices[k : k + 1], SR) for k in range(3)])
    assert batched.shape == (3, 150, 32)
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-5)
    again = JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cpu", batch_size=3)
    np.testing.assert_array_equal(again.slices(slices, SR), again.slices(slices, SR))
    np.testing.assert_allclose(again.slices(slices, SR), batched, rtol=1e-5, atol=1e-5)
    # Each slice is normalised on its own: a quieter copy (power-of-two gain: exact) gives the same features.
    np.testing.assert_array_equal(again.slices(slices * 0.25, SR), again.slices(slices, SR))
    # Other sample rates are resampled to 44.1 kHz first; num_frames truncates or repeats the last frame.
    at_48k = librosa.resample(slices, orig_sr=SR, target_sr=48000)
    assert extractor.slices(at_48k, 48000).shape == (3, 150, 32)
    # A slice through the per-song call (it fits the context: one piece) is the same, cut to its frames.
    np.testing.assert_array_equal(extractor(slices[1], SR, num_frames=150), alone[1])
    padded = extractor.slices(slices[:1], SR, num_frames=152)
    np.testing.assert_array_equal(padded[0, :150], batched[0])
    np.testing.assert_array_equal(padded[0, 150:], batched[0, [149, 149]])


def test_per_slice_windowing_batches_ragged_windows(extractor: JukeboxFeatures):
    # features.windowing=per_slice: a2a.audio.extract_slices cuts the motion windows' audio and calls
    # extractor.slices; the last window runs past the end of a 7-s song (1.5 s of audio left).
    song = music(7.0, seed=10)
    features = extract_slices(extractor, song, SR, starts=[0, 30, 165], frames=150)
    assert features.shape == (3, 150, 32)
    full = extractor.slices([song[: 5 * SR], song[SR : 6 * SR]], SR)
    np.testing.assert_allclose(features[:2], full, rtol=1e-5, atol=1e-5)
    tail = song[int(5.5 * SR) :]
    alone = extractor.slices([tail], SR)  # 1.5 s → 45 frames, padded with the last one
    assert alone.shape == (1, 45, 32)
    np.testing.assert_allclose(features[2, :45], alone[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(features[2, 45:], np.repeat(features[2, 44:45], 105, axis=0))


def test_per_song_runs_context_sized_chunks(extractor: JukeboxFeatures):
    # 10 s are 3445 tokens, more than the tiny prior's 2048-token context: chunks of the most tokens that
    # fit and end on a whole frame, 1470 tokens = 188,160 samples = 128 frames.
    chunk = 1470 * 128
    song = music(10.0, seed=3)
    peak = float(np.abs(song).max())
    song[[1000, chunk + 1000, 2 * chunk + 1000]] = peak  # every chunk holds the song's peak
    features = extractor(song, SR)
    assert features.shape == (1 + 10 * 30, 32)  # T = 1 + ⌊n · 30 / 44100⌋
    # Each chunk is the chunk extracted on its own; the last (64,680 samples → 505 tokens → 44 frames) too.
    first_two = extractor.slices([song[:chunk], song[chunk : 2 * chunk]], SR)
    last = extractor.slices([song[2 * chunk :]], SR)
    assert last.shape == (1, 44, 32)
    np.testing.assert_allclose(features[:256], first_two.reshape(256, 32), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features[256:300], last[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(features[300], features[299])  # padded to T with the last frame
    np.testing.assert_array_equal(extractor(song, SR, num_frames=200), features[:200])
    assert extractor(song[:5000], SR).shape == (1 + 5000 * 30 // SR, 32)


def test_cache_keys_identify_the_weights(
    extractor: JukeboxFeatures, tiny_dir: Path, tmp_path: Path, monkeypatch
):
    path = tmp_path / "song.wav"
    sf.write(path, music(3.0, seed=4), SR)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.get_or_compute(path, extractor)
    assert first.shape == (91, 32)
    np.testing.assert_array_equal(first, extractor.for_file(path))

    def no_model(audio: np.ndarray) -> np.ndarray:
        raise AssertionError("the cache hit ran the model")

    monkeypatch.setattr(extractor, "_run", no_model)
    np.testing.assert_array_equal(cache.get_or_compute(path, extractor), first)
    monkeypatch.undo()
    # Same files → same key; other weights of the same size, another layer → other keys.
    same = JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cpu")
    other_dir = save_random_jukebox(tmp_path / "other", TINY, seed=1)
    assert (other_dir / PRIOR_FILE).stat().st_size == (tiny_dir / PRIOR_FILE).stat().st_size
    other = JukeboxFeatures(other_dir, layer=LAYER, architecture=TINY, device="cpu")
    shallower = JukeboxFeatures(tiny_dir, layer=LAYER - 1, architecture=TINY, device="cpu")
    keys = [cache.key(path, e) for e in (extractor, same, other, shallower)]
    assert keys[0] == keys[1] and len(set(keys)) == 3


def test_builds_from_a_plain_checkpoint_config(tiny_dir: Path):
    # Converted checkpoints store the features config as plain data (a2a.checkpoint.configs).
    config = {
        "_target_": "a2a.audio.jukebox.JukeboxFeatures",
        "path": str(tiny_dir),
        "layer": LAYER,
        "device": "cpu",
        "architecture": {
            **{k: v for k, v in vars(TINY).items()},
            "vqvae_downs": list(TINY.vqvae_downs),
            "vqvae_multipliers": list(TINY.vqvae_multipliers),
        },
    }
    built = build(config, "features", "test features.extractor")
    assert isinstance(built, JukeboxFeatures) and built.dim == 32 and built.architecture == TINY


# --------------------------------------------------------------------------------------------------------
# Bad weights and bad input: one line naming the file or the need, before the prior is read


@pytest.fixture
def no_torch_load(monkeypatch):
    """Fail the test if anything reads a weight file (the checks must come first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a weight file was read before the checks")

    monkeypatch.setattr(torch, "load", refuse)


def _copy(tiny_dir: Path, folder: Path) -> Path:
    folder.mkdir()
    for name in (VQVAE_FILE, PRIOR_FILE):
        (folder / name).write_bytes((tiny_dir / name).read_bytes())
    return folder


def _tiny(folder: Path, **kwargs) -> JukeboxFeatures:
    return JukeboxFeatures(folder, layer=LAYER, architecture=TINY, device="cpu", **kwargs)


def test_missing_weights_say_what_to_download(tmp_path: Path, no_torch_load):
    url = "https://openaipublic.azureedge.net/jukebox/models/5b/prior_level_2.pth.tar"
    with pytest.raises(AudioError, match=r"local folder \(features.path\): wget -P DIR .*" + url):
        JukeboxFeatures(None)
    with pytest.raises(AudioError, match=rf"{tmp_path}: no Jukebox weights here \(missing vqvae.pth.tar, "):
        JukeboxFeatures(tmp_path)
    (tmp_path / VQVAE_FILE).write_bytes(b"")
    with pytest.raises(AudioError, match=r"missing prior_level_2.pth.tar\); download them once with wget"):
        JukeboxFeatures(tmp_path)


def test_small_weight_files_are_refused_before_reading(tiny_dir: Path, tmp_path: Path, no_torch_load):
    folder = _copy(tiny_dir, tmp_path / "small")
    (folder / PRIOR_FILE).write_bytes((tiny_dir / PRIOR_FILE).read_bytes()[:20_000])
    with pytest.raises(
        AudioError, match=r"prior_level_2.pth.tar: 20,000 bytes cannot hold the top-level prior's"
    ):
        _tiny(folder)
    # The 5B architecture names the official size and the likely mix-up.
    (folder / VQVAE_FILE).write_bytes(b"\0" * 700_000)  # big enough for the 5B top encoder (598,592 B)
    with pytest.raises(
        AudioError, match=r"the official prior_level_2.pth.tar is 10,288,727,721 bytes\): .*1b_lyrics"
    ):
        JukeboxFeatures(folder, device="cpu")
    (folder / VQVAE_FILE).write_bytes(b"\0" * 100)
    with pytest.raises(AudioError, match=r"vqvae.pth.tar: 100 bytes cannot hold the VQ-VAE's top encoder"):
        _tiny(folder)


def test_corrupt_weight_files(tiny_dir: Path, tmp_path: Path):
    folder = _copy(tiny_dir, tmp_path / "corrupt")
    data = (tiny_dir / PRIOR_FILE).read_bytes()
    start = (
        r"prior_level_2.pth.tar: not a readable Jukebox 5B top-level prior \(5b/prior_level_2.pth.tar\) \("
    )
    again = (
        r"\); download it again: https://openaipublic.azureedge.net/jukebox/models/5b/prior_level_2.pth.tar$"
    )
    (folder / PRIOR_FILE).write_bytes(data[:-100])  # a download cut short
    with pytest.raises(
        AudioError, match=start + r"RuntimeError: unexpected EOF, expected \d+ more bytes.*" + again
    ):
        _tiny(folder)
    (folder / PRIOR_FILE).write_bytes(np.random.default_rng(0).bytes(len(data)))
    # what the unpickler makes of random bytes varies; the message must still name the file and the fix
    with pytest.raises(AudioError, match=start + ".*" + again) as info:
        _tiny(folder)
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)


def test_wrong_weight_files(tiny_dir: Path, tmp_path: Path):
    # Another prior of another width (as the 1b_lyrics one is 2048 wide, not 4800)
    wide = save_random_jukebox(
        tmp_path / "wide", JukeboxArchitecture(**{**vars(TINY), "width": 48, "heads": 3})
    )
    folder = _copy(tiny_dir, tmp_path / "wrong")
    (folder / PRIOR_FILE).write_bytes((wide / PRIOR_FILE).read_bytes())
    with pytest.raises(
        AudioError,
        match=r"y_emb.bow_genre_emb.emb.weight is torch.float32 \[120, 48\], expected floating point "
        r"\[120, 32\]: this is a prior of 5 blocks, width 48, not the prior EDGE's features come from",
    ):
        _tiny(folder)
    # A lyrics prior (5b_lyrics, 1b_lyrics) has a lyrics encoder
    payload = torch.load(tiny_dir / PRIOR_FILE, weights_only=False)
    payload["model"]["prime_prior.x_emb.weight"] = torch.zeros(80, 32)
    torch.save(payload, folder / PRIOR_FILE, _use_new_zipfile_serialization=False)
    with pytest.raises(
        AudioError, match=r"with a lyrics encoder, a lyrics-conditioned prior \(5b_lyrics or 1b_lyrics"
    ):
        _tiny(folder)
    # The prior where the VQ-VAE belongs
    (folder / VQVAE_FILE).write_bytes((tiny_dir / PRIOR_FILE).read_bytes())
    (folder / PRIOR_FILE).write_bytes((tiny_dir / PRIOR_FILE).read_bytes())
    with pytest.raises(
        AudioError, match=r"vqvae.pth.tar: has no encoders.2.level_blocks.0.model.0.0.weight: not the VQ-VAE"
    ):
        _tiny(folder)
    # A zip-format re-save of the right files loads (memory-mapped)
    for name in (VQVAE_FILE, PRIOR_FILE):
        torch.save(torch.load(tiny_dir / name, weights_only=False), folder / name)
    assert _tiny(folder).dim == 32


def test_bad_settings_and_a_small_gpu(tiny_dir: Path, monkeypatch, no_torch_load):
    with pytest.raises(AudioError, match=r"layer=6 is out of range 1..5"):
        JukeboxFeatures(tiny_dir, layer=6, architecture=TINY, device="cpu")
    with pytest.raises(AudioError, match=r"dtype='half'; choose auto, float32, float16, bfloat16"):
        _tiny(tiny_dir, dtype="half")
    if not torch.cuda.is_available():
        with pytest.raises(AudioError, match=r"device='cuda' but CUDA is not available here; use device=cpu"):
            JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(AudioError, match=r"device='cuda:1' but this machine has 1 GPU\(s\)"):
        JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cuda:1")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (100 << 20, 16 << 30))
    with pytest.raises(
        AudioError,
        match=r"Jukebox features on cuda need about 0.5 GiB of GPU memory \(blocks 1..4 in float16, "
        r"batch_size=8\); the GPU has 0.1 GiB free of 16.0 GiB: free it, lower features.extractor.batch_size",
    ):
        JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cuda")


def test_bad_audio(extractor: JukeboxFeatures):
    with pytest.raises(
        AudioError, match=r"slices of different lengths give \[30, 60\] frames; pass num_frames"
    ):
        extractor.slices([music(1.0), music(2.0)], SR)
    with pytest.raises(
        AudioError, match=r"slice 1 \(6.000 s\) gives 2067 tokens; the prior takes 1..2048 \(5.94 s\)"
    ):
        extractor.slices([music(5.0), music(6.0)], SR)
    with pytest.raises(AudioError, match="no slices given"):
        extractor.slices([], SR)
    with pytest.raises(
        AudioError, match=r"100 samples at 44100 Hz are too few for Jukebox features \(at least 128\)"
    ):
        extractor(np.ones(100, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="mono waveform"):
        extractor(np.ones((SR, 2), dtype=np.float32), SR)
    with pytest.raises(A2AError, match="num_frames must be at least 1"):
        extractor(music(1.0), SR, num_frames=0)


# --------------------------------------------------------------------------------------------------------
# Tier 3: CUDA, and the real 5B model when A2A_JUKEBOX_DIR points at its two files

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
REAL_DIR = os.environ.get("A2A_JUKEBOX_DIR")
real_weights = pytest.mark.skipif(
    not REAL_DIR or not (Path(REAL_DIR) / PRIOR_FILE).is_file(),
    reason="A2A_JUKEBOX_DIR does not point at vqvae.pth.tar and prior_level_2.pth.tar",
)


@pytest.mark.gpu
@cuda
def test_tiny_model_on_cuda_matches_the_cpu(extractor: JukeboxFeatures, tiny_dir: Path):
    slices = np.stack([music(5.0, seed=5), music(5.0, seed=6)])
    on_cpu = extractor.slices(slices, SR)
    fp32 = JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cuda", dtype="float32")
    np.testing.assert_allclose(fp32.slices(slices, SR), on_cpu, atol=1e-3, rtol=1e-3)
    fp16 = JukeboxFeatures(tiny_dir, layer=LAYER, architecture=TINY, device="cuda")
    assert fp16.dtype == torch.float16
    half = fp16.slices(slices, SR)
    assert np.abs(half - on_cpu).max() < 0.05 * np.abs(on_cpu).max()


@pytest.mark.gpu
@cuda
@real_weights
def test_real_jukebox_5b_timing():
    started = time.perf_counter()
    features = JukeboxFeatures(REAL_DIR)
    loaded = time.perf_counter()
    song = music(30.0, seed=7)
    slices = np.stack([song[int(k * 2.5 * SR) : int(k * 2.5 * SR) + 5 * SR] for k in range(11)])
    torch.cuda.reset_peak_memory_stats()
    per_slice = features.slices(slices, SR)
    torch.cuda.synchronize()
    sliced = time.perf_counter()
    per_song = features(song, SR)
    done = time.perf_counter()
    print(
        f"\nJukebox 5B layer 66 ({features.dtype}): load {loaded - started:.1f} s, 11 slices of 5 s "
        f"{sliced - loaded:.2f} s, 30-s song {done - sliced:.2f} s, peak GPU memory "
        f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    )
    assert per_slice.shape == (11, 150, 4800) and per_song.shape == (901, 4800)
    assert np.isfinite(per_slice).all() and np.isfinite(per_song).all()
    assert per_slice.std() > 0 and not np.allclose(per_slice[0], per_slice[1])


@pytest.mark.gpu
@cuda
@real_weights
def test_real_jukebox_5b_fp16_agrees_with_fp32():
    # EDGE's features came from fp32 activations; the default on CUDA runs the transformer in fp16.
    slices = np.stack([music(5.0, seed=8), music(5.0, seed=9)])
    half = JukeboxFeatures(REAL_DIR).slices(slices, SR)
    torch.cuda.empty_cache()
    full = JukeboxFeatures(REAL_DIR, dtype="float32").slices(slices, SR)
    a, b = half.reshape(-1, 4800), full.reshape(-1, 4800)
    cosine = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    relative = np.abs(half - full).max() / np.abs(full).max()
    print(f"\nfp16 vs fp32: min cosine {cosine.min():.5f}, max |Δ| / max |x| {relative:.2e}")
    assert cosine.min() > 0.99
