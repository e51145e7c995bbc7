"""Tier 2: edge_tiny really learns music → dance on the synthetic dataset (minutes on CPU)."""

import numpy as np
import pytest
import pytorch_lightning as pl
from omegaconf import OmegaConf

import a2a
from a2a.config import instantiate
from a2a.data.aistpp import AISTPPDataset
from a2a.data.synthetic import synthesize
from a2a.evaluate import mean_pose_motion
from a2a.metrics.validator import score
from a2a.motion.bvh import motion_to_bvh, read_bvh
from a2a.train import train
from tests.conftest import compose_train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _rmse(motion, truth) -> float:
    answer, reference = read_bvh(motion_to_bvh(motion)), read_bvh(motion_to_bvh(truth))
    return score(answer, reference, joint_map="edge_edge")["rmse"]


@pytest.fixture(scope="module")
def trained_demo(tmp_path_factory):
    """``experiment=demo`` for 40 epochs: (data root, untrained val/loss, trained result, untrained ckpt)."""
    tmp_path = tmp_path_factory.mktemp("learning")
    root = synthesize(tmp_path / "syn", sequences=12, seconds=8.0, seed=0, progress=False)
    overrides = [
        "experiment=demo",
        f"data.source={root}",
        "trainer.max_epochs=40",
        "trainer.check_val_every_n_epoch=40",
        "model.validation.every_n_epochs=0",
        "~callbacks.progress",
        "+trainer.enable_progress_bar=false",
    ]

    # The untrained model, validated and saved through the same code as the trained one.
    cfg = compose_train([*overrides, f"output_dir={tmp_path / 'untrained'}"])
    OmegaConf.resolve(cfg)
    pl.seed_everything(0)
    datamodule, model = instantiate(cfg.data), instantiate(cfg.model)
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    untrained_loss = trainer.validate(model, datamodule=datamodule)[0]["val/loss"]
    untrained_ckpt = tmp_path / "untrained.ckpt"
    trainer.save_checkpoint(untrained_ckpt)

    result = train(compose_train([*overrides, f"output_dir={tmp_path / 'trained'}"]))
    return root, untrained_loss, result, untrained_ckpt


def test_edge_tiny_learns_on_synthetic_data(trained_demo):
    root, untrained_loss, result, untrained_ckpt = trained_demo
    trained_loss = result["metrics"]["val/loss"]
    assert trained_loss < 0.5 * untrained_loss, (trained_loss, untrained_loss)

    # Validator RMSE against ground truth on training sequences: the model has learned the music → dance
    # mapping it was shown, far better than the untrained network or the mean pose.
    dataset = AISTPPDataset(root)
    train_seqs = dataset.sequences("train")[:4]
    trained, untrained = a2a.load(result["last_checkpoint"]), a2a.load(untrained_ckpt)
    rmse = {"trained": [], "untrained": [], "mean pose": []}
    all_train = dataset.sequences("train")
    for seq in train_seqs:
        rmse["trained"].append(_rmse(trained.generate(seq.audio, seed=0, steps=20), seq.motion))
        rmse["untrained"].append(_rmse(untrained.generate(seq.audio, seed=0, steps=20), seq.motion))
        rmse["mean pose"].append(_rmse(mean_pose_motion(all_train, seq.motion.num_frames), seq.motion))
    means = {k: float(np.mean(v)) for k, v in rmse.items()}
    print(f"val/loss untrained {untrained_loss:.4f} trained {trained_loss:.4f}")
    print("validator rmse on training sequences:", means)
    assert means["trained"] < 0.8 * means["untrained"], means
    assert means["trained"] < 0.8 * means["mean pose"], means


def _boundary_ratios(gen, wave, sr, longform, seeds=(0, 1, 2)):
    """Mean joint displacement across the frames where a window's own frames begin (W + k·W/2), over the
    median frame-to-frame displacement elsewhere — 1 means the boundaries cannot be told apart."""
    ratios = []
    for seed in seeds:
        joints = gen.generate(wave, sr=sr, seed=seed, longform=longform).joints()
        step = np.linalg.norm(joints[1:] - joints[:-1], axis=-1).mean(axis=-1)
        hop = gen.window // 2
        boundaries = [
            gen.window + k * hop - 1 for k in range(len(step)) if gen.window + k * hop - 1 < len(step)
        ]
        ratios.append(step[boundaries].mean() / np.median(np.delete(step, boundaries)))
    return np.array(ratios)


def test_long_dances_have_no_seams(trained_demo):
    """24 s of music (eleven 2-s windows): EDGE's long form joins the windows without pops; copying the
    overlaps on the final step too (a2a 0.1) switched windows hard at every boundary."""
    import soundfile as sf

    root, _, result, _ = trained_demo
    gen = a2a.load(result["last_checkpoint"])
    waves = [sf.read(path, dtype="float32") for path in sorted((root / "wavs").glob("*.wav"))[:3]]
    sr = waves[0][1]
    wave = np.concatenate([w for w, _ in waves])[: 24 * sr]
    seamless = _boundary_ratios(gen, wave, sr, None)
    forced = _boundary_ratios(
        gen, wave, sr, {"_target_": "a2a.diffusion.OverlapStitch", "constrain_final": True}
    )
    print("boundary-step ratio, EDGE's long form:", seamless.round(2), "final copy forced:", forced.round(2))
    assert seamless.max() < 1.4, seamless
    assert forced.min() > 2.0, forced
