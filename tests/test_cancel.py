"""CancelToken: interrupts run once, from the cancelling thread, only while registered."""

import time

import pytest

from a2a.cancel import CancelToken, WorkCancelled


def test_interrupts_run_once_and_only_while_registered():
    token = CancelToken()
    calls: list[str] = []
    with token.on_cancel(lambda: calls.append("inner")):
        pass  # left the block: no longer interrupted
    with token.on_cancel(lambda: calls.append("active")):
        token.raise_if_cancelled("work")  # not cancelled yet: no error
        token.cancel()
        token.cancel()  # a second cancel runs nothing again
    assert calls == ["active"] and token.cancelled
    with token.on_cancel(lambda: calls.append("late")):  # registered after the cancel: runs at once
        assert calls == ["active", "late"]
    with pytest.raises(WorkCancelled, match="^decode x: cancelled$"):
        token.raise_if_cancelled("decode x")


def test_remaining_follows_the_deadline():
    assert CancelToken().remaining() is None
    token = CancelToken(deadline=time.monotonic() + 10)
    assert 9.9 < token.remaining() <= 10
    assert CancelToken(deadline=time.monotonic() - 1).remaining() < 0
