"""The ``a2a`` command as a user runs it: in a fresh process, reading its stderr.

Importing bittensor used to happen while the parser was built, which silenced every ``a2a`` log line
(warnings included), made ``-v`` a no-op and created ``~/.bittensor`` for ``a2a --help``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from a2a.cli import JOINT_MAP_CHOICES
from a2a.metrics.validator import AUTO, JOINT_MAPS
from a2a.motion import Motion
from a2a.motion.bvh import write_bvh

SRC = Path(__file__).resolve().parents[1] / "src"


def run_python(code: str, home: Path, path: str | None = None) -> subprocess.CompletedProcess:
    """``python -c code`` with ``HOME=home`` (and ``PATH=path`` when given), a2a's sources first."""
    return run_argv(["-c", code], home, path)


def run_argv(argv: list[str], home: Path, path: str | None = None) -> subprocess.CompletedProcess:
    """``python ARGV`` with ``HOME=home`` (and ``PATH=path`` when given), a2a's sources first."""
    env = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=300)


def run_cli(
    args: list[str], home: Path, path: str | None = None, block: str = ""
) -> subprocess.CompletedProcess:
    """``a2a ARGS`` in a fresh interpreter; ``block`` names a module made unimportable first."""
    hide = f"sys.modules[{block!r}] = None; " if block else ""
    return run_python(f"import sys; {hide}from a2a.cli import main; sys.exit(main({args!r}))", home, path)


def test_help_is_light_and_touches_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for args in (["--help"], ["query", "--help"], ["score", "--help"]):
        done = run_cli(args, home)
        assert done.returncode == 0, done.stderr
        assert "usage: a2a" in done.stdout and done.stderr == ""
    assert "offline=true" in run_cli(["query", "--help"], home).stdout
    assert list(home.iterdir()) == []  # no ~/.bittensor/{wallets,miners}
    loaded = run_python(
        "import sys; from a2a.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('bittensor', 'torch', 'numpy') if m in sys.modules))",
        home,
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
    # The mining parts that do not talk to the network import without bittensor too.
    light = run_python(
        "import sys; import a2a.mining.identity, a2a.mining.defaults; "
        "from a2a.mining import BlacklistPolicy, InferenceQueue, ModelSlot, StaticView; "
        "print('bittensor' in sys.modules)",
        home,
    )
    assert light.stdout.strip() == "False", light.stderr
    assert list(home.iterdir()) == []


def test_joint_map_choices_are_the_validators_maps():
    assert set(JOINT_MAP_CHOICES) == {AUTO, *JOINT_MAPS}


def _export(path: Path, frames: int = 12) -> Path:
    poses = np.zeros((frames, 24, 3))
    poses[:, 16, 2] = np.linspace(0.0, 1.0, frames)
    return write_bvh(Motion(poses, np.zeros((frames, 3)), 30.0), path)


def test_score_detects_the_rig_and_warns_visibly_about_missing_joints(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    bvh = str(_export(tmp_path / "a.bvh"))
    auto = run_cli(["score", bvh, bvh], home)
    assert auto.returncode == 0, auto.stderr
    result = json.loads(auto.stdout)
    assert result["joint_map"] == "edge_edge" and result["rmse"] == 0.0 and auto.stderr == ""
    forced = run_cli(["score", bvh, bvh, "--joint-map", "edge_library"], home)
    assert forced.returncode == 0 and json.loads(forced.stdout)["missing_joints"][0] == "reference:hips_JNT"
    assert forced.stderr.startswith(
        "WARNING a2a: 22 mapped joint(s) missing with joint map edge_library (reference:hips_JNT, "
        "reference:l_upleg_JNT"
    )
    assert "DEBUG" not in forced.stderr
    assert list(home.iterdir()) == []  # scoring touches no ~/.bittensor


def test_render_fallback_warning_and_debug_lines_print(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    bvh = str(_export(tmp_path / "a.bvh", frames=3))
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    out = tmp_path / "clip.mp4"
    done = run_cli(["-v", "render", bvh, str(out)], home, path=str(empty_path), block="imageio_ffmpeg")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "clip.gif").is_file() and not out.exists()
    gif = tmp_path / "clip.gif"
    assert (
        f"WARNING a2a.render: ffmpeg not found (neither on PATH nor from imageio_ffmpeg): writing {gif}"
        in (done.stderr)
    )
    assert "DEBUG a2a.data.curated: " in done.stderr  # -v: the BVH fit's unit guess
    assert "DEBUG matplotlib" not in done.stderr  # -v is about a2a, not every library


def test_importing_bittensor_keeps_other_loggers(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')\n"
        "log = logging.getLogger('a2a.cli')\n"
        "log.setLevel(logging.DEBUG)\n"
        "from a2a.mining import client\n"
        "log.debug('still here')\n"
        "logging.getLogger('a2a').warning('me too')\n"
        "print(logging.getLogger('a2a.cli').level, logging.getLogger('a2a').level)\n"
    )
    done = run_python(code, home)
    assert done.returncode == 0, done.stderr
    # stdout holds only what the program prints (`a2a query` prints JSON there): no bittensor banner.
    assert done.stdout == "10 0\n"  # a2a.cli kept DEBUG, a2a stays NOTSET (bittensor sets CRITICAL)
    assert done.stderr == "DEBUG a2a.cli: still here\nWARNING a2a: me too\n"


def test_mine_help_shows_only_the_miners_config(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done = run_argv([str(SRC.parent / "mine.py"), "--help"], home)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "python mine.py ckpt=best.ckpt offline=true mine.allow_private_urls=true" in text
    assert "mine.force=true" in text and "\nnetuid: 25\n" in text and "\nmine:\n  force: false\n" in text
    assert "Configuration groups" not in text and "edge_adan" not in text and "\nmodel:" not in text
    assert list(home.iterdir()) == []  # --help imports no bittensor


def test_parameter_count_builds_the_denoiser_on_the_meta_device(tiny_checkpoint, monkeypatch):
    """``a2a convert-*`` prints the denoiser's parameter count without allocating or initialising it."""
    import a2a.checkpoint
    from a2a.checkpoint import build, read_checkpoint
    from a2a.cli import _parameter_count

    config = read_checkpoint(tiny_checkpoint)["hyper_parameters"]["denoiser"]
    expected = sum(p.numel() for p in build(config, "denoiser", "denoiser").parameters())
    devices = []

    def recording_build(*args, **kwargs):
        built = build(*args, **kwargs)
        devices.extend({p.device.type for p in built.parameters()})
        return built

    monkeypatch.setattr(a2a.checkpoint, "build", recording_build)
    assert _parameter_count(tiny_checkpoint) == expected > 0
    assert devices == ["meta"]
