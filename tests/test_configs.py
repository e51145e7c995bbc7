"""Every config composes and every ``_target_`` instantiates; shapes come from interpolation."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from a2a.config import instantiate
from a2a.errors import A2AError
from tests.conftest import CONF, compose_train

GROUPS = ("data", "features", "model", "sampler", "trainer", "logger", "callbacks", "experiment")
MEMBERS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]
# members that need downloaded model files → what instantiating them without the files must say
NEEDS_MODEL_FILES = {
    ("features", "wavlm"): "huggingface-cli download",
    ("features", "hubert"): "huggingface-cli download",
    ("features", "jukebox"): "wget -P DIR https://openaipublic.azureedge.net/jukebox/models/5b/vqvae.pth.tar",
}
WRITES_A_CACHE = {("features", "wavlm_tiny")}
# Gesture data runs at 20 fps: composed with 20-fps features.
GESTURE_DATA = {"zeggs", "gesture_synthetic", "gesture_tiny"}
# Gesture models need gesture data (styles, seed frames) at its frame rate.
GESTURE_MODELS = {"dsg", "dsg_tiny"}


def test_every_group_has_a_tiny_member():
    for group in GROUPS:
        assert (CONF / group / "tiny.yaml").exists(), f"conf/{group}/tiny.yaml missing"
    assert {"cpu", "gpu", "ddp"} <= {p.stem for p in (CONF / "trainer").glob("*.yaml")}
    assert {"csv", "wandb", "tensorboard"} <= {p.stem for p in (CONF / "logger").glob("*.yaml")}


@pytest.mark.parametrize(("group", "name"), MEMBERS, ids=[f"{g}={n}" for g, n in MEMBERS])
def test_member_composes_and_instantiates(group, name, synthetic_root, tmp_path):
    overrides = [f"{group}={name}", f"output_dir={tmp_path}"]
    if group != "data" or name not in ("synthetic", "gesture_synthetic"):
        overrides.append(f"data.source={synthetic_root}")
    if group == "data" and name in GESTURE_DATA:
        overrides.append("features=baseline20")
    if group == "model" and name in GESTURE_MODELS:
        overrides += ["data=gesture_tiny", "features=baseline20"]
    if group == "experiment":
        overrides.append("data.source=" + str(synthetic_root))
    if (group, name) in NEEDS_MODEL_FILES:
        overrides.append(f"features.path={tmp_path / 'no-model-here'}")
    if (group, name) in WRITES_A_CACHE:
        overrides.append(f"features.cache_dir={tmp_path / 'cache'}")
    if (group, name) == ("trainer", "gpu") and not torch.cuda.is_available():
        # Everything but the device must still be valid Trainer arguments on a CPU machine.
        overrides += ["trainer.accelerator=cpu", "trainer.precision=32-true"]
    cfg = compose_train(overrides)
    OmegaConf.resolve(cfg)
    if (group, name) in NEEDS_MODEL_FILES:
        with pytest.raises(A2AError, match=NEEDS_MODEL_FILES[group, name]):
            instantiate(cfg.features.extractor)
        return
    nodes = [group] if group != "experiment" else ["data", "model", "sampler", "trainer", "logger"]
    for node in nodes:
        if node == "features":
            obj = instantiate(cfg.features.extractor)
            assert obj.dim == cfg.features.dim
        elif node == "data" and name in ("synthetic", "gesture_synthetic"):
            obj = instantiate(cfg.data)  # path only read at setup time
        else:
            obj = instantiate(cfg[node])
        assert obj is not None


def test_model_shapes_follow_features_and_window(synthetic_root, tmp_path):
    cfg = compose_train(["model=edge", "data.window_seconds=2.0", f"output_dir={tmp_path}"])
    OmegaConf.resolve(cfg)
    assert cfg.model.window == 60
    assert cfg.model.denoiser.seq_len == 60
    assert cfg.model.denoiser.cond_feature_dim == cfg.features.dim == 35
    assert cfg.data.fps == cfg.model.fps == 30


def test_full_edge_has_the_original_parameter_count(tmp_path):
    cfg = compose_train(["model=edge", f"output_dir={tmp_path}"])
    OmegaConf.resolve(cfg)
    denoiser = instantiate(cfg.model.denoiser)
    assert sum(p.numel() for p in denoiser.parameters()) == 47_024_791


@pytest.mark.parametrize(
    ("model", "optimizer", "settings"),
    [
        ("edge", "Adan", {"lr": 4e-4, "weight_decay": 0.02, "betas": (0.02, 0.08, 0.01), "eps": 1e-8}),
        ("edge_adamw", "AdamW", {"lr": 4e-4, "weight_decay": 0.02, "betas": (0.9, 0.999), "eps": 1e-8}),
    ],
)
def test_model_edge_trains_with_edges_adan(model, optimizer, settings, tmp_path):
    """A config named after EDGE trains like EDGE (Adan, lr 4e-4, wd 0.02); edge_adamw is the variant."""
    cfg = compose_train([f"model={model}", "data.window_seconds=2.0", f"output_dir={tmp_path}"])
    OmegaConf.resolve(cfg)
    built = instantiate(cfg.model).configure_optimizers()
    assert type(built).__name__ == optimizer
    group = built.param_groups[0]
    assert {key: tuple(group[key]) if key == "betas" else group[key] for key in settings} == settings


@pytest.mark.parametrize("name", ["evaluate", "mine"])
def test_other_entry_configs_compose(name):
    if not (CONF / f"{name}.yaml").exists():
        pytest.skip(f"conf/{name}.yaml not written yet")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(name, overrides=["ckpt=some.ckpt"])
    assert cfg.ckpt == "some.ckpt"


def test_wandb_logger_is_offline_unless_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = compose_train(["logger=wandb", f"output_dir={tmp_path}"])
    assert cfg.logger.mode == "offline"
    monkeypatch.setenv("WANDB_MODE", "online")
    assert compose_train(["logger=wandb", f"output_dir={tmp_path}"]).logger.mode == "online"


def test_configs_hold_no_absolute_paths():
    for path in Path(CONF).rglob("*.yaml"):
        assert "/work/" not in path.read_text(), path
