"""Base LightningDataModule for in-memory datasets of images or points."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset


class GANDataModule(L.LightningDataModule):
    """Serve real samples in [-1, 1] with labels (or none) and describe their shape.

    Subclasses implement :meth:`load`, returning samples ``(N, C, H, W)`` for
    images or ``(N, 2)`` for points, and labels ``(N,)`` or ``None``. After
    :meth:`setup`, ``sample_shape``, ``channels``, ``image_size`` and
    ``num_classes`` describe the data; the runner builds the networks from them.
    """

    kind = "image"

    def __init__(self, name: str, batch_size: int = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"dataset.batch_size must be >= 1, got {batch_size}")
        self.name = name
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.samples: Tensor | None = None
        self.labels: Tensor | None = None

    # Subclass interface.
    def load(self) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Return the settings that change the data; they key the domain-classifier cache."""
        return {"name": self.name}

    # Lightning hooks.
    def setup(self, stage: str | None = None) -> None:
        if self.samples is None:
            samples, labels = self.load()
            if len(samples) < self.batch_size:
                raise ValueError(
                    f"dataset {self.name} has {len(samples)} samples, fewer than dataset.batch_size={self.batch_size}; "
                    "lower dataset.batch_size"
                )
            self.samples, self.labels = samples.float().contiguous(), labels

    def train_dataset(self) -> Dataset:
        assert self.samples is not None, "call setup() first"
        labels = self.labels if self.labels is not None else torch.zeros(len(self.samples), dtype=torch.long)
        return TensorDataset(self.samples, labels)

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.train_dataset(),
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            generator=generator,
            persistent_workers=self.num_workers > 0,
        )

    # Shape facts for the runner.
    @property
    def sample_shape(self) -> tuple[int, ...]:
        assert self.samples is not None, "call setup() first"
        return tuple(self.samples.shape[1:])

    @property
    def channels(self) -> int:
        return self.sample_shape[0]

    @property
    def image_size(self) -> int:
        return self.sample_shape[-1]

    @property
    def num_classes(self) -> int:
        if self.labels is None:
            return 0
        return int(self.labels.max().item()) + 1

    def real_samples(self, n: int, seed: int = 0) -> tuple[Tensor, Tensor | None]:
        """Return ``n`` real samples (and labels) drawn without replacement by a fixed permutation."""
        assert self.samples is not None, "call setup() first"
        n = min(n, len(self.samples))
        order = torch.randperm(len(self.samples), generator=torch.Generator().manual_seed(seed))[:n]
        labels = self.labels[order] if self.labels is not None else None
        return self.samples[order], labels
