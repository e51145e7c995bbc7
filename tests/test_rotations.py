"""Rotation conversions: round trips, agreement with scipy, differentiability, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from a2a.errors import A2AError
from a2a.motion import rotations as R

finite = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
axis_angles = arrays(np.float64, (8, 3), elements=finite)
quats = arrays(np.float64, (8, 4), elements=st.floats(-1, 1)).filter(
    lambda q: bool((np.linalg.norm(q, axis=-1) > 0.1).all())
)


def _scipy_quat_wxyz(q_wxyz: np.ndarray) -> Rotation:
    return Rotation.from_quat(q_wxyz[..., [1, 2, 3, 0]])


@settings(max_examples=60, deadline=None)
@given(axis_angles)
def test_axis_angle_matrix_matches_scipy_and_round_trips(aa):
    m = R.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(m, Rotation.from_rotvec(aa).as_matrix(), atol=1e-10)
    np.testing.assert_allclose(R.axis_angle_to_matrix(R.matrix_to_axis_angle(m)), m, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(quats)
def test_quaternion_matrix_matches_scipy_and_round_trips(q):
    m = R.quaternion_to_matrix(q)
    np.testing.assert_allclose(m, _scipy_quat_wxyz(q).as_matrix(), atol=1e-10)
    back = R.matrix_to_quaternion(m)
    assert (back[:, 0] >= 0).all()
    unit = R.standardize_quaternion(q)
    np.testing.assert_allclose(np.abs((back * unit).sum(-1)), 1.0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(axis_angles, st.sampled_from(R.EULER_ORDERS))
def test_euler_every_order_matches_scipy_intrinsic(aa, order):
    m = R.axis_angle_to_matrix(aa)
    angles = R.matrix_to_euler(m, order)
    np.testing.assert_allclose(R.euler_to_matrix(angles, order), m, atol=1e-9)
    np.testing.assert_allclose(
        R.euler_to_matrix(angles, order), Rotation.from_euler(order, angles).as_matrix(), atol=1e-10
    )
    # Away from gimbal lock the angles themselves are unique and equal scipy's.
    middle_ok = np.abs(np.cos(angles[:, 1])) > 1e-3
    diff = angles[middle_ok] - Rotation.from_matrix(m[middle_ok]).as_euler(order)
    np.testing.assert_allclose(np.angle(np.exp(1j * diff)), 0.0, atol=1e-7)  # equal modulo 2π (±π)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
def test_euler_gimbal_lock_still_reproduces_matrix(order):
    angles = np.array([[0.3, np.pi / 2, -0.2], [1.0, -np.pi / 2, 0.5]])
    m = R.euler_to_matrix(angles, order)
    np.testing.assert_allclose(R.euler_to_matrix(R.matrix_to_euler(m, order), order), m, atol=1e-7)


def test_euler_hand_computed_zyx():
    # R = Rz(90°) @ Ry(0) @ Rx(90°): x-axis → y-axis; z-axis → Rz(Rx z) = Rz(-y) = x.
    m = R.euler_to_matrix(np.radians([[90.0, 0.0, 90.0]]), "ZYX")[0]
    np.testing.assert_allclose(m @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(m @ [0, 0, 1], [1, 0, 0], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(axis_angles)
def test_6d_round_trip_and_layout(aa):
    m = R.axis_angle_to_matrix(aa)
    d6 = R.matrix_to_rotation_6d(m)
    np.testing.assert_allclose(d6, m[:, :2, :].reshape(-1, 6))  # first two rows, as EDGE/pytorch3d
    np.testing.assert_allclose(R.rotation_6d_to_matrix(d6), m, atol=1e-10)


def test_6d_gram_schmidt_projects_noisy_input_to_rotation():
    rng = np.random.default_rng(0)
    m = R.rotation_6d_to_matrix(rng.normal(size=(16, 6)))
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)


def test_quaternion_ops_match_matrices():
    rng = np.random.default_rng(1)
    a, b = R.axis_angle_to_quaternion(rng.normal(size=(2, 5, 3)))
    v = rng.normal(size=(5, 3))
    np.testing.assert_allclose(
        R.quaternion_to_matrix(R.quaternion_multiply(a, b)),
        R.quaternion_to_matrix(a) @ R.quaternion_to_matrix(b),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        R.quaternion_apply(a, v), (R.quaternion_to_matrix(a) @ v[..., None])[..., 0], atol=1e-12
    )


def test_slerp_endpoints_and_midpoint():
    q0 = R.axis_angle_to_quaternion(np.zeros((1, 3)))
    q1 = R.axis_angle_to_quaternion(np.array([[0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(R.quaternion_slerp(q0, q1, 0.0), q0, atol=1e-12)
    np.testing.assert_allclose(R.quaternion_slerp(q0, q1, 1.0), q1, atol=1e-12)
    mid = R.quaternion_to_axis_angle(R.quaternion_slerp(q0, q1, 0.5))
    np.testing.assert_allclose(mid, [[0.0, 0.0, 0.5]], atol=1e-12)


def test_zero_and_pi_rotations_are_exact():
    zero = R.axis_angle_to_matrix(np.zeros((1, 3)))
    np.testing.assert_allclose(zero[0], np.eye(3), atol=1e-15)
    pi = np.array([[np.pi, 0.0, 0.0], [0.0, 0.0, -np.pi]])
    back = R.matrix_to_axis_angle(R.axis_angle_to_matrix(pi))
    np.testing.assert_allclose(R.axis_angle_to_matrix(back), R.axis_angle_to_matrix(pi), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(back, axis=-1), np.pi, atol=1e-12)


def test_torch_batched_and_differentiable():
    aa = torch.randn(4, 24, 3, dtype=torch.float64, requires_grad=True)
    aa_zero = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(R.axis_angle_to_matrix, (aa[:1, :3],))
    assert torch.autograd.gradcheck(
        lambda m: R.matrix_to_euler(m, "ZYX"), (R.axis_angle_to_matrix(aa[0, :4]),)
    )
    R.axis_angle_to_matrix(aa_zero).sum().backward()
    assert torch.isfinite(aa_zero.grad).all()
    assert R.rotation_6d_to_matrix(torch.randn(3, 7, 6)).shape == (3, 7, 3, 3)


def test_float32_tensors_keep_dtype():
    out = R.axis_angle_to_matrix(torch.randn(5, 3))
    assert out.dtype == torch.float32


@pytest.mark.parametrize("order", ["xyz", "XYX", "ABC", "", "XYZW", None])
def test_unknown_rotation_order_is_a_clear_error(order):
    with pytest.raises(A2AError, match="unknown rotation order"):
        R.euler_to_matrix(np.zeros((1, 3)), order)


def test_wrong_shapes_are_clear_errors():
    with pytest.raises(A2AError, match="last dimension 3"):
        R.axis_angle_to_matrix(np.zeros((2, 4)))
    with pytest.raises(A2AError, match=r"\[\.\.\., 3, 3\]"):
        R.matrix_to_quaternion(np.zeros((2, 3, 4)))
    with pytest.raises(A2AError, match="last dimension 6"):
        R.rotation_6d_to_matrix(np.zeros((2, 5)))
