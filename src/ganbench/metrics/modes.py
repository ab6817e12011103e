"""Mode coverage of generated 2-D points against a known mixture of Gaussians.

The measures follow VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al.,
2018). Each sample goes to its nearest mode and is high quality (HQ) when it
lies within ``threshold`` standard deviations of that mode. A mode is covered
when at least one HQ sample reaches it.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torch import Tensor

from ganbench.errors import ConfigError


def nearest_mode(samples: Tensor, modes: Tensor) -> tuple[Tensor, Tensor]:
    """Assign each sample to the closest mode centre in Euclidean distance.

    Args:
        samples: points ``(N, D)``.
        modes: mode centres ``(K, D)``.

    Returns:
        ``(indices (N,), distances (N,))``: the index of the nearest centre and
        the distance to it.
    """
    if samples.ndim != 2 or modes.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(
            f"samples {tuple(samples.shape)} and modes {tuple(modes.shape)} must be (N, D) and (K, D) with the same D"
        )
    # The direct formula keeps a sample that sits exactly on a centre at distance 0.
    distances = torch.cdist(
        samples.double(), modes.double().to(samples.device), compute_mode="donot_use_mm_for_euclid_dist"
    )
    nearest, indices = distances.min(dim=1)
    return indices, nearest


def high_quality(distances: Tensor, std: float, threshold: float = 3.0) -> Tensor:
    """Return a bool mask ``(N,)``: the sample lies within ``threshold * std`` of its nearest mode."""
    return distances <= threshold * std


def hq_counts(indices: Tensor, is_hq: Tensor, num_modes: int) -> Tensor:
    """Count the high-quality samples at each mode; returns ``(K,)`` int64."""
    return torch.bincount(indices[is_hq], minlength=num_modes)


def modes_covered(counts: Tensor) -> int:
    """Count the modes reached by at least one high-quality sample."""
    return int((counts > 0).sum())


def modes_covered_strict(counts: Tensor, num_samples: int, min_fraction: float) -> int:
    """Count the modes whose high-quality samples make up at least ``min_fraction`` of all ``num_samples``."""
    return int((counts >= min_fraction * num_samples).sum())


def mode_kl(counts: Tensor) -> float:
    """Return KL(p || uniform) in nats, where p is the histogram ``counts`` normalised to sum 1.

    Empty bins contribute 0 (0 log 0 = 0). The value lies in [0, log K]; it is
    0 for a uniform histogram and log K when every sample sits at one mode.
    NOTE: with no high-quality sample at all the histogram is undefined, and
    this function returns the maximum, log K, so a run that misses every mode
    still gets a finite, worst-case value.
    """
    num_modes = counts.numel()
    total = counts.sum()
    if total == 0:
        return math.log(num_modes)
    p = counts.double() / total
    nonzero = p > 0
    return float((p[nonzero] * torch.log(p[nonzero] * num_modes)).sum())


def mode_metrics(
    samples: Tensor, modes: Tensor, std: float, threshold: float = 3.0, min_fraction: float = 0.05
) -> dict[str, float]:
    """Compute every mode-coverage measure of ``samples (N, D)`` against ``modes (K, D)``.

    Returns ``modes_covered``, ``modes_covered_strict``, ``hq_fraction``
    (share of all samples that are high quality, in [0, 1]) and ``mode_kl``.
    """
    indices, distances = nearest_mode(samples, modes)
    # A non-finite point (a diverged generator) counts as a sample but is never high quality.
    is_hq = high_quality(distances, std, threshold) & torch.isfinite(samples).all(dim=1)
    counts = hq_counts(indices, is_hq, modes.shape[0])
    return {
        "modes_covered": float(modes_covered(counts)),
        "modes_covered_strict": float(modes_covered_strict(counts, samples.shape[0], min_fraction)),
        "hq_fraction": float(is_hq.double().mean()),
        "mode_kl": mode_kl(counts),
    }


class ModeCoverage(L.Callback):
    """Log ``val/modes_covered``, ``val/modes_covered_strict``, ``val/hq_fraction`` and ``val/mode_kl``.

    Every ``every_n_epochs`` epochs, and after the last one, the callback draws
    ``num_samples`` points from the sampling generator (the EMA copy when there
    is one) and measures them against ``trainer.datamodule.modes`` and
    ``trainer.datamodule.std``. Needs a 2-D toy dataset such as ``ring8`` or ``grid25``.

    Args:
        every_n_epochs: evaluate after every n-th epoch and after the last one.
        num_samples: generated points per evaluation.
        min_fraction: share of all samples a mode needs for the strict count.
        threshold: distance to the nearest mode, in standard deviations,
            within which a sample is high quality.
        batch_size: generation batch size.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 2500,
        min_fraction: float = 0.05,
        threshold: float = 3.0,
        batch_size: int = 500,
    ) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ConfigError(f"metrics.every_n_epochs={every_n_epochs} is invalid: it must be >= 1")
        if num_samples < 1:
            raise ConfigError(f"metrics.num_samples={num_samples} is invalid: it must be >= 1, e.g. 2500")
        if not 0.0 < min_fraction <= 1.0:
            raise ConfigError(f"metrics.min_fraction={min_fraction} is invalid: give a share in (0, 1], e.g. 0.05")
        if threshold <= 0:
            raise ConfigError(f"metrics.threshold={threshold} is invalid: give a positive number of std, e.g. 3.0")
        if batch_size < 1:
            raise ConfigError(f"metrics.batch_size={batch_size} is invalid: it must be >= 1")
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.min_fraction = min_fraction
        self.threshold = threshold
        self.batch_size = batch_size

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if getattr(datamodule, "modes", None) is None or getattr(datamodule, "std", None) is None:
            name = getattr(datamodule, "name", type(datamodule).__name__)
            raise ConfigError(
                f"metrics=modes needs a dataset with known modes, but dataset {name} has none; "
                "use dataset=ring8 or dataset=grid25, or pick other metrics"
            )

    @torch.no_grad()
    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, float]:
        """Generate ``num_samples`` points and return the measures under ``val/`` names."""
        datamodule = trainer.datamodule
        z, labels = pl_module.sample_latents(self.num_samples)
        samples = pl_module.generate(z, labels, batch_size=self.batch_size).float().cpu()
        values = mode_metrics(samples, datamodule.modes, datamodule.std, self.threshold, self.min_fraction)
        return {f"val/{key}": value for key, value in values.items()}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        if epoch % self.every_n_epochs and not last and not trainer.should_stop:
            return
        pl_module.log_dict(self.evaluate(trainer, pl_module), on_step=False, on_epoch=True)
