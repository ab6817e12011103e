"""Domain feature extractor: a small CNN classifier trained once on the labelled real images and cached.

Its penultimate features feed FID and KID, and its logits feed the Inception
Score, in place of InceptionV3 (trained on ImageNet photographs, which tells
little about 32x32 digits and needs a weights file that cannot be downloaded
here). Scores are comparable only between runs that use the same cached
classifier: the cache key is the dataset settings plus the classifier settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


class DomainClassifier(nn.Module):
    """Conv classifier for ``(N, C, S, S)`` images in [-1, 1]: ``features`` ``(N, feature_dim)``, ``forward`` logits ``(N, K)``."""

    def __init__(self, channels: int, image_size: int, num_classes: int, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * width * 16, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.num_classes = num_classes

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


# Part of the cache key: raise it when train_classifier changes, so old caches are not reused.
CLASSIFIER_VERSION = 2


def cache_path(cache_dir: str | Path, data_settings: dict[str, Any], classifier_settings: dict[str, Any]) -> Path:
    key = json.dumps(
        {"data": data_settings, "classifier": classifier_settings, "version": CLASSIFIER_VERSION}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(cache_dir).expanduser() / f"{data_settings.get('name', 'data')}-{digest}.pt"


def train_classifier(
    images: Tensor,
    labels: Tensor,
    *,
    width: int = 32,
    feature_dim: int = 128,
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 2e-3,
    holdout: float = 0.1,
    seed: int = 0,
) -> tuple[DomainClassifier, float]:
    """Train a :class:`DomainClassifier` and return it (eval mode) with its held-out accuracy.

    ``holdout`` of the images, chosen by a seeded permutation, are kept out of
    training and measure the accuracy. Light random shifts (up to 2 pixels)
    augment training so the classifier does not rely on exact positions.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=generator)
    n_test = max(1, int(len(images) * holdout))
    test_idx, train_idx = order[:n_test], order[n_test:]
    num_classes = int(labels.max()) + 1
    # Seeded here, so the classifier is the same whatever ran before. fork_rng (in the
    # caller) keeps this from resetting the run's own random stream, so a run gives the
    # same result whether the classifier came from the cache or was trained first.
    torch.manual_seed(seed)
    model = DomainClassifier(images.shape[1], images.shape[-1], num_classes, width, feature_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        perm = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for start in range(0, len(perm), batch_size):
            idx = perm[start : start + batch_size]
            x = images[idx]
            shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(x), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(images[test_idx[i : i + 512]]).argmax(1) for i in range(0, n_test, 512)])
    accuracy = float((predicted == labels[test_idx]).float().mean())
    return model, accuracy


def load_or_train(
    cache_dir: str | Path,
    data_settings: dict[str, Any],
    images: Tensor,
    labels: Tensor | None,
    classifier_settings: dict[str, Any],
) -> tuple[DomainClassifier, float, Path]:
    """Return the cached classifier for these settings, training and caching it on first use."""
    if labels is None:
        raise ValueError(
            f"metrics=domain trains a classifier on labelled images, but dataset {data_settings.get('name')} has no "
            "labels (a flat image folder?); use class subfolders, metrics=inception or metrics=none"
        )
    path = cache_path(cache_dir, data_settings, classifier_settings)
    if path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model = DomainClassifier(**saved["shape"])
            model.load_state_dict(saved["state_dict"])
            log.info("domain classifier loaded from %s (held-out accuracy %.4f)", path, saved["accuracy"])
            return model.eval(), float(saved["accuracy"]), path
        except Exception as error:  # noqa: BLE001 - torch.load raises many types for a corrupt file
            log.warning("cached domain classifier %s is unreadable (%s); training a new one", path, error)
    log.info("training the domain classifier on %d labelled images (once; cached at %s)", len(images), path)
    with torch.random.fork_rng(devices=[]):
        model, accuracy = train_classifier(images, labels, **classifier_settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = {
        "channels": images.shape[1],
        "image_size": images.shape[-1],
        "num_classes": model.num_classes,
        "width": classifier_settings.get("width", 32),
        "feature_dim": model.feature_dim,
    }
    tmp = path.with_suffix(".tmp")
    torch.save({"shape": shape, "state_dict": model.state_dict(), "accuracy": accuracy}, tmp)
    tmp.replace(path)
    return model, accuracy, path
