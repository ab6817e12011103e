"""``ganbench-sample``: write N generated images as PNG files and a grid from a checkpoint or run folder.

Examples::

    ganbench-sample outputs/2026-12-04/12-00-00 num=64 class=7
    ganbench-sample run/checkpoints/last.ckpt --num 10000 --psi 0.7 --weights raw --out samples/

The same checkpoint, seed and options write byte-identical PNG files. For
conditional models the domain classifier of the run's dataset (the one the
metrics use) reports how often a sample shows the class it was asked for.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from ganbench.checkpoint import generator_from_checkpoint, read_checkpoint
from ganbench.cli import hydra_style_argv, positive_int
from ganbench.errors import ConfigError
from ganbench.image_files import grid_image, save_png, to_pil
from ganbench.latent import check_psi, has_split, mean_w, render
from ganbench.metrics.ranges import to_unit_range

log = logging.getLogger(__name__)

# Defaults of ImageMetrics.prepare, used when the run was trained with metrics=none.
CLASSIFIER_DEFAULTS = {"epochs": 4, "width": 32, "feature_dim": 128}
CLASSIFIER_MODES = ("auto", "cached", "off")


# Labels and generation.
def make_labels(num: int, num_classes: int, class_index: int | None) -> Tensor | None:
    """Return labels ``(num,)``: all ``class_index``, or 0, 1, ..., K-1 repeated; ``None`` for unconditional models."""
    if num_classes == 0:
        if class_index is not None:
            raise ConfigError("class is set, but this generator is not conditional; leave class out")
        return None
    if class_index is None:
        return torch.arange(num) % num_classes
    if not 0 <= class_index < num_classes:
        raise ConfigError(f"class={class_index} is out of range: this generator has classes 0..{num_classes - 1}")
    return torch.full((num,), class_index, dtype=torch.long)


@torch.no_grad()
def generate(
    generator: nn.Module,
    num: int,
    seed: int = 0,
    labels: Tensor | None = None,
    psi: float = 1.0,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Tensor:
    """Return ``num`` images ``(num, C, H, W)`` in [-1, 1] on the CPU from seeded z.

    z is drawn at once on the CPU from ``seed``, so the codes do not depend on
    ``batch_size`` or ``device``. The images depend on ``batch_size`` only if
    the generator is in train mode, because BatchNorm then uses batch statistics.
    """
    if num <= 0:
        raise ConfigError(f"num={num} is invalid: give the number of images to write, >= 1")
    check_psi(psi)
    generator = generator.to(device)
    noise = torch.Generator().manual_seed(seed)
    z = torch.randn(num, generator.latent_dim, generator=noise)
    w_avg = mean_w(generator, seed=seed) if psi != 1.0 and has_split(generator) else None
    chunks = []
    starts = range(0, num, batch_size)
    for start in tqdm(starts, desc="sampling", unit="batch", disable=not progress or len(starts) < 2):
        chunk_labels = labels[start : start + batch_size].to(device) if labels is not None else None
        images = render(generator, z[start : start + batch_size].to(device), chunk_labels, psi, w_avg)
        chunks.append(images.float().cpu())
    return torch.cat(chunks)


# Domain classifier.
def domain_classifier(config: dict[str, Any], mode: str = "auto", cache_dir: str | None = None):
    """Return the run's cached domain classifier (eval mode), training and caching it in mode ``auto``.

    The cache key is the dataset settings plus the classifier settings of the
    run's metrics config, as in training, so this is the classifier behind the
    run's ``val/class_accuracy``. Returns ``(classifier or None, message)``;
    ``None`` when mode is ``off``, or ``cached`` and nothing is cached.
    """
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from ganbench.metrics import domain

    if mode not in CLASSIFIER_MODES:
        raise ConfigError(f"classifier={mode!r} is unknown; use one of {', '.join(CLASSIFIER_MODES)}")
    if mode == "off":
        return None, "class accuracy: skipped (classifier=off)"
    metrics = config.get("metrics") or {}
    settings = {**CLASSIFIER_DEFAULTS, **(metrics.get("classifier") or {})}
    cache_dir = cache_dir or metrics.get("cache_dir") or os.environ.get("GANBENCH_CACHE", "~/.cache/ganbench")
    try:
        datamodule = instantiate(OmegaConf.create(config["dataset"]), seed=config.get("seed", 0))
    except Exception as error:  # noqa: BLE001 - any dataset failure only skips the accuracy
        return None, f"class accuracy: skipped, the run's dataset cannot be opened here ({error})"
    path = domain.cache_path(cache_dir, datamodule.settings(), settings)
    if not path.exists() and mode == "cached":
        return None, (
            f"class accuracy: skipped, no domain classifier is cached at {path}. Run again with classifier=auto to train "
            f"it ({settings['epochs']} epochs on the run's dataset), or train any run on this dataset with metrics=domain"
        )
    if not path.exists():
        print(f"training the domain classifier once (cached at {path}) ...", file=sys.stderr)
    datamodule.setup("fit")
    classifier, accuracy, path = domain.load_or_train(cache_dir, datamodule.settings(), datamodule.samples, datamodule.labels, settings)
    return classifier, f"domain classifier {path} (held-out accuracy on real images {accuracy:.4f})"


@torch.no_grad()
def classify(classifier: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """Return the classes ``(N,)`` the domain classifier predicts for images ``(N, C, H, W)`` in [-1, 1]."""
    predicted = []
    for start in range(0, len(images), batch_size):
        x = to_unit_range(images[start : start + batch_size]) * 2.0 - 1.0  # as in ImageMetrics.extract
        predicted.append(classifier(x).argmax(dim=1))
    return torch.cat(predicted)


# Files.
def run_folder(checkpoint_path: str | Path) -> Path:
    """Return the run folder of a checkpoint under ``<run folder>/checkpoints/``, else the checkpoint's folder."""
    file = Path(checkpoint_path)
    return file.parent.parent if file.parent.name == "checkpoints" else file.parent


def default_out_dir(checkpoint_path: str | Path, seed: int, class_index: int | None) -> Path:
    """Return ``<run folder>/generated/seed<seed>[_class<k>]``."""
    name = f"seed{seed}" + (f"_class{class_index}" if class_index is not None else "")
    return run_folder(checkpoint_path) / "generated" / name


def write_images(images: Tensor, out_dir: Path, labels: Tensor | None, nrow: int, grid_size: int) -> list[Path]:
    """Write ``000000.png``, ... (``000000_class3.png`` when labelled) and ``grid.png`` of the first ``grid_size``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for index, image in enumerate(images):
        suffix = f"_class{int(labels[index])}" if labels is not None else ""
        files.append(save_png(to_pil(image), out_dir / f"{index:06d}{suffix}.png"))
    save_png(grid_image(images[:grid_size], nrow=nrow), out_dir / "grid.png")
    return files


# Command line.
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganbench-sample",
        description="Write generated images as PNG files and a grid. Options also take the form key=value (class=7).",
    )
    parser.add_argument("checkpoint", help="a .ckpt file or a run folder with checkpoints/last.ckpt")
    parser.add_argument("--num", type=int, default=64, help="number of images to write (default 64)")
    parser.add_argument("--out", default=None, help="output folder (default <run folder>/generated/seed<seed>[_class<k>])")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent codes (default 0)")
    parser.add_argument("--class", dest="class_index", type=int, default=None, metavar="K",
                        help="class of every image for conditional models (default: classes 0..K-1 in turn)")
    parser.add_argument("--batch-size", type=positive_int, default=256, help="images per generator call (default 256)")
    parser.add_argument("--psi", type=float, default=1.0,
                        help="truncation in [0, 1] towards the mean w (or z = 0 without a mapping network); 1 = off")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="ema: the EMA generator when the run kept one (default); raw: the trained weights")
    parser.add_argument("--nrow", type=positive_int, default=8, help="images per grid row (default 8)")
    parser.add_argument("--grid-size", type=positive_int, default=64, help="images in grid.png (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device for the generator (default cpu)")
    parser.add_argument("--classifier", choices=CLASSIFIER_MODES, default="auto",
                        help="class accuracy for conditional models: auto trains the classifier when it is not cached, "
                             "cached only uses a cached one, off skips it")
    parser.add_argument("--cache-dir", default=None, help="domain classifier cache (default: the run's metrics.cache_dir)")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Write the images that ``args`` ask for and return the summary also written to ``samples.json``."""
    if args.num <= 0:
        raise ConfigError(f"num={args.num} is invalid: give the number of images to write, >= 1")
    check_or_raise_psi(args.psi)
    checkpoint = read_checkpoint(args.checkpoint)
    generator = generator_from_checkpoint(checkpoint, use_ema=args.weights == "ema")
    if len(checkpoint["ganbench_data"]["sample_shape"]) != 3:
        raise ConfigError("ganbench-sample writes images, but this checkpoint's generator produces 2-D points")
    num_classes = getattr(generator, "num_classes", 0)
    labels = make_labels(args.num, num_classes, args.class_index)
    out_dir = Path(args.out) if args.out else default_out_dir(checkpoint["__path__"], args.seed, args.class_index)
    if args.weights == "ema" and generator.weights == "raw":
        print("weights: raw (the run kept no EMA generator; set ema_decay when training to get one)")
    else:
        print(f"weights: {generator.weights}")

    images = generate(generator, args.num, args.seed, labels, args.psi, args.batch_size, args.device, progress=True)
    write_images(images, out_dir, labels, args.nrow, args.grid_size)
    summary: dict[str, Any] = {
        "checkpoint": checkpoint["__path__"], "num": args.num, "seed": args.seed, "class": args.class_index,
        "psi": args.psi, "weights": generator.weights,
    }
    print(f"wrote {args.num} PNG files and grid.png to {out_dir}")

    if num_classes:
        classifier, message = domain_classifier(checkpoint["ganbench_config"], args.classifier, args.cache_dir)
        print(message)
        if classifier is not None:
            accuracy = float((classify(classifier, images) == labels).float().mean())
            summary["class_accuracy"] = accuracy
            target = f"class {args.class_index}" if args.class_index is not None else "the requested class"
            print(f"class accuracy: {accuracy:.4f} ({args.num} samples; fraction the domain classifier assigns {target})")
    (out_dir / "samples.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def check_or_raise_psi(psi: float) -> None:
    try:
        check_psi(psi)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(hydra_style_argv(parser, sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
