"""MLP generator and discriminator for low-dimensional data such as the 2-D toy mixtures."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from ganbench.errors import ConfigError
from ganbench.nets.layers import check_norm, feature_norm_1d, weight_norm
from ganbench.nets.minibatch import MinibatchDiscrimination

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
}


def hidden_layers(in_features: int, width: int, depth: int, activation: str, norm: str, where: str) -> nn.Sequential:
    """Build ``depth`` blocks of Linear -> normalisation -> activation, ``in_features`` -> ``width``.

    ``norm`` is ``batch``, ``layer``, ``spectral`` (wraps each Linear) or ``none``.
    """
    check_norm(norm, f"{where}.norm")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"{where}.activation={activation!r} is unknown; use one of {', '.join(ACTIVATIONS)}")
    if depth < 1:
        raise ConfigError(f"{where}.depth={depth} is invalid: an MLP needs at least 1 hidden layer")
    if width < 1:
        raise ConfigError(f"{where}.width={width} is invalid: it must be >= 1")
    layers: list[nn.Module] = []
    features = in_features
    for _ in range(depth):
        layers += [
            weight_norm(nn.Linear(features, width, bias=norm != "batch"), norm),
            feature_norm_1d(norm, width),
            ACTIVATIONS[activation](),
        ]
        features = width
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """Map z ``(N, latent_dim)`` to points ``(N, dim)``.

    The output layer is linear with no squashing, so the points can cover data
    outside [-1, 1] (the 25-mode grid spans [-4, 4]).

    Args:
        latent_dim: size of z.
        dim: size of a data point; set from the dataset.
        width: units per hidden layer.
        depth: number of hidden layers.
        activation: ``relu``, ``leaky_relu``, ``elu`` or ``tanh``.
        norm: ``batch``, ``layer``, ``spectral`` or ``none``.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        dim: int = 2,
        width: int = 128,
        depth: int = 2,
        activation: str = "relu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ConfigError(f"model.latent_dim={latent_dim} is invalid: it must be >= 1")
        self.latent_dim = latent_dim
        self.dim = dim
        self.num_classes = 0
        self.body = hidden_layers(latent_dim, width, depth, activation, norm, "model.generator")
        self.head = weight_norm(nn.Linear(width, dim), norm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.body(z))


class MLPDiscriminator(nn.Module):
    """Map points ``(N, dim)`` to logits ``(N,)``; no sigmoid, the loss applies the link function.

    Args:
        dim: input size (the dataset's, times ``pack`` under PacGAN); set by the runner.
        width: units per hidden layer.
        depth: number of hidden layers.
        activation: ``relu``, ``leaky_relu``, ``elu`` or ``tanh``.
        norm: ``batch``, ``layer``, ``spectral`` or ``none``; gradient penalties need a norm other than ``batch``.
        minibatch_kernels: kernels of a minibatch-discrimination layer before
            the output layer; 0 = no such layer.
        minibatch_kernel_dim: size of each kernel's projection.
    """

    def __init__(
        self,
        dim: int = 2,
        width: int = 128,
        depth: int = 2,
        activation: str = "leaky_relu",
        norm: str = "none",
        minibatch_kernels: int = 0,
        minibatch_kernel_dim: int = 3,
    ) -> None:
        super().__init__()
        if minibatch_kernels < 0:
            raise ConfigError(
                f"model.discriminator.minibatch_kernels={minibatch_kernels} is invalid: use 0 for none or a positive count"
            )
        self.dim = dim
        self.num_classes = 0
        self.body = hidden_layers(dim, width, depth, activation, norm, "model.discriminator")
        self.minibatch = (
            MinibatchDiscrimination(width, minibatch_kernels, minibatch_kernel_dim) if minibatch_kernels else None
        )
        head_features = self.minibatch.out_features if self.minibatch is not None else width
        self.head = weight_norm(nn.Linear(head_features, 1), norm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        features = self.body(x)
        if self.minibatch is not None:
            features = self.minibatch(features)
        return self.head(features).reshape(x.shape[0])
