"""``a2a convert-edge``: original-format EDGE checkpoints (built from small random models) → a2a checkpoints.

The original pickles its normaliser as ``dataset.preprocess.Normalizer`` / ``dataset.scaler.MinMaxScaler``.
The stand-ins below reproduce those classes (fields and fitting as in Stanford-TML/EDGE) and are importable
under EDGE's module paths only while a checkpoint is being written, so the converter must read the file
without them.
"""

import contextlib
import os
import sys
import types
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import a2a
import a2a.checkpoint
from a2a.checkpoint.edge_names import a2a_state_dict_to_edge
from a2a.checkpoint.import_edge import convert_edge_checkpoint
from a2a.errors import A2AError, CheckpointError
from a2a.lightning import DiffusionModule
from a2a.models import EdgeDenoiser
from tests.conftest import compose_train

SEQ_LEN = 150
SMALL = {"latent_dim": 64, "ff_size": 128, "num_layers": 2, "num_heads": 8, "music_layers": 2}


class MinMaxScaler:
    """EDGE ``dataset/scaler.py``'s fields and fit (a torch port of sklearn's)."""

    def __init__(self, feature_range=(0, 1), *, copy=True, clip=False):
        self.feature_range = feature_range
        self.copy = copy
        self.clip = clip

    def fit(self, X):
        data_min = torch.min(X, axis=0)[0]
        data_max = torch.max(X, axis=0)[0]
        self.n_samples_seen_ = X.shape[0]
        data_range = data_max - data_min
        safe_range = data_range.clone()
        safe_range[safe_range < 10 * torch.finfo(safe_range.dtype).eps] = 1.0
        self.scale_ = (self.feature_range[1] - self.feature_range[0]) / safe_range
        self.min_ = self.feature_range[0] - data_min * self.scale_
        self.data_min_ = data_min
        self.data_max_ = data_max
        self.data_range_ = data_range
        return self


class Normalizer:
    """EDGE ``dataset/preprocess.py``'s ``Normalizer``."""

    def __init__(self, data):
        flat = data.reshape(-1, data.shape[-1])
        self.scaler = MinMaxScaler((-1, 1), clip=True)
        self.scaler.fit(flat)


MinMaxScaler.__module__ = "dataset.scaler"
Normalizer.__module__ = "dataset.preprocess"


@contextlib.contextmanager
def edge_modules_importable():
    """Make ``dataset.scaler`` / ``dataset.preprocess`` importable (for pickling) only inside the block."""
    package = types.ModuleType("dataset")
    scaler, preprocess = types.ModuleType("dataset.scaler"), types.ModuleType("dataset.preprocess")
    scaler.MinMaxScaler, preprocess.Normalizer = MinMaxScaler, Normalizer
    package.scaler, package.preprocess = scaler, preprocess
    fakes = {"dataset": package, "dataset.scaler": scaler, "dataset.preprocess": preprocess}
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def motion_data(seed=0):
    """[4, 150, 151] float32 motion-like values with constant contact channels (zero range → scale 2)."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randn(4, SEQ_LEN, 151, generator=g) * torch.linspace(0.1, 3.0, 151)
    data[..., :2] = 1.0
    return data


def small_model(feature_dim, seed):
    torch.manual_seed(seed)
    return EdgeDenoiser(nfeats=151, seq_len=SEQ_LEN, cond_feature_dim=feature_dim, **SMALL).eval()


def write_edge_checkpoint(path, *, ema, model, normalizer, save_kwargs=None, **overrides):
    """``torch.save`` what EDGE's train.py saves (``EDGE.py`` L233-240), EDGE key names included."""
    ckpt = {
        "ema_state_dict": ema,
        "model_state_dict": model,
        "optimizer_state_dict": {
            "state": {0: {"exp_avg": torch.zeros(3), "step": 7}},
            "param_groups": [{"lr": 4e-4, "betas": (0.02, 0.08, 0.01), "weight_decay": 0.02, "params": [0]}],
        },
        "normalizer": normalizer,
    }
    ckpt.update(overrides)
    for key in [k for k, v in ckpt.items() if v is None]:
        del ckpt[key]
    with edge_modules_importable():
        torch.save(ckpt, path, **(save_kwargs or {}))
    assert "dataset.preprocess" not in sys.modules and "dataset" not in sys.modules
    return path


class EdgeSource:
    """A random small EDGE (EMA and raw weights differ) saved in the original format."""

    def __init__(self, root, feature_dim, seed=0):
        self.feature_dim = feature_dim
        self.raw = small_model(feature_dim, seed)
        self.ema = small_model(feature_dim, seed + 1)
        self.normalizer = Normalizer(motion_data(seed))
        self.path = write_edge_checkpoint(
            root / f"edge{feature_dim}.pt",
            ema=a2a_state_dict_to_edge(self.ema.state_dict()),
            model=a2a_state_dict_to_edge(self.raw.state_dict()),
            normalizer=self.normalizer,
        )

    def edge_weights(self, which="ema"):
        return a2a_state_dict_to_edge((self.ema if which == "ema" else self.raw).state_dict())


@pytest.fixture(scope="module")
def edge35(tmp_path_factory):
    return EdgeSource(tmp_path_factory.mktemp("edge35"), 35)


@pytest.fixture(scope="module")
def converted35(edge35, tmp_path_factory):
    return convert_edge_checkpoint(edge35.path, tmp_path_factory.mktemp("out35") / "edge.ckpt")


def denoiser_inputs(feature_dim, seed=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, SEQ_LEN, 151, generator=g)
    cond = torch.randn(3, SEQ_LEN, feature_dim, generator=g)
    return x, torch.tensor([0, 400, 999]), cond, torch.tensor([True, False, True])


def test_converted_denoiser_reproduces_the_original_exactly(edge35, converted35, tmp_path):
    x, t, cond, keep = denoiser_inputs(35)
    with torch.no_grad():
        loaded = a2a.load(converted35).denoiser(x, t, cond, keep)
        expected = edge35.ema(x, t, cond, keep)
        raw = edge35.raw(x, t, cond, keep)
    assert torch.equal(loaded, expected)
    assert not torch.allclose(loaded, raw)  # the EMA weights were taken, not the raw ones

    raw_out = convert_edge_checkpoint(edge35.path, tmp_path / "raw.ckpt", use_ema=False)
    with torch.no_grad():
        assert torch.equal(a2a.load(raw_out).denoiser(x, t, cond, keep), raw)
    assert torch.load(raw_out, weights_only=True)["a2a"]["edge_weights"] == "model_state_dict"


def test_normaliser_statistics_carry_over_exactly(edge35, converted35):
    scaler = edge35.normalizer.scaler
    norm = a2a.load(converted35).normalizer
    for ours, theirs in (
        ("scale", "scale_"),
        ("min", "min_"),
        ("data_min", "data_min_"),
        ("data_max", "data_max_"),
    ):
        assert torch.equal(getattr(norm, ours), getattr(scaler, theirs).double()), ours
    assert norm.feature_range == (-1.0, 1.0) and norm.clip
    assert torch.equal(norm.scale[:2], torch.tensor([2.0, 2.0], dtype=torch.float64))  # zero-range channels
    # EDGE's transform: x·scale_ + min_, clipped to [−1, 1]; unnormalize clips then inverts.
    x = motion_data(seed=9)[0].double() * 1.5
    expected = (x * scaler.scale_.double() + scaler.min_.double()).clamp(-1, 1)
    torch.testing.assert_close(norm.normalize(x), expected, rtol=0, atol=1e-12)
    back = norm.inverse(expected)
    edge_back = (expected - scaler.min_.double()) / scaler.scale_.double()
    torch.testing.assert_close(back, edge_back, rtol=0, atol=1e-12)


def test_converted_file_is_plain_and_describes_edge(edge35, converted35):
    ckpt = torch.load(converted35, map_location="cpu", weights_only=True)  # no allow-list needed
    meta = ckpt["a2a"]
    assert meta["format"] == a2a.checkpoint.FORMAT and meta["version"] == a2a.__version__
    assert meta["kind"] == "edge-converted" and meta["source"] == str(edge35.path)
    assert meta["window"] == 150 and meta["fps"] == 30.0 and meta["representation"]["dim"] == 151
    hp = ckpt["hyper_parameters"]
    assert hp["denoiser"] == {
        "_target_": "a2a.models.EdgeDenoiser",
        "nfeats": 151,
        "seq_len": 150,
        "cond_feature_dim": 35,
        "use_rotary": True,
        "dropout": 0.1,
        "attention_backend": "sdpa",
        **SMALL,
    }
    assert hp["sampler"] == {"_target_": "a2a.diffusion.DDIMSampler", "steps": 50, "eta": 1.0}
    assert hp["guidance_weight"] == 2.0 and hp["window"] == 150 and hp["fps"] == 30.0
    state = ckpt["state_dict"]
    ema_keys = sorted(k for k in state if k.startswith("ema_denoiser."))
    assert ema_keys and len(state) == 2 * len(ema_keys)
    for key in ema_keys:
        assert torch.equal(state[key], state[key.replace("ema_denoiser.", "denoiser.", 1)])
    assert sorted(os.listdir(converted35.parent)) == ["edge.ckpt"]  # no temporary file left behind


def test_conversion_is_deterministic(edge35, converted35, tmp_path):
    again = convert_edge_checkpoint(edge35.path, tmp_path / "nested" / "again.ckpt")
    assert again.read_bytes() == converted35.read_bytes()


def test_stored_configs_match_the_repository_configs(converted35):
    """The converter composes conf/model/edge.yaml, conf/sampler/ddim.yaml, conf/features/baseline.yaml."""
    cfg = compose_train(["model=edge", "features=baseline", "sampler=ddim"])
    hp = torch.load(converted35, weights_only=True)["hyper_parameters"]
    model = cfg.model
    for key in ("schedule", "representation", "loss", "optimizer", "validation", "longform", "cond_drop"):
        assert hp[key] == OmegaConf.to_container(model[key], resolve=True), key
    for key in ("guidance_weight", "ema_decay", "ema_warmup"):
        assert hp[key] == model[key], key
    assert hp["sampler"] == OmegaConf.to_container(cfg.sampler, resolve=True)
    # EDGE extracted every 5-s slice's audio on its own; the repository's default is once per song
    assert hp["features"] == {**OmegaConf.to_container(cfg.features, resolve=True), "windowing": "per_slice"}
    edge_defaults = OmegaConf.to_container(model.denoiser, resolve=True)
    for key in ("num_heads", "dropout", "use_rotary", "nfeats"):
        assert hp["denoiser"][key] == edge_defaults[key], key


def test_cli_reports_the_parameter_count(edge35, tmp_path, capsys):
    from a2a.cli import main as cli_main

    out = tmp_path / "cli.ckpt"
    assert cli_main(["convert-edge", str(edge35.path), str(out)]) == 0
    count = sum(p.numel() for p in edge35.ema.parameters())
    assert capsys.readouterr().out.strip() == (
        f"wrote {out} ({count:,} parameters); load it with a2a.load({str(out)!r})"
    )


def test_evaluate_refuses_missing_jukebox_weights_before_reading_data(tmp_path, monkeypatch):
    from a2a.config import compose_config
    from a2a.evaluate import evaluate

    out = convert_edge_checkpoint(EdgeSource(tmp_path, 4800, seed=3).path, tmp_path / "juke.ckpt")
    (tmp_path / "empty").mkdir()
    opened = []
    monkeypatch.setattr("a2a.evaluate.open_source", lambda *a, **k: opened.append(a))
    cfg = compose_config(
        "evaluate", [f"ckpt={out}", f"features_path={tmp_path / 'empty'}", f"output_dir={tmp_path / 'eval'}"]
    )
    with pytest.raises(
        A2AError, match=r"juke.ckpt: this model's audio features \(.*Jukebox.*\) are not available"
    ):
        evaluate(cfg)
    assert opened == []


def test_converted_baseline_model_generates_from_audio(converted35):
    gen = a2a.load(converted35)
    wave = np.sin(np.linspace(0, 10000, 5 * 22050)).astype(np.float32)  # five seconds
    motion = gen.generate(wave, sr=22050, seed=0, steps=2)
    assert motion.num_frames == 150 and motion.fps == 30
    assert np.isfinite(motion.poses).all() and np.isfinite(motion.trans).all()


def test_converted_checkpoint_seeds_fine_tuning(edge35, converted35):
    module = DiffusionModule.load_from_checkpoint(converted35, map_location="cpu")
    x, t, cond, keep = denoiser_inputs(35)
    with torch.no_grad():
        expected = edge35.ema(x, t, cond, keep)
        assert torch.equal(module.denoiser.eval()(x, t, cond, keep), expected)
        assert torch.equal(module.ema_denoiser(x, t, cond, keep), expected)
    assert torch.equal(module.normalizer.scale, edge35.normalizer.scaler.scale_.double())


def test_jukebox_model_loads_and_explains_missing_features(tmp_path):
    source = EdgeSource(tmp_path, 4800, seed=3)
    out = convert_edge_checkpoint(source.path, tmp_path / "juke.ckpt")
    features = torch.load(out, weights_only=True)["hyper_parameters"]["features"]
    assert features["dim"] == 4800 and features["windowing"] == "per_slice" and "Jukebox" in features["name"]
    assert features["extractor"]["_target_"] == "a2a.audio.jukebox.JukeboxFeatures"
    assert features["extractor"]["path"] is None and features["extractor"]["layer"] == 66
    gen = a2a.load(out)
    x, t, cond, keep = denoiser_inputs(4800)
    with torch.no_grad():
        assert torch.equal(gen.denoiser(x, t, cond, keep), source.ema(x, t, cond, keep))
    with pytest.raises(
        A2AError, match=r"Jukebox.*not available .*features.path.*features_path=DIR.*\[N, 4800\]"
    ):
        gen.generate(np.zeros(22050, dtype=np.float32), sr=22050, seed=0)
    # features_path reaches the extractor: a folder of the wrong Jukebox is named when audio comes
    from a2a.audio.jukebox import save_random_jukebox
    from a2a.audio.jukebox_model import JukeboxArchitecture

    small = save_random_jukebox(tmp_path / "small", JukeboxArchitecture(width=32, heads=2, blocks=2))
    with pytest.raises(
        A2AError, match=r"small/prior_level_2.pth.tar: [\d,]+ bytes cannot hold the top-level prior"
    ):
        a2a.load(out, features_path=small).generate(np.zeros(22050, dtype=np.float32), sr=22050, seed=0)
    (motion,) = gen.generate_features(np.zeros((200, 4800)), seed=0, steps=2)
    assert motion.num_frames == 200 and np.isfinite(motion.poses).all()


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda sd: {f"module.{k}": v for k, v in sd.items()}, id="ddp-prefix"),
        pytest.param(lambda sd: {f"master_model.{k}": v for k, v in sd.items()}, id="diffusion-ema"),
        pytest.param(lambda sd: {f"master_model.module.{k}": v for k, v in sd.items()}, id="diffusion-ddp"),
    ],
)
def test_prefixed_state_dicts_convert_the_same(edge35, converted35, tmp_path, wrap):
    ema = wrap(edge35.edge_weights())
    src = write_edge_checkpoint(tmp_path / "p.pt", ema=ema, model=ema, normalizer=edge35.normalizer)
    out = torch.load(convert_edge_checkpoint(src, tmp_path / "p.ckpt"), weights_only=True)["state_dict"]
    reference = torch.load(converted35, weights_only=True)["state_dict"]
    assert out.keys() == reference.keys()
    assert all(torch.equal(out[k], reference[k]) for k in reference)


def test_legacy_format_checkpoint_converts_the_same(edge35, converted35, tmp_path):
    """Pre-1.6 ``torch.save`` files are not zips: no static scan, no memory map, same result."""
    sd = edge35.edge_weights()
    src = write_edge_checkpoint(
        tmp_path / "old.pt",
        ema=sd,
        model=sd,
        normalizer=edge35.normalizer,
        save_kwargs={"_use_new_zipfile_serialization": False},
    )
    out = torch.load(convert_edge_checkpoint(src, tmp_path / "old.ckpt"), weights_only=True)
    reference = torch.load(converted35, weights_only=True)
    assert all(torch.equal(out["state_dict"][k], v) for k, v in reference["state_dict"].items())
    normalizer, expected = out["a2a"]["normalizer"], reference["a2a"]["normalizer"]
    assert normalizer.pop("kind") == expected.pop("kind") == "minmax"
    assert all(torch.equal(normalizer[k], v) for k, v in expected.items())


class RunsShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CallsNormalizerClass:
    """Pickles as ``dataset.preprocess.Normalizer(...)`` called with arguments (pickle REDUCE)."""

    def __reduce__(self):
        return Normalizer, (torch.zeros(2, 151),)


class CallsFraction:
    """A class outside torch's weights-only allow-list."""

    def __reduce__(self):
        return Fraction, (1, 3)


@pytest.mark.parametrize(
    ("save_kwargs", "message"),
    [
        ({}, r"evil\.pt: refused: the pickle names (posix|os)\.system.*nothing from the file was run"),
        (
            {"_use_new_zipfile_serialization": False},
            r"evil\.pt: .*the pickle names (posix|os)\.system, which is refused; nothing .* run",
        ),
        pytest.param(
            {"pickle_protocol": 4},
            r"evil\.pt: .*more than tensors.*; nothing from the file was run",
            marks=pytest.mark.filterwarnings("ignore:Detected pickle protocol 4"),
        ),
    ],
    ids=["zip", "legacy-format", "pickle-protocol-4"],
)
def test_malicious_normaliser_is_refused_and_never_run(edge35, tmp_path, save_kwargs, message):
    marker = tmp_path / "pwned"
    src = write_edge_checkpoint(
        tmp_path / "evil.pt",
        ema=edge35.edge_weights(),
        model=edge35.edge_weights(),
        normalizer=RunsShellCommand(marker),
        save_kwargs=save_kwargs,
    )
    with pytest.raises(CheckpointError, match=message) as refused:
        convert_edge_checkpoint(src, tmp_path / "out.ckpt")
    assert "weights_only` set to `False`" not in str(refused.value)  # no advice to load it unsafely
    assert not marker.exists() and not (tmp_path / "out.ckpt").exists()


@pytest.mark.parametrize(
    ("normalizer", "message"),
    [
        (CallsNormalizerClass(), r"n\.pt: the pickle calls dataset\.preprocess\.Normalizer\(\.\.\.\)"),
        (CallsFraction(), r"the pickle names fractions\.Fraction"),
        (Counter("abc"), r"'normalizer' is a Counter, not EDGE's"),  # allow-listed by torch, still refused
        ({"scale_": torch.ones(151)}, r"'normalizer' is a dict, not EDGE's dataset\.preprocess\.Normalizer"),
    ],
    ids=["reduce-on-shim", "foreign-class", "torch-allowed-class", "plain-dict"],
)
def test_unexpected_normaliser_objects_are_refused(edge35, tmp_path, normalizer, message):
    sd = edge35.edge_weights()
    src = write_edge_checkpoint(tmp_path / "n.pt", ema=sd, model=sd, normalizer=normalizer)
    with pytest.raises(CheckpointError, match=message):
        convert_edge_checkpoint(src, tmp_path / "out.ckpt")


def _drop(key):
    return lambda sd: {k: v for k, v in sd.items() if k != key}


def _replace(key, value):
    return lambda sd: {**sd, key: value}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_drop("seqTransDecoder.stack.1.film2.block.1.weight"), r"missing 'seqTransDecoder\.stack\.1\.film2"),
        (
            _replace("final_layer.weight", torch.zeros(150, 64)),
            r"'final_layer\.weight' is \[150, 64\], expected",
        ),
        (
            _replace("cond_encoder.0.linear1.bias", torch.zeros(7)),
            r"'cond_encoder\.0\.linear1\.bias' is \[7\]",
        ),
        (_replace("time_mlp.7.weight", torch.zeros(3)), r"w\.pt: .*match no EDGE .*'time_mlp\.7\.weight'"),
        (_drop("input_projection.weight"), r"lack 'input_projection\.weight'"),
        (
            _replace("seqTransDecoder.stack.0.rotary.freqs", torch.ones(32)),
            r"w\.pt: .*differs from the shared",
        ),
    ],
    ids=["missing", "wrong-shape", "wrong-shape-encoder", "unknown", "size-key-missing", "rotary-copy"],
)
def test_bad_weights_name_the_entry(edge35, tmp_path, edit, message):
    bad = edit(edge35.edge_weights())
    src = write_edge_checkpoint(tmp_path / "w.pt", ema=bad, model=bad, normalizer=edge35.normalizer)
    with pytest.raises(CheckpointError, match=message) as err:
        convert_edge_checkpoint(src, tmp_path / "out.ckpt")
    assert str(err.value).startswith(f"{src}: ")
    assert not (tmp_path / "out.ckpt").exists()


def test_bad_checkpoint_structure_names_the_entry(edge35, tmp_path):
    sd = edge35.edge_weights()
    no_ema = write_edge_checkpoint(tmp_path / "a.pt", ema=None, model=sd, normalizer=edge35.normalizer)
    with pytest.raises(CheckpointError, match=r"a\.pt: no 'ema_state_dict' entry"):
        convert_edge_checkpoint(no_ema, tmp_path / "out.ckpt")
    assert convert_edge_checkpoint(no_ema, tmp_path / "raw.ckpt", use_ema=False).is_file()

    no_norm = write_edge_checkpoint(tmp_path / "b.pt", ema=sd, model=sd, normalizer=None)
    with pytest.raises(CheckpointError, match=r"b\.pt: no 'normalizer' entry"):
        convert_edge_checkpoint(no_norm, tmp_path / "out.ckpt")

    short = Normalizer(motion_data()[..., :147])
    wrong_norm = write_edge_checkpoint(tmp_path / "c.pt", ema=sd, model=sd, normalizer=short)
    with pytest.raises(
        CheckpointError, match=r"normalizer\.scaler\.scale_ has shape \[147\], expected \[151\]"
    ):
        convert_edge_checkpoint(wrong_norm, tmp_path / "out.ckpt")

    not_tensor = write_edge_checkpoint(
        tmp_path / "d.pt", ema={**sd, "null_cond_hidden": [1.0]}, model=sd, normalizer=edge35.normalizer
    )
    with pytest.raises(CheckpointError, match=r"ema_state_dict\['null_cond_hidden'\] is a list"):
        convert_edge_checkpoint(not_tensor, tmp_path / "out.ckpt")

    with pytest.raises(CheckpointError, match="no such EDGE checkpoint file"):
        convert_edge_checkpoint(tmp_path / "absent.pt", tmp_path / "out.ckpt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"garbage\.pt: not a readable EDGE checkpoint"):
        convert_edge_checkpoint(garbage, tmp_path / "out.ckpt")
    heads = write_edge_checkpoint(tmp_path / "e.pt", ema=sd, model=sd, normalizer=edge35.normalizer)
    with pytest.raises(CheckpointError, match="not divisible by model.num_heads=7"):
        convert_edge_checkpoint(heads, tmp_path / "out.ckpt", num_heads=7)
    assert not (tmp_path / "out.ckpt").exists()
