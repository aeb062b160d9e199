r"""Self-intersection test of a pose: limb capsules on the skeleton.

A pose whose limbs pass through each other or through the trunk is not a
pose a person takes. :class:`SelfContact` places a capsule (a segment with
a radius) on each bone of SMPL's skeleton, poses the template joints by
forward kinematics, and calls the pose self-intersecting when two capsules
that share no joint come closer than ``overlap`` times the sum of their
radii. ``overlap < 1`` lets limbs touch (crossed arms, hands on hips, a
forearm on a thigh) while a limb through the trunk or another limb fails.
The test is geometric on the joints only (no mesh), about 0.1 ms a pose.
"""

from __future__ import annotations

import numpy as np

from bigraph_pyg.topology import SMPL_JOINT_NAMES

__all__ = ["CAPSULES", "SelfContact", "segment_distances"]

#: Capsules: ``(joint_a, joint_b, radius in metres)``, on the template's
#: bones (a ~1.8 m adult; the radii are those of a slim one, so that a
#: rejected pose is clearly impossible).
CAPSULES: tuple[tuple[str, str, float], ...] = (
    ("pelvis", "spine2", 0.10),
    ("spine2", "neck", 0.10),
    ("neck", "head", 0.07),
    ("left_shoulder", "left_elbow", 0.04),
    ("left_elbow", "left_wrist", 0.033),
    ("left_wrist", "left_hand", 0.03),
    ("right_shoulder", "right_elbow", 0.04),
    ("right_elbow", "right_wrist", 0.033),
    ("right_wrist", "right_hand", 0.03),
    ("left_hip", "left_knee", 0.065),
    ("left_knee", "left_ankle", 0.045),
    ("left_ankle", "left_foot", 0.035),
    ("right_hip", "right_knee", 0.065),
    ("right_knee", "right_ankle", 0.045),
    ("right_ankle", "right_foot", 0.035),
)

_IDX = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def segment_distances(
    p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray
) -> np.ndarray:
    """Closest distance between segments ``[p0, p1]`` and ``[q0, q1]``.

    Args:
        p0 (np.ndarray): :math:`(..., 3)` first segment's start.
        p1 (np.ndarray): :math:`(..., 3)` its end.
        q0 (np.ndarray): :math:`(..., 3)` second segment's start.
        q1 (np.ndarray): :math:`(..., 3)` its end.

    Returns:
        np.ndarray: :math:`(...)` distances (exact, clamped parameters).

    Example:
        >>> o, x = np.zeros(3), np.array([1.0, 0, 0])
        >>> float(segment_distances(o, x, o + [0, 1, 0], x + [0, 1, 0]))
        1.0
    """
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    f = (d2 * r).sum(-1)
    c = (d1 * r).sum(-1)
    b = (d1 * d2).sum(-1)
    eps = 1e-12
    safe_a, safe_e = np.maximum(a, eps), np.maximum(e, eps)
    denom = a * e - b * b
    # Non-parallel: the lines' closest point, clamped; parallel: s = 0.
    s = np.where(
        denom > eps * np.maximum(a * e, eps),
        np.clip((b * f - c * e) / np.maximum(denom, eps), 0.0, 1.0),
        0.0,
    )
    t = (b * s + f) / safe_e
    # t outside [0, 1]: clamp it and recompute s for that end.
    t_c = np.clip(t, 0.0, 1.0)
    s = np.where(t != t_c, np.clip((b * t_c - c) / safe_a, 0.0, 1.0), s)
    t = t_c
    # Degenerate segments (points), Ericson's special cases.
    q_point, p_point = e <= eps, a <= eps
    s = np.where(q_point, np.clip(-c / safe_a, 0.0, 1.0), s)
    t = np.where(q_point, 0.0, t)
    t = np.where(p_point, np.clip(f / safe_e, 0.0, 1.0), t)
    s = np.where(p_point, 0.0, s)
    t = np.where(p_point & q_point, 0.0, t)
    diff = (p0 + s[..., None] * d1) - (q0 + t[..., None] * d2)
    return np.sqrt((diff * diff).sum(-1))


class SelfContact:
    """Limb-capsule self-intersection test on a skeleton.

    Args:
        template_joints (np.ndarray): :math:`(24, 3)` rest-pose joints,
            metres (SMPL order).
        parents (np.ndarray): :math:`(24,)` kinematic tree,
            ``parents[0] = -1``.
        overlap (float): Two capsules intersect when closer than
            ``overlap`` times the sum of their radii. (default: ``0.7``)

    Raises:
        ValueError: shapes other than ``(24, 3)`` / ``(24,)``, or
            ``overlap`` not in ``(0, 1]``.
    """

    def __init__(
        self,
        template_joints: np.ndarray,
        parents: np.ndarray,
        overlap: float = 0.7,
    ) -> None:
        joints = np.asarray(template_joints, np.float64)
        parents = np.asarray(parents, np.int64)
        n = len(SMPL_JOINT_NAMES)
        if joints.shape != (n, 3) or parents.shape != (n,):
            raise ValueError(
                f"Expected template_joints ({n}, 3) and parents ({n},) (got "
                f"{joints.shape} and {parents.shape})"
            )
        if not 0.0 < overlap <= 1.0:
            raise ValueError(f"Expected overlap in (0, 1] (got {overlap})")
        self.joints = joints
        self.parents = parents
        self.offsets = joints - np.where(
            parents[:, None] >= 0, joints[np.maximum(parents, 0)], 0.0
        )
        ends = np.array([(_IDX[a], _IDX[b]) for a, b, _ in CAPSULES])
        radii = np.array([r for _, _, r in CAPSULES])
        pairs = [
            (i, k)
            for i in range(len(CAPSULES))
            for k in range(i + 1, len(CAPSULES))
            if not self._adjacent(ends[i], ends[k])
        ]
        self.ends = ends
        self.pairs = np.array(pairs, np.int64)
        self.min_distance = overlap * (
            radii[self.pairs[:, 0]] + radii[self.pairs[:, 1]]
        )

    def _adjacent(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Capsules that share a joint, or hang on a common one."""
        near_a = set(a) | {int(self.parents[j]) for j in a}
        near_b = set(b) | {int(self.parents[j]) for j in b}
        return bool(near_a & near_b)

    def posed_joints(self, rotations: np.ndarray) -> np.ndarray:
        """Forward kinematics of the template joints (body frame).

        Args:
            rotations (np.ndarray): :math:`(23, 3, 3)` local rotations of
                the body joints (the root stays unrotated).

        Returns:
            np.ndarray: :math:`(24, 3)` posed joints.
        """
        n = len(self.parents)
        world = np.empty((n, 3, 3))
        pos = np.empty((n, 3))
        world[0], pos[0] = np.eye(3), self.joints[0]
        for j in range(1, n):
            p = self.parents[j]
            world[j] = world[p] @ rotations[j - 1]
            pos[j] = pos[p] + world[p] @ self.offsets[j]
        return pos

    def distances(self, rotations: np.ndarray) -> np.ndarray:
        """Closest distance of every tested capsule pair, metres.

        Args:
            rotations (np.ndarray): :math:`(23, 3, 3)` local rotations.

        Returns:
            np.ndarray: :math:`(P,)`, in :attr:`pairs` order.
        """
        pos = self.posed_joints(rotations)
        a = self.ends[self.pairs[:, 0]]
        b = self.ends[self.pairs[:, 1]]
        return segment_distances(
            pos[a[:, 0]], pos[a[:, 1]], pos[b[:, 0]], pos[b[:, 1]]
        )

    def collides(self, rotations: np.ndarray) -> bool:
        """Whether two capsules come closer than allowed.

        Args:
            rotations (np.ndarray): :math:`(23, 3, 3)` local rotations.

        Returns:
            bool: :obj:`True` for a self-intersecting pose.
        """
        return bool((self.distances(rotations) < self.min_distance).any())
