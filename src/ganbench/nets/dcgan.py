"""DCGAN generator and discriminator (Radford et al., 2016) with configurable normalisation."""

from __future__ import annotations

import math


from torch import Tensor, nn

from ganbench.nets.layers import MappingNetwork, check_norm, feature_norm, weight_norm
from ganbench.nets.minibatch import MinibatchDiscrimination


def _num_doublings(image_size: int) -> int:
    steps = math.log2(image_size / 4) if image_size >= 8 else -1
    if steps < 1 or steps != int(steps):
        raise ValueError(
            f"DCGAN needs an image size of 4 * 2^k with k >= 1 (8, 16, 32, 64, ...), got {image_size}; "
            "set dataset.image_size to one of these"
        )
    return int(steps)


class DCGANGenerator(nn.Module):
    """Map z ``(N, latent_dim)`` to images ``(N, channels, image_size, image_size)`` in [-1, 1].

    z is projected to ``(width * 2^k, 4, 4)`` by a transposed convolution and
    doubled k times by 4x4 stride-2 transposed convolutions, halving the width
    each time, to ``image_size = 4 * 2^k``. The last layer emits ``channels``
    maps through tanh.

    Args:
        latent_dim: size of z.
        channels: output channels (1 for MNIST, 3 for CIFAR-10); set from the dataset.
        image_size: output height and width; set from the dataset.
        width: channels of the last hidden layer (DCGAN's ngf).
        norm: ``batch`` (DCGAN), ``spectral``, ``layer`` or ``none``.
        mapping_layers: when > 0, a StyleGAN-style MLP maps z to w first.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        norm: str = "batch",
        mapping_layers: int = 0,
    ) -> None:
        super().__init__()
        check_norm(norm, "model.generator.norm")
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.num_classes = 0
        steps = _num_doublings(image_size)
        self.mapping = MappingNetwork(latent_dim, mapping_layers) if mapping_layers > 0 else nn.Identity()

        hidden = width * 2 ** (steps - 1)
        layers: list[nn.Module] = [
            weight_norm(nn.ConvTranspose2d(latent_dim, hidden, 4, 1, 0, bias=norm != "batch"), norm),
            feature_norm(norm, hidden),
            nn.ReLU(inplace=True),
        ]
        for _ in range(steps - 1):
            layers += [
                weight_norm(nn.ConvTranspose2d(hidden, hidden // 2, 4, 2, 1, bias=norm != "batch"), norm),
                feature_norm(norm, hidden // 2),
                nn.ReLU(inplace=True),
            ]
            hidden //= 2
        layers += [weight_norm(nn.ConvTranspose2d(hidden, channels, 4, 2, 1), norm), nn.Tanh()]
        self.synthesis_net = nn.Sequential(*layers)

    def map(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return w ``(N, latent_dim)``; equal to z when there is no mapping network."""
        return self.mapping(z)

    def synthesis(self, w: Tensor, labels: Tensor | None = None) -> Tensor:
        """Render images ``(N, C, H, W)`` from w ``(N, latent_dim)``."""
        return self.synthesis_net(w.reshape(w.shape[0], -1, 1, 1))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.synthesis(self.map(z, labels), labels)


def downsampling_stack(channels: int, width: int, steps: int, norm: str) -> tuple[nn.Sequential, int]:
    """Return DCGAN's discriminator body and its output width.

    ``steps`` 4x4 stride-2 convolutions with LeakyReLU(0.2) map
    ``(N, channels, 4 * 2^steps, ...)`` to ``(N, width * 2^(steps - 1), 4, 4)``.
    The first layer has no feature normalisation, as in DCGAN.
    """
    layers: list[nn.Module] = [weight_norm(nn.Conv2d(channels, width, 4, 2, 1), norm), nn.LeakyReLU(0.2, inplace=True)]
    hidden = width
    for _ in range(steps - 1):
        layers += [
            weight_norm(nn.Conv2d(hidden, hidden * 2, 4, 2, 1, bias=norm != "batch"), norm),
            feature_norm(norm, hidden * 2),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        hidden *= 2
    return nn.Sequential(*layers), hidden


class DCGANDiscriminator(nn.Module):
    """Map images ``(N, channels, image_size, image_size)`` to logits ``(N,)``.

    4x4 stride-2 convolutions with LeakyReLU(0.2) halve the image down to 4x4,
    doubling the width each time; a 4x4 convolution gives one logit. There is
    no sigmoid: the loss applies the link function. The first layer has no
    feature normalisation (as in DCGAN); ``spectral`` wraps every layer.

    Args:
        channels: input channels (times ``pack`` under PacGAN); set by the runner.
        image_size: input height and width; set from the dataset.
        width: channels of the first layer (DCGAN's ndf).
        norm: ``batch`` (DCGAN), ``spectral``, ``layer`` or ``none``.
        minibatch_kernels: kernels of a minibatch-discrimination layer on the
            flattened 4x4 features; 0 = no such layer. Its features reach the
            logit through a linear layer added to the convolutional head.
        minibatch_kernel_dim: size of each kernel's projection.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        width: int = 64,
        norm: str = "batch",
        minibatch_kernels: int = 0,
        minibatch_kernel_dim: int = 3,
    ) -> None:
        super().__init__()
        check_norm(norm, "model.discriminator.norm")
        self.channels = channels
        self.image_size = image_size
        self.num_classes = 0
        steps = _num_doublings(image_size)

        self.features, hidden = downsampling_stack(channels, width, steps, norm)
        self.feature_dim = hidden * 16
        self.head = weight_norm(nn.Conv2d(hidden, 1, 4, 1, 0), norm)
        self.minibatch = None
        if minibatch_kernels:
            self.minibatch = MinibatchDiscrimination(self.feature_dim, minibatch_kernels, minibatch_kernel_dim)
            self.minibatch_head = weight_norm(nn.Linear(minibatch_kernels, 1), norm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        features = self.features(x)
        logits = self.head(features).reshape(x.shape[0])
        if self.minibatch is not None:
            # A linear head over [features, o] equals the conv head plus a linear map of o.
            logits = logits + self.minibatch_head(self.minibatch.similarity(features.flatten(1))).reshape(x.shape[0])
        return logits


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
