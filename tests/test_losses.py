"""The motion losses (EDGE's four terms, DSG's SmoothL1) against hand-computed values."""

import pytest
import torch

from a2a.errors import A2AError
from a2a.losses import EdgeMotionLoss, SmoothL1MotionLoss
from a2a.motion.normalizer import MinMaxNormalizer
from a2a.motion.representation import EdgeRepresentation

REP = EdgeRepresentation()


def _clip(batch=2, frames=10, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, frames, 151, generator=g, dtype=torch.float64) * 0.2 - 0.1
    identity_6d = torch.tensor([1.0, 0, 0, 0, 1, 0], dtype=torch.float64)
    x[..., 7:] += identity_6d.repeat(24)  # near-rest rotations
    x[..., :4] = 0.0  # no contacts
    return x


def test_identical_clips_give_zero_loss():
    x = _clip()
    terms = EdgeMotionLoss(REP)(x, x.clone())
    assert all(float(v) == 0.0 for v in terms.values())


def test_contact_channel_error_counts_only_in_simple():
    target = _clip()
    pred = target.clone()
    pred[..., 0] += 0.5  # left-ankle contact 0.5 (below the 0.95 threshold), nothing else changes
    terms = EdgeMotionLoss(REP)(pred, target)
    assert float(terms["simple"]) == pytest.approx(0.25 / 151)
    assert float(terms["velocity"]) == 0.0 and float(terms["fk"]) == 0.0 and float(terms["foot"]) == 0.0


def test_velocity_of_a_root_ramp():
    target = _clip(frames=6)
    pred = target.clone()
    pred[..., 4] += 0.1 * torch.arange(6, dtype=torch.float64)  # root x drifts 0.1 per frame
    terms = EdgeMotionLoss(REP)(pred, target)
    assert float(terms["velocity"]) == pytest.approx(0.01 / 147)  # 147 non-contact channels
    # FK: every joint shifts with the root, so each of 24 joints' x differs by 0.1·t.
    expected_fk = (0.01 * torch.arange(6.0) ** 2).mean() / 3
    assert float(terms["fk"]) == pytest.approx(float(expected_fk))


def test_foot_loss_only_where_predicted_contact():
    target = _clip(frames=5)
    pred = target.clone()
    pred[:, :, 4:] = pred[:, :1, 4:]  # a still pose ...
    pred[..., 4] = 0.02 * torch.arange(5, dtype=torch.float64)  # ... sliding 2 cm per frame in x
    loss = EdgeMotionLoss(REP)
    no_contact = loss(pred, target)["foot"]
    pred[..., :4] = 1.0  # all four feet claim contact while sliding
    with_contact = loss(pred, target)["foot"]
    assert float(no_contact) == 0.0
    # Each foot moves (0.02, 0, 0) between frames: 0.02²/3 per entry, averaged over T = 5 frames of which
    # the last has no displacement (EDGE's convention).
    assert float(with_contact) == pytest.approx(0.02**2 / 3 * 4 / 5)


def test_total_is_the_weighted_sum():
    target, pred = _clip(seed=0), _clip(seed=1)
    loss = EdgeMotionLoss(REP, simple=1.0, velocity=2.0, fk=3.0, foot=4.0)
    terms = loss(pred, target)
    expected = terms["simple"] + 2 * terms["velocity"] + 3 * terms["fk"] + 4 * terms["foot"]
    torch.testing.assert_close(terms["total"], expected)


def test_fk_in_data_units_needs_the_normaliser():
    target, pred = _clip(seed=0), _clip(seed=1)
    loss = EdgeMotionLoss(REP, fk_on_normalized=False)
    with pytest.raises(A2AError, match="needs the normalizer"):
        loss(pred, target)
    normalizer = MinMaxNormalizer().fit(torch.cat([target, pred]).reshape(-1, 151))
    terms = loss(normalizer.normalize(pred), normalizer.normalize(target), normalizer)
    direct = EdgeMotionLoss(REP)(pred, target)
    torch.testing.assert_close(terms["fk"], direct["fk"])


def test_bad_weights_and_shapes():
    with pytest.raises(A2AError, match="model.loss.foot"):
        EdgeMotionLoss(REP, foot=-1.0)
    with pytest.raises(A2AError, match="differ in shape"):
        EdgeMotionLoss(REP)(_clip(frames=5), _clip(frames=6))


# ------------------------------------------------------------------------------ DSG: SmoothL1, β = 1


def test_smooth_l1_is_the_mean_huber_over_every_element():
    target = torch.zeros(1, 2, 3, dtype=torch.float64)
    # differences 0.5, −0.2, 2, −3, 0, 1 → 0.125, 0.02, 1.5, 2.5, 0, 0.5 (0.5·d² below 1, |d| − 0.5 above)
    pred = torch.tensor([[[0.5, -0.2, 2.0], [-3.0, 0.0, 1.0]]], dtype=torch.float64)
    terms = SmoothL1MotionLoss()(pred, target)
    assert set(terms) == {"simple", "total"}
    assert float(terms["simple"]) == pytest.approx((0.125 + 0.02 + 1.5 + 2.5 + 0.0 + 0.5) / 6)
    assert terms["total"] is terms["simple"]


def test_smooth_l1_counts_every_frame_and_uses_output_and_target():
    x0 = torch.zeros(2, 4, 1)
    x0_hat = torch.zeros(2, 4, 1)
    x0_hat[0, 0, 0] = 4.0  # a seed frame counts like any other: (4 − 0.5) / 8 elements
    assert float(SmoothL1MotionLoss()(x0_hat, x0)["total"]) == pytest.approx(3.5 / 8)
    # ε-prediction: the reconstruction compares the raw output with its target instead
    output, target = torch.full((2, 4, 1), 0.2), torch.zeros(2, 4, 1)
    loss = SmoothL1MotionLoss()(x0_hat, x0, output=output, target=target)
    assert float(loss["simple"]) == pytest.approx(0.5 * 0.2**2)
    # another beta: quadratic below 2 (0.5·d²/β), linear above (|d| − β/2)
    two = SmoothL1MotionLoss(beta=2.0)(x0_hat, x0)
    assert float(two["total"]) == pytest.approx((4.0 - 1.0) / 8)


def test_smooth_l1_refuses_bad_settings_and_shapes():
    with pytest.raises(A2AError, match=r"model.loss.beta must be a positive number, got 0"):
        SmoothL1MotionLoss(beta=0)
    with pytest.raises(A2AError, match=r"prediction \(1, 2, 3\) and target \(1, 2, 4\) differ in shape"):
        SmoothL1MotionLoss()(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4))
    assert SmoothL1MotionLoss(representation=REP).beta == 1.0  # built like every loss config
