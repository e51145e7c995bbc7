"""Motion core: skeletons (SMPL-24, the ZEGGS rig), rotation conversions, forward kinematics, the Motion
container."""

from a2a.motion.kinematics import fk_axis_angle, forward_kinematics
from a2a.motion.motion import Motion
from a2a.motion.rigs import ZEGGS75
from a2a.motion.skeleton import SMPL24, SMPL_JOINT_NAMES, SMPL_PARENTS, Skeleton, smpl_skeleton

__all__ = [
    "SMPL24",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "ZEGGS75",
    "Motion",
    "Skeleton",
    "fk_axis_angle",
    "forward_kinematics",
    "smpl_skeleton",
]
