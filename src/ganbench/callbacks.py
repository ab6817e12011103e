"""Callbacks that write what a person looks at: sample grids per epoch and a one-line epoch summary."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from torchvision.utils import make_grid, save_image

from ganbench.loggers import JsonlLogger

log = logging.getLogger(__name__)


def logging_step(trainer: L.Trainer) -> int:
    """Return the step Lightning attaches to ``self.log`` values: real batches trained so far, minus one.

    W&B needs one monotonic step axis, so images use it too (not
    ``global_step``, which counts the optimizer steps of both networks).
    """
    return max(0, trainer.fit_loop.epoch_loop._batches_that_stepped - 1)


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> Path:
    """Save images ``(N, C, H, W)`` in [-1, 1] as one PNG grid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1.0)
    save_image(grid, path)
    return path


class SampleImages(L.Callback):
    """After every epoch, draw the fixed noise batch and save ``samples/epoch_NNN.png``.

    Image data becomes a grid; 2-D point data a scatter plot over the true
    modes (``datamodule.plot_samples``). The image also goes to W&B under
    ``samples`` and its path to ``metrics.jsonl``.
    """

    def __init__(self, run_dir: str | Path, every_n_epochs: int = 1) -> None:
        super().__init__()
        self.folder = Path(run_dir) / "samples"
        self.every_n_epochs = every_n_epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs and epoch != trainer.max_epochs:
            return
        path = self.folder / f"epoch_{epoch:03d}.png"
        datamodule = trainer.datamodule
        if getattr(datamodule, "kind", "image") == "points":
            z, labels = pl_module.sample_latents(getattr(datamodule, "plot_size", 2500))
            datamodule.plot_samples(pl_module.generate(z, labels).cpu(), path, title=f"epoch {epoch}")
        else:
            save_grid(pl_module.fixed_samples(), path)
        if trainer.is_global_zero:
            step = logging_step(trainer)
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.log_image(key="samples", images=[str(path)], step=step, caption=[f"epoch {epoch}"])
                elif isinstance(logger, JsonlLogger):
                    logger.write({"step": step, "epoch": trainer.current_epoch, "samples": str(path.relative_to(self.folder.parent))})


class EpochLine(L.Callback):
    """Print one line per epoch with the losses, update counters, metrics and elapsed time."""

    KEYS = ("train/d_loss", "train/g_loss", "train/penalty", "val/fid", "val/kid", "val/is", "val/modes_covered",
            "val/hq_fraction", "val/class_accuracy")

    def __init__(self) -> None:
        super().__init__()
        self.start = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Listed after the metric callbacks, so their values of this epoch are in callback_metrics.
        if trainer.is_global_zero:
            bar = trainer.progress_bar_callback
            line = self.line(trainer, pl_module)
            if bar is not None and hasattr(bar, "print"):
                bar.print(line)
            else:
                print(line, flush=True)

    def line(self, trainer: L.Trainer, pl_module: L.LightningModule) -> str:
        metrics = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}",
                 f"d_updates {pl_module.d_updates}", f"g_updates {pl_module.g_updates}"]
        for key in self.KEYS:
            if key in metrics:
                parts.append(f"{key.split('/', 1)[1]} {float(metrics[key]):.4g}")
        parts.append(f"{time.monotonic() - self.start:.0f}s")
        return " | ".join(parts)
