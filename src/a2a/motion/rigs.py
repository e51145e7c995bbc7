"""Named rigs beyond SMPL-24: the 75-joint ZEGGS rig of the gesture data.

**ZEGGS** (Ubisoft La Forge ZeroEGGS, the data of DiffuseStyleGesture): 75 joints in BVH file order
(depth first), names as DiffuseStyleGesture's ``process_zeggs_bvh.py:bone_names`` and parents as its
``pose2bvh``. The rig has one-segment "End" joints (``HeadEnd``, ``RightForeArmEnd`` …) that are real
``JOINT`` entries of the files, so they count among the 75. Y-up, the character faces +Z, centimetres in
the files (a2a's :class:`~a2a.motion.Motion` holds metres).

The ZEGGS files carry their own OFFSETs, which a reader takes from each file. :data:`ZEGGS_REST_OFFSETS`
is a plausible stand-in body (≈ 1.7 m, T-pose: arms along ±X, left = +X) that the synthetic gesture
data uses; it is not the captured actor's skeleton.
"""

from __future__ import annotations

import numpy as np

from a2a.errors import A2AError, BVHError
from a2a.motion.skeleton import SMPL24, Skeleton

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")


def _arm(side: str) -> list[str]:
    names = [f"{side}Shoulder", f"{side}Arm", f"{side}ForeArm", f"{side}Hand"]
    for finger in _FINGERS:
        names += [f"{side}Hand{finger}{k}" for k in range(1, 5)]
    return [*names, f"{side}ForeArmEnd", f"{side}ArmEnd"]


def _leg(side: str) -> list[str]:
    return [
        f"{side}UpLeg",
        f"{side}Leg",
        f"{side}Foot",
        f"{side}ToeBase",
        f"{side}ToeBaseEnd",
        f"{side}LegEnd",
        f"{side}UpLegEnd",
    ]


ZEGGS_JOINT_NAMES: tuple[str, ...] = (
    "Hips",
    "Spine",
    "Spine1",
    "Spine2",
    "Spine3",
    "Neck",
    "Neck1",
    "Head",
    "HeadEnd",
    *_arm("Right"),
    *_arm("Left"),
    *_leg("Right"),
    *_leg("Left"),
)

# DiffuseStyleGesture's pose2bvh parents, index for index.
ZEGGS_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 4, 9, 10, 11, 12, 13, 14, 15,
    12, 17, 18, 19, 12, 21, 22, 23, 12, 25, 26, 27, 12, 29, 30, 31, 12,
    11, 4, 35, 36, 37, 38, 39, 40, 41, 38, 43, 44, 45, 38, 47, 48, 49,
    38, 51, 52, 53, 38, 55, 56, 57, 38, 37, 0, 61, 62, 63, 64, 63, 62,
    0, 68, 69, 70, 71, 70, 69,
)  # fmt: skip

# Stand-in rest offsets (cm) of one side's arm chain, mirrored for the other side (x → −x for Right).
_ARM_CM: dict[str, tuple[float, float, float]] = {
    "Shoulder": (3.0, 8.0, 0.0),
    "Arm": (13.0, 0.0, 0.0),
    "ForeArm": (27.0, 0.0, 0.0),
    "Hand": (25.0, 0.0, 0.0),
    "HandThumb1": (2.5, -1.0, 3.0),
    "HandThumb2": (3.0, 0.0, 1.0),
    "HandThumb3": (3.0, 0.0, 0.0),
    "HandThumb4": (2.5, 0.0, 0.0),
    "HandIndex1": (9.0, 0.0, 2.5),
    "HandIndex2": (4.0, 0.0, 0.0),
    "HandIndex3": (2.5, 0.0, 0.0),
    "HandIndex4": (2.0, 0.0, 0.0),
    "HandMiddle1": (9.5, 0.0, 0.7),
    "HandMiddle2": (4.5, 0.0, 0.0),
    "HandMiddle3": (3.0, 0.0, 0.0),
    "HandMiddle4": (2.0, 0.0, 0.0),
    "HandRing1": (9.0, 0.0, -1.2),
    "HandRing2": (4.0, 0.0, 0.0),
    "HandRing3": (2.7, 0.0, 0.0),
    "HandRing4": (2.0, 0.0, 0.0),
    "HandPinky1": (8.5, 0.0, -3.0),
    "HandPinky2": (3.0, 0.0, 0.0),
    "HandPinky3": (2.0, 0.0, 0.0),
    "HandPinky4": (1.8, 0.0, 0.0),
    "ForeArmEnd": (0.0, 0.0, 0.0),
    "ArmEnd": (13.0, 0.0, 0.0),
}
_LEG_CM: dict[str, tuple[float, float, float]] = {
    "UpLeg": (9.0, -5.0, 0.0),
    "Leg": (0.0, -42.0, 0.0),
    "Foot": (0.0, -40.0, 0.0),
    "ToeBase": (0.0, -7.0, 13.0),
    "ToeBaseEnd": (0.0, 0.0, 6.0),
    "LegEnd": (0.0, 0.0, 0.0),
    "UpLegEnd": (0.0, 0.0, 0.0),
}
_TRUNK_CM: dict[str, tuple[float, float, float]] = {
    "Hips": (0.0, 0.0, 0.0),
    "Spine": (0.0, 8.0, -1.0),
    "Spine1": (0.0, 10.0, 0.0),
    "Spine2": (0.0, 10.0, 0.0),
    "Spine3": (0.0, 10.0, 0.0),
    "Neck": (0.0, 12.0, 0.0),
    "Neck1": (0.0, 5.0, 0.0),
    "Head": (0.0, 6.0, 1.0),
    "HeadEnd": (0.0, 16.0, 0.0),
}


def _stand_in_offset(name: str) -> tuple[float, float, float]:
    if name in _TRUNK_CM:
        return _TRUNK_CM[name]
    side, rest = ("Left", name[4:]) if name.startswith("Left") else ("Right", name[5:])
    x, y, z = _ARM_CM[rest] if rest in _ARM_CM else _LEG_CM[rest]
    return (x if side == "Left" else -x, y, z)


ZEGGS_REST_OFFSETS = np.array([_stand_in_offset(n) for n in ZEGGS_JOINT_NAMES]) / 100.0  # metres

ZEGGS75 = Skeleton(ZEGGS_JOINT_NAMES, ZEGGS_PARENTS, ZEGGS_REST_OFFSETS)

RIGS: dict[str, Skeleton] = {"smpl24": SMPL24, "zeggs75": ZEGGS75}


def rig_by_name(name: str | Skeleton) -> Skeleton:
    """The named rig (``smpl24``, ``zeggs75``); a :class:`Skeleton` is returned as it is."""
    if isinstance(name, Skeleton):
        return name
    try:
        return RIGS[str(name).lower()]
    except KeyError:
        raise A2AError(f"unknown rig {name!r} (known: {', '.join(RIGS)})") from None


def check_rig(names: tuple[str, ...], parents: tuple[int, ...], rig: Skeleton, source: str) -> None:
    """Raise when a file's joints (``names``, ``parents``, file order) are not those of ``rig``.

    The message names ``source`` and the joints at fault: missing, unexpected, out of order or with
    another parent.
    """
    if tuple(names) == rig.names and tuple(parents) == rig.parents:
        return
    expected, found = set(rig.names), set(names)
    problems = []
    missing = [n for n in rig.names if n not in found]
    extra = [n for n in names if n not in expected]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected {', '.join(extra)}")
    if not missing and not extra:
        index = {n: j for j, n in enumerate(names)}
        moved = [n for j, n in enumerate(rig.names) if index[n] != j]
        if moved:
            problems.append(f"joints in another order, first {moved[0]!r}")
        reparented = [
            n
            for j, n in enumerate(rig.names)
            if (names[parents[index[n]]] if parents[index[n]] >= 0 else None)
            != (rig.names[rig.parents[j]] if rig.parents[j] >= 0 else None)
        ]
        if reparented:
            problems.append(f"other parents for {', '.join(reparented)}")
    raise BVHError(
        f"{source}: joints do not match the {len(rig.names)}-joint rig: {'; '.join(problems)} "
        f"(file has {len(names)} joints)"
    )
