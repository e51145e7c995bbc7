"""Dance metrics: kinetic/geometric features against loop re-implementations of the Bailando originals,
FID/Div by hand, both Beat Align Score directions, EDGE's PFC and the bootstrap interval."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import linalg
from scipy.ndimage import gaussian_filter
from scipy.signal import argrelextrema

from a2a.errors import A2AError, MotionFormatError
from a2a.metrics.dance import (
    PoolCheck,
    beat_align_score,
    bootstrap_ci,
    check_pool,
    clip_features,
    diversity,
    fid,
    geometric_features,
    kinetic_features,
    motion_beats,
    music_beats_from_onehot,
    normalize_features,
    pfc,
    pfc_dataset,
    quantized_metrics,
    recenter,
)
from a2a.metrics.geometric import GEOMETRIC_JOINT_NAMES, HIP_WIDTH, HUMERUS_LENGTH, SHOULDER_WIDTH

# ---------------------------------------------------------------------------------------------------------
# Fixtures: a stick-figure T-pose (Y-up, facing +z, left = +x as in SMPL) and smooth random motions.

T_POSE = np.array(
    [
        [0.0, 1.0, 0.0],  # root
        [0.1, 0.9, 0.0],  # lhip
        [-0.1, 0.9, 0.0],  # rhip
        [0.0, 1.1, 0.0],  # belly
        [0.1, 0.5, 0.0],  # lknee
        [-0.1, 0.5, 0.0],  # rknee
        [0.0, 1.2, 0.0],  # spine
        [0.1, 0.1, 0.0],  # lankle
        [-0.1, 0.1, 0.0],  # rankle
        [0.0, 1.3, 0.0],  # chest
        [0.1, 0.0, 0.1],  # ltoes
        [-0.1, 0.0, 0.1],  # rtoes
        [0.0, 1.5, 0.0],  # neck
        [0.08, 1.45, 0.0],  # linshoulder
        [-0.08, 1.45, 0.0],  # rinshoulder
        [0.0, 1.65, 0.0],  # head
        [0.2, 1.45, 0.0],  # lshoulder
        [-0.2, 1.45, 0.0],  # rshoulder
        [0.45, 1.45, 0.0],  # lelbow
        [-0.45, 1.45, 0.0],  # relbow
        [0.7, 1.45, 0.0],  # lwrist
        [-0.7, 1.45, 0.0],  # rwrist
        [0.78, 1.45, 0.0],  # lhand
        [-0.78, 1.45, 0.0],  # rhand
    ]
)


def smooth_motion(seed: int, num_frames: int, fps: float = 60.0, amplitude: float = 0.15) -> np.ndarray:
    """[T, 24, 3] T-pose plus per-joint sums of random sinusoids (0.2–2 Hz) plus a drifting root."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None] / fps
    freqs = rng.uniform(0.2, 2.0, size=(3, 24, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(3, 24, 3))
    wobble = sum(np.sin(2 * np.pi * freqs[k] * t + phases[k]) for k in range(3)) * amplitude / 3
    drift = np.cumsum(rng.normal(scale=0.004, size=(num_frames, 1, 3)), axis=0)
    return T_POSE[None] + wobble + drift + rng.normal(scale=0.5, size=(1, 1, 3))


def translated_tpose(num_frames: int, step: np.ndarray) -> np.ndarray:
    return T_POSE[None] + np.arange(num_frames)[:, None, None] * np.asarray(step)[None, None, :]


# ---------------------------------------------------------------------------------------------------------
# Kinetic features: a loop re-implementation of Bailando kinetic.py / utils.py (EE precedence bug kept).


def reference_kinetic(positions: np.ndarray, frame_time: float = 1 / 60, up_vec: str = "y") -> np.ndarray:
    window = 2
    num = len(positions)
    out = []
    for joint in range(positions.shape[1]):
        ke_h = ke_v = ee = 0.0
        for i in range(1, num):
            velocity = np.zeros(3)
            count = 0
            for j in range(-window, window + 1):
                if i + j - 1 < 0 or i + j >= num:
                    continue
                velocity += positions[i + j][joint] - positions[i + j - 1][joint]
                count += 1
            horizontal = velocity[[0, 2]] if up_vec == "y" else velocity[[0, 1]]
            vertical = velocity[1] if up_vec == "y" else velocity[2]
            ke_h += np.linalg.norm(horizontal / (count * frame_time)) ** 2
            ke_v += (vertical / (count * frame_time)) ** 2
            acceleration = np.zeros(3)
            count = 0
            for j in range(-window, window + 1):
                if i + j - 1 < 0 or i + j + 1 >= num:
                    continue
                v2 = (positions[i + j + 1][joint] - positions[i + j][joint]) / frame_time
                v1 = positions[i + j][joint] - positions[i + j - 1][joint] / frame_time
                acceleration += (v2 - v1) / frame_time
                count += 1
            ee += np.linalg.norm(acceleration / count)
        out.extend([ke_h / (num - 1.0), ke_v / (num - 1.0), ee / (num - 1.0)])
    return np.array(out)


@pytest.mark.parametrize("num_frames", [3, 4, 5, 6, 7, 40])
def test_kinetic_matches_loop_reference(num_frames: int) -> None:
    motion = smooth_motion(num_frames, num_frames)
    np.testing.assert_allclose(kinetic_features(motion), reference_kinetic(motion), rtol=1e-9, atol=0)


def test_kinetic_matches_loop_reference_z_up_and_other_fps() -> None:
    motion = smooth_motion(1, 25)
    expected = reference_kinetic(motion, frame_time=1 / 30, up_vec="z")
    np.testing.assert_allclose(kinetic_features(motion, fps=30, up_axis="z"), expected, rtol=1e-9, atol=0)


def test_kinetic_hand_values_constant_velocity_and_static_joint() -> None:
    # Joint 0 moves at (1, 2, 0) m/s at 60 fps: KE_h = 1, KE_v = 4 m²/s².
    # Joint 1 is static at (1, 0, 0): the bug makes each acceleration term -(p - p/dt)/dt = 59·60·p.
    frames = np.arange(10)[:, None]
    moving = frames * np.array([1.0, 2.0, 0.0]) / 60
    static = np.tile([1.0, 0.0, 0.0], (10, 1))
    features = kinetic_features(np.stack([moving, static], axis=1))
    assert features.shape == (6,)
    np.testing.assert_allclose(features[:2], [1.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(features[3:5], [0.0, 0.0], atol=1e-20)
    np.testing.assert_allclose(features[5], 59 * 60, rtol=1e-12)


def test_kinetic_energy_expenditure_depends_on_absolute_position() -> None:
    motion = smooth_motion(2, 30)
    shifted = kinetic_features(motion + np.array([1.0, 0.0, 0.0]))
    original = kinetic_features(motion)
    np.testing.assert_allclose(shifted[0::3], original[0::3], rtol=1e-9)  # KE_h
    np.testing.assert_allclose(shifted[1::3], original[1::3], rtol=1e-9)  # KE_v
    assert np.all(np.abs(shifted[2::3] - original[2::3]) > 1.0)  # EE moves with the position


def test_kinetic_rejects_bad_input() -> None:
    with pytest.raises(MotionFormatError, match="at least 3 frames"):
        kinetic_features(np.zeros((2, 24, 3)))
    with pytest.raises(MotionFormatError, match=r"\[T, J, 3\]"):
        kinetic_features(np.zeros((10, 72)))
    with pytest.raises(MotionFormatError, match="up_axis"):
        kinetic_features(np.zeros((10, 24, 3)), up_axis="x")
    with pytest.raises(MotionFormatError, match="fps"):
        kinetic_features(np.zeros((10, 24, 3)), fps=0)
    bad = np.zeros((10, 24, 3))
    bad[3, 4, 1] = np.nan
    with pytest.raises(MotionFormatError, match="NaN"):
        kinetic_features(bad)


# ---------------------------------------------------------------------------------------------------------
# Geometric features: a literal per-frame loop over the predicates of Bailando manual_new.py.


def reference_geometric(positions: np.ndarray) -> np.ndarray:
    names = list(GEOMETRIC_JOINT_NAMES)
    hl, sw, hw = HUMERUS_LENGTH, SHOULDER_WIDTH, HIP_WIDTH
    tpf = 1 / 120.0

    def fetch(frame: int, name: str) -> np.ndarray:
        if name == "y_unit":
            return np.array([0, 1, 0])
        if name == "minus_y_unit":
            return np.array([0, -1, 0])
        if name == "zero":
            return np.array([0, 0, 0])
        if name == "y_min":
            return np.array([0, min(y for (_, y, _) in positions[frame]), 0])
        return positions[frame][names.index(name)]

    def move(f, j1, j2, j3, j4, threshold):
        velocity = fetch(f, j3) - fetch(f, j1) - (fetch(f - 1, j3) - fetch(f - 1, j1))
        direction = fetch(f, j2) - fetch(f, j1)
        return np.dot(velocity, direction) / np.linalg.norm(direction) / tpf > threshold

    def nmove(f, j1, j2, j3, j4, threshold):
        velocity = fetch(f, j4) - fetch(f, j1) - (fetch(f - 1, j4) - fetch(f - 1, j1))
        direction = np.cross(fetch(f, j3) - fetch(f, j1), fetch(f, j2) - fetch(f, j1))
        return np.dot(velocity, direction) / np.linalg.norm(direction) / tpf > threshold

    def plane(f, a, b, c, p, threshold):
        a, b, c, p = (fetch(f, n) for n in (a, b, c, p))
        cross = np.cross(c - a, b - a)
        return np.dot(cross, p - a) / np.linalg.norm(cross) > threshold

    def nplane(f, n1, n2, a, p, threshold):
        n1, n2, a, p = (fetch(f, n) for n in (n1, n2, a, p))
        normal = n2 - n1
        return np.dot(normal, p - a) / np.linalg.norm(normal) > threshold

    def angle(f, j1, j2, k1, k2, bounds):
        j = fetch(f, j2) - fetch(f, j1)
        k = fetch(f, k2) - fetch(f, k1)
        degrees = np.degrees(np.arccos(np.dot(j, k) / (np.linalg.norm(j) * np.linalg.norm(k))))
        return bool(bounds[0] < degrees < bounds[1])

    def fast(f, j, threshold):
        return np.linalg.norm(fetch(f, j) - fetch(f - 1, j)) / tpf > threshold

    rows = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for f in range(1, len(positions)):
            rows.append(
                [
                    nmove(f, "neck", "rhip", "lhip", "rwrist", 1.8 * hl),
                    nmove(f, "neck", "lhip", "rhip", "lwrist", 1.8 * hl),
                    nplane(f, "chest", "neck", "neck", "rwrist", 0.2 * hl),
                    nplane(f, "chest", "neck", "neck", "lwrist", 0.2 * hl),
                    move(f, "belly", "chest", "chest", "rwrist", 1.8 * hl),
                    move(f, "belly", "chest", "chest", "lwrist", 1.8 * hl),
                    angle(f, "relbow", "rshoulder", "relbow", "rwrist", [0, 110]),
                    angle(f, "lelbow", "lshoulder", "lelbow", "lwrist", [0, 110]),
                    nplane(f, "lshoulder", "rshoulder", "lwrist", "rwrist", 2.5 * sw),
                    move(f, "lwrist", "rwrist", "rwrist", "lwrist", 1.4 * hl),
                    move(f, "rwrist", "root", "lwrist", "root", 1.4 * hl),
                    move(f, "lwrist", "root", "rwrist", "root", 1.4 * hl),
                    fast(f, "rwrist", 2.5 * hl),
                    fast(f, "lwrist", 2.5 * hl),
                    plane(f, "root", "lhip", "ltoes", "rankle", 0.38 * hl),
                    plane(f, "root", "rhip", "rtoes", "lankle", 0.38 * hl),
                    nplane(f, "zero", "y_unit", "y_min", "rankle", 1.2 * hl),
                    nplane(f, "zero", "y_unit", "y_min", "lankle", 1.2 * hl),
                    nplane(f, "lhip", "rhip", "lankle", "rankle", 2.1 * hw),
                    angle(f, "rknee", "rhip", "rknee", "rankle", [0, 110]),
                    angle(f, "lknee", "lhip", "lknee", "lankle", [0, 110]),
                    fast(f, "rankle", 2.5 * hl),
                    fast(f, "lankle", 2.5 * hl),
                    angle(f, "neck", "root", "rshoulder", "relbow", [25, 180]),
                    angle(f, "neck", "root", "lshoulder", "lelbow", [25, 180]),
                    angle(f, "neck", "root", "rhip", "rknee", [50, 180]),
                    angle(f, "neck", "root", "lhip", "lknee", [50, 180]),
                    plane(f, "rankle", "neck", "lankle", "root", 0.5 * hl),
                    angle(f, "neck", "root", "zero", "y_unit", [70, 110]),
                    nplane(f, "zero", "minus_y_unit", "y_min", "rwrist", -1.2 * hl),
                    nplane(f, "zero", "minus_y_unit", "y_min", "lwrist", -1.2 * hl),
                    fast(f, "root", 2.3 * hl),
                ]
            )
    return np.array(rows, dtype=np.float64).mean(axis=0)


def test_body_constants_match_bailando() -> None:
    assert pytest.approx(0.256838, abs=1e-6) == HUMERUS_LENGTH
    assert pytest.approx(0.390848, abs=1e-6) == SHOULDER_WIDTH
    assert pytest.approx(0.119247, abs=1e-6) == HIP_WIDTH


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_geometric_matches_loop_reference(seed: int) -> None:
    motion = smooth_motion(seed, 120, amplitude=0.4)
    expected = reference_geometric(motion)
    got = geometric_features(motion)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # The random motions exercise the predicates: most of them are neither always nor never true.
    assert np.sum((expected > 0) & (expected < 1)) >= 12


def test_geometric_static_tpose_hand_values() -> None:
    # Static T-pose: no predicate on velocity fires; by hand (see T_POSE):
    #  8: wrists 1.4 m apart along the shoulder axis > 2.5·sw = 0.977 m;
    # 15: rankle-in-front-of-(root, rhip, rtoes) plane: signed distance +0.1098 > 0.38·hl = 0.0976, while its
    #     mirror 14 gives -0.1098 (the triple product changes sign under mirroring);
    # 23, 24: upper arms at 90° to the trunk, inside (25°, 180°).
    # Straight elbows/knees (180°) and parallel trunk/thighs (0°) fall outside the open intervals.
    features = geometric_features(np.repeat(T_POSE[None], 5, axis=0))
    expected = np.zeros(32)
    expected[[8, 15, 23, 24]] = 1.0
    np.testing.assert_array_equal(features, expected)


def test_geometric_fast_predicates_use_half_frame_time() -> None:
    # 0.006 m/frame at 60 fps: "velocity" 0.006·120 = 0.72 m/s > 2.5·hl = 0.642 (wrists, ankles) and
    # > 2.3·hl = 0.591 (root), although the physical speed is 0.36 m/s (the 1/120 quirk).
    fast_predicates = [12, 13, 21, 22, 31]
    at_60 = geometric_features(translated_tpose(6, [0.006, 0.0, 0.0]), fps=60)
    np.testing.assert_array_equal(at_60[fast_predicates], 1.0)
    # Relative predicates ignore a common translation.
    np.testing.assert_array_equal(
        np.delete(at_60, fast_predicates),
        np.delete(geometric_features(T_POSE[None].repeat(6, 0)), fast_predicates),
    )
    # 0.004 m/frame: 0.48 m/s, below every threshold.
    np.testing.assert_array_equal(
        geometric_features(translated_tpose(6, [0.004, 0, 0]))[fast_predicates], 0.0
    )
    # The same physical speed sampled at 30 fps (0.012 m/frame) gives the same features.
    np.testing.assert_array_equal(geometric_features(translated_tpose(4, [0.012, 0, 0]), fps=30), at_60)


def test_geometric_moving_wrist_hand_values() -> None:
    # Right wrist rises 0.01 m/frame (frames t = 0..10, T-pose otherwise):
    # 12 fast: 0.01·120 = 1.2 > 2.5·hl = 0.642.
    # 10 move(rwrist, root, lwrist): (lwrist − rwrist) changes by (0, −0.01, 0); along root − rwrist
    #    = (0.7, −0.45 − 0.01t, 0) that is 0.01·(0.45 + 0.01t)/‖·‖·120 ∈ [0.659, 0.741] > 1.4·hl = 0.360.
    #  4 move(belly, chest, chest, rwrist) stays false: f_move ignores its 4th joint, so it measures
    #    chest − belly, which does not move (the original's quirk).
    #  9 move(lwrist, rwrist, rwrist): (0, 0.01, 0) along ≈ −x: 0.0001t/1.4·120 < 0.09; 11: negative.
    motion = np.repeat(T_POSE[None], 11, axis=0)
    motion[:, GEOMETRIC_JOINT_NAMES.index("rwrist"), 1] += 0.01 * np.arange(11)
    features = geometric_features(motion)
    np.testing.assert_array_equal(features[[10, 12]], 1.0)
    np.testing.assert_array_equal(features[[4, 5, 9, 11, 13]], 0.0)
    np.testing.assert_allclose(features, reference_geometric(motion), atol=1e-12)


def test_geometric_rejects_bad_input() -> None:
    with pytest.raises(MotionFormatError, match="24 joints"):
        geometric_features(np.zeros((10, 22, 3)))
    with pytest.raises(MotionFormatError, match="at least 2 frames"):
        geometric_features(np.zeros((1, 24, 3)))


def test_recenter_and_clip_features() -> None:
    motion = smooth_motion(3, 50)
    centred = recenter(motion)
    np.testing.assert_array_equal(centred[0, 0], 0.0)
    np.testing.assert_allclose(centred - motion, np.broadcast_to(-motion[0, 0], motion.shape), atol=1e-15)
    kinetic, geometric = clip_features(motion, max_frames=30)
    np.testing.assert_allclose(kinetic, reference_kinetic(recenter(motion[:30])), rtol=1e-9)
    np.testing.assert_allclose(geometric, reference_geometric(motion[:30]), atol=1e-12)


def test_features_are_fast_for_a_20_second_clip() -> None:
    motion = smooth_motion(4, 1200)
    kinetic_features(motion)
    start = time.perf_counter()
    kinetic_features(motion)
    geometric_features(motion)
    assert time.perf_counter() - start < 0.25


# ---------------------------------------------------------------------------------------------------------
# FID, normalisation, diversity.


def test_fid_one_dimensional_gaussians_by_hand() -> None:
    a = np.array([[1.0], [3.0]])  # mean 2, sample variance 2
    b = np.array([[0.0], [4.0], [8.0]])  # mean 4, sample variance 16
    assert fid(a, b) == pytest.approx((2 - 4) ** 2 + (np.sqrt(2) - 4) ** 2, rel=1e-12)


def test_fid_diagonal_covariances_by_hand() -> None:
    a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])  # mean (1, 2), var (4/3, 16/3), cov 0
    b = a * np.array([3.0, 0.5]) + np.array([1.0, -1.0])  # mean (4, 0), var (12, 4/3)
    expected = 9 + 4 + (np.sqrt(4 / 3) - np.sqrt(12)) ** 2 + (np.sqrt(16 / 3) - np.sqrt(4 / 3)) ** 2
    assert fid(a, b) == pytest.approx(expected, rel=1e-10)


def test_fid_identical_sets_and_singular_case() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(50, 6))
    assert abs(fid(feats, feats)) < 1e-9
    # 5 samples in 10-d: rank-deficient covariances; sqrtm goes complex, the result is a real float.
    value = fid(rng.normal(size=(5, 10)), rng.normal(size=(30, 10)))
    assert isinstance(value, float) and np.isfinite(value) and value > 0


def test_pool_check_flags_constant_features_and_small_pools() -> None:
    rng = np.random.default_rng(2)
    good = check_pool(rng.normal(size=(40, 8)))
    assert good == PoolCheck(clips=40, features=8, constant=0)
    assert good.fid_ok and good.diversity_ok and good.problem() is None
    small = check_pool(rng.normal(size=(8, 8)))  # M = D: the pool covariance has rank 7
    assert not small.fid_ok and small.diversity_ok
    assert small.problem() == "GT pool too small: 8 clips for 8 features"
    flat = rng.normal(size=(40, 8))
    flat[:, [2, 5]] = 0.25  # two features the pool never varies in
    constant = check_pool(flat)
    assert constant.constant == 2 and not constant.fid_ok and not constant.diversity_ok
    assert constant.problem() == "the GT pool is constant in 2 of 8 features"
    # Why it matters: a generated set 0.01 off in one constant feature gets an FID of ~1e12.
    gen = flat[:10].copy()
    gen[:, 2] += 0.01
    assert quantized_metrics(gen, gen[:, :4], flat, flat[:, :4])["FID_k"] > 1e11


def test_fid_matches_bailando_formula_on_random_data() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 8)), rng.normal(loc=0.3, size=(200, 8))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = a.mean(0) - b.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real
    assert fid(a, b) == pytest.approx(expected, rel=1e-10)


def test_fid_rejects_bad_input() -> None:
    with pytest.raises(A2AError, match="feature sizes differ"):
        fid(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(A2AError, match="at least 2 rows"):
        fid(np.zeros((1, 3)), np.zeros((4, 3)))


def test_normalize_features_uses_gt_population_std() -> None:
    gt = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])  # mean (2, 5); std ddof 0: (sqrt(8/3), 0)
    gen = np.array([[6.0, 5.5]])
    gen_n, gt_n = normalize_features(gen, gt)
    np.testing.assert_allclose(gen_n, [[4 / (np.sqrt(8 / 3) + 1e-10), 0.5 / 1e-10]])
    np.testing.assert_allclose(gt_n[:, 0], np.array([-2.0, 0.0, 2.0]) / np.sqrt(8 / 3), rtol=1e-9)
    np.testing.assert_array_equal(gt_n[:, 1], 0.0)


def test_diversity_by_hand() -> None:
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 5, 10, 5
    assert diversity(feats) == pytest.approx(20 / 3)
    with pytest.raises(A2AError, match="at least 2 rows"):
        diversity(np.zeros((1, 4)))


def test_quantized_metrics_combines_normalisation_fid_and_diversity() -> None:
    rng = np.random.default_rng(2)
    pred_k, gt_k = rng.normal(size=(10, 72)) * 2 + 1, rng.normal(size=(60, 72)) * 3
    pred_g, gt_g = rng.uniform(size=(10, 32)), rng.uniform(size=(60, 32))
    metrics = quantized_metrics(pred_k, pred_g, gt_k, gt_g)
    pk, gk = normalize_features(pred_k, gt_k)
    pg, gg = normalize_features(pred_g, gt_g)
    assert metrics["FID_k"] == pytest.approx(fid(pk, gk))
    assert metrics["FID_g"] == pytest.approx(fid(pg, gg))
    assert metrics["Div_k"] == pytest.approx(diversity(pk))
    assert metrics["Div_g"] == pytest.approx(diversity(pg))
    assert (metrics["n_pred"], metrics["n_gt"]) == (10, 60)
    with pytest.raises(A2AError, match="pred_geometric 9"):
        quantized_metrics(pred_k, pred_g[:9], gt_k, gt_g)


# ---------------------------------------------------------------------------------------------------------
# Beat Align Score.

FPS = 60.0


def periodic_motion(num_frames: int = 300, period: int = 30) -> np.ndarray:
    """All 24 joints move along x with speed 1.5 + cos(2πt/period) cm/frame: minima at frames 15 + 30k."""
    speed = 0.01 * (1.5 + np.cos(2 * np.pi * np.arange(num_frames) / period))
    speed[0] = 0.0  # position p[t] = Σ_{s ≤ t} speed[s], so p[t] − p[t−1] = speed[t]
    x = np.cumsum(speed)
    motion = np.repeat(T_POSE[None], num_frames, axis=0)
    motion[:, :, 0] += x[:, None]
    return motion


SPEED_MINIMA = np.arange(15, 300, 30)  # 15, 45, ..., 285


def test_motion_beats_of_both_detectors() -> None:
    motion = periodic_motion()
    np.testing.assert_allclose(motion_beats(motion, FPS, "fact"), SPEED_MINIMA / FPS)
    bailando = np.rint(motion_beats(motion, FPS, "bailando") * FPS).astype(int)
    # Bailando's index t is the step t→t+1: interior minima come one frame early; away from the edges
    # the Gaussian smoothing (σ = 5, radius 20) keeps them in place.
    interior = bailando[(bailando > 30) & (bailando < 270)]
    np.testing.assert_array_equal(interior, SPEED_MINIMA[1:-1] - 1)


def test_fact_score_is_one_when_speed_minima_hit_the_beats() -> None:
    assert beat_align_score(periodic_motion(), SPEED_MINIMA / FPS, FPS, "fact") == 1.0


def test_bailando_one_frame_offset() -> None:
    motion = periodic_motion()
    interior_beats = SPEED_MINIMA[1:-1] / FPS
    assert beat_align_score(motion, interior_beats, FPS, "bailando") == pytest.approx(
        np.exp(-1 / 18), rel=1e-12
    )
    assert beat_align_score(motion, SPEED_MINIMA / FPS, FPS, "bailando") < 0.999


def test_fact_score_formula_with_known_distances() -> None:
    music = np.array([17, 44, 80, 140, 200, 260])
    # Nearest music beat of each motion beat 15, 45, ..., 285:
    distances = np.array([2, 1, 5, 25, 5, 25, 5, 25, 5, 25])
    expected = np.mean(np.exp(-(distances**2) / (2 * 9)))
    assert beat_align_score(periodic_motion(), music / FPS, FPS, "fact") == pytest.approx(expected, rel=1e-12)


def test_bailando_score_formula_with_known_distances() -> None:
    music = np.array([47, 74, 100])  # nearest Bailando motion beats 44, 74, 104
    expected = np.mean(np.exp(-np.array([9, 0, 16]) / 18))
    assert beat_align_score(periodic_motion(), music / FPS, FPS, "bailando") == pytest.approx(
        expected, rel=1e-12
    )


def reference_bailando_ba(positions: np.ndarray, beat_onehot: np.ndarray) -> float:
    kinetic_vel = np.mean(np.sqrt(np.sum((positions[1:] - positions[:-1]) ** 2, axis=2)), axis=1)
    kinetic_vel = gaussian_filter(kinetic_vel, 5)
    dance = argrelextrema(kinetic_vel, np.less)
    music = np.arange(len(kinetic_vel))[beat_onehot[: len(kinetic_vel)].astype(bool)]
    ba = 0
    for bb in music:
        ba += np.exp(-np.min((dance[0] - bb) ** 2) / 2 / 9)
    return ba / len(music)


def reference_fact_ba(positions: np.ndarray, beat_onehot: np.ndarray) -> float:
    velocity = np.zeros_like(positions)
    velocity[1:] = positions[1:] - positions[:-1]
    envelope = np.sum(np.linalg.norm(velocity, axis=2), axis=1)
    dance = np.where(np.isin(np.arange(len(envelope)), argrelextrema(envelope, np.less, order=10)))[0]
    music = np.where(beat_onehot[: len(positions)])[0]
    scores = []
    for d in dance:
        dists = np.abs(music - d).astype(np.float64)
        scores.append(np.exp(-(dists[np.argmin(dists)] ** 2) / 2 / 9))
    return sum(scores) / len(scores)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beat_align_matches_loop_references_on_random_motion(seed: int) -> None:
    rng = np.random.default_rng(seed)
    motion = np.cumsum(rng.normal(scale=0.01, size=(400, 24, 3)), axis=0)
    onehot = np.zeros(420)
    onehot[rng.choice(420, size=25, replace=False)] = 1.0
    beats = music_beats_from_onehot(onehot, FPS)
    bailando = beat_align_score(motion, beats, FPS, "bailando")
    fact = beat_align_score(motion, beats, FPS, "fact")
    assert bailando == pytest.approx(reference_bailando_ba(motion, onehot), rel=1e-12)
    assert fact == pytest.approx(reference_fact_ba(motion, onehot), rel=1e-12)


def test_music_beats_truncated_to_the_motion_per_reference() -> None:
    # A beat on the last frame T-1 exists for FACT (track length T) but not for Bailando (length T-1).
    motion = periodic_motion()
    with pytest.raises(A2AError, match="no music beat"):
        beat_align_score(motion, [299 / FPS], FPS, "bailando")
    # Dropped, the beat at 299 does not dilute the mean: only 285 counts, 1 frame from the motion beat 284.
    assert beat_align_score(motion, [299 / FPS, 285 / FPS], FPS, "bailando") == pytest.approx(np.exp(-1 / 18))
    expected_fact = np.mean(np.exp(-((299 - SPEED_MINIMA) ** 2) / 18))
    assert beat_align_score(motion, [299 / FPS], FPS, "fact") == pytest.approx(expected_fact, rel=1e-12)


def test_beat_align_failure_modes() -> None:
    static = np.repeat(T_POSE[None], 100, axis=0)
    for direction in ("bailando", "fact"):
        assert beat_align_score(static, [0.5, 1.0], FPS, direction) == 0.0
        with pytest.raises(A2AError, match="no music beat"):
            beat_align_score(periodic_motion(), [], FPS, direction)
        with pytest.raises(A2AError, match="no music beat"):
            beat_align_score(periodic_motion(), [-1.0, 100.0], FPS, direction)
    with pytest.raises(A2AError, match="direction"):
        beat_align_score(static, [0.5], FPS, "edge")  # type: ignore[arg-type]
    with pytest.raises(A2AError, match="NaN"):
        beat_align_score(static, [np.nan], FPS)


def test_music_beats_from_onehot() -> None:
    features = np.zeros((10, 55))
    features[[2, 7], 53] = 1.0
    np.testing.assert_allclose(music_beats_from_onehot(features, 60.0, column=53), [2 / 60, 7 / 60])
    np.testing.assert_allclose(music_beats_from_onehot(features[:, 53] * 0.3, 30.0), [2 / 30, 7 / 30])
    with pytest.raises(A2AError, match="column"):
        music_beats_from_onehot(features)
    with pytest.raises(A2AError, match="out of range"):
        music_beats_from_onehot(features, column=60)


# ---------------------------------------------------------------------------------------------------------
# PFC.


def pfc_clip(root_x, root_z, left_ankle_x, left_toe_x, right_ankle_y, right_toe_y) -> np.ndarray:
    clip = np.zeros((len(root_x), 24, 3))
    clip[:, 0, 0], clip[:, 0, 2] = root_x, root_z
    clip[:, 7, 0], clip[:, 10, 0] = left_ankle_x, left_toe_x
    clip[:, 8, 1], clip[:, 11, 1] = right_ankle_y, right_toe_y
    return clip


ROOT_X = [0.0, 0.0, 1.0, 1.0, 1.0]  # a·dt² = (1, -1, 0): |a| = (900, 900, 0) at 30 fps
LEFT = ([0.0, 0.0, 0.1, 0.3, 0.3], [0.0, 0.0, 0.2, 0.3, 0.4])  # steps (0.1, 0.2, 0) and (0.2, 0.1, 0.1)
RIGHT = ([0.0, 0.3, 0.6, 1.0, 1.5], [0.0, 0.1, 0.6, 0.8, 0.9])  # steps (.3, .4, .5) and (.5, .2, .1)


def test_pfc_hand_computed_clip() -> None:
    # m_L = (0.1, 0.1, 0), m_R = (0.3, 0.2, 0.1), â = (1, 1, 0): PFC = (0.03 + 0.02 + 0) / 3.
    clip = pfc_clip(ROOT_X, np.zeros(5), *LEFT, *RIGHT)
    assert pfc(clip) == pytest.approx(0.05 / 3, rel=1e-12)
    # Falling (negative up acceleration) is clamped away and changes nothing.
    falling = pfc_clip(ROOT_X, [0.0, 0.0, 0.0, -0.1, -0.3], *LEFT, *RIGHT)
    assert pfc(falling) == pytest.approx(0.05 / 3, rel=1e-12)
    # Upward acceleration counts: a_z·dt² = (0, 0.1, -0.1) → clamped (0, 0.1, 0); the max |a| grows.
    rising = pfc_clip(ROOT_X, [0.0, 0.0, 0.0, 0.1, 0.1], *LEFT, *RIGHT)
    peak = np.hypot(1.0, 0.1)
    assert pfc(rising) == pytest.approx((0.03 / peak + 0.02 * 1.0) / 3, rel=1e-12)
    assert pfc_dataset([clip, rising]) == pytest.approx(1e4 * (0.05 / 3 + (0.03 / peak + 0.02) / 3) / 2)


def test_pfc_y_up_equals_z_up() -> None:
    clip = pfc_clip(ROOT_X, [0.0, 0.0, 0.0, 0.1, 0.1], *LEFT, *RIGHT)
    y_up = np.stack([clip[..., 0], clip[..., 2], -clip[..., 1]], axis=-1)  # z-up (x, y, z) → y-up (x, z, -y)
    assert pfc(y_up, up_axis="y") == pytest.approx(pfc(clip), rel=1e-12)


def test_pfc_matches_edge_reference_on_random_clip() -> None:
    rng = np.random.default_rng(5)
    joints = np.cumsum(rng.normal(scale=0.01, size=(150, 24, 3)), axis=0)
    dt = 1 / 30
    root_v = (joints[1:, 0] - joints[:-1, 0]) / dt
    root_a = (root_v[1:] - root_v[:-1]) / dt
    root_a[:, 2] = np.maximum(root_a[:, 2], 0)
    root_a = np.linalg.norm(root_a, axis=-1)
    root_a /= root_a.max()
    feet = joints[:, [7, 10, 8, 11]]
    foot_v = np.linalg.norm(feet[2:, :, [0, 1]] - feet[1:-1, :, [0, 1]], axis=-1)
    expected = (
        np.minimum(foot_v[:, 0], foot_v[:, 1]) * np.minimum(foot_v[:, 2], foot_v[:, 3]) * root_a
    ).mean()
    assert pfc(joints) == pytest.approx(expected, rel=1e-12)
    assert pfc(joints, fps=60.0) == pytest.approx(expected, rel=1e-12)  # fps cancels in the normalisation


def test_pfc_degenerate_clips() -> None:
    static_feet = pfc_clip(ROOT_X, np.zeros(5), np.zeros(5), np.zeros(5), *RIGHT)
    assert pfc(static_feet) == 0.0
    still_root = pfc_clip(np.zeros(5), np.zeros(5), *LEFT, *RIGHT)
    assert pfc(still_root) == 0.0  # EDGE: 0/0 = NaN
    with pytest.raises(MotionFormatError, match="at least 3 frames"):
        pfc(np.zeros((2, 24, 3)))
    with pytest.raises(MotionFormatError, match="clip 1"):
        pfc_dataset([still_root, np.zeros((4, 22, 3))])
    with pytest.raises(A2AError, match="no clips"):
        pfc_dataset([])


# ---------------------------------------------------------------------------------------------------------
# Bootstrap.


def test_bootstrap_ci_two_point_distribution() -> None:
    # Resampled means of [0, 1] take 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5 % and 97.5 %
    # quantiles are 0 and 1.
    mean, low, high = bootstrap_ci([0.0, 1.0], n_boot=4000, seed=3)
    assert (mean, low, high) == (0.5, 0.0, 1.0)
    # A narrower level cuts into the middle mass.
    assert bootstrap_ci([0.0, 1.0], n_boot=4000, seed=3, alpha=0.6)[1:] == (0.5, 0.5)


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    values = np.random.default_rng(0).normal(loc=0.23, scale=0.03, size=40)
    first = bootstrap_ci(values, seed=7)
    assert first == bootstrap_ci(values, seed=7)
    mean, low, high = first
    assert low < mean < high
    # The half-width is close to 1.96 standard errors.
    assert (high - low) / 2 == pytest.approx(1.96 * values.std(ddof=1) / np.sqrt(40), rel=0.2)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    with pytest.raises(A2AError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(A2AError, match="alpha"):
        bootstrap_ci([1.0], alpha=1.5)
