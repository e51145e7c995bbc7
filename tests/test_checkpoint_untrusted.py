"""A published checkpoint is untrusted data: only a fixed set of a2a classes is built (nothing imported
for other names), sizes are checked against the file's weights before memory is allocated, plain values
are typed and bounded, paths in it are not used, and every refusal is one line naming the file and key.
Audio files whose headers claim more than they hold are refused or decoded without preallocating."""

from __future__ import annotations

import importlib
import io
import logging
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import a2a
from a2a.audio import load_audio
from a2a.checkpoint import build, build_network, check_config, trust_modules
from a2a.cli import main as cli
from a2a.errors import AudioError, CheckpointError

TRUST = "or those of model families you trust with a2a.checkpoint.trust_modules; refused, nothing was run"
DENOISERS = "a checkpoint builds only a2a's denoiser classes (EdgeDenoiser, EdgeGenreDenoiser, DSGDenoiser)"


def _plant(source: Path, out: Path, edit) -> Path:
    ckpt = torch.load(source, weights_only=True)
    edit(ckpt)
    torch.save(ckpt, out)
    return out


def _refusal(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        a2a.load(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture()
def family(tmp_path, monkeypatch):
    """A trusted family module that re-exports torch, with a public, a private and a training class."""
    name = f"famx_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            import pytorch_lightning as pl


            class Tabled(nn.Module):
                def __init__(self, rows: int) -> None:
                    super().__init__()
                    self.proj = nn.Linear(2, 2)
                    self.register_buffer("table", torch.zeros(rows, 1024), persistent=False)


            class Fails(nn.Module):
                def __init__(self, size: int) -> None:
                    raise RuntimeError(f"cannot allocate {size} bytes\\ndetails")


            class _Hidden(nn.Module):
                pass


            class Trainer(pl.LightningModule):
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("a2a.checkpoint.configs._trusted", set())
    trust_modules(name)
    return name


def test_reexported_classes_are_refused_at_the_loader(family, tiny_checkpoint, tmp_path):
    def denoiser(target):
        return lambda c: c["hyper_parameters"].update(
            denoiser={"_target_": target, "in_features": 151, "out_features": 151}
        )

    path = _plant(tiny_checkpoint, tmp_path / "a.ckpt", denoiser("a2a.generate.torch.nn.Linear"))
    assert _refusal(path) == (
        f"{path}: checkpoint config denoiser._target_ = 'a2a.generate.torch.nn.Linear': {DENOISERS} {TRUST}"
    )
    path = _plant(
        tiny_checkpoint,
        tmp_path / "b.ckpt",
        lambda c: c["hyper_parameters"].update(optimizer={"_target_": "a2a.x.torch.optim.SGD", "lr": 0.1}),
    )
    assert _refusal(path) == (
        f"{path}: checkpoint config optimizer._target_ = 'a2a.x.torch.optim.SGD': a checkpoint builds only "
        f"a2a's optimizer classes (none) {TRUST}"
    )
    # A trusted family's module attributes include what it imported: only classes it defines count.
    path = _plant(tiny_checkpoint, tmp_path / "c.ckpt", denoiser(f"{family}.nn.Linear"))
    assert _refusal(path) == (
        f"{path}: checkpoint config denoiser._target_ = '{family}.nn.Linear' (it resolves to "
        f"torch.nn.modules.linear.Linear): {DENOISERS} {TRUST}"
    )
    path = _plant(tiny_checkpoint, tmp_path / "d.ckpt", denoiser(f"{family}.torch.load"))
    assert _refusal(path) == (
        f"{path}: checkpoint config denoiser._target_ = '{family}.torch.load' (it resolves to a function "
        f"of torch.serialization): {DENOISERS} {TRUST}"
    )


@pytest.mark.parametrize(
    ("place", "target"),
    [
        ("denoiser", "a2a.lightning.module.DiffusionModule"),
        ("denoiser", "a2a.lightning.DiffusionModule"),
        ("denoiser", "a2a.audio.jukebox.TopPrior"),
        ("denoiser", "a2a.diffusion.ConditionMix"),
        ("denoiser", "a2a.diffusion.longform._SeedKept"),
        ("denoiser", "a2a.models.layers.DenseFiLM"),
        ("classifier", "a2a.lightning.ClassifierModule"),
        ("sampler", "a2a.diffusion.Sampler"),
    ],
)
def test_only_listed_a2a_classes_are_buildable(place, target):
    with pytest.raises(CheckpointError) as info:
        check_config({"_target_": target}, place, "cfg")
    assert str(info.value).startswith(f"cfg._target_ = {target!r}: a checkpoint builds only a2a's {place} ")
    assert str(info.value).endswith(TRUST)


def test_a_lightning_module_is_never_built_from_a_checkpoint(tiny_checkpoint, tmp_path, monkeypatch):
    inner = torch.load(tiny_checkpoint, weights_only=True)["hyper_parameters"]["denoiser"]
    built = []
    monkeypatch.setattr("a2a.lightning.module.DiffusionModule.__init__", lambda *a, **k: built.append(k))
    path = _plant(
        tiny_checkpoint,
        tmp_path / "module.ckpt",
        lambda c: c["hyper_parameters"].update(
            denoiser={"_target_": "a2a.lightning.module.DiffusionModule", "denoiser": inner}
        ),
    )
    assert _refusal(path).startswith(
        f"{path}: checkpoint config denoiser._target_ = 'a2a.lightning.module.DiffusionModule': {DENOISERS}"
    )
    assert built == []


def test_trusted_families_private_and_training_classes_are_refused(family):
    with pytest.raises(CheckpointError) as info:
        check_config({"_target_": f"{family}._Hidden"}, "denoiser", "cfg")
    assert str(info.value) == f"cfg._target_ = '{family}._Hidden' (a private class): {DENOISERS} {TRUST}"
    with pytest.raises(CheckpointError) as info:
        check_config({"_target_": f"{family}.Trainer"}, "denoiser", "cfg")
    assert str(info.value) == (
        f"cfg._target_ = '{family}.Trainer' (a training module, which builds its own configs): "
        f"{DENOISERS} {TRUST}"
    )
    assert check_config({"_target_": f"{family}.Tabled", "rows": 1}, "denoiser", "cfg").__name__ == "Tabled"
    # whatever a class raises while being built is one line naming the place
    with pytest.raises(CheckpointError) as info:
        build({"_target_": f"{family}.Fails", "size": 7}, "denoiser", "cfg")
    assert (
        str(info.value)
        == "cfg: Fails cannot be built from these settings (RuntimeError: cannot allocate 7 bytes)"
    )


def test_every_a2a_config_class_is_buildable_and_listed():
    from a2a.checkpoint.configs import BUILDABLE, _base_class

    for place, names in BUILDABLE.items():
        for dotted in names:
            module, _, name = dotted.rpartition(".")
            cls = getattr(importlib.import_module(module), name)
            assert f"{cls.__module__}.{cls.__qualname__}" == dotted and issubclass(cls, _base_class(place))
            assert check_config({"_target_": dotted}, place, "cfg") is cls
    # the spellings the configs use resolve to the same classes
    for target, place in [
        ("a2a.models.EdgeDenoiser", "denoiser"),
        ("a2a.audio.BaselineFeatures", "features"),
        ("a2a.diffusion.DDIMSampler", "sampler"),
        ("a2a.motion.representation.EdgeRepresentation", "representation"),
    ]:
        assert check_config({"_target_": target}, place, "cfg").__name__ == target.rsplit(".", 1)[1]


# the key a config sits under in conf/ → the place a checkpoint builds it at (configs.PLACES)
CONF_PLACES = {
    "denoiser": "denoiser",
    "schedule": "schedule",
    "sampler": "sampler",
    "representation": "representation",
    "extractor": "features",
    "longform": "longform",
    "loss": "loss",
    "network": "classifier",
    "optimizer": "optimizer",
}
# a2a targets in conf/ that only train.py builds (from the user's own configs, never from a checkpoint)
TRAINING_ONLY = {
    "a2a.lightning.DiffusionModule",
    "a2a.lightning.classifier.ClassifierModule",
    "a2a.data.datamodule.MotionDataModule",
    "a2a.data.gesture.GestureDataModule",
    "a2a.lightning.callbacks.ResumeState",
    "a2a.lightning.callbacks.ProgressLog",
}


def _conf_targets(node, keys: tuple[str, ...]):
    """(keys leading to a config, its _target_) for every config with a ``_target_`` under ``node``."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield keys, node["_target_"]
        for key, item in node.items():
            yield from _conf_targets(item, (*keys, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _conf_targets(item, keys)


def test_every_target_a_checkpoint_stores_from_conf_is_buildable():
    conf = Path(__file__).resolve().parents[1] / "conf"
    found, unplaced = set(), []
    for file in sorted(conf.rglob("*.yaml")):
        group = file.relative_to(conf).parts[0]
        for keys, target in _conf_targets(yaml.safe_load(file.read_text()) or {}, ()):
            # a group file's own config sits at its group's place (conf/sampler/ddim.yaml is a sampler)
            key = keys[-1] if keys else group
            place = CONF_PLACES.get(key)
            if place is None:
                unplaced.append(target)
                continue
            where = f"{file.relative_to(conf)}:{'.'.join(keys) or '<root>'}"
            assert check_config({"_target_": target}, place, where), where
            found.add(place)
    assert found == set(CONF_PLACES.values())
    # a2a targets elsewhere are the training door's; a new place must be added above to be checked
    assert {t for t in unplaced if t.startswith("a2a.")} <= TRAINING_ONLY


def test_unlisted_a2a_names_are_refused_before_any_import(tiny_checkpoint, tmp_path, monkeypatch):
    imported = []
    real = importlib.import_module

    def spy(name, package=None):
        imported.append(name)
        return real(name, package)

    path = _plant(
        tiny_checkpoint,
        tmp_path / "nope.ckpt",
        lambda c: c["hyper_parameters"].update(sampler={"_target_": "a2a.mining.client.Nope"}),
    )
    monkeypatch.setattr(importlib, "import_module", spy)
    message = _refusal(path)
    assert message.startswith(f"{path}: checkpoint config sampler._target_ = 'a2a.mining.client.Nope': ")
    assert not [name for name in imported if name.startswith("a2a.mining")], imported


# --- sizes and plain values -------------------------------------------------------------------------------


def _with_hparams(**changes):
    return lambda c: c["hyper_parameters"].update(changes)


class _CountAllocations(TorchDispatchMode):
    """Bytes of the new tensor storages torch allocates off the ``meta`` device while active (every
    tensor op's fresh outputs; in-place ops and views add nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        known = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if _real(t)}
        for tensor in tree_leaves(out):
            if _real(tensor) and tensor.untyped_storage().data_ptr() not in known:
                known.add(tensor.untyped_storage().data_ptr())
                self.bytes += tensor.untyped_storage().nbytes()
        return out


def _real(value) -> bool:
    return isinstance(value, torch.Tensor) and value.device.type != "meta"


@pytest.mark.parametrize(
    ("sizes", "wrong"),
    [
        # 17 GB of feed-forward weights
        (
            {"latent_dim": 32768, "ff_size": 131072},
            "rotary.freqs is [32] in the file but [16384] in the config",
        ),
        # a network only three times the file's: its parameters would be a few MB
        ({"latent_dim": 128, "ff_size": 256}, "null_cond_embed is [1, 60, 64] in the file but [1, 60, 128] "),
    ],
)
def test_a_config_cannot_allocate_more_than_the_file_holds(sizes, wrong, tiny_checkpoint, tmp_path):
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    held = sum(tensor.nbytes for tensor in ckpt["state_dict"].values())
    path = _plant(
        tiny_checkpoint,
        tmp_path / "wide.ckpt",
        _with_hparams(denoiser={**ckpt["hyper_parameters"]["denoiser"], **sizes}),
    )
    with _CountAllocations() as counted:
        message = _refusal(path)
    prefix = f"{path}: checkpoint config denoiser: weights do not fit the stored model config: "
    assert message.startswith(prefix) and wrong in message
    # refused on the meta device: nothing was allocated for the config (torch.load's own reads of the
    # file's tensors are not tensor ops)
    assert counted.bytes == 0 < held, f"the refused config allocated {counted.bytes:,} bytes"


def test_the_allocation_counter_sees_a_network_being_built(tiny_checkpoint):
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    held = sum(t.nbytes for k, t in ckpt["state_dict"].items() if k.startswith("ema_denoiser."))
    with _CountAllocations() as counted:
        a2a.load(tiny_checkpoint)
    # the accepted model's parameters (fp32, as stored) are built for real once
    assert held <= counted.bytes < 3 * held


def test_derived_buffers_are_bounded_by_the_file(family):
    weights = {"proj.weight": torch.zeros(2, 2), "proj.bias": torch.zeros(2)}
    small = build_network({"_target_": f"{family}.Tabled", "rows": 4}, "denoiser", "cfg", weights)
    assert small.table.shape == (4, 1024) and torch.equal(small.proj.weight, weights["proj.weight"])
    with pytest.raises(CheckpointError) as info:
        build_network({"_target_": f"{family}.Tabled", "rows": 10_000_000}, "denoiser", "cfg", weights)
    assert str(info.value) == (
        "cfg: the config makes 10,240,000,000 elements of derived buffers, more than the 6 the file holds; "
        "refused"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["hyper_parameters"]["schedule"].update(num_steps=3_000_000_000),
            "checkpoint config schedule: num_steps must lie in 1..100000, got 3000000000",
        ),
        (
            lambda c: c["hyper_parameters"]["schedule"].update(num_steps=3e9),
            "checkpoint config schedule.num_steps = 3000000000.0: CosineSchedule takes int here, not a float",
        ),
        (
            _with_hparams(window=1_000_000_000),
            "checkpoint config window = 1000000000: must be a whole number of frames in 1..4096",
        ),
        (
            _with_hparams(window="abc"),
            "checkpoint config window = 'abc': must be a whole number of frames in 1..4096",
        ),
        (_with_hparams(fps=None), "checkpoint config fps = None: must be a number in (0, 240]"),
        (_with_hparams(fps=1e6), "checkpoint config fps = 1000000.0: must be a number in (0, 240]"),
        (
            lambda c: c["hyper_parameters"]["denoiser"].update(latent_dim="64"),
            "checkpoint config denoiser.latent_dim = '64': EdgeDenoiser takes int here, not a str",
        ),
        (
            lambda c: c["a2a"]["normalizer"].update(kind={"a": 1}),
            "checkpoint a2a.normalizer.kind = {'a': 1}: must be the name of a normaliser kind",
        ),
        (
            lambda c: c["a2a"]["normalizer"].update(scale=[1.0, 2.0]),
            "checkpoint a2a.normalizer.scale = [1.0, 2.0]: must be a tensor",
        ),
        (
            lambda c: c["a2a"].update(window=2.5),
            "checkpoint a2a.window = 2.5: must be a whole number of frames in 1..4096",
        ),
        (
            lambda c: c["hyper_parameters"]["features"].update(dim="35"),
            "checkpoint config features.dim = '35': must be a positive whole number",
        ),
        (
            _with_hparams(cond_drop={"audio": "x"}),
            "checkpoint config cond_drop = {'audio': 'x'}: must be a mapping of condition to a probability",
        ),
        (
            _with_hparams(sampler={"_target_": "a2a.diffusion.samplers.PosteriorMeanSampler", "k": 10**12}),
            "checkpoint config sampler: sampler.k must lie in 1..64 (noise draws averaged), "
            "got 1000000000000",
        ),
        (
            lambda c: c["hyper_parameters"]["longform"].update(hop_fraction=1e-9),
            "checkpoint config longform: longform.hop_fraction must lie in [0.1, 1], got 1e-09",
        ),
        (
            lambda c: c["hyper_parameters"]["sampler"].update(steps=10**12),
            "checkpoint config sampler: sampler.steps=1000000000000 exceeds the schedule's num_steps=1000; "
            "use 1..1000",
        ),
        (
            _with_hparams(guidance_weight=float("nan")),
            "checkpoint config guidance_weight = nan: must be a finite number >= 0 or a mapping of condition "
            "to one",
        ),
        (
            _with_hparams(guidance_weight=-1.0),
            "checkpoint config guidance_weight = -1.0: must be a finite number >= 0 or a mapping of "
            "condition to one",
        ),
        (
            _with_hparams(guidance_weight={"audio": float("inf")}),
            "checkpoint config guidance_weight = {'audio': inf}: must be a finite number >= 0 or a mapping "
            "of condition to one",
        ),
        (
            lambda c: c["hyper_parameters"]["denoiser"].update(num_heads=3),
            "checkpoint config denoiser: model.latent_dim=64 is not divisible by model.num_heads=3",
        ),
    ],
)
def test_malformed_values_are_one_line(edit, expected, tiny_checkpoint, tmp_path):
    path = _plant(tiny_checkpoint, tmp_path / "bad.ckpt", edit)
    assert _refusal(path) == f"{path}: {expected}"


def test_draw_and_hop_bounds_are_inclusive():
    from a2a.diffusion import OverlapStitch, PosteriorMeanSampler
    from a2a.errors import A2AError

    assert PosteriorMeanSampler(k=64).k == 64
    assert OverlapStitch(hop_fraction=0.1).hop(150) == 15 and OverlapStitch(hop_fraction=1).hop(150) == 150
    for fraction in (0.0999, 1.01, float("nan")):
        with pytest.raises(A2AError, match=r"^longform\.hop_fraction must lie in \[0\.1, 1\], got "):
            OverlapStitch(hop_fraction=fraction)


def test_malformed_values_exit_2_at_the_generate_door(tiny_checkpoint, tmp_path, capsys):
    path = _plant(tiny_checkpoint, tmp_path / "bad.ckpt", _with_hparams(window="abc"))
    wav = tmp_path / "song.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(22050) / 5).astype(np.float32), 22050)
    assert cli(["generate", str(path), str(wav), str(tmp_path / "out.bvh")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith(
        f"{path}: checkpoint config window = 'abc': must be a whole number of frames in 1..4096"
    )


def test_the_checkpoint_windowings_are_the_feature_extractors():
    from a2a.audio import features
    from a2a.checkpoint import format

    assert format.WINDOWINGS is features.WINDOWINGS


# --- paths and devices ------------------------------------------------------------------------------------


def test_paths_in_a_checkpoint_are_not_used(tiny_checkpoint, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    planted = tmp_path / "planted"
    path = _plant(
        tiny_checkpoint,
        tmp_path / "cache.ckpt",
        lambda c: c["hyper_parameters"]["features"].update(
            extractor={"_target_": "a2a.audio.wavlm_tiny.TinyWavLMFeatures", "cache_dir": str(planted)}
        ),
    )
    with caplog.at_level(logging.WARNING, logger="a2a.generate"):
        gen = a2a.load(path)
    assert not planted.exists()
    assert gen.features.path.is_relative_to(tmp_path / "user-cache" / "a2a")
    assert f"{path}: checkpoint config features.extractor: the stored cache_dir is not used" in caplog.text

    # a model folder named by the checkpoint is not read; the user's features_path is
    folder = tmp_path / "their-model"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    path = _plant(
        tiny_checkpoint,
        tmp_path / "path.ckpt",
        lambda c: c["hyper_parameters"]["features"].update(
            extractor={"_target_": "a2a.audio.PretrainedAudioFeatures", "path": str(folder), "kind": "wavlm"}
        ),
    )
    gen = a2a.load(path)
    assert gen.features is None
    assert gen.info["features_error"].startswith(
        f"{path}: checkpoint config features.extractor: WavLM/HuBERT features need a local model directory"
    )
    mine = tmp_path / "mine"
    mine.mkdir()
    gen = a2a.load(path, features_path=mine)
    assert gen.info["features_error"].startswith(f"{path}: checkpoint config features.extractor: {mine}: ")


# --- audio bombs ------------------------------------------------------------------------------------------


def _flac_claiming(total_frames: int, seconds: float = 1.0, sr: int = 48000) -> bytes:
    """A real FLAC of ``seconds`` whose STREAMINFO claims ``total_frames`` (the 36-bit field)."""
    buffer = io.BytesIO()
    wave = (0.1 * np.sin(np.arange(int(seconds * sr)) / 10)).astype(np.float32)
    sf.write(buffer, wave, sr, format="FLAC")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO first: its fields at bytes 8..41
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | total_frames
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def test_a_header_claiming_days_is_refused_without_allocating(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    bomb = tmp_path / "bomb.flac"
    bomb.write_bytes(_flac_claiming((1 << 36) - 1))
    assert bomb.stat().st_size < 30_000
    with pytest.raises(AudioError) as info:
        load_audio(bomb)
    assert str(info.value) == (
        f"{bomb}: audio is 1431655.77 s long, longer than a2a's cap for audio files (3600 s; "
        "A2A_MAX_AUDIO_SECONDS sets it)"
    )
    assert cli(["generate", str(tiny_checkpoint), str(bomb), str(tmp_path / "out.bvh")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "longer than a2a's cap for audio files (3600 s" in err
    monkeypatch.setenv("A2A_MAX_AUDIO_SECONDS", "0.5")
    with pytest.raises(
        AudioError, match=r"audio is 1\.00 s long, longer than a2a's cap for audio files \(0\.5 s"
    ):
        load_audio(_flac_claiming(48000))
    # any sample rate, but no more samples than the cap's length at 192 kHz (here 1920)
    monkeypatch.setenv("A2A_MAX_AUDIO_SECONDS", "0.01")
    for samples in (1500, 3000):  # 3.9 and 7.8 ms at 384 kHz: both shorter than the cap
        fast = io.BytesIO()
        sf.write(fast, np.full(samples, 0.25, dtype=np.float32), 384_000, format="FLAC")
        if samples == 1500:
            assert load_audio(fast.getvalue())[0].shape == (1500,)
        else:
            with pytest.raises(AudioError) as info:
                load_audio(fast.getvalue())
            assert str(info.value) == (
                "<bytes>: audio holds 3000 samples, more than 0.01 s at 192000 Hz (a2a's cap for audio "
                "files; A2A_MAX_AUDIO_SECONDS sets it)"
            )
    monkeypatch.setenv("A2A_MAX_AUDIO_SECONDS", "soon")
    with pytest.raises(
        AudioError, match=r"^A2A_MAX_AUDIO_SECONDS='soon' must be a positive number of seconds$"
    ):
        load_audio(_flac_claiming(48000))


def test_memory_follows_the_samples_not_the_header():
    # the header claims 58 minutes (167 M samples, 668 MB as float32); the file holds one second
    tracemalloc.start()
    try:
        wave, sr = load_audio(_flac_claiming(48000 * 3500))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(wave), sr) == (48000, 48000)
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB"


def test_the_extractor_runs_on_the_generators_device_not_the_stored_one(
    tiny_checkpoint, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    extractor = {"_target_": "a2a.audio.wavlm_tiny.TinyWavLMFeatures", "device": "cuda:7"}
    path = _plant(
        tiny_checkpoint,
        tmp_path / "gpu.ckpt",
        lambda c: c["hyper_parameters"]["features"].update(extractor=extractor),
    )
    gen = a2a.load(path, device="cpu")
    assert gen.features.device == "cpu" and gen.info["features_error"] is None
    assert {p.device for p in gen.features.model.parameters()} == {torch.device("cpu")}


def test_a_config_without_a_target_says_so():
    with pytest.raises(CheckpointError, match=r"^sampler has no _target_ \(it holds steps\): name the class"):
        check_config({"steps": 20}, "sampler", "sampler")
    with pytest.raises(CheckpointError, match=r"^sampler must be a config with a _target_, got list"):
        check_config([1], "sampler", "sampler")
