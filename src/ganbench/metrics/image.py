"""FID, KID and Inception Score every few epochs, computed by torchmetrics on pluggable features."""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from ganbench.errors import CollapsedError, ConfigError
from ganbench.metrics import domain
from ganbench.metrics.inception import InceptionExtractor, find_weights
from ganbench.metrics.ranges import to_uint8, to_unit_range

log = logging.getLogger(__name__)

EXTRACTORS = ("domain", "inception")


class Precomputed(nn.Module):
    """Identity feature 'extractor': ganbench extracts features once per batch and feeds them to each metric."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class ImageMetrics(L.Callback):
    """Log ``val/fid``, ``val/kid``, ``val/is`` (and ``val/fid_best``) every ``every_n_epochs`` epochs.

    Real features are extracted once, at setup; each evaluation generates
    ``num_samples`` images from the sampling generator (EMA when present).

    Args:
        extractor: ``domain`` (classifier trained on the dataset, cached) or
            ``inception`` (InceptionV3 from a local weights file).
        every_n_epochs: evaluate after every n-th epoch and after the last one.
        num_samples: generated images per evaluation.
        num_real: real images for the reference statistics (capped at the dataset size).
        kid_subset_size, kid_subsets: KID's subset size and count.
        is_splits: Inception Score splits.
        batch_size: generation and feature batch size.
        classifier: settings of the domain classifier (width, feature_dim, epochs, ...).
        cache_dir: where trained domain classifiers are cached.
        inception_weights: path of the InceptionV3 weights file, ``None`` = torch's hub cache.
        collapse_min_classes: when set, a run whose samples the domain
            classifier assigns to fewer classes stops with ``status: collapsed``.
    """

    def __init__(
        self,
        extractor: str = "domain",
        every_n_epochs: int = 1,
        num_samples: int = 1000,
        num_real: int = 5000,
        kid_subset_size: int = 500,
        kid_subsets: int = 50,
        is_splits: int = 10,
        batch_size: int = 250,
        classifier: dict[str, Any] | None = None,
        cache_dir: str = "~/.cache/ganbench",
        inception_weights: str | None = None,
        collapse_min_classes: int | None = None,
    ) -> None:
        super().__init__()
        if extractor not in EXTRACTORS:
            raise ConfigError(f"metrics.extractor={extractor!r} is unknown; use one of {', '.join(EXTRACTORS)}")
        if every_n_epochs < 1:
            raise ConfigError(f"metrics.every_n_epochs must be >= 1, got {every_n_epochs}")
        minimum = max(2, kid_subset_size, is_splits)
        if num_samples < minimum:
            raise ConfigError(
                f"metrics.num_samples={num_samples} is too few: FID needs 2, KID needs metrics.kid_subset_size="
                f"{kid_subset_size} and IS needs metrics.is_splits={is_splits}; set metrics.num_samples>={minimum} "
                "or lower those settings"
            )
        if num_real < max(2, kid_subset_size):
            raise ConfigError(
                f"metrics.num_real={num_real} is too few for KID with metrics.kid_subset_size={kid_subset_size}; "
                f"set metrics.num_real>={max(2, kid_subset_size)}"
            )
        self.extractor_name = extractor
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.num_real = num_real
        self.kid_subset_size = kid_subset_size
        self.kid_subsets = kid_subsets
        self.is_splits = is_splits
        self.batch_size = batch_size
        self.classifier_settings = dict(classifier or {})
        self.cache_dir = cache_dir
        self.collapse_min_classes = collapse_min_classes
        self.inception_weights = find_weights(inception_weights) if extractor == "inception" else None
        self.extractor: nn.Module | None = None
        self.classifier: domain.DomainClassifier | None = None
        self.reference: dict[str, float] = {}
        self.best_fid = math.inf
        self._ready = False

    # Feature extraction.
    @torch.no_grad()
    def extract(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Return (features, logits) of images in [-1, 1], in batches, in the range the extractor expects."""
        assert self.extractor is not None
        features, logits = [], []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            if self.extractor_name == "inception":
                f, lg = self.extractor(to_uint8(batch))
            else:
                x = to_unit_range(batch) * 2.0 - 1.0  # the classifier was trained on [-1, 1]
                f = self.extractor.features(x)
                lg = self.extractor.head(f)
            features.append(f.double())
            logits.append(lg.double())
        return torch.cat(features), torch.cat(logits)

    def _new_metrics(self, feature_dim: int, num_classes: int) -> None:
        # KID and IS warn that they keep all features; here that is num_samples rows per evaluation.
        warnings.filterwarnings("ignore", message="Metric `(Kernel Inception Distance|InceptionScore)` will save")
        self.fid = FrechetInceptionDistance(feature=Precomputed(feature_dim), reset_real_features=False)
        self.kid = KernelInceptionDistance(
            feature=Precomputed(feature_dim),
            subsets=self.kid_subsets,
            subset_size=self.kid_subset_size,
            reset_real_features=False,
        )
        self.inception_score = InceptionScore(feature=Precomputed(num_classes), splits=self.is_splits)

    def prepare(self, datamodule, device: torch.device | str = "cpu") -> None:
        """Build the extractor and the real statistics (once per run)."""
        if self._ready:
            return
        if self.extractor_name == "domain" and datamodule.labels is None:
            raise ConfigError(
                f"metrics=domain trains a classifier on labelled images, but dataset {datamodule.name} has no labels "
                "(a flat image folder?); use one subfolder per class, metrics=inception or metrics=none"
            )
        images, labels = datamodule.real_samples(self.num_real, seed=0)
        if len(images) < max(2, self.kid_subset_size):
            raise ConfigError(
                f"dataset {datamodule.name} has {len(images)} images, fewer than KID's metrics.kid_subset_size="
                f"{self.kid_subset_size}; lower metrics.kid_subset_size"
            )
        if self.extractor_name == "inception":
            self.extractor = InceptionExtractor(self.inception_weights)
            feature_dim, num_classes = 2048, 1008
        else:
            all_images, all_labels = datamodule.samples, datamodule.labels
            settings = {"epochs": 4, "width": 32, "feature_dim": 128, **self.classifier_settings}
            self.classifier, accuracy, path = domain.load_or_train(
                self.cache_dir, datamodule.settings(), all_images, all_labels, settings
            )
            self.extractor = self.classifier
            feature_dim, num_classes = self.classifier.feature_dim, self.classifier.num_classes
            self.reference["classifier_accuracy"] = accuracy
            self.reference["classifier_path"] = str(path)
        self.extractor.to(device)
        self._new_metrics(feature_dim, num_classes)

        features, _ = self.extract(images.to(device))
        self.fid.update(features.cpu(), real=True)
        self.kid.update(features.cpu(), real=True)
        self.reference["fid_floor"] = self.fid_between(features[: len(features) // 2], features[len(features) // 2 :])
        self.reference["num_real"] = len(images)
        lines = [f"real statistics from {len(images)} images ({self.extractor_name} features, {feature_dim}-d)"]
        if "classifier_accuracy" in self.reference:
            lines.append(f"domain classifier held-out accuracy {self.reference['classifier_accuracy']:.4f}")
        lines.append(f"FID floor (real half vs real half) {self.reference['fid_floor']:.4f}")
        for line in lines:
            log.info(line)
        self._ready = True

    @staticmethod
    def fid_between(a: Tensor, b: Tensor) -> float:
        """Return the FID between two feature sets with torchmetrics' formula."""
        metric = FrechetInceptionDistance(feature=Precomputed(a.shape[1]))
        metric.update(a.cpu(), real=True)
        metric.update(b.cpu(), real=False)
        return float(metric.compute())

    # Evaluation.
    @torch.no_grad()
    def evaluate(self, pl_module) -> dict[str, float]:
        """Generate ``num_samples`` images and return the metrics; non-finite values are left out."""
        z, labels = pl_module.sample_latents(self.num_samples)
        images = pl_module.generate(z, labels, batch_size=self.batch_size)
        features, logits = self.extract(images)
        self.fid.update(features.cpu(), real=False)
        self.kid.update(features.cpu(), real=False)
        self.inception_score.update(logits.cpu())
        kid_mean, kid_std = self.kid.compute()
        is_mean, is_std = self.inception_score.compute()
        values = {
            "val/fid": float(self.fid.compute()),
            "val/kid": float(kid_mean),
            "val/kid_std": float(kid_std),
            "val/is": float(is_mean),
            "val/is_std": float(is_std),
        }
        self.fid.reset()
        self.kid.reset()
        self.inception_score.reset()
        if self.classifier is not None:
            predicted = logits.argmax(dim=1).cpu()
            values["val/num_classes"] = float(predicted.unique().numel())
            if labels is not None:
                values["val/class_accuracy"] = float((predicted == labels.cpu()).float().mean())
        finite = {}
        for key, value in values.items():
            if math.isfinite(value):
                finite[key] = value
            else:
                log.warning("%s is %s this epoch; not logged", key, value)
        if "val/fid" in finite:
            self.best_fid = min(self.best_fid, finite["val/fid"])
            finite["val/fid_best"] = self.best_fid
        return finite

    # Lightning hooks.
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.prepare(trainer.datamodule, pl_module.device)
        for key in ("classifier_accuracy", "fid_floor"):
            if key in self.reference and trainer.logger is not None:
                for logger in trainer.loggers:
                    logger.log_metrics({f"ref/{key}": self.reference[key]}, step=0)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        if epoch % self.every_n_epochs and not last and not trainer.should_stop:
            return
        values = self.evaluate(pl_module)
        pl_module.log_dict(values, on_step=False, on_epoch=True)
        if self.collapse_min_classes is not None and values.get("val/num_classes", math.inf) < self.collapse_min_classes:
            raise CollapsedError(
                f"samples cover {int(values['val/num_classes'])} classes, fewer than "
                f"collapse.min_classes={self.collapse_min_classes}"
            )
