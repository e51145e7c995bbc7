"""Skeletons: joint names, parents and rest offsets; the built-in SMPL-24 skeleton.

The SMPL-24 rest offsets are those of the SMPL **male** model with zero shape (betas = 0), the numbers
EDGE (``vis.py``) and smpl2bvh use. With the SMPL model files at hand, :func:`smpl_skeleton` computes
the offsets for any gender and shape through ``smplx`` instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from a2a.errors import A2AError

log = logging.getLogger(__name__)

# smpl2bvh joint names, in SMPL index order. The subnet-25 validator looks joints up by these names.
SMPL_JOINT_NAMES: tuple[str, ...] = (
    "Pelvis",
    "Left_hip",
    "Right_hip",
    "Spine1",
    "Left_knee",
    "Right_knee",
    "Spine2",
    "Left_ankle",
    "Right_ankle",
    "Spine3",
    "Left_foot",
    "Right_foot",
    "Neck",
    "Left_collar",
    "Right_collar",
    "Head",
    "Left_shoulder",
    "Right_shoulder",
    "Left_elbow",
    "Right_elbow",
    "Left_wrist",
    "Right_wrist",
    "Left_palm",
    "Right_palm",
)

SMPL_PARENTS: tuple[int, ...] = (
    -1,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
    20,
    21,
)

# Rest position of the pelvis of the SMPL male model, zero betas (metres, y-up). smpl2bvh writes it as
# the BVH root offset; EDGE's FK ignores it (its root offset is zero).
SMPL_MALE_PELVIS_REST = np.array([-0.0021737, -0.2407892, 0.0285838])

# Rest offsets child − parent of the SMPL male model, zero betas (metres, y-up), EDGE vis.py:smpl_offsets.
SMPL_MALE_OFFSETS = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.05858135, -0.08228004, -0.01766408],
        [-0.06030973, -0.09051332, -0.01354254],
        [0.00443945, 0.12440352, -0.03838522],
        [0.04345142, -0.38646945, 0.008037],
        [-0.04325663, -0.38368791, -0.00484304],
        [0.00448844, 0.1379564, 0.02682033],
        [-0.01479032, -0.42687458, -0.037428],
        [0.01905555, -0.4200455, -0.03456167],
        [-0.00226458, 0.05603239, 0.00285505],
        [0.04105436, -0.06028581, 0.12204243],
        [-0.03483987, -0.06210566, 0.13032329],
        [-0.0133902, 0.21163553, -0.03346758],
        [0.07170245, 0.11399969, -0.01889817],
        [-0.08295366, 0.11247234, -0.02370739],
        [0.01011321, 0.08893734, 0.05040987],
        [0.12292141, 0.04520509, -0.019046],
        [-0.11322832, 0.04685326, -0.00847207],
        [0.2553319, -0.01564902, -0.02294649],
        [-0.26012748, -0.01436928, -0.03126873],
        [0.26570925, 0.01269811, -0.00737473],
        [-0.26910836, 0.00679372, -0.00602676],
        [0.08669055, -0.01063603, -0.01559429],
        [-0.0887537, -0.00865157, -0.01010708],
    ]
)

# Foot joints used by contact labels and foot losses (EDGE order: l-ankle, r-ankle, l-toe, r-toe).
SMPL_FOOT_JOINTS: tuple[int, ...] = (7, 8, 10, 11)


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint hierarchy.

    Attributes:
        names: joint names ``[J]``.
        parents: parent index per joint ``[J]``, ``-1`` for the root; every parent precedes its child.
        offsets: rest offset of each joint from its parent ``[J, 3]`` (metres). ``offsets[0]`` is the
            root's rest position, added to the root translation by forward kinematics.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.float64)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        n = len(self.names)
        if len(self.parents) != n or offsets.shape != (n, 3):
            raise A2AError(
                f"skeleton needs one parent and one 3-d offset per joint: {n} names, "
                f"{len(self.parents)} parents, offsets of shape {offsets.shape}"
            )
        if n == 0 or self.parents[0] != -1:
            raise A2AError("skeleton joint 0 must be the root (parent -1)")
        for j, p in enumerate(self.parents[1:], start=1):
            if not 0 <= p < j:
                raise A2AError(
                    f"skeleton joint {j} ({self.names[j]!r}) has parent {p}: parents must precede children"
                )
        if len(set(self.names)) != n:
            raise A2AError("skeleton joint names must be unique")
        if not np.isfinite(offsets).all():
            raise A2AError("skeleton offsets contain NaN or infinity")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Skeleton):
            return NotImplemented
        return (
            self.names == other.names
            and self.parents == other.parents
            and np.array_equal(self.offsets, other.offsets)
        )

    def __hash__(self) -> int:
        return hash((self.names, self.parents))

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name`` (clear error listing the known names otherwise)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise A2AError(f"unknown joint {name!r}; this skeleton has: {', '.join(self.names)}") from None

    def children(self, j: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == j]

    def with_root_offset(self, root: np.ndarray | tuple[float, float, float]) -> Skeleton:
        """Same skeleton with ``offsets[0]`` replaced (e.g. zero for EDGE-style FK)."""
        offsets = self.offsets.copy()
        offsets[0] = np.asarray(root, dtype=np.float64)
        return Skeleton(self.names, self.parents, offsets)


# EDGE's skeleton: root offset 0, so joint 0 sits exactly at the translation.
SMPL24 = Skeleton(SMPL_JOINT_NAMES, SMPL_PARENTS, SMPL_MALE_OFFSETS)


def smpl_skeleton(
    model_path: str | Path | None = None,
    gender: str = "male",
    betas: np.ndarray | None = None,
    root_at_pelvis_rest: bool = False,
) -> Skeleton:
    """The SMPL-24 skeleton, from the SMPL model files when given, else the built-in male/zero-betas one.

    Args:
        model_path: folder holding ``SMPL_{MALE,FEMALE,NEUTRAL}.pkl`` (or such a file); ``None`` uses the
            built-in offsets.
        gender: ``male``, ``female`` or ``neutral`` (only with ``model_path``).
        betas: shape coefficients ``[10]`` (only with ``model_path``).
        root_at_pelvis_rest: put the pelvis rest position in ``offsets[0]`` (as smpl2bvh and ``smplx``
            joints do) instead of zero (as EDGE does).
    """
    if model_path is None:
        if gender.lower() != "male" or betas is not None:
            raise A2AError(
                "built-in SMPL offsets exist only for the male model with zero betas; "
                "pass model_path=<folder with SMPL_*.pkl> for other genders or shapes"
            )
        log.info("SMPL skeleton: built-in offsets (SMPL male, zero betas)")
        root = SMPL_MALE_PELVIS_REST if root_at_pelvis_rest else np.zeros(3)
        return SMPL24.with_root_offset(root)

    import smplx  # heavy import, only when model files are used
    import torch

    path = Path(model_path)
    if not path.exists():
        raise A2AError(f"SMPL model path {path} does not exist")
    model = smplx.create(str(path), model_type="smpl", gender=gender.lower())
    kwargs = {}
    if betas is not None:
        kwargs["betas"] = torch.as_tensor(np.asarray(betas, dtype=np.float32)).reshape(1, -1)
    with torch.no_grad():
        rest = model(**kwargs).joints[0, :24].double().numpy()
    parents = tuple(int(p) for p in model.parents[:24].tolist())
    if parents != SMPL_PARENTS:
        raise A2AError(f"SMPL model at {path} has an unexpected joint hierarchy {parents}")
    offsets = rest - rest[np.maximum(np.asarray(parents), 0)]
    offsets[0] = rest[0] if root_at_pelvis_rest else 0.0
    log.info("SMPL skeleton: offsets computed by smplx from %s (gender=%s)", path, gender)
    return Skeleton(SMPL_JOINT_NAMES, parents, offsets)
