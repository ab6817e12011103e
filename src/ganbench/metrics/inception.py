"""InceptionV3 feature extractor (torch-fidelity's port of the TF-FID network) from a local weights file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.errors import ConfigError

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"


def find_weights(path: str | None) -> Path:
    """Return the InceptionV3 weights file: ``path`` if given, else torch's hub cache; raise ConfigError if missing."""
    if path:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise ConfigError(
                f"metrics.inception_weights={path} does not exist; download {WEIGHTS_URL} on a machine with "
                "internet access and give its local path"
            )
        return candidate
    candidate = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    if not candidate.is_file():
        raise ConfigError(
            f"metrics=inception needs the InceptionV3 weights file {WEIGHTS_FILE}, not found at {candidate}. "
            f"Download {WEIGHTS_URL} and put it there, or set metrics.inception_weights=/path/to/{WEIGHTS_FILE}; "
            "ganbench downloads nothing itself. Use metrics=domain to measure without it"
        )
    return candidate


class InceptionExtractor(nn.Module):
    """Map uint8 images ``(N, C, H, W)`` to (pool features ``(N, 2048)``, logits ``(N, 1008)``).

    Grayscale images are repeated to three channels; torch-fidelity resizes to
    299x299 inside the network.
    """

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(weights)
        ).eval()
        self.feature_dim = 2048

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if images.dtype != torch.uint8:
            raise TypeError(f"InceptionExtractor expects uint8 images in 0..255, got {images.dtype}")
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        features, logits = self.net(images)
        return features, logits
