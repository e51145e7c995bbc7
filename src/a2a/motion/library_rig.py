"""The subnet-25 reference library's rig: its 22 joints that the validator pairs with SMPL joints.

One table, used by the validator's joint maps (``a2a.metrics.validator``) and by the reader that maps
library-rig BVH files onto SMPL-24 (``a2a.data.curated``). The pairs are in the validator's
``edge_library_joint_map`` order (the order matters for its missing-joint quirk); the SMPL collars have
no library counterpart.
"""

from __future__ import annotations

# (SMPL joint, library joint)
SMPL_TO_LIBRARY: tuple[tuple[str, str], ...] = (
    ("Pelvis", "hips_JNT"),
    ("Left_hip", "l_upleg_JNT"),
    ("Left_knee", "l_leg_JNT"),
    ("Left_ankle", "l_foot_JNT"),
    ("Left_foot", "l_toebase_JNT"),
    ("Right_hip", "r_upleg_JNT"),
    ("Right_knee", "r_leg_JNT"),
    ("Right_ankle", "r_foot_JNT"),
    ("Right_foot", "r_toebase_JNT"),
    ("Spine1", "spine_JNT"),
    ("Spine2", "spine1_JNT"),
    ("Spine3", "spine2_JNT"),
    ("Neck", "neck_JNT"),
    ("Head", "head_JNT"),
    ("Left_shoulder", "l_shoulder_JNT"),
    ("Left_elbow", "l_arm_JNT"),
    ("Left_wrist", "l_forearm_JNT"),
    ("Left_palm", "l_hand_JNT"),
    ("Right_shoulder", "r_shoulder_JNT"),
    ("Right_elbow", "r_arm_JNT"),
    ("Right_wrist", "r_forearm_JNT"),
    ("Right_palm", "r_hand_JNT"),
)
SMPL_NAMES: tuple[str, ...] = tuple(smpl for smpl, _ in SMPL_TO_LIBRARY)
LIBRARY_NAMES: tuple[str, ...] = tuple(library for _, library in SMPL_TO_LIBRARY)
