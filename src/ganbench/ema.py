"""Exponential moving average of generator weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMAGenerator(nn.Module):
    """A frozen copy of a generator whose parameters track ``decay * ema + (1 - decay) * current``.

    Buffers (BatchNorm running statistics) are copied, not averaged, after
    every update, as StyleGAN2 does: averaging statistics of different weights
    would describe no network. The copy stays in eval mode.
    """

    def __init__(self, generator: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        for ema_param, param in zip(self.module.parameters(), generator.parameters(), strict=True):
            ema_param.lerp_(param.detach(), 1.0 - self.decay)
        for ema_buffer, buffer in zip(self.module.buffers(), generator.buffers(), strict=True):
            ema_buffer.copy_(buffer)

    def train(self, mode: bool = True) -> EMAGenerator:
        # The averaged copy is only ever evaluated.
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
