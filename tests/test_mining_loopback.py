"""The miner's real Axon on 127.0.0.1, called through real bittensor Dendrites (the local validator).

A fake generator (static pose, sleeps to simulate work) exercises the serving logic; the tier-1 round
trip serves a 2-step tiny checkpoint. Nothing here leaves the machine: the public-IP lookup is patched
and every URL points at a server on 127.0.0.1.
"""

import asyncio
import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

bt = pytest.importorskip("bittensor")

# bittensor 10.5 and pydantic 2.11 deprecations inside the SDK, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from a2a.mining.chain import BlacklistPolicy, Caller, StaticView  # noqa: E402
from a2a.mining.client import query, serve_file  # noqa: E402
from a2a.mining.defaults import OFFLINE_WALLET  # noqa: E402
from a2a.mining.intake import IntakeLimits  # noqa: E402
from a2a.mining.miner import Miner, MinerSettings  # noqa: E402
from a2a.mining.protocol import VPA2ASynapse, explain_empty_answer  # noqa: E402
from a2a.mining.reload import ModelSlot  # noqa: E402
from a2a.mining.server import LOOPBACK, build_loopback_axon, no_external_ip_lookup, start_axon  # noqa: E402
from a2a.motion import Motion  # noqa: E402
from a2a.motion.bvh import motion_to_bvh, read_bvh  # noqa: E402
from tests.ffmpeg_audio import looped_mka, opus_mka  # noqa: E402
from tests.servers import http_server, send_bytes, silent_server  # noqa: E402


class SlowStaticGenerator:
    """Stands in for a2a.generate.Generator: a static pose as long as the audio, after ``delay`` s."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.fps = 30.0

    def generate_bvh(self, audio, sr=None, seed=None, timings=None, **kwargs):
        time.sleep(self.delay)
        frames = max(1, round(len(audio) / sr * self.fps))
        if timings is not None:
            timings.update(decode=0.0, features=0.0, sampling=self.delay, export=0.0)
        return motion_to_bvh(Motion(np.zeros((frames, 24, 3)), np.zeros((frames, 3)), self.fps))


class GenrePickingGenerator(SlowStaticGenerator):
    """A model with a genre classifier: it reports the genre it picked, as ``Generator.generate`` does."""

    def generate_bvh(self, audio, sr=None, seed=None, timings=None, info=None, **kwargs):
        if info is not None:
            info["style"] = "PO"
        return super().generate_bvh(audio, sr, seed, timings, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def make_wallet(root: Path, name: str):
    wallet = bt.Wallet(name=name, hotkey="default", path=str(root))
    wallet.create_if_non_existent(coldkey_use_password=False, hotkey_use_password=False, suppress=True)
    return wallet


def write_wav(path: Path, seconds: float, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(
        path, (0.4 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32), sr
    )
    return path


class RunningMiner:
    def __init__(self, miner: Miner, axon, wallet, port: int) -> None:
        self.miner, self.axon, self.wallet, self.port = miner, axon, wallet, port

    @property
    def info(self):
        return self.axon.info()

    def stop(self) -> None:
        self.axon.stop()
        self.miner.close()


def start_miner(wallet, generator_or_slot, *, chain=None, policy=None, **settings) -> RunningMiner:
    slot = generator_or_slot
    if not isinstance(slot, ModelSlot):
        slot = ModelSlot(Path("unused.ckpt"), lambda _path, g=generator_or_slot: g, poll_seconds=0)
    limits = settings.pop("limits", IntakeLimits(allow_private_urls=True, download_timeout=1.0))
    miner = Miner(
        slot,
        chain or StaticView(),
        policy or BlacklistPolicy.open(),
        MinerSettings(limits=limits, **settings),
    )
    port = free_port()
    axon = build_loopback_axon(wallet, port=port, max_body_bytes=limits.max_body_bytes, admission=miner)
    miner.attach(axon)
    start_axon(axon)
    return RunningMiner(miner, axon, wallet, port)


def query_miner(
    running: RunningMiner, root: Path, audio, out: Path, input_type: str = "data", **kwargs
) -> dict:
    """``query`` (as ``a2a query`` sends it) from the validator wallet under ``root`` to ``running``."""
    return query(
        audio,
        input_type=input_type,
        out=out,
        port=running.port,
        miner_wallet=(OFFLINE_WALLET, "default", str(root)),
        wallet=("validator", "default", str(root)),
        **kwargs,
    )


async def call_many(wallet, axon_info, synapses, timeout: float = 20.0) -> list:
    """One Dendrite per request (as separate validators): concurrent nonces never collide."""
    with no_external_ip_lookup():
        dendrites = [bt.Dendrite(wallet=wallet) for _ in synapses]
    try:
        return await asyncio.gather(
            *(
                d.call(axon_info, synapse=s, timeout=timeout, deserialize=False)
                for d, s in zip(dendrites, synapses, strict=True)
            )
        )
    finally:
        for d in dendrites:
            await d.aclose_session()


@pytest.fixture(scope="module")
def wallets(tmp_path_factory):
    root = tmp_path_factory.mktemp("wallets")
    return root, make_wallet(root, OFFLINE_WALLET), make_wallet(root, "validator")


@pytest.fixture(scope="module")
def audio_file(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("audio") / "song.wav", seconds=2.0)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.mark.timeout(60)
def test_round_trip_data_and_url_with_fake_generator(wallets, audio_file, tmp_path):
    root, miner_wallet, _ = wallets
    running = start_miner(miner_wallet, SlowStaticGenerator())
    try:
        by_data = query_miner(running, root, audio_file, tmp_path / "data.bvh")
        by_url = query_miner(
            running, root, audio_file, tmp_path / "url.bvh", "url", reference=tmp_path / "data.bvh"
        )
    finally:
        running.stop()
    for result in (by_data, by_url):
        assert result["status_code"] == 200 and result["answer_type"] == "str"
        assert result["frames"] == 60  # 2 s at 30 fps
        assert 0 < result["process_time"] < 10
    bvh = read_bvh(Path(by_data["bvh"]))
    assert len(bvh.names) == 24 and bvh.names[0] == "Pelvis"
    assert by_url["score"]["rmse"] == pytest.approx(0.0, abs=1e-6)  # same static pose both ways
    assert by_url["score"]["reward"] > 0.88


@pytest.mark.timeout(60)
def test_malformed_inputs_and_overload_always_answer_a_string(wallets, audio_file, tmp_path):
    _, miner_wallet, validator = wallets
    limits = IntakeLimits(allow_private_urls=False, max_data_bytes=200_000, download_timeout=1.0)
    strict = start_miner(miner_wallet, SlowStaticGenerator(delay=0.3), limits=limits, queue_size=1)
    listener = socket.socket()  # a URL that never answers: accepts, then stays silent
    listener.bind((LOOPBACK, 0))
    listener.listen(8)
    try:
        silent_url = f"http://{LOOPBACK}:{listener.getsockname()[1]}/song.wav"
        with serve_file(audio_file) as local_url:
            bad = [
                VPA2ASynapse(input_type="data", audio_input="%%% not base64 %%%"),
                VPA2ASynapse(input_type="data", audio_input=base64.b64encode(b"RIFF but not audio").decode()),
                VPA2ASynapse(input_type="data", audio_input="A" * 600_000),  # body over the cap
                VPA2ASynapse(input_type="url", audio_input=local_url),  # loopback: refused class
                VPA2ASynapse(input_type="url", audio_input="file:///etc/passwd"),
                VPA2ASynapse(input_type="bogus", audio_input="x"),
                VPA2ASynapse(input_type="url", audio_input=""),
            ]
            answers = asyncio.run(call_many(validator, strict.info, bad))
        for answer in answers:
            assert isinstance(answer.animation_output, str) and answer.animation_output == ""
        assert answers[2].dendrite.status_code == 413
        assert all(a.dendrite.status_code == 200 for i, a in enumerate(answers) if i != 2)

        # Overload: queue_size 1 admits 2 (one running, one waiting); the rest are answered "" at once.
        payload = b64(audio_file)
        burst = [VPA2ASynapse(input_type="data", audio_input=payload) for _ in range(5)]
        start = time.monotonic()
        answers = asyncio.run(call_many(validator, strict.info, burst))
        elapsed = time.monotonic() - start
        served = [a for a in answers if a.animation_output]
        assert all(isinstance(a.animation_output, str) for a in answers)
        assert 1 <= len(served) <= 2 and strict.miner.stats.queue_full >= 3
        assert elapsed < 3.0
        # Refused in forward (200) or, past two bodies being read, before the body was read (503).
        assert {a.dendrite.status_code for a in answers} <= {200, 503}
        answered = [a for a in answers if a.dendrite.status_code == 200]
        assert answered and all(a.audio_input == "" for a in answered)  # base64 is not echoed back

        # The miner still serves afterwards; a URL that never answers ends in "" before the deadline.
        assert asyncio.run(
            call_many(validator, strict.info, [VPA2ASynapse(input_type="data", audio_input=payload)])
        )[0].animation_output
    finally:
        strict.stop()

    patient = start_miner(
        miner_wallet,
        SlowStaticGenerator(),
        limits=IntakeLimits(allow_private_urls=True, download_timeout=0.5),
    )
    try:
        start = time.monotonic()
        (answer,) = asyncio.run(
            call_many(validator, patient.info, [VPA2ASynapse(input_type="url", audio_input=silent_url)])
        )
        assert answer.animation_output == "" and answer.dendrite.status_code == 200
        assert time.monotonic() - start < 5.0
        (answer,) = asyncio.run(
            call_many(validator, patient.info, [VPA2ASynapse(input_type="data", audio_input=b64(audio_file))])
        )
        assert answer.animation_output.startswith("HIERARCHY")
    finally:
        patient.stop()
        listener.close()


@pytest.mark.timeout(60)
def test_blacklist_and_deadline_over_the_wire(wallets, audio_file):
    _, miner_wallet, validator = wallets
    registered = StaticView({validator.hotkey.ss58_address: Caller(uid=7, stake=10.0, validator_permit=True)})
    guarded = start_miner(
        miner_wallet,
        SlowStaticGenerator(delay=2.0),
        chain=registered,
        policy=BlacklistPolicy(min_stake=100.0),
        deadline_seconds=0.5,
    )
    try:
        synapse = VPA2ASynapse(input_type="data", audio_input=b64(audio_file))
        (answer,) = asyncio.run(call_many(validator, guarded.info, [synapse]))
        assert answer.dendrite.status_code == 403 and answer.animation_output == ""
        assert "stake 10 < blacklist.min_stake=100" in answer.dendrite.status_message

        guarded.miner.policy = BlacklistPolicy(min_stake=1.0)
        start = time.monotonic()
        (answer,) = asyncio.run(call_many(validator, guarded.info, [synapse.model_copy()]))
        # The model takes 2 s but the deadline is 0.5 s: an empty answer, on time, with status 200.
        assert answer.dendrite.status_code == 200 and answer.animation_output == ""
        assert time.monotonic() - start < 1.8
    finally:
        guarded.stop()


# --- abuse: the miner answers "" on time and keeps serving ---------------------------------------------

ONLY_LOOPBACK = IntakeLimits(allow_private_networks=("127.0.0.1/32",), download_timeout=20.0)


def valid_request(validator, running, payload: str, timeout: float = 10.0) -> tuple[float, object]:
    start = time.monotonic()
    (answer,) = asyncio.run(
        call_many(validator, running.info, [VPA2ASynapse(input_type="data", audio_input=payload)], timeout)
    )
    return time.monotonic() - start, answer


def wait_until(condition, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.timeout(90)
def test_slow_urls_past_their_timeout_do_not_delay_the_next_request(wallets, audio_file):
    # More abandoned downloads than asyncio's default pool has threads (the work that used to pile up).
    slow_count = min(32, (os.cpu_count() or 1) + 4) + 2
    _, miner_wallet, validator = wallets
    running = start_miner(miner_wallet, SlowStaticGenerator(), limits=ONLY_LOOPBACK, queue_size=slow_count)
    try:
        payload = b64(audio_file)
        before, answer = valid_request(validator, running, payload)
        assert answer.animation_output.startswith("HIERARCHY")
        with silent_server() as (port, accepted):
            slow = [
                VPA2ASynapse(input_type="url", audio_input=f"http://127.0.0.1:{port}/{i}.wav")
                for i in range(slow_count)
            ]
            start = time.monotonic()
            # timeout 4 s: each gets 1 s (the miner keeps 3 s for the reply), far under download_timeout.
            answers = asyncio.run(call_many(validator, running.info, slow, timeout=4.0))
            burst = time.monotonic() - start
            assert [a.animation_output for a in answers] == [""] * slow_count
            assert all(a.dendrite.status_code == 200 for a in answers) and burst < 3.0
            after, answer = valid_request(validator, running, payload)
            assert answer.animation_output.startswith("HIERARCHY"), f"no BVH after {after:.2f} s"
            assert after < before + 1.0, f"next request took {after:.2f} s (before the burst: {before:.2f} s)"
            assert len(accepted) == slow_count  # every download had started
            # The downloads were stopped, not left running: every place is free again.
            assert wait_until(lambda: running.miner.queue.admitted == 0, 1.0)
    finally:
        running.stop()


def raw_request_without_body(validator, running, declared_bytes: int) -> socket.socket:
    """Send a correctly signed 'data' request's headers declaring ``declared_bytes`` of body, and no body."""
    with no_external_ip_lookup():
        dendrite = bt.Dendrite(wallet=validator)
    synapse = dendrite.preprocess_synapse_for_request(running.info, VPA2ASynapse(input_type="data"), 10.0)
    headers = {key: str(value) for key, value in synapse.to_headers().items()}
    head = ["POST /VPA2ASynapse HTTP/1.1", f"Host: {LOOPBACK}:{running.port}"]
    head += ["Content-Type: application/json", f"Content-Length: {declared_bytes}"]
    head += [f"{key}: {value}" for key, value in headers.items()]
    sock = socket.create_connection((LOOPBACK, running.port), timeout=5.0)
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


@pytest.mark.timeout(60)
def test_large_bodies_are_refused_unread_when_the_miner_has_no_room(wallets, audio_file):
    _, miner_wallet, validator = wallets
    running = start_miner(miner_wallet, SlowStaticGenerator(delay=1.5), queue_size=0)
    payload = b64(audio_file)
    try:
        busy = threading.Thread(target=valid_request, args=(validator, running, payload))
        busy.start()
        assert wait_until(lambda: running.miner.queue.admitted == 1)
        # The miner is full: a 10 MB body is refused from its headers (it is never sent), at once.
        start = time.monotonic()
        with raw_request_without_body(validator, running, 10_000_000) as sock:
            status, body = read_response(sock)
        assert (status, body["animation_output"]) == (503, "") and time.monotonic() - start < 1.0
        assert body["message"] == "miner busy: request refused before reading its body"
        busy.join()

        # Room in the queue, but two large bodies are already being read: a third waits for nothing.
        held = [raw_request_without_body(validator, running, 10_000_000) for _ in range(2)]
        assert wait_until(lambda: running.miner._large_bodies == 2)
        with raw_request_without_body(validator, running, 10_000_000) as sock:
            status, _ = read_response(sock)
        assert status == 503 and running.miner.stats.queue_full == 2
        for sock in held:
            sock.close()
        assert wait_until(lambda: running.miner._large_bodies == 0)

        _, answer = valid_request(validator, running, payload)
        assert answer.animation_output.startswith("HIERARCHY")
    finally:
        running.stop()


@pytest.mark.timeout(60)
def test_audio_bombs_are_refused_quickly_and_the_miner_keeps_serving(wallets, audio_file, tmp_path):
    _, miner_wallet, validator = wallets
    short = opus_mka(tmp_path / "short.mka")
    declared = looped_mka(short, tmp_path / "declared.mka", 150)  # says 25 min
    lying = looped_mka(short, tmp_path / "lying.mka", 150, header="lie")  # 25 min, says 10 s
    limits = IntakeLimits(allow_private_networks=("127.0.0.1/32",), max_seconds=30.0)
    running = start_miner(miner_wallet, SlowStaticGenerator(), limits=limits)
    try:
        elapsed, answer = valid_request(validator, running, b64(declared))
        assert answer.animation_output == "" and elapsed < 2.0
        assert "audio is 1501.20 s long (declared by the file)" in running.miner.last_request["reason"]
        with http_server({"/lying.mka": send_bytes(lying.read_bytes())}) as (base, _):
            start = time.monotonic()
            (answer,) = asyncio.run(
                call_many(
                    validator, running.info, [VPA2ASynapse(input_type="url", audio_input=f"{base}/lying.mka")]
                )
            )
        assert answer.animation_output == "" and time.monotonic() - start < 5.0
        assert "longer than max_seconds=30 (decoding stopped there" in running.miner.last_request["reason"]
        _, answer = valid_request(validator, running, b64(audio_file))
        assert answer.animation_output.startswith("HIERARCHY")
    finally:
        running.stop()


# --- tier 1: the tiny checkpoint end to end -----------------------------------------------------------


@pytest.mark.timeout(120)
def test_tiny_checkpoint_round_trip(wallets, tiny_checkpoint, tmp_path):
    import a2a

    root, miner_wallet, _ = wallets
    song = write_wav(tmp_path / "song.wav", seconds=3.0)
    slot = ModelSlot(tiny_checkpoint, lambda path: a2a.load(path, device="cpu"), poll_seconds=0)
    running = start_miner(miner_wallet, slot, seed=0)
    try:
        first = query_miner(running, root, song, tmp_path / "first.bvh")
        second = query_miner(running, root, song, tmp_path / "second.bvh", "url", reference=first["bvh"])
    finally:
        running.stop()
    assert first["status_code"] == 200 and second["status_code"] == 200
    assert first["frames"] == 90  # 3 s at 30 fps
    assert read_bvh(Path(first["bvh"])).names[:2] == ("Pelvis", "Left_hip")
    # Same audio, same seed, same checkpoint: the same dance, so the validator score is perfect.
    assert second["score"]["rmse"] == pytest.approx(0.0, abs=1e-3)
    assert second["score"]["correctness"] == pytest.approx(1.0, abs=1e-6)
    assert 0 < second["process_time"] < 60


# --- what the local validator tells its user ------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_request_log_names_the_picked_genre(wallets, audio_file, tmp_path, caplog):
    root, miner_wallet, _ = wallets
    running = start_miner(miner_wallet, GenrePickingGenerator())
    try:
        with caplog.at_level("INFO", logger="a2a.mining"):
            result = query_miner(running, root, audio_file, tmp_path / "answer.bvh")
    finally:
        running.stop()
    assert result["status_code"] == 200
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=request")]
    assert " style=PO " in f"{line} " and "status=ok" in line


@pytest.mark.timeout(60)
def test_refused_request_says_why_in_the_status_message(wallets, audio_file, tmp_path, capsys):
    from a2a import cli

    root, miner_wallet, validator = wallets
    limits = IntakeLimits(allow_private_urls=True, max_seconds=1.0, download_timeout=1.0)
    running = start_miner(miner_wallet, SlowStaticGenerator(), limits=limits)
    try:
        # Over the raw wire: status 200 (validators see what they always saw) with the reason attached.
        (answer,) = asyncio.run(
            call_many(validator, running.info, [VPA2ASynapse(input_type="data", audio_input=b64(audio_file))])
        )
        assert answer.dendrite.status_code == 200 and answer.animation_output == ""
        message = answer.dendrite.status_message
        assert message.startswith("no animation: audio refused: ")
        assert message.endswith("audio is 2.00 s long, longer than max_seconds=1")
        # Through `a2a query`: exit status 1 and the reason on stderr, no answer file.
        code = cli.main(
            [
                "query",
                "--port",
                str(running.port),
                str(audio_file),
                "--out",
                str(tmp_path / "answer.bvh"),
                "--wallet-path",
                str(root),
                "--wallet-name",
                "validator",
            ]
        )
    finally:
        running.stop()
    assert code == 1 and not (tmp_path / "answer.bvh").exists()
    err = capsys.readouterr().err
    assert "a2a query: empty answer (status 200: no animation: audio refused: " in err
    assert "longer than max_seconds=1)" in err


def test_status_message_is_one_short_ascii_line():
    synapse = VPA2ASynapse()
    explain_empty_answer(synapse, "internal error\n  ValueError: bad ≤ value " + "x" * 500)
    message = synapse.axon.status_message
    assert message.startswith("no animation: internal error ValueError: bad ? value xxx")
    assert len(message) == 300 and message.endswith("...") and message.isascii()


@pytest.mark.timeout(60)
def test_readme_query_example_never_overwrites_its_inputs(wallets, tmp_path, monkeypatch, capsys):
    """The README's commands, run in a folder holding song.wav and its ground truth song.bvh."""
    from a2a import cli

    root, miner_wallet, _ = wallets
    monkeypatch.chdir(tmp_path)
    song = write_wav(tmp_path / "song.wav", seconds=2.0)
    frames = 60
    moving = np.zeros((frames, 24, 3))
    moving[:, 16, 2] = np.linspace(0.0, 1.5, frames)  # the left elbow swings: not the static answer
    truth = motion_to_bvh(Motion(moving, np.zeros((frames, 3)), 30.0))
    Path("song.bvh").write_text(truth)
    common = ["--wallet-path", str(root), "--wallet-name", "validator"]
    running = start_miner(miner_wallet, SlowStaticGenerator())
    try:
        port = str(running.port)
        assert cli.main(["query", "--port", port, "song.wav", *common]) == 0
        capsys.readouterr()
        scored = ["query", "--port", port, "song.wav", "--input-type", "url", "--reference", "song.bvh"]
        # The first command saved song.answer.bvh; the second refuses to overwrite it ...
        assert cli.main([*scored, *common]) == 2
        assert "song.answer.bvh exists; pass --force to overwrite it or --out" in capsys.readouterr().err
        # ... and never writes over an input, even with --force.
        assert cli.main([*scored, "--out", "song.bvh", "--force", *common]) == 2
        assert "song.bvh is the reference of this query: the answer needs another --out" in (
            capsys.readouterr().err
        )
        assert cli.main([*scored, "--out", "song.wav", "--force", *common]) == 2
        assert (
            "song.wav is the audio of this query: the answer needs another --out" in capsys.readouterr().err
        )
        assert cli.main([*scored, "--out", "url.bvh", *common]) == 0
    finally:
        running.stop()
    result = json.loads(capsys.readouterr().out)
    assert Path("song.bvh").read_text() == truth and song.is_file()
    assert read_bvh(Path("song.answer.bvh")).num_frames == frames and result["bvh"] == "url.bvh"
    # The static answer against the swinging elbow: a real, non-zero error on the elbow and wrist rows.
    assert result["score"]["joint_map"] == "edge_edge" and result["score"]["missing_joints"] == []
    assert result["score"]["rmse"] > 1.0 and result["score"]["correctness"] < 1.0


def test_dsg_checkpoint_is_served_in_its_rig(wallets, tmp_path, gesture_root):
    """A gesture model serves unchanged through the miner: style from the settings, the rig's own BVH."""
    import a2a
    from a2a.config import compose_config
    from a2a.motion.rigs import ZEGGS75
    from a2a.train import train

    overrides = ["experiment=dsg_tiny", f"data.source={gesture_root}", f"output_dir={tmp_path / 'run'}"]
    ckpt = train(
        compose_config("train", [*overrides, "~callbacks.progress", "+trainer.enable_progress_bar=false"])
    )["last_checkpoint"]
    root, miner_wallet, _ = wallets
    speech = write_wav(tmp_path / "speech.wav", seconds=2.5, sr=16000)
    slot = ModelSlot(ckpt, lambda path: a2a.load(path, device="cpu"), poll_seconds=0)
    running = start_miner(miner_wallet, slot, seed=0, generate_kwargs={"style": "Relaxed"})
    try:
        answer = query_miner(running, root, speech, tmp_path / "answer.bvh")
    finally:
        running.stop()
    assert answer["status_code"] == 200 and answer["frames"] == 50  # 2.5 s at 20 fps
    assert read_bvh(Path(answer["bvh"])).names == ZEGGS75.names
    expected = a2a.load(ckpt).generate_bvh(speech, seed=0, style="Relaxed")
    assert Path(answer["bvh"]).read_text() == expected
