"""Conversions from generator output (tanh, [-1, 1]) to the input ranges metrics expect."""

from __future__ import annotations

import torch
from torch import Tensor


def to_unit_range(images: Tensor) -> Tensor:
    """Map [-1, 1] to float [0, 1], clamping values outside the range."""
    return ((images.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def to_uint8(images: Tensor) -> Tensor:
    """Map [-1, 1] to uint8 0..255 with rounding; out-of-range values clamp instead of wrapping around."""
    return (to_unit_range(images) * 255.0).round().to(torch.uint8)
