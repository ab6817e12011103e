"""Class-conditional generators and discriminators.

``CGANMLP*`` follow the conditional GAN of Mirza & Osindero (2014): both
networks are MLPs whose input is the one-hot label concatenated with z (for G)
or with the flattened image (for D). ``CGANDCGAN*`` are the DCGAN networks with
the label as a learned embedding: concatenated with w in G and given to D as an
extra input channel.

Every generator here has the ``map(z, labels) -> w`` / ``synthesis(w, labels)``
split of :class:`~ganbench.nets.dcgan.DCGANGenerator`, so latent edits and
truncation can work in W. The mapping network takes z alone, and the label
enters only the synthesis.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganbench.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganbench.nets.layers import MappingNetwork, check_norm, feature_norm_1d, weight_norm


def check_labels(labels: Tensor | None, batch: int, num_classes: int) -> Tensor:
    """Return ``labels`` after checking it is an integer tensor of shape ``(batch,)``."""
    if labels is None:
        raise ValueError(f"labels are missing: this network is conditional on {num_classes} classes, so pass labels of shape ({batch},)")
    if labels.dim() != 1 or labels.shape[0] != batch:
        raise ValueError(f"labels must have shape ({batch},) to match the batch, got {tuple(labels.shape)}")
    if labels.is_floating_point():
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    return labels.long()


def _check_num_classes(num_classes: int) -> None:
    if num_classes < 2:
        raise ValueError(f"a conditional network needs num_classes >= 2, got {num_classes}")


class OneHot(nn.Module):
    """Map labels ``(N,)`` to one-hot rows ``(N, num_classes)`` by indexing an identity matrix.

    Indexing exports to ONNX as a plain Gather. The matrix is not saved in
    checkpoints.
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("eye", torch.eye(num_classes), persistent=False)

    def forward(self, labels: Tensor) -> Tensor:
        return self.eye[labels]


def _mlp(sizes: list[int], norm: str, activation: nn.Module, weights: str = "none") -> list[nn.Module]:
    """Return Linear -> feature norm -> activation blocks through ``sizes``; ``weights='spectral'`` wraps each Linear."""
    layers: list[nn.Module] = []
    for inputs, outputs in zip(sizes[:-1], sizes[1:]):
        layers += [
            weight_norm(nn.Linear(inputs, outputs, bias=norm != "batch"), weights),
            feature_norm_1d(norm, outputs),
            activation,
        ]
    return layers


class CGANMLPGenerator(nn.Module):
    """Map z ``(N, latent_dim)`` and labels ``(N,)`` to images ``(N, channels, image_size, image_size)`` in [-1, 1].

    The synthesis MLP takes ``[w, one_hot(labels)]`` ``(N, latent_dim + num_classes)``
    through ``hidden`` layers (Linear, norm, ReLU) to ``C * H * W`` outputs,
    then tanh, reshaped to ``(N, C, H, W)``.

    Args:
        latent_dim: size of z and w.
        channels, image_size: output shape; set from the dataset.
        num_classes: number of classes; set from the dataset.
        hidden: widths of the hidden layers.
        norm: ``batch``, ``layer`` or ``none`` after each hidden Linear
            (``spectral`` wraps the Linear layers instead).
        mapping_layers: when > 0, a StyleGAN-style MLP maps z to w first.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 32,
        num_classes: int = 10,
        hidden: tuple[int, ...] | list[int] = (256, 512, 1024),
        norm: str = "batch",
        mapping_layers: int = 0,
    ) -> None:
        super().__init__()
        check_norm(norm, "model.generator.norm")
        _check_num_classes(num_classes)
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.mapping = MappingNetwork(latent_dim, mapping_layers) if mapping_layers > 0 else nn.Identity()
        self.one_hot = OneHot(num_classes)
        sizes = [latent_dim + num_classes, *hidden]
        layers = _mlp(sizes, "none" if norm == "spectral" else norm, nn.ReLU(inplace=True), weights=norm)
        layers += [weight_norm(nn.Linear(sizes[-1], channels * image_size * image_size), norm), nn.Tanh()]
        self.synthesis_net = nn.Sequential(*layers)

    def map(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return w ``(N, latent_dim)``; equal to z when there is no mapping network."""
        return self.mapping(z)

    def synthesis(self, w: Tensor, labels: Tensor | None = None) -> Tensor:
        """Render images ``(N, C, H, W)`` from w ``(N, latent_dim)`` and labels ``(N,)``."""
        labels = check_labels(labels, w.shape[0], self.num_classes)
        flat = self.synthesis_net(torch.cat([w, self.one_hot(labels)], dim=1))
        return flat.reshape(w.shape[0], self.channels, self.image_size, self.image_size)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.synthesis(self.map(z, labels), labels)


class CGANMLPDiscriminator(nn.Module):
    """Map images ``(N, channels, image_size, image_size)`` and labels ``(N,)`` to logits ``(N,)``.

    The MLP takes ``[flatten(x), one_hot(labels)]`` ``(N, C * H * W + num_classes)``
    through ``hidden`` layers (Linear, norm, LeakyReLU(0.2)) to one logit.
    Mirza & Osindero used maxout units and dropout; LeakyReLU is the common
    substitute, and ``dropout`` is off by default.

    Args:
        channels, image_size: input shape; set by the runner.
        num_classes: number of classes; set from the dataset.
        hidden: widths of the hidden layers.
        norm: ``none``, ``layer``, ``spectral`` (wraps every Linear) or ``batch``.
        dropout: dropout probability after each hidden layer.
    """

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        num_classes: int = 10,
        hidden: tuple[int, ...] | list[int] = (512, 256),
        norm: str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_norm(norm, "model.discriminator.norm")
        _check_num_classes(num_classes)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.discriminator.dropout must be in [0, 1), got {dropout}")
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.one_hot = OneHot(num_classes)
        sizes = [channels * image_size * image_size + num_classes, *hidden]
        layers: list[nn.Module] = []
        for block_start in range(len(sizes) - 1):
            layers += _mlp(sizes[block_start : block_start + 2], "none" if norm == "spectral" else norm,
                           nn.LeakyReLU(0.2, inplace=True), weights=norm)
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        self.head = weight_norm(nn.Linear(sizes[-1], 1), norm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, x.shape[0], self.num_classes)
        inputs = torch.cat([x.reshape(x.shape[0], -1), self.one_hot(labels)], dim=1)
        return self.head(self.features(inputs)).reshape(x.shape[0])


class CGANDCGANGenerator(nn.Module):
    """Map z ``(N, latent_dim)`` and labels ``(N,)`` to images ``(N, channels, image_size, image_size)`` in [-1, 1].

    A learned embedding ``(N, embed_dim)`` of the label is concatenated with w,
    and a DCGAN generator with ``latent_dim + embed_dim`` inputs renders the
    image.

    Args:
        latent_dim: size of z and w.
        channels, image_size: output shape; set from the dataset.
        num_classes: number of classes; set from the dataset.
        embed_dim: size of the label embedding.
        width, norm: as in :class:`~ganbench.nets.dcgan.DCGANGenerator`.
        mapping_layers: when > 0, a StyleGAN-style MLP maps z to w first.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 32,
        num_classes: int = 10,
        embed_dim: int = 16,
        width: int = 64,
        norm: str = "batch",
        mapping_layers: int = 0,
    ) -> None:
        super().__init__()
        _check_num_classes(num_classes)
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.mapping = MappingNetwork(latent_dim, mapping_layers) if mapping_layers > 0 else nn.Identity()
        self.embedding = nn.Embedding(num_classes, embed_dim)
        self.net = DCGANGenerator(latent_dim + embed_dim, channels, image_size, width, norm, mapping_layers=0)

    def map(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return w ``(N, latent_dim)``; equal to z when there is no mapping network."""
        return self.mapping(z)

    def synthesis(self, w: Tensor, labels: Tensor | None = None) -> Tensor:
        """Render images ``(N, C, H, W)`` from w ``(N, latent_dim)`` and labels ``(N,)``."""
        labels = check_labels(labels, w.shape[0], self.num_classes)
        return self.net.synthesis(torch.cat([w, self.embedding(labels)], dim=1))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.synthesis(self.map(z, labels), labels)


class CGANDCGANDiscriminator(nn.Module):
    """Map images ``(N, channels, image_size, image_size)`` and labels ``(N,)`` to logits ``(N,)``.

    A learned embedding of the label, ``image_size * image_size`` values
    reshaped to ``(N, 1, H, W)``, is appended to the image as one more channel,
    and a DCGAN discriminator with ``channels + 1`` inputs scores the pair.

    Args:
        channels, image_size: input shape; set by the runner.
        num_classes: number of classes; set from the dataset.
        width, norm: as in :class:`~ganbench.nets.dcgan.DCGANDiscriminator`.
    """

    def __init__(
        self, channels: int = 1, image_size: int = 32, num_classes: int = 10, width: int = 64, norm: str = "batch"
    ) -> None:
        super().__init__()
        _check_num_classes(num_classes)
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.embedding = nn.Embedding(num_classes, image_size * image_size)
        self.net = DCGANDiscriminator(channels + 1, image_size, width, norm)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, x.shape[0], self.num_classes)
        label_map = self.embedding(labels).reshape(x.shape[0], 1, self.image_size, self.image_size)
        return self.net(torch.cat([x, label_map], dim=1))
