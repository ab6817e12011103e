"""``ganbench-export``: write a trained generator as ONNX plus a sampler that runs it without PyTorch.

The export folder holds:

- ``generator.onnx``: inputs ``z`` float32 ``(N, latent_dim)`` and, for
  conditional models, ``labels`` int64 ``(N,)``; output ``images`` float32
  ``(N, C, H, W)`` in [-1, 1]; N is dynamic. The model is traced in eval mode
  (BatchNorm uses its running statistics) with spectral norm folded into plain
  weights. The metadata key ``ganbench`` stores latent_dim, num_classes,
  channels and image_size as JSON.
- ``sample_onnx.py``: a copy of :mod:`ganbench.onnx_sampler` (numpy,
  onnxruntime and PIL only).

The exporter is torch's TorchScript-based one (``dynamo=False``): the
torch.export-based exporter of torch 2.14 needs the onnxscript package, which
ganbench does not depend on.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganbench.checkpoint import generator_from_checkpoint, read_checkpoint
from ganbench.cli import hydra_style_argv
from ganbench.errors import ConfigError
from ganbench.sample import run_folder

OPSET = 17


def fold_parametrizations(generator: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``generator`` with every parametrization (spectral norm) folded into plain weights.

    In eval mode spectral norm divides by the sigma of its stored power
    iteration vectors without updating them, so the folded weight equals the
    weight the eval-mode network uses. The original network is not changed.
    """
    folded = copy.deepcopy(generator).eval()
    for module in folded.modules():
        if parametrize.is_parametrized(module):
            # deepcopy keeps the per-module class that parametrize injects, and removing a
            # parametrization deletes its property from that class, which would break the
            # original too. The copy gets its own class first.
            shared = type(module)
            own = {key: value for key, value in vars(shared).items() if key not in ("__dict__", "__weakref__")}
            module.__class__ = type(shared.__name__, shared.__bases__, own)
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return folded.requires_grad_(False)


class _ExportWrapper(nn.Module):
    """Give the traced graph fixed positional inputs: ``(z)`` or ``(z, labels)``."""

    def __init__(self, generator: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.generator = generator
        self.conditional = conditional

    def forward(self, z, labels=None):
        return self.generator(z, labels) if self.conditional else self.generator(z)


def export_generator(generator: nn.Module, path: str | Path, example_batch: int = 2) -> Path:
    """Write ``generator`` (a module with ``latent_dim`` and ``num_classes``) to ``path`` as ONNX.

    Raises ConfigError when the generator does not produce images ``(N, C, H, W)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    num_classes = int(getattr(generator, "num_classes", 0) or 0)
    conditional = num_classes > 0
    folded = fold_parametrizations(generator).cpu()
    wrapper = _ExportWrapper(folded, conditional).eval()

    z = torch.randn(example_batch, generator.latent_dim)
    inputs: tuple = (z,)
    input_names = ["z"]
    dynamic_axes = {"z": {0: "batch"}, "images": {0: "batch"}}
    if conditional:
        inputs = (z, torch.arange(example_batch) % num_classes)
        input_names.append("labels")
        dynamic_axes["labels"] = {0: "batch"}
    with torch.no_grad():
        sample = wrapper(*inputs)
    if sample.dim() != 4:
        raise ConfigError(f"ganbench-export writes image generators; this one returns shape {tuple(sample.shape)}")

    with warnings.catch_warnings():
        # The TorchScript exporter warns that it is deprecated in favour of dynamo=True (see module docstring),
        # and the tracer warns about the networks' Python shape checks, which pass on the example inputs.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper,
            inputs,
            str(path),
            input_names=input_names,
            output_names=["images"],
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            dynamo=False,
        )
    _add_metadata(path, {
        "latent_dim": int(generator.latent_dim),
        "num_classes": num_classes,
        "channels": int(sample.shape[1]),
        "image_size": int(sample.shape[-1]),
    })
    return path


def _add_metadata(path: Path, info: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "ganbench", json.dumps(info)
    onnx.save(model, str(path))


def max_abs_difference(generator: nn.Module, path: str | Path, batch_sizes: tuple[int, ...] = (1, 5), seed: int = 0) -> float:
    """Return the max absolute difference between onnxruntime (CPU) and the eval-mode generator on seeded inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    num_classes = int(getattr(generator, "num_classes", 0) or 0)
    network = generator.eval()
    noise = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch in batch_sizes:
        z = torch.randn(batch, generator.latent_dim, generator=noise)
        feeds = {"z": z.numpy()}
        labels = None
        if num_classes:
            labels = torch.randint(0, num_classes, (batch,), generator=noise)
            feeds["labels"] = labels.numpy()
        with torch.no_grad():
            expected = (network(z, labels) if num_classes else network(z)).numpy()
        actual = session.run(["images"], feeds)[0]
        if actual.shape != expected.shape:
            raise RuntimeError(f"onnxruntime returned shape {actual.shape}, PyTorch {expected.shape}, at batch {batch}")
        worst = max(worst, float(np.abs(actual - expected).max()))
    return worst


def write_sampler(out_dir: str | Path) -> Path:
    """Copy the torch-free sampler next to the model as ``sample_onnx.py``."""
    from ganbench import onnx_sampler

    target = Path(out_dir) / "sample_onnx.py"
    shutil.copyfile(onnx_sampler.__file__, target)
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganbench-export",
        description="Write generator.onnx and sample_onnx.py (runs it with onnxruntime, no torch). "
        "Options also take the form key=value.",
    )
    parser.add_argument("checkpoint", help="a .ckpt file or a run folder with checkpoints/last.ckpt")
    parser.add_argument("--out", default=None, help="output folder (default <run folder>/export)")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="ema: the EMA generator when the run kept one (default); raw: the trained weights")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(hydra_style_argv(parser, sys.argv[1:] if argv is None else argv))
    try:
        checkpoint = read_checkpoint(args.checkpoint)
        checkpoint_path = checkpoint["__path__"]
        generator = generator_from_checkpoint(checkpoint, use_ema=args.weights == "ema")
        out_dir = Path(args.out) if args.out else run_folder(checkpoint_path) / "export"
        model_path = export_generator(generator, out_dir / "generator.onnx")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sampler = write_sampler(out_dir)
    difference = max_abs_difference(generator, model_path)
    print(f"wrote {model_path} ({generator.weights} weights) and {sampler}")
    print(f"onnxruntime vs PyTorch (eval mode), batches 1 and 5: max abs difference {difference:.3g}")
    print(f"sample without torch: python {sampler} {model_path} --num 16 --out {out_dir / 'samples'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
