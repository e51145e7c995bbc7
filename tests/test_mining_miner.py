"""Miner parts without a network: blacklist policy, stake-ordered bounded queue, hot reload, axon hooks."""

import asyncio
import threading
import time

import numpy as np
import pytest

from a2a.errors import A2AError, AudioError, CheckpointError
from a2a.mining.chain import BlacklistPolicy, Caller, StaticView, require_registered
from a2a.mining.miner import MAX_LARGE_BODIES, Miner, MinerSettings
from a2a.mining.protocol import VPA2ASynapse
from a2a.mining.reload import ModelSlot
from a2a.mining.scheduler import DeadlineExceeded, InferenceQueue

VIEW = StaticView(
    {
        "validator": Caller(uid=1, stake=5000.0, validator_permit=True),
        "poor": Caller(uid=2, stake=10.0, validator_permit=True),
        "miner": Caller(uid=3, stake=20000.0, validator_permit=False),
    }
)


def test_blacklist_policy_rules_and_priority():
    policy = BlacklistPolicy(min_stake=100.0)
    assert policy.check(VIEW, "validator") == (False, "uid 1 allowed")
    assert policy.check(VIEW, "stranger") == (True, "unregistered hotkey")
    assert policy.check(VIEW, None) == (True, "no caller hotkey")
    assert policy.check(VIEW, "miner") == (True, "uid 3 has no validator permit")
    assert policy.check(VIEW, "poor") == (True, "uid 2 stake 10 < blacklist.min_stake=100")
    lenient = BlacklistPolicy(allow_non_registered=True, force_validator_permit=False)
    assert lenient.check(VIEW, "stranger")[0] is False and lenient.check(VIEW, "miner")[0] is False
    assert BlacklistPolicy.open().check(StaticView(), "anyone")[0] is False
    assert policy.priority(VIEW, "miner") == 20000.0 and policy.priority(VIEW, "stranger") == 0.0


def test_min_stake_is_inclusive():
    # Exactly min_stake is enough; the smallest step below is not.
    at_threshold = StaticView({"v": Caller(uid=4, stake=100.0, validator_permit=True)})
    below = StaticView({"v": Caller(uid=4, stake=float(np.nextafter(100.0, 0.0)), validator_permit=True)})
    policy = BlacklistPolicy(min_stake=100.0)
    assert policy.check(at_threshold, "v") == (False, "uid 4 allowed")
    assert policy.check(below, "v") == (True, "uid 4 stake 100 < blacklist.min_stake=100")


def test_require_registered_explains_how_to_register():
    assert require_registered(VIEW, "validator", 25).uid == 1
    with pytest.raises(A2AError, match="not registered on netuid 25.*btcli subnet register --netuid 25"):
        require_registered(VIEW, "stranger", 25)


def test_axon_hooks_read_the_caller_hotkey():
    slot = type("Slot", (), {"current": object()})()
    miner = Miner(slot, VIEW, BlacklistPolicy(), MinerSettings(queue_size=0))
    try:
        synapse = VPA2ASynapse()
        synapse.dendrite.hotkey = "miner"
        assert miner.blacklist(synapse) == (True, "uid 3 has no validator permit")
        assert miner.priority(synapse) == 20000.0
        synapse.dendrite.hotkey = "validator"
        assert miner.blacklist(synapse) == (False, "uid 1 allowed")
    finally:
        miner.close()


@pytest.mark.timeout(10)
def test_a_request_keeps_its_place_until_its_intake_work_ends(monkeypatch):
    release = threading.Event()
    tokens = []

    def uninterruptible_intake(input_type, audio_input, limits, sample_rate=None, cancel=None):
        tokens.append(cancel)
        release.wait(5)  # work that ignores the cancel, e.g. a decode between two checks
        raise AudioError("finished too late")

    monkeypatch.setattr("a2a.mining.miner.load_request_audio", uninterruptible_intake)
    slot = type("Slot", (), {"current": object()})()
    miner = Miner(slot, VIEW, BlacklistPolicy.open(), MinerSettings(queue_size=0, deadline_seconds=0.2))
    url = VPA2ASynapse(input_type="url", audio_input="http://127.0.0.1:9/never-fetched.wav")
    try:
        start = time.monotonic()
        answer = asyncio.run(miner.forward(url))
        assert answer.animation_output == "" and time.monotonic() - start < 1.0
        assert miner.last_request["reason"].startswith("deadline of 0 s passed")
        assert miner.queue.admitted == 1  # the work still runs, so it keeps the only place ...
        assert tokens[0].cancelled  # ... although answering cancelled it
        refused = asyncio.run(miner.forward(url.model_copy()))
        assert refused.animation_output == "" and miner.stats.queue_full == 1 and len(tokens) == 1
        release.set()
        deadline = time.monotonic() + 2
        while miner.queue.admitted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert miner.queue.admitted == 0
    finally:
        release.set()
        miner.close()


def test_large_bodies_are_admitted_only_with_room():
    slot = type("Slot", (), {"current": object()})()
    miner = Miner(slot, VIEW, BlacklistPolicy.open(), MinerSettings(queue_size=3))
    try:
        assert MAX_LARGE_BODIES == 2
        assert miner.admit_body() and miner.admit_body()
        assert not miner.admit_body()  # two bodies are being read
        miner.body_done()
        assert miner.admit_body()
        miner.body_done()
        miner.body_done()
        assert all(miner.queue.try_admit() for _ in range(4))  # 1 running + 3 waiting: full
        assert not miner.admit_body()  # the request would be refused after its body was read
        assert miner.stats.queue_full == 2
    finally:
        miner.close()


@pytest.mark.timeout(10)
def test_queue_runs_one_job_at_a_time_highest_stake_first():
    queue = InferenceQueue(queue_size=3)
    try:
        gate, order, active, peak = threading.Event(), [], [0], [0]

        def job(name):
            def run():
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                if name == "first":
                    gate.wait(5)
                order.append(name)
                active[0] -= 1
                return name

            return run

        far = time.monotonic() + 30
        assert all(queue.try_admit() for _ in range(4))
        assert not queue.try_admit()  # 1 running + queue_size waiting
        first = queue.submit(job("first"), priority=0.0, deadline=far)
        while not queue.running:
            time.sleep(0.001)
        futures = [
            queue.submit(job("low"), priority=1.0, deadline=far),
            queue.submit(job("high"), priority=100.0, deadline=far),
            queue.submit(job("mid"), priority=50.0, deadline=far),
        ]
        gate.set()
        assert [f.result(5) for f in [first, *futures]] == ["first", "low", "high", "mid"]
        assert order == ["first", "high", "mid", "low"]
        assert peak[0] == 1
        for _ in range(4):
            queue.release()
        assert queue.try_admit()
        queue.release()
    finally:
        queue.close()


@pytest.mark.timeout(10)
def test_queue_drops_expired_and_cancelled_jobs_and_survives_errors():
    queue = InferenceQueue(queue_size=2)
    try:
        gate = threading.Event()
        ran = []
        blocker = queue.submit(lambda: gate.wait(5), priority=0, deadline=time.monotonic() + 30)
        while not queue.running:
            time.sleep(0.001)
        expired = queue.submit(lambda: ran.append("expired"), priority=0, deadline=time.monotonic() + 0.01)
        cancelled = queue.submit(lambda: ran.append("cancelled"), priority=0, deadline=time.monotonic() + 30)
        assert cancelled.cancel()
        time.sleep(0.05)
        gate.set()
        assert blocker.result(5) is True
        with pytest.raises(DeadlineExceeded):
            expired.result(5)
        failing = queue.submit(lambda: 1 / 0, priority=0, deadline=time.monotonic() + 30)
        with pytest.raises(ZeroDivisionError):
            failing.result(5)
        assert queue.submit(lambda: "alive", priority=0, deadline=time.monotonic() + 30).result(5) == "alive"
        assert ran == []
    finally:
        queue.close()


class Model:
    def __init__(self, version: str) -> None:
        self.version = version


def test_hot_reload_follows_the_file_and_keeps_the_old_model_on_failure(tmp_path):
    ckpt = tmp_path / "best.ckpt"
    ckpt.write_text("v1")

    def loader(path):
        text = path.read_text()
        if text.startswith("broken"):
            raise CheckpointError(f"{path}: not a readable checkpoint")
        return Model(text)

    slot = ModelSlot(ckpt, loader, poll_seconds=0)
    assert slot.current.version == "v1" and slot.generation == 1
    assert slot.check_file() is False  # unchanged
    ckpt.write_text("v2-longer")
    assert slot.check_file() is False  # changed: wait one poll in case it is still being written
    assert slot.current.version == "v1"
    assert slot.check_file() is True
    assert slot.current.version == "v2-longer" and slot.generation == 2

    ckpt.write_text("broken checkpoint")
    slot.check_file()
    assert slot.check_file() is False  # failed: old model keeps serving
    assert slot.current.version == "v2-longer" and slot.generation == 2
    assert slot.check_file() is False  # the same broken file is not retried

    ckpt.write_text("v3")
    slot.request_reload()  # SIGHUP: reload at once, no stability wait
    assert slot.check_file() is True and slot.current.version == "v3"


@pytest.mark.timeout(10)
def test_hot_reload_watcher_thread(tmp_path):
    ckpt = tmp_path / "best.ckpt"
    ckpt.write_text("a")
    slot = ModelSlot(ckpt, lambda path: Model(path.read_text()), poll_seconds=0.02)
    slot.start()
    try:
        ckpt.write_text("bb")
        deadline = time.monotonic() + 5
        while slot.current.version != "bb" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slot.current.version == "bb"
    finally:
        slot.stop()
