"""Stick-figure videos and stills of motions on any rig, drawn with matplotlib (Agg, no display needed).

One or several motions are drawn side by side (e.g. generated next to ground truth), each in its own
3-D panel: Y-up world (the a2a ``Motion`` convention, as AIST++), a floor grid, equal axis scaling, bones
coloured by side (left red, right blue, centre grey) and a shared time label. The camera either keeps
fixed bounds covering every frame or, when the dancer travels far, follows the smoothed root.

Output by extension: ``.mp4`` is encoded by ffmpeg (from ``PATH``, else the ``imageio-ffmpeg`` package's)
with the audio track muxed in and trimmed to the video's length; ``.gif`` is written by Pillow
(no audio). Without ffmpeg an ``.mp4`` request writes a ``.gif`` next to it and says so.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Line3DCollection
from PIL import Image
from scipy.ndimage import gaussian_filter1d
from tqdm import tqdm

from a2a.audio.decode import load_audio
from a2a.audio.ffmpeg import find_ffmpeg
from a2a.errors import A2AError, AudioError, MotionFormatError
from a2a.motion.motion import Motion
from a2a.motion.skeleton import Skeleton

log = logging.getLogger(__name__)

CameraMode = Literal["auto", "fixed", "follow"]

OUTPUT_EXTENSIONS = (".mp4", ".gif")
DEFAULT_MAX_FPS = 30.0
DPI = 100
LEFT_COLOUR = "#d62728"
RIGHT_COLOUR = "#1f77b4"
CENTRE_COLOUR = "#404040"
GRID_COLOUR = "#c8c8c8"
GRID_SPACING = 0.5  # metres between floor grid lines
MARGIN = 0.2  # metres of room kept around the body inside the view volume
MIN_HALF_SPAN = 0.8  # metres: even a still pose stands on some floor
# "auto" camera: a dancer whose joints stay inside this ground extent (metres) gets fixed bounds; one who
# travels further would shrink to a few pixels, so the camera follows the root instead.
AUTO_FIXED_MAX_EXTENT = 3.0
FOLLOW_SMOOTHING_SECONDS = 0.5  # Gaussian sigma of the followed root path: no jitter from steps
ZOOM = 1.45  # matplotlib's 3-D box leaves wide borders; this fills the panel without cutting the floor
ELEVATION, AZIMUTH = 12.0, -70.0  # degrees; azimuth -90 would look straight at a dancer facing +z


@dataclass(frozen=True)
class _PanelTrack:
    """What one panel shows at each output frame (plot coordinates: x, −z, y so the world Y is up).

    Attributes:
        skeleton: the hierarchy whose bones are drawn (parent → child for every non-root joint).
        joints: ``[F, J, 3]`` joint positions per output frame.
        centres: ``[F, 2]`` camera centre on the ground plane (plot x, y) per output frame.
        half_span: half the side of the square ground area in view, metres.
        floor: height of the floor (plot z), the lowest joint over all frames.
        top: height of the top of the view (plot z), above the highest joint.
    """

    skeleton: Skeleton
    joints: np.ndarray
    centres: np.ndarray
    half_span: float
    floor: float
    top: float


def _to_plot(points: np.ndarray) -> np.ndarray:
    """World Y-up ``[..., 3]`` → matplotlib Z-up ``[..., 3]``: (x, y, z) ↦ (x, −z, y), a proper rotation
    (no mirroring), so left stays left."""
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def _bone_colours(skeleton: Skeleton) -> list[str]:
    """Colour of each bone (parent → joint ``j`` for ``j`` = 1..J−1), by the side named in the child."""
    colours = []
    for name in skeleton.names[1:]:
        lower = name.lower()
        if lower.startswith(("left", "l_")):
            colours.append(LEFT_COLOUR)
        elif lower.startswith(("right", "r_")):
            colours.append(RIGHT_COLOUR)
        else:
            colours.append(CENTRE_COLOUR)
    return colours


def _as_motion_list(motions: Motion | Sequence[Motion]) -> list[Motion]:
    listed = [motions] if isinstance(motions, Motion) else list(motions)
    if not listed:
        raise A2AError("render: no motion given")
    for i, motion in enumerate(listed):
        if not isinstance(motion, Motion):
            raise A2AError(f"render: motion {i} is a {type(motion).__name__}, not an a2a Motion")
        if motion.num_frames == 0:
            raise MotionFormatError(f"render: motion {i} has no frames")
    return listed


def _check_titles(titles: Sequence[str] | None, count: int) -> list[str]:
    if titles is None:
        return [""] * count
    titles = [str(t) for t in titles]
    if len(titles) != count:
        raise A2AError(f"render: got {len(titles)} titles for {count} motions; give one title per motion")
    return titles


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise A2AError(f"render: size must be (width, height) in pixels, got {size!r}") from None
    if width < 64 or height < 64:
        raise A2AError(f"render: size must be at least 64×64 pixels per panel, got {width}×{height}")
    return width, height


def _frame_timing(motions: list[Motion], fps: float | None, max_seconds: float | None) -> tuple[float, int]:
    """Output frame rate and frame count: the longest motion (capped at ``max_seconds``) at ``fps``,
    default the highest motion rate capped at 30 (60 fps AIST++ renders at half the cost)."""
    if fps is None:
        fps = min(max(m.fps for m in motions), DEFAULT_MAX_FPS)
    if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
        raise A2AError(f"render: fps must be a positive number, got {fps!r}")
    duration = max(m.duration for m in motions)
    if max_seconds is not None:
        if not (isinstance(max_seconds, int | float) and max_seconds > 0):
            raise A2AError(f"render: max_seconds must be a positive number, got {max_seconds!r}")
        duration = min(duration, float(max_seconds))
    return float(fps), max(1, math.floor(duration * fps + 1e-6))


def _source_indices(motion: Motion, fps: float, num_frames: int) -> np.ndarray:
    """Motion frame shown at each output frame ``[F]``: the one current at time k / fps (a motion that
    ends early holds its last pose)."""
    times = np.arange(num_frames) / fps
    return np.minimum(np.floor(times * motion.fps + 1e-6).astype(int), motion.num_frames - 1)


def _panel_track(
    motion: Motion, skeleton: Skeleton, fps: float, num_frames: int, camera: CameraMode
) -> _PanelTrack:
    indices = _source_indices(motion, fps, num_frames)
    unique, inverse = np.unique(indices, return_inverse=True)
    shown = motion.with_poses(motion.poses[unique], motion.trans[unique])  # FK once per distinct pose
    joints = _to_plot(shown.joints(skeleton))[inverse]  # [F, J, 3]
    ground = joints[..., :2]
    floor = float(joints[..., 2].min())
    top = float(joints[..., 2].max()) + MARGIN
    extent = float((ground.reshape(-1, 2).max(0) - ground.reshape(-1, 2).min(0)).max())
    if camera == "auto":
        camera = "fixed" if extent <= AUTO_FIXED_MAX_EXTENT else "follow"
    if camera == "fixed":
        centre = (ground.reshape(-1, 2).max(0) + ground.reshape(-1, 2).min(0)) / 2
        centres = np.broadcast_to(centre, (num_frames, 2)).copy()
        reach = extent / 2
    elif camera == "follow":
        sigma = FOLLOW_SMOOTHING_SECONDS * fps
        centres = gaussian_filter1d(joints[:, 0, :2], sigma=sigma, axis=0, mode="nearest")
        reach = float(np.abs(ground - centres[:, None, :]).max())
    else:
        raise A2AError(f"render: camera must be 'auto', 'fixed' or 'follow', got {camera!r}")
    half_span = max(reach + MARGIN, MIN_HALF_SPAN)
    return _PanelTrack(
        skeleton=skeleton, joints=joints, centres=centres, half_span=half_span, floor=floor, top=top
    )


def _grid_segments(centre: np.ndarray, half_span: float, floor: float) -> np.ndarray:
    """Floor grid lines ``[L, 2, 3]`` at world multiples of ``GRID_SPACING`` inside the view square, so
    the grid slides under a followed dancer and shows the travel."""
    lo, hi = centre - half_span, centre + half_span
    segments = []
    for axis in (0, 1):
        other = 1 - axis
        first = math.ceil(lo[axis] / GRID_SPACING)
        last = math.floor(hi[axis] / GRID_SPACING)
        for k in range(first, last + 1):
            start, end = np.empty(3), np.empty(3)
            start[axis] = end[axis] = k * GRID_SPACING
            start[other], end[other] = lo[other], hi[other]
            start[2] = end[2] = floor
            segments.append((start, end))
    return np.asarray(segments, dtype=np.float64).reshape(-1, 2, 3)


class _StickFigureCanvas:
    """One matplotlib figure with a 3-D panel per motion; its artists are created once and only their
    data change per frame (re-creating axes per frame is several times slower)."""

    def __init__(
        self,
        tracks: list[_PanelTrack],
        titles: list[str],
        size: tuple[int, int],
        fps: float,
        num_frames: int,
        show_time: bool,
    ) -> None:
        width, height = size
        count = len(tracks)
        self.tracks = tracks
        self.fps = fps
        self.num_frames = num_frames
        self.figure = Figure(figsize=(count * width / DPI, height / DPI), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.figure)
        top = 0.92 if any(titles) else 1.0
        self.axes, self.bones, self.grids = [], [], []
        self.heads: list = []  # per panel: its head marker, None for a rig without a "Head" joint
        for i, (track, title) in enumerate(zip(tracks, titles, strict=True)):
            ax = self.figure.add_axes((i / count, 0.0, 1 / count, top), projection="3d")
            ax.set_axis_off()
            ax.view_init(elev=ELEVATION, azim=AZIMUTH)
            # Box sides proportional to the data ranges: equal metres per unit on all three axes.
            ax.set_box_aspect((2 * track.half_span, 2 * track.half_span, track.top - track.floor), zoom=ZOOM)
            ax.set_zlim3d(track.floor, track.top)
            grid = Line3DCollection(self._grid(track, 0), colors=GRID_COLOUR, linewidths=0.8)
            ax.add_collection3d(grid)
            colours = _bone_colours(track.skeleton)
            bones = Line3DCollection(self._bones(track, 0), colors=colours, linewidths=3.0, capstyle="round")
            ax.add_collection3d(bones)
            head = None
            if "Head" in track.skeleton.names:
                (head,) = ax.plot([], [], [], "o", color=CENTRE_COLOUR, markersize=10)
            self.heads.append(head)
            if title:
                self.figure.text((i + 0.5) / count, 0.96, title, ha="center", va="center", fontsize=13)
            self.axes.append(ax)
            self.bones.append(bones)
            self.grids.append(grid)
        self.time_label = (
            self.figure.text(0.01, 0.02, "", ha="left", va="bottom", fontsize=11, family="monospace")
            if show_time
            else None
        )
        drawn = self.canvas.get_width_height()
        if drawn != (count * width, height):
            raise A2AError(
                f"render: matplotlib drew {drawn[0]}×{drawn[1]} px, expected {count * width}×{height}"
            )

    @staticmethod
    def _bones(track: _PanelTrack, k: int) -> np.ndarray:
        joints = track.joints[k]
        parents = np.asarray(track.skeleton.parents[1:])
        return np.stack([joints[parents], joints[1:]], axis=1)  # [J-1, 2, 3]

    @staticmethod
    def _grid(track: _PanelTrack, k: int) -> np.ndarray:
        return _grid_segments(track.centres[k], track.half_span, track.floor)

    def draw(self, k: int) -> np.ndarray:
        """Output frame ``k`` as RGB pixels ``[H, W, 3]`` uint8."""
        for i, track in enumerate(self.tracks):
            ax = self.axes[i]
            self.bones[i].set_segments(self._bones(track, k))
            self.grids[i].set_segments(self._grid(track, k))
            if self.heads[i] is not None:
                head = track.joints[k, track.skeleton.index("Head")]
                self.heads[i].set_data_3d([head[0]], [head[1]], [head[2]])
            (cx, cy), half = track.centres[k], track.half_span
            ax.set_xlim3d(cx - half, cx + half)
            ax.set_ylim3d(cy - half, cy + half)
        if self.time_label is not None:
            total = self.num_frames / self.fps
            self.time_label.set_text(f"t = {k / self.fps:.2f} s / {total:.2f} s")
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


@dataclass
class _Scene:
    canvas: _StickFigureCanvas
    fps: float
    num_frames: int


def _scene(
    motions: Motion | Sequence[Motion],
    *,
    titles: Sequence[str] | None,
    fps: float | None,
    size: tuple[int, int],
    skeleton: Skeleton | None,
    camera: CameraMode,
    max_seconds: float | None,
    show_time: bool,
) -> _Scene:
    listed = _as_motion_list(motions)
    names = _check_titles(titles, len(listed))
    size = _check_size(size)
    skeletons = [m.skeleton if skeleton is None else skeleton for m in listed]
    for i, (motion, rig) in enumerate(zip(listed, skeletons, strict=True)):
        if rig.num_joints != motion.poses.shape[1]:
            raise A2AError(
                f"render: skeleton has {rig.num_joints} joints but motion {i} has {motion.poses.shape[1]}"
            )
    out_fps, num_frames = _frame_timing(listed, fps, max_seconds)
    tracks = [
        _panel_track(m, rig, out_fps, num_frames, camera) for m, rig in zip(listed, skeletons, strict=True)
    ]
    canvas = _StickFigureCanvas(tracks, names, size, out_fps, num_frames, show_time)
    return _Scene(canvas, out_fps, num_frames)


def _iter_frames(scene: _Scene, progress: bool, description: str) -> Iterator[np.ndarray]:
    try:
        for k in tqdm(range(scene.num_frames), desc=description, unit="frame", disable=not progress):
            yield scene.canvas.draw(k)
    finally:
        scene.canvas.figure.clear()


def render_frames(
    motions: Motion | Sequence[Motion],
    *,
    titles: Sequence[str] | None = None,
    fps: float | None = None,
    size: tuple[int, int] = (640, 480),
    skeleton: Skeleton | None = None,
    camera: CameraMode = "auto",
    max_seconds: float | None = None,
    show_time: bool = True,
    progress: bool = False,
) -> np.ndarray:
    """Draw every output frame into memory.

    Args:
        motions: one motion, or several drawn side by side (they share the time axis; a shorter one
            holds its last pose).
        titles: one caption per motion, drawn above its panel.
        fps: output frame rate; lower than the motion's subsamples it. Default: the highest motion rate,
            capped at 30.
        size: ``(width, height)`` of one panel in pixels.
        skeleton: joint hierarchy for forward kinematics; default each motion's own (SMPL-24 with EDGE's
            zero root offset for dance, the rig it was read or generated on otherwise).
        camera: ``"fixed"`` bounds over all frames, ``"follow"`` the smoothed root, or ``"auto"``: fixed
            unless the dancer's ground extent exceeds ``AUTO_FIXED_MAX_EXTENT`` metres.
        max_seconds: render at most this many seconds from the start.
        show_time: draw the ``t = … s`` label (off: a static motion gives identical frames).
        progress: show a tqdm progress bar.

    Returns:
        RGB frames ``[F, H, W·M, 3]`` uint8, ``M`` the number of motions, ``F = ⌊duration · fps⌋``; all in
        memory (10 s of one 640×480 panel at 30 fps is 280 MB: use :func:`render` for long clips).
    """
    scene = _scene(
        motions,
        titles=titles,
        fps=fps,
        size=size,
        skeleton=skeleton,
        camera=camera,
        max_seconds=max_seconds,
        show_time=show_time,
    )
    return np.stack(list(_iter_frames(scene, progress, "render")))


def render_pose_image(
    motion: Motion,
    frame: int,
    out: str | os.PathLike,
    *,
    title: str | None = None,
    size: tuple[int, int] = (640, 480),
    skeleton: Skeleton | None = None,
) -> Path:
    """Write one pose of ``motion`` (frame index ``frame``, negative counts from the end) as a still
    image; the format follows the extension (``.png``, ``.jpg``, … anything Pillow writes)."""
    motions = _as_motion_list(motion)
    if not -motion.num_frames <= frame < motion.num_frames:
        raise A2AError(
            f"render_pose_image: frame {frame} is out of range for a {motion.num_frames}-frame motion"
        )
    frame %= motion.num_frames
    out = Path(out)
    pose = motions[0][frame : frame + 1]
    pixels = render_frames(
        pose, titles=[title] if title else None, size=size, skeleton=skeleton, camera="fixed", show_time=False
    )[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(pixels).save(out)
    except (ValueError, KeyError) as exc:  # Pillow's "unknown file extension"
        raise A2AError(f"{out}: cannot write an image with extension {out.suffix!r} ({exc})") from None
    return out


@functools.cache
def _ffmpeg_encoder(ffmpeg: str) -> str:
    """H.264 when this ffmpeg build has libx264 (every common build does), else the built-in MPEG-4."""
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    )
    return "libx264" if "libx264" in result.stdout else "mpeg4"


def _audio_clip(audio: str | os.PathLike, seconds: float) -> tuple[np.ndarray, int]:
    """The soundtrack's first ``seconds`` as mono float32 ``[n]`` and its sample rate."""
    path = Path(audio)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    wave, sr = load_audio(path, allow_silent=True)
    clip = wave[: round(seconds * sr)]
    if len(clip) < round(seconds * sr):
        log.info(
            "%s: audio is %.2f s, shorter than the %.2f s video; the rest is silent",
            path,
            len(wave) / sr,
            seconds,
        )
    return clip, sr


def _gif_delays(num_frames: int, fps: float) -> list[int]:
    """Per-frame delays in ms ``[F]``. GIF stores whole 1/100 s, so a constant 33 ms (30 fps) would play
    10 % fast; rounding the cumulative time instead keeps the clip's length exact (30, 30, 40, …)."""
    ends = np.round(np.arange(num_frames + 1) * 100.0 / fps) * 10
    return [max(10, int(d)) for d in np.diff(ends)]


def _write_gif(frames: Iterator[np.ndarray], path: Path, fps: float, num_frames: int) -> None:
    """Pillow GIF with one shared palette (taken from the first frame, which holds every colour the
    renderer uses) so the frames neither flicker nor carry a palette each."""
    first = Image.fromarray(next(frames))
    palette = first.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    images = [palette] + [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    tmp = path.with_name(path.name + ".part")
    delays = _gif_delays(num_frames, fps)
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=delays, loop=0)
    tmp.replace(path)


def _write_mp4(
    frames: Iterator[np.ndarray],
    path: Path,
    fps: float,
    frame_size: tuple[int, int],
    ffmpeg: str,
    audio: tuple[np.ndarray, int] | None,
) -> None:
    """Pipe raw RGB frames into ffmpeg (H.264/yuv420p, padded to even size as yuv420p needs), muxing
    ``audio`` (mono wave, sample rate) as AAC. Written to a temporary name, then renamed."""
    width, height = frame_size
    encoder = _ffmpeg_encoder(ffmpeg)
    tmp = path.with_name(path.name + ".part")
    with tempfile.TemporaryDirectory(prefix="a2a-render-") as workdir:
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
        command += [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-framerate",
            f"{fps:g}",
        ]
        command += ["-i", "-"]
        if audio is not None:
            wav = Path(workdir) / "audio.wav"
            sf.write(wav, audio[0], audio[1], subtype="PCM_16")
            command += ["-i", str(wav), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "192k"]
        command += ["-c:v", encoder, "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        command += ["-crf", "20", "-preset", "veryfast"] if encoder == "libx264" else ["-q:v", "3"]
        command += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors)
            try:
                for frame in frames:
                    process.stdin.write(frame.tobytes())
            except BrokenPipeError:
                pass  # ffmpeg quit early; its exit status and message are reported below
            finally:
                process.stdin.close()
                status = process.wait()
            if status != 0:
                errors.seek(0)
                message = errors.read().decode(errors="replace").strip()[-2000:]
                tmp.unlink(missing_ok=True)
                raise A2AError(f"{path}: ffmpeg ({ffmpeg}) failed with status {status}: {message}")
    tmp.replace(path)


def render(
    motions: Motion | Sequence[Motion],
    out: str | os.PathLike,
    *,
    audio: str | os.PathLike | None = None,
    titles: Sequence[str] | None = None,
    fps: float | None = None,
    size: tuple[int, int] = (640, 480),
    skeleton: Skeleton | None = None,
    camera: CameraMode = "auto",
    max_seconds: float | None = None,
    progress: bool = True,
) -> Path:
    """Render one or several motions side by side to a video file.

    Args:
        motions: a motion or a sequence of motions (e.g. ``[generated, ground_truth]``).
        out: ``.mp4`` (ffmpeg; with ``audio`` muxed in) or ``.gif`` (Pillow; never has audio).
        audio: soundtrack (any format ``a2a.audio.load_audio`` reads), trimmed to the video's length.
        titles: one caption per motion.
        fps: output frame rate (default: the highest motion rate, capped at 30); lower values subsample.
        size: ``(width, height)`` of one panel in pixels; the video is ``M`` panels wide.
        skeleton: joint hierarchy for forward kinematics (default: each motion's own).
        camera: ``"auto"``, ``"fixed"`` or ``"follow"`` (see :func:`render_frames`).
        max_seconds: render at most this many seconds.
        progress: show a tqdm progress bar.

    Returns:
        The path written: ``out``, or ``out`` with a ``.gif`` suffix when ``.mp4`` was asked for but no
        ffmpeg exists (logged as a warning).

    Raises:
        A2AError: unknown extension, bad options or an ffmpeg failure; ``MotionFormatError`` for an empty
            motion; ``AudioError`` (naming the file) for missing or undecodable audio.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_EXTENSIONS:
        raise A2AError(
            f"{out}: unknown video extension {out.suffix!r}; use one of {', '.join(OUTPUT_EXTENSIONS)}"
        )
    scene = _scene(
        motions,
        titles=titles,
        fps=fps,
        size=size,
        skeleton=skeleton,
        camera=camera,
        max_seconds=max_seconds,
        show_time=True,
    )
    seconds = scene.num_frames / scene.fps
    # Decode the soundtrack before drawing anything, so a bad audio file fails in a second, not a minute.
    clip = _audio_clip(audio, seconds) if audio is not None else None
    ffmpeg = find_ffmpeg() if suffix == ".mp4" else None
    if suffix == ".mp4" and ffmpeg is None:
        out = out.with_suffix(".gif")
        log.warning(
            "ffmpeg not found (neither on PATH nor from imageio_ffmpeg): writing %s instead of an .mp4%s",
            out,
            "; the GIF has no audio" if audio is not None else "",
        )
        suffix = ".gif"
    elif suffix == ".gif" and audio is not None:
        log.info("%s: GIF cannot carry audio; %s is not included", out, audio)
    if suffix == ".gif" and scene.fps > 50:
        log.warning(
            "%s: GIF players slow frames shorter than 20 ms down; use fps <= 50 (got %g)", out, scene.fps
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = _iter_frames(scene, progress, out.name)
    if suffix == ".gif":
        _write_gif(frames, out, scene.fps, scene.num_frames)
    else:
        width, height = scene.canvas.canvas.get_width_height()
        _write_mp4(frames, out, scene.fps, (width, height), ffmpeg, clip)
    log.info("wrote %s (%d frames at %g fps, %.2f s)", out, scene.num_frames, scene.fps, seconds)
    return out
