"""The subnet-25 wire protocol: :class:`VPA2ASynapse`, field for field as ``vpa2a/protocol.py``.

Validators send ``audio_input`` (an audio URL; ``input_type`` stays at its default ``'url'``) and read
the BVH text back from ``animation_output``. The class name is part of the protocol: it is the HTTP path
(``POST /VPA2ASynapse``) and the ``name`` header, so it must not change.
"""

from a2a.mining.defaults import INPUT_DATA, INPUT_TYPES, INPUT_URL
from a2a.mining.sdk import import_bittensor

bt = import_bittensor()

__all__ = ["INPUT_DATA", "INPUT_TYPES", "INPUT_URL", "VPA2ASynapse"]


class VPA2ASynapse(bt.Synapse):
    """One audio → animation request.

    Attributes:
        input_type: ``'url'``: ``audio_input`` is an http(s) URL of an audio file; ``'data'``: it is the
            base64-encoded audio file.
        audio_input: the request payload (untrusted: the dendrite signature covers no body field).
        animation_output: the answer, a whole BVH file as text; ``""`` when the miner has no answer.
            Typed ``Optional`` like the subnet's class for wire compatibility, but a miner must never send
            ``None``: the validator's batch loop calls ``len()`` on it and drops every miner's score.
    """

    input_type: str = INPUT_URL
    audio_input: str = ""
    animation_output: str | None = ""

    def is_url(self) -> bool:
        return self.input_type == INPUT_URL

    def deserialize(self) -> str | None:
        return self.animation_output


# The message travels as a header value: one ASCII line, well under aiohttp's 8190-byte field limit.
MAX_STATUS_MESSAGE = 300


def explain_empty_answer(synapse: VPA2ASynapse, reason: str) -> None:
    """Tell the caller why ``animation_output`` is empty.

    The reason travels as the axon's status message (the ``bt_header_axon_status_message`` response
    header, which every dendrite copies into ``synapse.dendrite.status_message``); the status code stays
    200, so validators see exactly what they saw before: an empty answer, scored 0.
    """
    if synapse.axon is None:
        synapse.axon = bt.TerminalInfo()
    text = " ".join(f"no animation: {reason}".split()).encode("ascii", "replace").decode("ascii")
    if len(text) > MAX_STATUS_MESSAGE:
        text = text[: MAX_STATUS_MESSAGE - 3] + "..."
    synapse.axon.status_message = text
