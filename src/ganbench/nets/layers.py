"""Normalisation helpers shared by the networks."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMS = ("batch", "spectral", "layer", "none")


def check_norm(norm: str, where: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"{where}: unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    return norm


def feature_norm(norm: str, channels: int) -> nn.Module:
    """Return the normalisation that follows a convolution: BatchNorm, LayerNorm over (C, H, W), or identity.

    ``layer`` uses ``GroupNorm(1, C)``, which normalises each sample over all
    its channels and pixels and so, unlike BatchNorm, keeps samples independent.
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def feature_norm_1d(norm: str, features: int) -> nn.Module:
    """Like :func:`feature_norm`, for ``(N, F)`` activations of an MLP."""
    if norm == "batch":
        return nn.BatchNorm1d(features)
    if norm == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()


def weight_norm(module: nn.Module, norm: str) -> nn.Module:
    """Wrap ``module`` in spectral normalisation when ``norm == 'spectral'``."""
    return spectral_norm(module) if norm == "spectral" else module


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class MappingNetwork(nn.Module):
    """StyleGAN-style MLP from z to w: ``layers`` x (Linear, LeakyReLU(0.2)).

    Input and output shape ``(N, latent_dim)``. ``z`` is normalised to unit
    second moment first, as StyleGAN does, so edits in W start from codes of
    comparable scale.
    """

    def __init__(self, latent_dim: int, layers: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for _ in range(layers):
            blocks += [nn.Linear(latent_dim, latent_dim), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks)

    def forward(self, z):
        z = z * (z.pow(2).mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        return self.net(z)
