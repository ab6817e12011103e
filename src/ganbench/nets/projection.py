"""Projection discriminator (Miyato & Koyama, 2018, "cGANs with Projection Discriminator").

The logit is ``psi(phi(x)) + <embed(y), phi(x)>``: an unconditional linear
head on the penultimate features ``phi(x)`` plus their inner product with a
learned embedding of the class. Conditioning by an inner product, instead of
concatenating the label with the input, follows from writing the optimal
discriminator as a log-likelihood ratio of conditionals.
"""

from __future__ import annotations

from torch import Tensor, nn

from ganbench.nets.conditional import _check_num_classes, check_labels
from ganbench.nets.dcgan import _num_doublings, downsampling_stack
from ganbench.nets.layers import check_norm, weight_norm


class ProjectionDiscriminator(nn.Module):
    """Map images ``(N, channels, image_size, image_size)`` and labels ``(N,)`` to logits ``(N,)``.

    ``phi``: 4x4 stride-2 convolutions with LeakyReLU(0.2) halve the image to
    4x4 while doubling the width (as in the DCGAN discriminator), then a sum
    over the 4x4 positions gives features ``(N, feature_dim)``, with
    ``feature_dim = width * 2^(k-1)`` for ``image_size = 4 * 2^k``. The paper
    uses ResNet blocks with ReLU and the same global sum pooling.

    Args:
        channels, image_size: input shape; set by the runner.
        num_classes: number of classes; set from the dataset.
        width: channels of the first convolution.
        norm: ``spectral`` (default, as in the paper: every convolution, the
            linear head and the class embedding), ``layer``, ``batch`` or ``none``.
    """

    def __init__(
        self, channels: int = 1, image_size: int = 32, num_classes: int = 10, width: int = 64, norm: str = "spectral"
    ) -> None:
        super().__init__()
        check_norm(norm, "model.discriminator.norm")
        _check_num_classes(num_classes)
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        steps = _num_doublings(image_size)

        self.features, hidden = downsampling_stack(channels, width, steps, norm)
        self.feature_dim = hidden
        self.head = weight_norm(nn.Linear(hidden, 1), norm)
        self.embedding = weight_norm(nn.Embedding(num_classes, hidden), norm)

    def phi(self, x: Tensor) -> Tensor:
        """Return the penultimate features ``(N, feature_dim)``: conv features summed over positions."""
        return self.features(x).sum(dim=(2, 3))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = check_labels(labels, x.shape[0], self.num_classes)
        features = self.phi(x)
        projection = (self.embedding(labels) * features).sum(dim=1)
        return self.head(features).reshape(x.shape[0]) + projection
