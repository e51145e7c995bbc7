"""The subnet-25 miner: an Axon that answers :class:`VPA2ASynapse` with validator-exact BVH text.

Per request (``forward``): admission to the bounded :class:`InferenceQueue` (full → ``""`` at once),
safe intake in a worker thread of the miner's own pool (download/base64, decode, resample), one model
run at a time on the device ordered by caller stake, a deadline under the caller's timeout, and one
structured log line. The answer is always a string: ``""`` with a logged reason on any failure, never
``None`` (it breaks the validator's whole batch).

Work never outlives its request unbounded: at the answer the request's :class:`~a2a.cancel.CancelToken`
is cancelled (the download's socket is shut down, an ffmpeg child killed), and the request's place in
the queue is only given back once its intake and model work have ended. Before the axon reads a large
body (a ``'data'`` request), :meth:`Miner.admit_body` refuses it when the queue is full or
``MAX_LARGE_BODIES`` are already being read, so refused requests cost no memory.

bittensor 10.5 checks the signatures of the attached functions with ``inspect.signature`` against real
classes, so this module must not use ``from __future__ import annotations`` and the blacklist must be
annotated ``typing.Tuple[bool, str]`` exactly.
"""

import asyncio
import logging
import time
import typing
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from a2a.cancel import CancelToken
from a2a.errors import A2AError, AudioError
from a2a.mining.chain import BlacklistPolicy, ChainView
from a2a.mining.intake import IntakeLimits, RequestAudio, describe_input, load_request_audio
from a2a.mining.protocol import INPUT_DATA, VPA2ASynapse, explain_empty_answer
from a2a.mining.reload import ModelSlot
from a2a.mining.scheduler import InferenceQueue

log = logging.getLogger("a2a.mining")

# Answer this long before the caller's own timeout: the reply still has to cross the network.
RESPONSE_MARGIN_SECONDS = 3.0
STAGES = ("fetch", "decode", "features", "sampling", "export")
# Large bodies (base64 'data' audio; validators send URLs) read at once: each costs ~8x its size while
# the axon parses it.
MAX_LARGE_BODIES = 2


@dataclass(frozen=True)
class MinerSettings:
    """Serving settings (``mine.*`` in ``conf/mine.yaml``).

    Attributes:
        limits: audio intake limits.
        queue_size: requests allowed to wait for the model besides the running one.
        deadline_seconds: longest time spent on one request (capped by the caller's timeout minus a
            margin); past it the answer is ``""``.
        seed: sampling seed (the same audio gives the same dance); ``None`` draws a fresh one.
        generate_kwargs: extra ``generate_bvh`` arguments (``steps``, ``guidance``, ``samples``, ...).
    """

    limits: IntakeLimits = field(default_factory=IntakeLimits)
    queue_size: int = 4
    deadline_seconds: float = 170.0
    seed: int | None = 0
    generate_kwargs: dict = field(default_factory=dict)


@dataclass
class MinerStats:
    """Request counters, logged with every heartbeat."""

    served: int = 0
    empty: int = 0
    queue_full: int = 0


def _format_fields(fields: dict) -> str:
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.3f}"
        text = str(value)
        if " " in text or "=" in text or not text:
            text = '"' + text.replace('"', "'") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class Miner:
    """Serves the generator in ``slot`` to the callers ``policy`` lets through.

    Args:
        slot: the serving model (:class:`ModelSlot`; anything with ``.current`` holding an object with
            ``generate_bvh(wave, sr=..., seed=..., timings=...)`` works).
        chain: caller lookups (:class:`~a2a.mining.chain.MetagraphView` online, a static view offline).
        policy: the blacklist rules.
        settings: intake limits, queue size, deadline, sampling arguments.
    """

    def __init__(
        self, slot: ModelSlot, chain: ChainView, policy: BlacklistPolicy, settings: MinerSettings
    ) -> None:
        self.slot = slot
        self.chain = chain
        self.policy = policy
        self.settings = settings
        self.queue = InferenceQueue(settings.queue_size)
        # One thread per admitted request at most: places are held until intake work ends, so the pool
        # never queues (and no other code's threads, e.g. asyncio's default pool, are taken).
        self._intake = ThreadPoolExecutor(max_workers=self.queue.capacity, thread_name_prefix="a2a-intake")
        self._large_bodies = 0
        self.stats = MinerStats()
        self.last_request: dict = {}  # the last request's log fields (timings), for benchmarks

    # --- axon hooks (signatures checked by bt.Axon.attach) ----------------------------------------

    def blacklist(self, synapse: VPA2ASynapse) -> typing.Tuple[bool, str]:  # noqa: UP006 (checked by attach)
        hotkey = synapse.dendrite.hotkey if synapse.dendrite is not None else None
        blacklisted, reason = self.policy.check(self.chain, hotkey)
        if blacklisted:
            log.info("event=blacklisted caller=%s reason=%r", hotkey, reason)
        return blacklisted, reason

    def priority(self, synapse: VPA2ASynapse) -> float:
        hotkey = synapse.dendrite.hotkey if synapse.dendrite is not None else None
        return self.policy.priority(self.chain, hotkey)

    async def forward(self, synapse: VPA2ASynapse) -> VPA2ASynapse:
        """Answer one request; always leaves a ``str`` in ``animation_output``."""
        started = time.monotonic()
        caller = synapse.dendrite.hotkey if synapse.dendrite is not None else None
        input_type, audio_input = synapse.input_type, synapse.audio_input
        fields: dict = {
            "event": "request",
            "id": uuid.uuid4().hex[:12],
            "caller": caller,
            "input": describe_input(input_type, audio_input),
        }
        if input_type == INPUT_DATA:
            synapse.audio_input = ""  # do not echo megabytes of base64 back to the caller
        synapse.animation_output = ""
        budget = self.settings.deadline_seconds
        if synapse.timeout:
            budget = min(budget, float(synapse.timeout) - RESPONSE_MARGIN_SECONDS)
        deadline = started + max(budget, 0.0)

        if not self.queue.try_admit():
            self.stats.queue_full += 1
            fields.update(status="empty", reason=f"queue full ({self.queue.capacity} admitted)")
            log.warning(_format_fields(fields))
            explain_empty_answer(synapse, fields["reason"])
            return synapse
        token = CancelToken(deadline)
        work: list[Future] = []
        try:
            text = await self._answer(input_type, audio_input, caller, token, fields, work)
            if isinstance(text, str) and text.startswith("HIERARCHY"):
                synapse.animation_output = text
                fields.update(status="ok", bvh_bytes=len(text))
            else:
                fields.update(status="empty", reason=f"generator returned {type(text).__name__}, not BVH")
        except AudioError as exc:
            fields.update(status="empty", reason=f"audio refused: {exc}")
        except TimeoutError as exc:  # asyncio.wait_for and DeadlineExceeded
            reason = f"deadline of {budget:.0f} s passed ({str(exc) or 'timed out'})"
            fields.update(status="empty", reason=reason)
        except A2AError as exc:
            fields.update(status="empty", reason=f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            fields.update(status="empty", reason=f"internal error {type(exc).__name__}: {exc}")
            log.exception("request %s failed", fields["id"])
        finally:
            token.cancel()  # stop this request's download or decode if it is still running
            self.queue.release_after(work)
        if not isinstance(synapse.animation_output, str):
            synapse.animation_output = ""
        fields["total"] = time.monotonic() - started
        self.last_request = fields
        if fields["status"] == "ok":
            self.stats.served += 1
            log.info(_format_fields(fields))
        else:
            self.stats.empty += 1
            log.warning(_format_fields(fields))
            explain_empty_answer(synapse, fields["reason"])
        return synapse

    def attach(self, axon: typing.Any) -> None:
        """Register forward, blacklist and priority on ``axon`` for :class:`VPA2ASynapse`."""
        axon.attach(forward_fn=self.forward, blacklist_fn=self.blacklist, priority_fn=self.priority)

    def admit_body(self) -> bool:
        """Whether the axon may read a large request body now (called before reading it).

        ``False`` when the queue is full (the request would be answered ``""`` after its body had been
        read) or ``MAX_LARGE_BODIES`` are already being read; every ``True`` needs a :meth:`body_done`.
        Runs on the axon's event loop, like :meth:`forward`.
        """
        if self._large_bodies >= MAX_LARGE_BODIES or self.queue.admitted >= self.queue.capacity:
            self.stats.queue_full += 1
            return False
        self._large_bodies += 1
        return True

    def body_done(self) -> None:
        """The request whose body :meth:`admit_body` let in has been answered."""
        self._large_bodies -= 1

    def close(self) -> None:
        self.queue.close()
        self._intake.shutdown(wait=False, cancel_futures=True)

    # --- request pipeline -------------------------------------------------------------------------

    async def _answer(
        self,
        input_type: str,
        audio_input: str,
        caller: str | None,
        token: CancelToken,
        fields: dict,
        work: list[Future],
    ) -> str:
        """The BVH text; every thread job started is appended to ``work``."""
        deadline = token.deadline
        sample_rate = getattr(getattr(self.slot.current, "features", None), "sr", None)
        intake = self._intake.submit(
            load_request_audio, input_type, audio_input, self.settings.limits, sample_rate, token
        )
        work.append(intake)
        audio: RequestAudio = await asyncio.wait_for(
            asyncio.wrap_future(intake), timeout=max(deadline - time.monotonic(), 0.0)
        )
        fields.update(audio_s=audio.seconds, bytes=audio.encoded_bytes)
        timings = dict(audio.timings)
        queued = time.monotonic()
        future = self.queue.submit(
            lambda: self._run_model(audio, timings, queued),
            priority=self.policy.priority(self.chain, caller),
            deadline=deadline,
        )
        work.append(future)
        try:
            # Cancelling the awaitable (deadline) also cancels the job if the model has not started it.
            remaining = max(deadline - time.monotonic(), 0.0)
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=remaining)
        finally:
            fields.update({stage: timings.get(stage) for stage in ("wait", *STAGES)})
            fields["model"] = timings.get("model")
            fields["style"] = timings.get("style")

    def _run_model(self, audio: RequestAudio, timings: dict, queued: float) -> str:
        timings["wait"] = time.monotonic() - queued
        generator = self.slot.current  # read per job: a hot reload takes effect between requests
        stage_times: dict = {}
        decided: dict = {}  # what generation chose, e.g. the genre the music implies (style=auto)
        text = generator.generate_bvh(
            audio.wave,
            sr=audio.sample_rate,
            seed=self.settings.seed,
            timings=stage_times,
            info=decided,
            **self.settings.generate_kwargs,
        )
        for stage, seconds in stage_times.items():
            timings[stage] = timings.get(stage, 0.0) + float(seconds)
        timings["model"] = getattr(self.slot, "generation", None)
        timings["style"] = decided.get("style")
        return text
