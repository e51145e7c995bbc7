"""``check_command_line``: the doors' overrides checked against the composed defaults before Hydra runs.
Legitimate overrides must pass (Lightning's words and lists, per-condition guidance, a single ``samples``);
mistyped ones are refused in one line naming the override, the key and its default."""

from __future__ import annotations

import pytest

from a2a.config import check_command_line

TRAIN = ("train", "data.source=DATA")
EVALUATE = ("evaluate", "ckpt=x.ckpt")
MINE = ("mine", "ckpt=x.ckpt")

LEGITIMATE = [
    (TRAIN, ["trainer.devices=2"]),
    (TRAIN, ["trainer.devices=auto"]),
    (TRAIN, ["trainer.devices=[0,1]"]),
    (TRAIN, ["trainer.precision=bf16-mixed"]),
    (TRAIN, ["trainer.deterministic=warn"]),
    (TRAIN, ["trainer.deterministic=true"]),
    (TRAIN, ["data.batch_size=8"]),
    (TRAIN, ["model.optimizer.lr=1e-4"]),
    (TRAIN, ["sampler.steps=20"]),
    (TRAIN, ["logger=wandb"]),
    (TRAIN, ["callbacks.checkpoint.monitor=val/validator_reward"]),
    (TRAIN, ["hydra.run.dir=x"]),
    (TRAIN, ["+trainer.limit_train_batches=0.1"]),
    (TRAIN, ["experiment=tiny", "trainer.limit_train_batches=0.1"]),
    (TRAIN, ["trainer.max_epochs=1"]),
    (TRAIN, ["++trainer.max_epochs=3"]),
    (TRAIN, ["data.window_seconds=4.4"]),
    (TRAIN, ["data.window_seconds=4"]),
    (TRAIN, ["features.fps=20"]),
    (TRAIN, ["trainer.gradient_clip_val=1.0"]),
    (TRAIN, ["callbacks.progress_log.every_seconds=0.5"]),
    (TRAIN, ["model=edge_genre", "model.guidance_weight={genre:3,audio:2}"]),
    (TRAIN, ["model=edge_genre", "model.guidance_weight=1.5"]),
    (EVALUATE, ["samples=[1,4]"]),
    (EVALUATE, ["samples=4"]),
    (EVALUATE, ["sweep=[ddim_2]"]),
    (EVALUATE, ["steps=20"]),
    (EVALUATE, ["sampler=ddim", "sampler.steps=20"]),
    (("evaluate",), ["ckpt=[a.ckpt,b.ckpt]"]),
    (MINE, ["mine.generate.guidance=2.0"]),
    (MINE, ["mine.generate.guidance={style:2}"]),
    (MINE, ["mine.generate.style=[Happy,Old]"]),
    (MINE, ["mine.generate.style_mix=0.3"]),
    (MINE, ["mine.download_timeout=2.5"]),
]


@pytest.mark.parametrize(
    ("door", "overrides"), LEGITIMATE, ids=[f"{d[0]}:{' '.join(o)}" for d, o in LEGITIMATE]
)
def test_a_legitimate_override_passes(door, overrides, capsys):
    name, *required = door
    check_command_line(name, name, [*required, *overrides])  # exits 2 when it refuses
    assert capsys.readouterr().err == ""


STEPS_HINT = "use steps=20, or choose a sampler first: sampler=ddim sampler.steps=20"
REFUSED = [
    (TRAIN, "trainer.max_epochs=abc", "trainer.max_epochs must be a whole number (default 2000)"),
    (TRAIN, "++trainer.max_epochs=abc", "trainer.max_epochs must be a whole number (default 2000)"),
    (TRAIN, "trainer.max_epochs=1e3", "trainer.max_epochs must be a whole number (default 2000)"),
    (TRAIN, "data.batch_size=2.5", "data.batch_size must be a whole number (default 64)"),
    (TRAIN, "data.window_seconds=abc", "data.window_seconds must be a number (default 5.0)"),
    (TRAIN, "data.skip_bad=maybe", "data.skip_bad must be true or false (default false)"),
    (
        TRAIN,
        "model.guidance_weight={genre:x}",
        "model.guidance_weight must be a number or a {condition: number} mapping (default 2.0)",
    ),
    (EVALUATE, "samples=1.5", "samples must be a whole number or a list of whole numbers (default [1])"),
    (EVALUATE, "samples=abc", "samples must be a whole number or a list of whole numbers (default [1])"),
    (
        EVALUATE,
        "sampler.steps=20",
        f"no sampler is chosen, so there is no sampler.steps to set; {STEPS_HINT}",
    ),
    (
        EVALUATE,
        "+sampler.steps=20",
        f"no sampler is chosen, so there is no sampler.steps to set; {STEPS_HINT}",
    ),
    (MINE, "axon.port=80.5", "axon.port must be a whole number (default 8091)"),
]


@pytest.mark.parametrize(("door", "override", "reason"), REFUSED, ids=[r[1] for r in REFUSED])
def test_a_mistyped_override_is_refused_in_one_line(door, override, reason, capsys):
    name, *required = door
    with pytest.raises(SystemExit) as stop:
        check_command_line(name, name, [*required, override])
    assert stop.value.code == 2
    line = capsys.readouterr().err
    assert line.startswith(f"{name}: error: {override}: ") and line.endswith(f"{reason}\n"), line
    assert line.count("\n") == 1
