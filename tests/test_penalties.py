import pytest
import torch

from ganbench import penalties
from ganbench.penalties import _input_gradients


def pixel_sum(x):
    """Linear critic f(x) = sum of pixels: its gradient is all ones."""
    return x.flatten(1).sum(dim=1)


def test_wgan_gp_linear_critic_norm4_penalty9():
    real = torch.randn(3, 1, 4, 4)
    fake = torch.randn(3, 1, 4, 4)
    norms = _input_gradients(pixel_sum, real).norm(dim=1)
    assert norms.tolist() == pytest.approx([4.0, 4.0, 4.0], abs=1e-6)
    # (||grad|| - 1)^2 = (4 - 1)^2 = 9 for every interpolate, so the mean is 9 with weight 1.
    assert penalties.wgan_gp(pixel_sum, real, fake).item() == pytest.approx(9.0, abs=1e-5)


def test_wgan_gp_is_per_sample_not_per_batch():
    # A critic whose gradient norm is 1 per sample has zero penalty; a batch-level norm would be sqrt(3).
    critic = lambda x: x.flatten(1)[:, 0]  # noqa: E731
    real, fake = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    assert penalties.wgan_gp(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_wgan_gp_shape_mismatch_is_error():
    with pytest.raises(ValueError, match="one shape"):
        penalties.wgan_gp(pixel_sum, torch.zeros(3, 1, 4, 4), torch.zeros(2, 1, 4, 4))


def test_r1_r2_linear_critic():
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x @ w  # noqa: E731
    x = torch.randn(5, 2)
    assert penalties.r1(critic, x).item() == pytest.approx(12.5, abs=1e-5)
    assert penalties.r2(critic, None, x).item() == pytest.approx(12.5, abs=1e-5)
    assert penalties.r1r2(critic, x, x).item() == pytest.approx(25.0, abs=1e-5)


def test_penalty_differentiable_wrt_critic_weights():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    penalty = 10.0 * penalties.r1(lambda x: x @ w, torch.randn(4, 2))
    (grad,) = torch.autograd.grad(penalty, w)
    assert grad.tolist() == pytest.approx([30.0, 40.0], abs=1e-4)


def test_penalty_in_float32_for_half_inputs():
    x = torch.randn(3, 1, 4, 4).to(torch.bfloat16)
    value = penalties.wgan_gp(pixel_sum, x, x)
    assert value.dtype == torch.float32
