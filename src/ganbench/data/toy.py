"""2-D mixtures of Gaussians for mode-collapse experiments: 8 modes on a ring, 25 on a grid.

Points are not squeezed into [-1, 1]: the ring has radius 1 and the grid
spans [-4, 4] by default, as in the unrolled-GAN, VEEGAN and PacGAN
experiments, so a generator for them needs a linear output layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ganbench.data.base import GANDataModule
from ganbench.errors import ConfigError


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Return a torch generator whose state depends only on ``(seed, epoch)``."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def draw_mixture(modes: Tensor, std: float, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Draw ``n`` points from an equal-weight mixture of isotropic Gaussians.

    Args:
        modes: centres ``(K, 2)``.
        std: standard deviation of every component.
        n: number of points.
        generator: source of randomness.

    Returns:
        ``(points (n, 2), labels (n,))``, where a label is the index of the
        component that drew the point.
    """
    labels = torch.randint(0, modes.shape[0], (n,), generator=generator)
    noise = torch.randn(n, modes.shape[1], generator=generator)
    return modes[labels] + std * noise, labels


class _EpochBatches(Sampler):
    """Yield keys ``(epoch, batch_index)`` for one epoch.

    Lightning calls :meth:`set_epoch` before each epoch. Without Lightning
    the epoch advances by one after each full pass.
    """

    def __init__(self, num_batches: int) -> None:
        self.num_batches = num_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        for index in range(self.num_batches):
            yield epoch, index
        self.epoch = epoch + 1


class _FreshMixture(Dataset):
    """Batches of a mixture, redrawn for each epoch from a generator seeded by ``(seed, epoch)``.

    A key ``(epoch, batch_index)`` returns the batch ``(points (B, 2), labels
    (B,))``. The points of one epoch are drawn at once and cached, so each
    epoch costs one draw and any worker process returns the same batches.
    """

    def __init__(self, modes: Tensor, std: float, samples_per_epoch: int, batch_size: int, seed: int) -> None:
        self.modes = modes
        self.std = std
        self.samples_per_epoch = samples_per_epoch
        self.batch_size = batch_size
        self.seed = seed
        self._epoch: int | None = None
        self._points = self._labels = torch.empty(0)

    def __len__(self) -> int:
        return self.samples_per_epoch // self.batch_size

    def __getitem__(self, key: tuple[int, int]) -> tuple[Tensor, Tensor]:
        epoch, index = key
        if epoch != self._epoch:
            generator = epoch_generator(self.seed, epoch)
            self._points, self._labels = draw_mixture(self.modes, self.std, self.samples_per_epoch, generator)
            self._epoch = epoch
        window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self._points[window], self._labels[window]


class GaussianMixture2D(GANDataModule):
    """Serve points ``(B, 2)`` of an equal-weight mixture of 2-D Gaussians with mode labels ``(B,)``.

    Each epoch draws ``samples_per_epoch`` fresh points from a generator seeded
    by ``(seed, epoch)``, so runs with the same seed see the same data. The
    label of a point is the index of its mode. Subclasses set the centres.

    Args:
        name: dataset name for logs and reports.
        modes: centres ``(K, 2)``.
        std: standard deviation of every mode.
        samples_per_epoch: points per epoch; the last partial batch is dropped.
        plot_size: generated points drawn in each scatter plot.
        batch_size, num_workers, seed: as in :class:`GANDataModule`.
    """

    kind = "points"

    def __init__(
        self,
        name: str,
        modes: Tensor,
        std: float,
        samples_per_epoch: int = 25_600,
        plot_size: int = 2500,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if not std > 0:
            raise ConfigError(f"dataset.std={std} is invalid: give a positive standard deviation, e.g. 0.05")
        if samples_per_epoch < self.batch_size:
            raise ConfigError(
                f"dataset.samples_per_epoch={samples_per_epoch} is fewer than dataset.batch_size={self.batch_size}; "
                "raise dataset.samples_per_epoch or lower dataset.batch_size"
            )
        if plot_size < 1:
            raise ConfigError(f"dataset.plot_size={plot_size} is invalid: it must be >= 1, e.g. 2500")
        self.modes = modes.float()
        self.std = float(std)
        self.samples_per_epoch = samples_per_epoch
        self.plot_size = plot_size

    @property
    def num_modes(self) -> int:
        return self.modes.shape[0]

    def load(self) -> tuple[Tensor, Tensor]:
        # The epoch-0 draw fixes the shape facts; training batches come from train_dataset().
        return draw_mixture(self.modes, self.std, self.samples_per_epoch, epoch_generator(self.seed, 0))

    def train_dataset(self) -> Dataset:
        return _FreshMixture(self.modes, self.std, self.samples_per_epoch, self.batch_size, self.seed)

    def train_dataloader(self) -> DataLoader:
        dataset = self.train_dataset()
        # batch_size=None: each key already returns a whole batch.
        return DataLoader(
            dataset,
            sampler=_EpochBatches(len(dataset)),
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def real_samples(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """Return ``n`` fresh points and their mode labels from a generator seeded by ``seed``."""
        return draw_mixture(self.modes, self.std, n, torch.Generator().manual_seed(seed))

    @property
    def num_classes(self) -> int:
        return self.num_modes

    # Plots.
    def plot_limits(self) -> tuple[float, float, float, float]:
        """Return ``(x_min, x_max, y_min, y_max)``: the modes' bounding box with a margin of a quarter of its span."""
        low = self.modes.min(dim=0).values
        high = self.modes.max(dim=0).values
        margin = max(float((high - low).max()) * 0.25, 10 * self.std)
        return float(low[0]) - margin, float(high[0]) + margin, float(low[1]) - margin, float(high[1]) + margin

    def plot_samples(self, samples: Tensor, path: str | Path, title: str = "") -> Path:
        """Save a scatter plot of generated points ``(N, 2)`` over the true modes as a PNG.

        Red crosses mark the centres and red circles the high-quality radius of
        3 std. Points outside the view are counted in the title.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        points = samples.detach().float().cpu().numpy()
        x_min, x_max, y_min, y_max = self.plot_limits()
        inside = (
            np.isfinite(points).all(axis=1)
            & (points[:, 0] >= x_min) & (points[:, 0] <= x_max)
            & (points[:, 1] >= y_min) & (points[:, 1] <= y_max)
        )
        figure = Figure(figsize=(4, 4), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(1, 1, 1)
        axes.scatter(points[inside, 0], points[inside, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0)
        for centre in self.modes.numpy():
            axes.add_patch(Circle(tuple(centre), 3 * self.std, fill=False, color="tab:red", linewidth=0.6))
        axes.scatter(self.modes[:, 0].numpy(), self.modes[:, 1].numpy(), marker="x", s=20, color="tab:red", linewidths=1)
        axes.set_xlim(x_min, x_max)
        axes.set_ylim(y_min, y_max)
        axes.set_aspect("equal")
        axes.tick_params(labelsize=7)
        outside = int((~inside).sum())
        caption = f"{self.name} {title}".strip()
        if outside:
            caption += f" ({outside} of {len(points)} points outside the view)"
        axes.set_title(caption, fontsize=8)
        figure.tight_layout()
        figure.savefig(path)
        return path


class GaussianRing(GaussianMixture2D):
    """``num_modes`` Gaussians evenly spaced on a circle of ``radius`` around the origin, the first at angle 0.

    The default, 8 modes of std 0.05 on the unit circle, is ``dataset=ring8``.
    """

    def __init__(
        self, num_modes: int = 8, radius: float = 1.0, std: float = 0.05, name: str = "ring8", **kwargs: Any
    ) -> None:
        if num_modes < 2:
            raise ConfigError(f"dataset.num_modes={num_modes} is invalid: a ring needs at least 2 modes")
        if not radius > 0:
            raise ConfigError(f"dataset.radius={radius} is invalid: give a positive radius, e.g. 1.0")
        angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
        modes = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        super().__init__(name=name, modes=modes, std=std, **kwargs)
        self.radius = float(radius)

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "num_modes": self.num_modes, "radius": self.radius, "std": self.std,
                "samples_per_epoch": self.samples_per_epoch}


class GaussianGrid(GaussianMixture2D):
    """A ``side`` x ``side`` grid of Gaussians ``spacing`` apart, centred on the origin.

    The default, 5 x 5 modes of std 0.05 at -4, -2, 0, 2, 4 on each axis, is
    ``dataset=grid25``.
    """

    def __init__(
        self, side: int = 5, spacing: float = 2.0, std: float = 0.05, name: str = "grid25", **kwargs: Any
    ) -> None:
        if side < 1:
            raise ConfigError(f"dataset.side={side} is invalid: the grid needs at least 1 mode per side")
        if not spacing > 0:
            raise ConfigError(f"dataset.spacing={spacing} is invalid: give a positive distance, e.g. 2.0")
        axis = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
        modes = torch.cartesian_prod(axis, axis)
        super().__init__(name=name, modes=modes, std=std, **kwargs)
        self.spacing = float(spacing)

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "num_modes": self.num_modes, "spacing": self.spacing, "std": self.std,
                "samples_per_epoch": self.samples_per_epoch}
