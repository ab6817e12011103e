import math

import pytest
import torch

from ganbench import losses

LN2 = math.log(2.0)


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_nonsaturating_d_loss_real_logit_zero_is_ln2():
    # The fake term vanishes for a very negative fake logit: softplus(-100) ~ 4e-44.
    loss = losses.bce_d_loss(t(0.0), t(-100.0))
    assert loss.item() == pytest.approx(LN2, abs=1e-12)


def test_bce_d_loss_both_logits_zero_is_2ln2():
    assert losses.bce_d_loss(t(0.0, 0.0), t(0.0, 0.0)).item() == pytest.approx(2 * LN2, abs=1e-12)


def test_generator_losses_at_logit_zero():
    assert losses.nonsaturating_g_loss(t(0.0)).item() == pytest.approx(LN2, abs=1e-12)
    assert losses.minimax_g_loss(t(0.0)).item() == pytest.approx(-LN2, abs=1e-12)


def test_minimax_g_loss_is_log_one_minus_sigmoid():
    logits = t(-2.0, 0.5, 3.0)
    expected = torch.log(1 - torch.sigmoid(logits)).mean()
    assert losses.minimax_g_loss(logits).item() == pytest.approx(expected.item(), abs=1e-12)


def test_hinge_losses_at_known_logits():
    # relu(1 - 0.5) + relu(1 + (-0.25)) = 0.5 + 0.75
    assert losses.hinge_d_loss(t(0.5), t(-0.25)).item() == pytest.approx(1.25, abs=1e-12)
    # Both margins satisfied: zero loss.
    assert losses.hinge_d_loss(t(2.0), t(-2.0)).item() == 0.0
    assert losses.hinge_g_loss(t(1.0, 3.0)).item() == pytest.approx(-2.0, abs=1e-12)


def test_wasserstein_losses_at_known_logits():
    # mean fake (0) - mean real (2)
    assert losses.wasserstein_d_loss(t(1.0, 3.0), t(0.5, -0.5)).item() == pytest.approx(-2.0, abs=1e-12)
    assert losses.wasserstein_g_loss(t(0.5, -0.5, 3.0)).item() == pytest.approx(-1.0, abs=1e-12)


def test_label_smoothing_changes_only_real_term():
    real = t(2.0, -1.0, 0.5)
    # BCE(x, t) = softplus(x) - t * x, so target 0.9 instead of 1 adds 0.1 * mean(real logits),
    # whatever the fake logits are: the fake target stays 0.
    for fake in (t(0.0, 0.0, 0.0), t(-3.0, 4.0, 1.0)):
        smoothed = losses.bce_d_loss(real, fake, real_target=0.9)
        plain = losses.bce_d_loss(real, fake, real_target=1.0)
        assert (smoothed - plain).item() == pytest.approx(0.1 * real.mean().item(), abs=1e-12)


def test_label_smoothing_fake_term_target_zero():
    fake = t(1.5)
    real = t(100.0)  # real term ~ 0 at target 1
    expected = torch.nn.functional.softplus(fake).item()
    assert losses.bce_d_loss(real, fake, real_target=1.0).item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("loss", [losses.hinge_d_loss, losses.wasserstein_d_loss, losses.relativistic_d_loss])
def test_label_smoothing_rejected_without_probability_target(loss):
    with pytest.raises(ValueError, match="label smoothing"):
        loss(t(0.0), t(0.0), real_target=0.9)
