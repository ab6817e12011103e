"""Relativistic pairing loss at known logits, R1/R2 on a linear critic, and their configs."""

import math

import pytest
import torch

from ganbench import losses, penalties
from ganbench.config import validate
from ganbench.errors import ConfigError

LN2 = math.log(2.0)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_relativistic_equal_logits_is_ln2():
    logits = torch.tensor([0.5, -1.0, 3.0])
    assert losses.relativistic_d_loss(logits, logits.clone()).item() == pytest.approx(LN2)
    assert losses.relativistic_g_loss(logits, logits.clone()).item() == pytest.approx(LN2)


def test_relativistic_d_loss_known_logits():
    real = torch.tensor([2.0, 0.0])
    fake = torch.tensor([0.0, 1.0])
    # Pairs (2, 0) and (0, 1): mean of softplus(-(2 - 0)) and softplus(-(0 - 1)).
    expected = (softplus(-2.0) + softplus(1.0)) / 2
    assert losses.relativistic_d_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_relativistic_g_loss_known_logits():
    real = torch.tensor([2.0, 0.0])
    fake = torch.tensor([0.0, 1.0])
    # The generator wants each fake logit above its paired real logit: softplus(-(f - r)).
    expected = (softplus(2.0) + softplus(-1.0)) / 2
    assert losses.relativistic_g_loss(fake, real).item() == pytest.approx(expected, rel=1e-6)


def test_relativistic_pairs_by_index():
    real = torch.tensor([2.0, 0.0])
    fake = torch.tensor([0.0, 1.0])
    swapped = losses.relativistic_d_loss(real, fake.flip(0)).item()
    # Pairs (2, 1) and (0, 0) give a different value than (2, 0) and (0, 1).
    assert swapped == pytest.approx((softplus(-1.0) + LN2) / 2, rel=1e-6)
    assert swapped != pytest.approx(losses.relativistic_d_loss(real, fake).item())


def test_relativistic_d_loss_gradient():
    real = torch.tensor([2.0, 0.0], requires_grad=True)
    fake = torch.tensor([0.0, 1.0], requires_grad=True)
    losses.relativistic_d_loss(real, fake).backward()
    # d/dr softplus(-(r - f)) / N = -sigmoid(-(r - f)) / N, and the fake gradient is its negative.
    expected = [-torch.sigmoid(torch.tensor(-2.0)).item() / 2, -torch.sigmoid(torch.tensor(1.0)).item() / 2]
    assert real.grad.tolist() == pytest.approx(expected, rel=1e-6)
    assert fake.grad.tolist() == pytest.approx([-value for value in expected], rel=1e-6)


def test_relativistic_shape_mismatch_is_error():
    with pytest.raises(ValueError, match=r"got shapes \(3,\) and \(2,\)"):
        losses.relativistic_d_loss(torch.zeros(3), torch.zeros(2))


def test_relativistic_g_loss_needs_real():
    with pytest.raises(ValueError, match="needs real_logits"):
        losses.relativistic_g_loss(torch.zeros(3), None)


def test_relativistic_rejects_label_smoothing():
    with pytest.raises(ValueError, match="label smoothing"):
        losses.relativistic_d_loss(torch.zeros(2), torch.zeros(2), real_target=0.9)


# R1 / R2 on the linear critic f(x) = w . x with w = (3, 4): grad_x f = w, ||w||^2 = 25.
def linear_critic(w: torch.Tensor):
    return lambda x: x @ w


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_r1_r2_gamma10_is_125(name):
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    x = torch.randn(5, 2)
    gamma = 10.0
    value = penalties.r1(linear_critic(w), x) if name == "r1" else penalties.r2(linear_critic(w), None, x)
    weighted = gamma * value
    # gamma * 0.5 * ||w||^2 = 10 * 0.5 * 25.
    assert weighted.item() == pytest.approx(125.0, rel=1e-6)
    weighted.backward()
    # d/dw (gamma / 2 * ||w||^2) = gamma * w.
    assert w.grad.tolist() == pytest.approx([30.0, 40.0], rel=1e-6)


def test_r1r2_gamma10_is_250():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    weighted = 10.0 * penalties.r1r2(linear_critic(w), real, fake)
    assert weighted.item() == pytest.approx(250.0, rel=1e-6)
    weighted.backward()
    assert w.grad.tolist() == pytest.approx([60.0, 80.0], rel=1e-6)


# Configs.
def test_relativistic_config(compose_cfg):
    cfg = compose_cfg(["loss=relativistic", "penalty=r1r2", "model.discriminator.norm=none"])
    assert cfg.loss.name == "relativistic"
    assert cfg.loss.g_needs_real is True
    assert cfg.loss.smoothable is False
    assert cfg.loss.d_loss._target_ == "ganbench.losses.relativistic_d_loss"
    assert cfg.loss.g_loss._target_ == "ganbench.losses.relativistic_g_loss"
    assert cfg.penalty.name == "r1r2"
    assert cfg.penalty.fn._target_ == "ganbench.penalties.r1r2"
    assert cfg.penalty.weight == 10.0
    validate(cfg)


def test_relativistic_config_rejects_smoothing(compose_cfg):
    cfg = compose_cfg(["loss=relativistic", "label_smoothing=0.9"])
    with pytest.raises(ConfigError, match="label_smoothing=0.9 does not apply to loss=relativistic"):
        validate(cfg)


def test_r1r2_config_rejects_batchnorm_d(compose_cfg):
    cfg = compose_cfg(["loss=relativistic", "penalty=r1r2"])
    with pytest.raises(ConfigError, match="model.discriminator.norm=layer"):
        validate(cfg)
