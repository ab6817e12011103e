"""Write generated images as PNG files, grids, strips and GIFs with PIL.

Pixels are converted with :func:`ganbench.metrics.ranges.to_uint8` (clamp and
round), so the same tensor always gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from ganbench.metrics.ranges import to_uint8


def to_pil(image: Tensor, scale: int = 1) -> Image.Image:
    """Convert one image ``(C, H, W)`` in [-1, 1] (C = 1 or 3) or a uint8 image to a PIL image, enlarged ``scale`` times."""
    pixels = image if image.dtype == torch.uint8 else to_uint8(image)
    array = pixels.detach().cpu().permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        picture = Image.fromarray(np.ascontiguousarray(array[:, :, 0]), mode="L")
    elif array.shape[2] == 3:
        picture = Image.fromarray(np.ascontiguousarray(array), mode="RGB")
    else:
        raise ValueError(f"images need 1 or 3 channels to be written as PNG, got {array.shape[2]}")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def grid_image(images: Tensor, nrow: int = 8, padding: int = 2, scale: int = 1) -> Image.Image:
    """Tile images ``(N, C, H, W)`` in [-1, 1] into rows of ``nrow`` with white padding."""
    pixels = to_uint8(images)
    grid = make_grid(pixels, nrow=nrow, padding=padding, pad_value=255)
    if images.shape[1] == 1:
        grid = grid[:1]  # make_grid repeats one channel three times
    return to_pil(grid, scale)


def save_png(image: Image.Image, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def save_gif(frames: Tensor, path: str | Path, duration_ms: int = 80, scale: int = 1, bounce: bool = True) -> Path:
    """Write frames ``(T, C, H, W)`` in [-1, 1] as a looping GIF; ``bounce`` plays them forward then back."""
    pictures = [to_pil(frame, scale) for frame in frames]
    if bounce and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return path
