"""Exceptions a user can act on.

Every error a2a raises for bad input derives from :class:`A2AError`, so the command line can print the
message (which names the file, field, line or option at fault) without a traceback.
"""

from __future__ import annotations


class A2AError(ValueError):
    """Base class: bad input or configuration, with a message meant for the user."""


class MotionFormatError(A2AError):
    """A motion file or array has the wrong keys, shapes or values."""


class BVHError(A2AError):
    """A BVH file cannot be parsed or does not fit the requested use."""


class AudioError(A2AError):
    """Audio cannot be decoded or is unusable (empty, silent, too long)."""


class DatasetError(A2AError):
    """A dataset folder or split is inconsistent."""


class CheckpointError(A2AError):
    """A checkpoint is corrupt, incomplete, or from an incompatible version."""
