"""Adversarial losses as pure functions of discriminator logits.

Every discriminator in ganbench returns raw logits of shape ``(N,)``; the loss
applies the link function. Each loss is a pair: ``*_d_loss(real_logits,
fake_logits, real_target=1.0)`` for the discriminator and ``*_g_loss(fake_logits,
real_logits)`` for the generator. All return a scalar tensor (mean over the
batch). ``real_target`` below 1.0 is one-sided label smoothing; only the
sigmoid cross-entropy losses accept it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _reject_smoothing(name: str, real_target: float) -> None:
    if real_target != 1.0:
        raise ValueError(
            f"{name} has no probability target, so label smoothing ({real_target}) "
            "does not apply; use loss=nonsaturating or loss=minimax, or set label_smoothing=1.0"
        )


def bce_d_loss(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Discriminator loss of the minimax and non-saturating GAN.

    Sigmoid cross-entropy with target ``real_target`` on real logits and 0 on
    fake logits: ``BCE(D(x), t) + BCE(D(G(z)), 0)``. Shapes ``(N,)`` -> scalar.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def minimax_g_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Generator loss of the original minimax GAN: ``mean log(1 - sigmoid(D(G(z))))``.

    Uses ``log(1 - sigmoid(l)) = -softplus(l)``; saturates when D rejects fakes.
    """
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Non-saturating generator loss: ``-mean log sigmoid(D(G(z))) = mean softplus(-l)``."""
    return F.softplus(-fake_logits).mean()


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Hinge discriminator loss: ``mean relu(1 - D(x)) + mean relu(1 + D(G(z)))``."""
    _reject_smoothing("loss=hinge", real_target)
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Hinge generator loss: ``-mean D(G(z))``."""
    return -fake_logits.mean()


def wasserstein_d_loss(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Wasserstein critic loss: ``mean D(G(z)) - mean D(x)`` (the critic output is unbounded)."""
    _reject_smoothing("loss=wasserstein", real_target)
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Wasserstein generator loss: ``-mean D(G(z))``."""
    return -fake_logits.mean()


def relativistic_d_loss(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """Relativistic pairing discriminator loss (RpGAN, used by R3GAN).

    ``mean softplus(-(D(x_i) - D(G(z_i))))``: each real sample is paired with
    the fake sample at the same batch index, so both batches must have size N.
    """
    _reject_smoothing("loss=relativistic", real_target)
    if real_logits.shape != fake_logits.shape:
        raise ValueError(
            f"relativistic loss pairs real and fake logits, got shapes {tuple(real_logits.shape)} "
            f"and {tuple(fake_logits.shape)}"
        )
    return F.softplus(-(real_logits - fake_logits)).mean()


def relativistic_g_loss(fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
    """Relativistic pairing generator loss: ``mean softplus(-(D(G(z_i)) - D(x_i)))``.

    Needs the real logits; the loss config sets ``g_needs_real: true``.
    """
    if real_logits is None:
        raise ValueError("relativistic_g_loss needs real_logits; set g_needs_real: true in the loss config")
    return F.softplus(-(fake_logits - real_logits)).mean()
