"""Decoding audio that must not own the machine (a2a.audio.load_audio with max_seconds / cancel).

The ffmpeg fallback reads what libsndfile cannot (Matroska/Opus, M4A/AAC); a few hundred kilobytes of
it can declare, hide or leave undeclared hours of samples. Memory is measured with tracemalloc (numpy
and bytearray allocations are traced); ffmpeg runs in a child process, whose start is spied on.
"""

import subprocess
import threading
import time
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

import a2a.audio.ffmpeg as ffmpeg_module
from a2a.audio import load_audio
from a2a.cancel import CancelToken, WorkCancelled
from a2a.errors import AudioError
from tests.ffmpeg_audio import looped_mka, opus_mka, run_ffmpeg

SR = 16_000
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("untrusted")
    short = opus_mka(root / "short.mka")  # 10 s
    return SimpleNamespace(
        short=short,
        declared=looped_mka(short, root / "declared.mka", 150),  # 25 min, and says so
        lying=looped_mka(short, root / "lying.mka", 150, header="lie"),  # 25 min, says 10 s
        undeclared=looped_mka(short, root / "undeclared.mka", 150, header="none"),  # 25 min, says nothing
        lying_20s=looped_mka(short, root / "lying_20s.mka", 2, header="lie"),  # 20 s, says 10 s
        undeclared_20s=looped_mka(short, root / "undeclared_20s.mka", 2, header="none"),
    )


class Children:
    """Records the ffmpeg processes a2a starts (their command lines and whether they are still alive)."""

    def __init__(self, monkeypatch) -> None:
        self.started: list[subprocess.Popen] = []
        real = subprocess.Popen

        def spy(command, *args, **kwargs):
            process = real(command, *args, **kwargs)
            self.started.append(process)
            return process

        monkeypatch.setattr(ffmpeg_module.subprocess, "Popen", spy)

    @property
    def decodes(self) -> int:
        return sum("f32le" in process.args for process in self.started)

    def all_ended(self) -> bool:
        return all(process.poll() is not None for process in self.started)


def traced_peak(fn) -> tuple[float, object]:
    """``fn()``'s peak of traced allocations (bytes) and its result or raised exception."""
    tracemalloc.start()
    try:
        try:
            result: object = fn()
        except Exception as exc:
            result = exc
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def dominant_hz(wave: np.ndarray, sr: int) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(wave))) * sr / wave.size)


# --- formats libsndfile cannot read --------------------------------------------------------------------


def test_matroska_opus_and_m4a_decode_through_ffmpeg(files, tmp_path):
    wave, sr = load_audio(files.short)
    assert sr == 48_000 and wave.dtype == np.float32 and abs(wave.size - 480_000) < 1000
    assert dominant_hz(wave, sr) == pytest.approx(440, abs=1)
    resampled, sr16 = load_audio(files.short.read_bytes(), sr=SR, max_seconds=10.5)
    assert sr16 == SR and abs(resampled.size - 160_000) < 400
    assert dominant_hz(resampled, SR) == pytest.approx(440, abs=1)

    m4a = tmp_path / "tone.m4a"
    run_ffmpeg("-i", str(files.short), "-c:a", "aac", "-b:a", "32k", str(m4a))
    from_m4a, _ = load_audio(m4a, sr=SR)
    assert abs(from_m4a.size - 160_000) < 2000 and dominant_hz(from_m4a, SR) == pytest.approx(440, abs=1)


def test_ffmpeg_averages_channels_like_soundfile(tmp_path):
    t = np.arange(22_050) / 22_050
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1)
    sf.write(tmp_path / "stereo.wav", stereo, 22_050, subtype="PCM_16")
    run_ffmpeg("-i", str(tmp_path / "stereo.wav"), "-c:a", "flac", str(tmp_path / "stereo.mka"))  # lossless
    expected, _ = load_audio(tmp_path / "stereo.wav")  # libsndfile, mean of the channels
    decoded, sr = load_audio(tmp_path / "stereo.mka")  # ffmpeg
    assert sr == 22_050
    np.testing.assert_allclose(decoded, expected, atol=1e-6)


# --- bombs ---------------------------------------------------------------------------------------------


def test_declared_hours_are_refused_before_decoding(files, monkeypatch):
    children = Children(monkeypatch)
    data = files.declared.read_bytes()
    start = time.monotonic()
    peak, result = traced_peak(lambda: load_audio(data, sr=SR, max_seconds=300))
    assert isinstance(result, AudioError)
    assert str(result) == (
        "<bytes>: audio is 1501.20 s long (declared by the file), longer than max_seconds=300; not decoded"
    )
    assert time.monotonic() - start < 2.0
    assert children.decodes == 0 and len(children.started) == 1  # only the probe ran
    assert peak < 2 * MiB  # 25 min of 48 kHz stereo would be 288 MB as 16-bit PCM
    assert len(data) < 2 * MiB


@pytest.mark.parametrize(("name", "declares"), [("lying", "10.01 s"), ("undeclared", "no duration")])
def test_hidden_hours_are_cut_at_the_cap(files, monkeypatch, name, declares):
    children = Children(monkeypatch)
    path = getattr(files, name)
    start = time.monotonic()
    peak, result = traced_peak(lambda: load_audio(path, sr=SR, max_seconds=30))
    assert isinstance(result, AudioError)
    assert str(result) == (
        f"{path}: audio is longer than max_seconds=30 (decoding stopped there; the file declares {declares})"
    )
    assert time.monotonic() - start < 5.0
    assert children.decodes == 1 and children.all_ended()
    # At most the cap (30 s of mono float32 at 16 kHz = 1.83 MiB) plus one pipe read (1 MiB) is held.
    cap_bytes = 4 * 30 * SR
    assert peak < cap_bytes + 2 * MiB


@pytest.mark.parametrize("name", ["lying_20s", "undeclared_20s"])
def test_a_file_longer_than_its_header_decodes_in_full_under_the_cap(files, name):
    wave, sr = load_audio(getattr(files, name), sr=SR, max_seconds=30)
    assert sr == SR and abs(wave.size - 20 * SR) < 400  # 20 s although the header says 10 s or nothing


@pytest.mark.timeout(20)
def test_the_deadline_kills_ffmpeg(files, monkeypatch):
    children = Children(monkeypatch)
    token = CancelToken(deadline=time.monotonic() + 0.3)
    start = time.monotonic()
    with pytest.raises(AudioError, match="<bytes>: decoding ran past its deadline; ffmpeg was stopped"):
        load_audio(files.undeclared.read_bytes(), sr=SR, cancel=token)  # no max_seconds: all 25 min
    assert time.monotonic() - start < 1.0
    assert children.all_ended()


@pytest.mark.timeout(20)
def test_cancel_kills_ffmpeg(files, monkeypatch):
    children = Children(monkeypatch)
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    start = time.monotonic()
    with pytest.raises(WorkCancelled, match=r"undeclared\.mka: cancelled"):
        load_audio(files.undeclared, sr=SR, cancel=token)
    assert time.monotonic() - start < 1.0
    assert children.decodes == 1 and children.all_ended()


def test_playlists_and_scripts_cannot_open_other_files(tmp_path):
    # ffmpeg would follow both to secret.wav (and an HLS playlist to URLs); only audio demuxers are enabled.
    t = np.arange(8000) / 8000
    sf.write(tmp_path / "secret.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    concat = tmp_path / "list.ffconcat"
    concat.write_text("ffconcat version 1.0\nfile secret.wav\n")
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nsecret.wav\n#EXT-X-ENDLIST\n")
    for path in (concat, playlist):
        with pytest.raises(AudioError, match=rf"{path.name}: cannot decode audio \(soundfile: .*; ffmpeg: "):
            load_audio(path)


# --- caps of the libsndfile path -----------------------------------------------------------------------


def test_soundfile_path_holds_one_mono_copy(tmp_path):
    rng = np.random.default_rng(0)
    channels = (0.1 * rng.standard_normal((10 * 48_000, 8))).astype(np.float32)
    sf.write(tmp_path / "eight.flac", channels, 48_000, subtype="PCM_16")
    peak, result = traced_peak(lambda: load_audio(tmp_path / "eight.flac", max_seconds=20))
    wave, sr = result
    assert sr == 48_000 and wave.shape == (480_000,)
    quantised, _ = sf.read(tmp_path / "eight.flac", dtype="float32")
    np.testing.assert_allclose(wave, quantised.mean(axis=1), atol=1e-6)
    # One mono copy (1.8 MiB) and one block (1 MiB), not all 8 channels (14.6 MiB).
    assert peak < 3.5 * MiB


def test_soundfile_path_refuses_sample_rates_over_192k_when_capped(tmp_path):
    sf.write(tmp_path / "fast.flac", np.full(2000, 0.25, dtype=np.float32), 200_000)
    with pytest.raises(AudioError, match=r"fast\.flac: sample rate 200000 Hz is over 192000 Hz; refused"):
        load_audio(tmp_path / "fast.flac", max_seconds=300)
    wave, sr = load_audio(tmp_path / "fast.flac")  # the user's own file, no cap: decoded
    assert sr == 200_000 and wave.shape == (2000,)
