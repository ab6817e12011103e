"""Gradient penalties as pure functions.

Each penalty takes ``critic``, a callable from discriminator input ``(N, ...)``
to logits ``(N,)``, and returns the unweighted penalty as a scalar. The module
multiplies it by ``penalty.weight``. Gradients are taken with
``create_graph=True`` so the penalty itself can be differentiated, per sample
over all non-batch dimensions, and in float32 with autocast disabled so mixed
precision does not round them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Critic = Callable[[Tensor], Tensor]


def _input_gradients(critic: Critic, inputs: Tensor) -> Tensor:
    """Return d critic(x).sum() / dx for float32 ``inputs``, shape ``(N, D)`` flattened."""
    x = inputs.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        out = critic(x).float()
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(grad.shape[0], -1)


def wgan_gp(critic: Critic, real: Tensor, fake: Tensor, center: float = 1.0) -> Tensor:
    """WGAN-GP penalty: ``mean_i (||grad D(x_hat_i)||_2 - center)^2``.

    ``x_hat = a * real + (1 - a) * fake`` with ``a ~ U(0, 1)`` drawn per sample.
    ``real`` and ``fake`` have the same shape ``(N, ...)``.
    """
    if real.shape != fake.shape:
        raise ValueError(f"wgan_gp needs real and fake of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, device=real.device, dtype=torch.float32)
    interpolates = alpha * real.detach().float() + (1.0 - alpha) * fake.detach().float()
    norms = _input_gradients(critic, interpolates).norm(2, dim=1)
    return ((norms - center) ** 2).mean()


def r1(critic: Critic, real: Tensor, fake: Tensor | None = None) -> Tensor:
    """R1 penalty on real data: ``0.5 * mean_i ||grad D(x_i)||^2``.

    With ``penalty.weight = gamma`` the added term is ``gamma / 2 * E||grad||^2``,
    the weighting of Mescheder et al. (2018).
    """
    return 0.5 * _input_gradients(critic, real).pow(2).sum(dim=1).mean()


def r2(critic: Critic, real: Tensor | None, fake: Tensor) -> Tensor:
    """R2 penalty on generated data: ``0.5 * mean_i ||grad D(G(z_i))||^2``."""
    return 0.5 * _input_gradients(critic, fake).pow(2).sum(dim=1).mean()


def r1r2(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """Sum of R1 and R2, as R3GAN regularises its relativistic loss."""
    return r1(critic, real) + r2(critic, None, fake)
