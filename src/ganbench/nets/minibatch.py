"""Minibatch discrimination (Salimans et al., 2016, "Improved Techniques for Training GANs", section 3.2)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError


class MinibatchDiscrimination(nn.Module):
    """Append to each sample's features how close it is to the other samples of its batch.

    A learned tensor T maps features ``f (N, in_features)`` to ``M (N, kernels,
    kernel_dim)``. For kernel b, sample i gets ``o_b(i) = sum over j != i of
    exp(-||M_i,b - M_j,b||_1)``. A batch of identical samples therefore gets
    ``N - 1`` in every kernel, and a lone sample gets 0. Salimans et al. sum
    over all j; leaving out j = i only removes the constant exp(0) = 1.

    Args:
        in_features: size of the features the layer reads.
        kernels: number of kernels B (the paper's B), the number of appended features.
        kernel_dim: size C of each kernel's projection.

    Shapes:
        input ``(N, in_features)``, output ``(N, in_features + kernels)``.
    """

    def __init__(self, in_features: int, kernels: int = 5, kernel_dim: int = 3) -> None:
        super().__init__()
        if kernels < 1:
            raise ConfigError(f"minibatch_kernels={kernels} is invalid: give a positive number of kernels, or 0 for none")
        if kernel_dim < 1:
            raise ConfigError(f"minibatch_kernel_dim={kernel_dim} is invalid: it must be >= 1")
        self.in_features = in_features
        self.kernels = kernels
        self.kernel_dim = kernel_dim
        # The paper's tensor T, stored as a (in_features, kernels * kernel_dim) matrix.
        self.projection = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.05)

    @property
    def out_features(self) -> int:
        return self.in_features + self.kernels

    def similarity(self, features: Tensor) -> Tensor:
        """Return the appended features ``o (N, kernels)``."""
        m = (features @ self.projection).reshape(-1, self.kernels, self.kernel_dim).transpose(0, 1)
        # (B, N, C) -> L1 distances between the samples, per kernel: (B, N, N).
        l1 = torch.cdist(m, m, p=1)
        return (torch.exp(-l1).sum(dim=2) - 1.0).transpose(0, 1)

    def forward(self, features: Tensor) -> Tensor:
        if features.ndim != 2 or features.shape[1] != self.in_features:
            raise ValueError(
                f"minibatch discrimination expects features (N, {self.in_features}), got {tuple(features.shape)}"
            )
        return torch.cat([features, self.similarity(features)], dim=1)
