"""Stick-figure rendering: frame counts and sizes, pixels that follow the motion, file formats, errors."""

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from a2a.audio.ffmpeg import find_ffmpeg
from a2a.errors import A2AError, AudioError, MotionFormatError
from a2a.motion import SMPL24, Motion
from a2a.motion.rigs import ZEGGS75
from a2a.render import (
    AZIMUTH,
    _gif_delays,
    _source_indices,
    _to_plot,
    render,
    render_frames,
    render_pose_image,
)

SMALL = (160, 120)  # panel size for tests: a fraction of the drawing cost of 640×480
WHITE = 255


def _rest(frames: int = 30, fps: float = 30.0) -> Motion:
    """SMPL rest pose (arms out, facing +z) standing with the pelvis 0.9 m up."""
    return Motion(np.zeros((frames, 24, 3)), np.tile([0.0, 0.9, 0.0], (frames, 1)), fps)


def _waving(frames: int = 30, fps: float = 30.0) -> Motion:
    """Rest pose with the left shoulder swinging through a full period and the root stepping sideways."""
    t = np.arange(frames) / fps
    poses = np.zeros((frames, 24, 3))
    poses[:, 16, 2] = -1.0 + 0.8 * np.sin(2 * np.pi * t)
    trans = np.stack([0.3 * t, np.full_like(t, 0.9), np.zeros_like(t)], axis=1)
    return Motion(poses, trans, fps)


def _ink(frame: np.ndarray) -> np.ndarray:
    """Mask ``[H, W]`` of strongly coloured pixels (bones, head, text), leaving the light grey grid out."""
    return frame.min(axis=-1) < 150


def test_gif_has_one_frame_per_motion_frame_and_the_panel_size(tmp_path: Path):
    out = render(_waving(30), tmp_path / "clip.gif", size=SMALL, progress=False)
    assert out == tmp_path / "clip.gif"
    with Image.open(out) as gif:
        assert gif.format == "GIF"
        assert gif.size == SMALL
        assert gif.n_frames == 30
        delays = []
        for k in range(gif.n_frames):
            gif.seek(k)
            delays.append(gif.info["duration"])
    # 30 frames at 30 fps last exactly one second although GIF counts in 1/100 s.
    assert sum(delays) == 1000 and set(delays) <= {30, 40}


def test_gif_delays_keep_the_clip_length():
    assert _gif_delays(3, 30.0) == [30, 40, 30]  # cumulative 33.3, 66.7, 100 ms rounded to 10 ms
    assert _gif_delays(4, 25.0) == [40, 40, 40, 40]
    assert sum(_gif_delays(300, 30.0)) == 10_000


def test_two_motions_side_by_side_double_the_width(tmp_path: Path):
    out = render(
        [_waving(10), _rest(10)], tmp_path / "pair.gif", titles=["gen", "gt"], size=SMALL, progress=False
    )
    with Image.open(out) as gif:
        assert gif.size == (2 * SMALL[0], SMALL[1])
        assert gif.n_frames == 10


def test_frames_follow_the_motion_and_a_static_motion_gives_identical_frames():
    moving = render_frames(_waving(8), size=SMALL, show_time=False)
    assert moving.shape == (8, SMALL[1], SMALL[0], 3) and moving.dtype == np.uint8
    assert all(not np.array_equal(moving[k], moving[k + 1]) for k in range(7))
    still = render_frames(_rest(5), size=SMALL, show_time=False)
    assert all(np.array_equal(still[0], still[k]) for k in range(1, 5))


def test_time_label_changes_every_frame_even_when_the_pose_does_not():
    frames = render_frames(_rest(3), size=SMALL)
    assert not np.array_equal(frames[0], frames[1])


def test_figure_is_drawn_left_side_red_on_the_viewers_right():
    frame = render_frames(_rest(1), size=(320, 240), show_time=False)[0].astype(int)
    assert (frame != WHITE).any(axis=-1).sum() > 500  # a figure, not a blank canvas
    r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
    red = (r > 150) & (g < 100) & (b < 100)  # LEFT_COLOUR #d62728
    blue = (b > 150) & (r < 100)  # RIGHT_COLOUR #1f77b4
    assert red.sum() > 50 and blue.sum() > 50
    # The rest pose faces +z, towards the camera, so its left arm shows on the viewer's right.
    assert np.nonzero(red)[1].mean() > np.nonzero(blue)[1].mean() + 20
    # Y is up: the topmost ink is the head marker (dark grey centre colour), the lowest the feet.
    rows = np.nonzero(_ink(frame.astype(np.uint8)))[0]
    top, bottom = frame[rows.min()][_ink(frame[rows.min()][None].astype(np.uint8))[0]], red | blue
    assert (np.abs(top - 64) < 40).all()  # CENTRE_COLOUR #404040 and its anti-aliased edge
    assert bottom[rows.max() - 2 : rows.max() + 1].any()
    assert rows.max() - rows.min() > 0.5 * frame.shape[0]


def test_plot_axes_are_a_rotation_with_y_up_and_the_front_facing_the_camera():
    mapping = _to_plot(np.eye(3))  # rows: images of world x, y, z
    assert np.linalg.det(mapping) == pytest.approx(1.0)  # no mirroring
    np.testing.assert_array_equal(mapping[1], [0, 0, 1])  # world Y is matplotlib's vertical Z
    # SMPL faces +z; the camera sits at azimuth AZIMUTH on the ground plane: the dancer faces it.
    camera = np.array([np.cos(np.radians(AZIMUTH)), np.sin(np.radians(AZIMUTH)), 0.0])
    assert mapping[2] @ camera > 0.9


def test_output_frames_pick_the_motion_frame_current_at_their_time():
    np.testing.assert_array_equal(_source_indices(_rest(60, fps=60.0), 15.0, 15), np.arange(0, 60, 4))
    np.testing.assert_array_equal(_source_indices(_rest(25, fps=25.0), 30.0, 6), [0, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(_source_indices(_rest(3), 30.0, 5), [0, 1, 2, 2, 2])  # holds the last


def test_subsampling_and_max_seconds_set_the_frame_count():
    motion = _waving(60, fps=60.0)  # 1 s at 60 fps
    assert len(render_frames(motion, size=SMALL)) == 30  # default output rate is capped at 30 fps
    assert len(render_frames(motion, size=SMALL, fps=15)) == 15
    assert len(render_frames(motion, size=SMALL, fps=60, max_seconds=0.25)) == 15


def test_shorter_motion_holds_its_last_pose():
    frames = render_frames([_waving(10), _waving(5)], size=SMALL, show_time=False)
    assert len(frames) == 10
    right = frames[:, :, SMALL[0] :]
    assert np.array_equal(right[4], right[9]) and not np.array_equal(right[3], right[4])


def test_follow_camera_keeps_a_travelling_dancer_in_view_at_full_size():
    frames = 90
    t = np.arange(frames) / 30.0
    trans = np.stack([4.0 * t, np.full_like(t, 0.9), np.zeros_like(t)], axis=1)  # 12 m sideways in 3 s
    travelling = Motion(np.zeros((frames, 24, 3)), trans, 30.0)
    video = render_frames(travelling, size=(240, 180), show_time=False)
    heights = []
    for k in (0, frames // 2, frames - 1):
        rows, cols = np.nonzero(_ink(video[k]))
        assert rows.min() > 0 and cols.min() > 0 and cols.max() < 239  # never cut at the panel edge
        heights.append(rows.max() - rows.min())
    assert max(heights) - min(heights) <= 0.1 * max(heights)
    # The fixed camera must fit all 12 m, so the same figure is drawn much smaller.
    wide = render_frames(travelling, size=(240, 180), show_time=False, camera="fixed")[0]
    assert np.ptp(np.nonzero(_ink(wide))[0]) < 0.6 * heights[0]


def test_still_image_matches_the_video_frame(tmp_path: Path):
    motion = _waving(12)
    out = render_pose_image(motion, 7, tmp_path / "still.png", size=SMALL)
    with Image.open(out) as image:
        assert image.size == SMALL
        still = np.asarray(image.convert("RGB"))
    assert (_ink(still)).sum() > 50
    # Same pose, same fixed framing around that pose alone.
    expected = render_frames(motion[7:8], size=SMALL, show_time=False, camera="fixed")[0]
    assert np.array_equal(still, expected)
    assert np.array_equal(
        np.asarray(Image.open(render_pose_image(motion, -5, tmp_path / "also7.png", size=SMALL))), still
    )
    with pytest.raises(A2AError, match="frame 12 is out of range for a 12-frame motion"):
        render_pose_image(motion, 12, tmp_path / "bad.png")


def test_mp4_without_ffmpeg_falls_back_to_gif(tmp_path: Path, monkeypatch, caplog):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with caplog.at_level(logging.WARNING, logger="a2a.render"):
        out = render(_waving(6), tmp_path / "clip.mp4", size=SMALL, progress=False)
    assert out == tmp_path / "clip.gif"
    assert not (tmp_path / "clip.mp4").exists()
    with Image.open(out) as gif:
        assert gif.n_frames == 6
    assert "ffmpeg not found" in caplog.text and str(out) in caplog.text


def test_bad_inputs_raise_clear_errors(tmp_path: Path):
    with pytest.raises(A2AError, match=r"unknown video extension '\.avi'"):
        render(_rest(2), tmp_path / "clip.avi", progress=False)
    with pytest.raises(MotionFormatError, match="motion 1 has no frames"):
        render([_rest(2), _rest(0)], tmp_path / "clip.gif", progress=False)
    with pytest.raises(A2AError, match="got 1 titles for 2 motions"):
        render_frames([_rest(2), _rest(2)], titles=["only one"])
    with pytest.raises(A2AError, match="fps must be a positive number"):
        render_frames(_rest(2), fps=0)
    with pytest.raises(A2AError, match="camera must be"):
        render_frames(_rest(2), camera="orbit")
    assert not list(tmp_path.iterdir())


def test_bad_audio_is_an_audio_error_naming_the_file(tmp_path: Path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioError, match="missing.wav"):
        render(_rest(2), tmp_path / "clip.gif", audio=missing, size=SMALL, progress=False)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(AudioError, match="garbage.wav"):
        render(_rest(2), tmp_path / "clip.gif", audio=garbage, size=SMALL, progress=False)
    assert not (tmp_path / "clip.gif").exists()


def _probe(path: Path) -> dict[str, dict[str, str]]:
    """ffprobe stream fields by codec type (``video`` / ``audio``)."""
    fields = "codec_type,codec_name,width,height,nb_frames,duration,r_frame_rate"
    text = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", f"stream={fields}", "-of", "compact=nk=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    streams = {}
    for line in text.splitlines():
        entries = dict(item.split("=", 1) for item in line.split("|")[1:])
        streams[entries["codec_type"]] = entries
    return streams


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg and ffprobe"
)
def test_mp4_carries_the_audio_trimmed_to_the_video(tmp_path: Path):
    sr = 22_050
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * sr) / sr)  # 3 s of audio for a 1 s motion
    sf.write(tmp_path / "tone.wav", tone, sr)
    out = render(_waving(30), tmp_path / "clip.mp4", audio=tmp_path / "tone.wav", size=SMALL, progress=False)
    assert out == tmp_path / "clip.mp4"
    streams = _probe(out)
    video, audio = streams["video"], streams["audio"]
    assert video["codec_name"] == "h264" and (int(video["width"]), int(video["height"])) == SMALL
    assert int(video["nb_frames"]) == 30 and video["r_frame_rate"] == "30/1"
    assert audio["codec_name"] == "aac"
    assert float(audio["duration"]) == pytest.approx(1.0, abs=0.05)


@pytest.mark.skipif(find_ffmpeg() is None, reason="needs ffmpeg")
def test_mp4_pads_odd_panel_sizes_for_yuv420(tmp_path: Path):
    out = render(_rest(3), tmp_path / "odd.mp4", size=(101, 75), progress=False)
    if shutil.which("ffprobe") is not None:
        video = _probe(out)["video"]
        assert (int(video["width"]), int(video["height"])) == (102, 76)
    assert out.stat().st_size > 0


def test_a_gesture_rig_is_drawn_with_its_own_skeleton():
    t_pose = Motion(np.zeros((1, 75, 3)), np.array([[0.0, 0.94, 0.0]]), 20.0, ZEGGS75)
    frame = render_frames(t_pose, size=(320, 240), show_time=False)[0].astype(int)
    r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
    red, blue = (r > 150) & (g < 100) & (b < 100), (b > 150) & (r < 100)
    # "Left…" joints are red and on the viewer's right, as for SMPL; the arms are out in the T-pose.
    assert red.sum() > 50 and blue.sum() > 50
    assert np.nonzero(red)[1].mean() > np.nonzero(blue)[1].mean() + 20
    lowered = t_pose.poses.copy()
    lowered[0, ZEGGS75.index("LeftArm"), 2] = -1.4  # left arm down to the side
    arm_down = render_frames(t_pose.with_poses(lowered, t_pose.trans), size=(320, 240), show_time=False)[0]
    assert _ink(arm_down).sum() > 0 and not np.array_equal(arm_down, frame.astype(np.uint8))
    with pytest.raises(A2AError, match="skeleton has 24 joints but motion 0 has 75"):
        render_frames(t_pose, skeleton=SMPL24, size=SMALL)
