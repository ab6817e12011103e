"""Latent-space tools: interpolation, truncation, attribute directions and edits.

Generators built by ganbench split into ``map(z, labels) -> w`` and
``synthesis(w, labels) -> images``. Without a mapping network w equals z.
Interpolation and edits can run in Z or in W. Z is an isotropic Gaussian, where
slerp keeps codes at typical norms. W is the output of a learned MLP, where
StyleGAN interpolates linearly.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ganbench.nets.layers import MappingNetwork

SPACES = ("z", "w")
METHODS = ("lerp", "slerp")


# Interpolation.
def lerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    """Return ``(1 - t) * a + t * b``; exactly ``a`` at t = 0 and exactly ``b`` at t = 1.

    ``a`` and ``b`` have the same shape ``(..., D)``; ``t`` is a number or a
    tensor that broadcasts against them.
    """
    if a.shape != b.shape:
        raise ValueError(f"codes to interpolate must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (1 - t) * a + t * b


def slerp(a: Tensor, b: Tensor, t: float | Tensor, parallel_eps: float = 1e-6) -> Tensor:
    """Interpolate along the great circle from ``a`` to ``b`` (Shoemake, 1985).

    Shapes: ``a``, ``b`` ``(..., D)``; ``t`` a number or a tensor that
    broadcasts against ``(..., 1)``. The angle comes from the normalised
    codes, and the weights ``sin((1 - t) * omega) / sin(omega)`` and
    ``sin(t * omega) / sin(omega)`` apply to the codes as they are, so their
    norms are interpolated too. Where ``sin(omega) < parallel_eps`` (nearly
    parallel or opposite codes) the great circle is ill-defined, and
    :func:`lerp` is used instead. Both branches return exactly ``a`` at t = 0
    and exactly ``b`` at t = 1. A code with itself returns the code.

    Raises ValueError when the shapes differ or a code has zero norm (it has
    no direction).
    """
    if a.shape != b.shape:
        raise ValueError(f"codes to interpolate must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.dim() == 0:
        raise ValueError("slerp needs codes with at least one dimension, got scalars")
    norm_a = a.norm(dim=-1, keepdim=True)
    norm_b = b.norm(dim=-1, keepdim=True)
    for name, norm in (("first", norm_a), ("second", norm_b)):
        if bool((norm == 0).any()):
            raise ValueError(f"slerp is undefined for a zero vector: the {name} code has norm 0; use lerp or another code")
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() > 0 and t.shape[-1] != 1:
        t = t.unsqueeze(-1)
    cosine = ((a / norm_a) * (b / norm_b)).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cosine)
    sin_omega = torch.sin(omega)
    parallel = sin_omega < parallel_eps
    # Replace the divisor where it is tiny, so the unused branch stays finite.
    safe_sin = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    on_circle = torch.sin((1 - t) * omega) / safe_sin * a + torch.sin(t * omega) / safe_sin * b
    result = torch.where(parallel, lerp(a, b, t), on_circle)
    # A code with itself is the code, not a rounded weighted sum of it.
    same = (a == b).all(dim=-1, keepdim=True)
    return torch.where(same, a, result)


def interpolate(a: Tensor, b: Tensor, steps: int, method: str = "slerp") -> Tensor:
    """Return ``steps`` codes ``(steps, D)`` from code ``a`` ``(D,)`` to code ``b`` ``(D,)``, both ends included."""
    if method not in METHODS:
        raise ValueError(f"interpolation method {method!r} is unknown; use one of {', '.join(METHODS)}")
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps (both ends), got {steps}")
    t = torch.linspace(0.0, 1.0, steps, dtype=a.dtype).unsqueeze(1)
    fn = slerp if method == "slerp" else lerp
    return fn(a.unsqueeze(0).expand(steps, -1), b.unsqueeze(0).expand(steps, -1), t)


# Mapping and truncation.
def has_mapping(generator: nn.Module) -> bool:
    """Return whether the generator maps z to w by a learned network (else w equals z)."""
    return isinstance(getattr(generator, "mapping", None), MappingNetwork)


def has_split(generator: nn.Module) -> bool:
    """Return whether the generator exposes ``map`` and ``synthesis`` (all ganbench image generators do)."""
    return callable(getattr(generator, "map", None)) and callable(getattr(generator, "synthesis", None))


@torch.no_grad()
def mean_w(generator: nn.Module, num: int = 10_000, seed: int = 0, batch_size: int = 1000) -> Tensor:
    """Return the mean latent ``(latent_dim,)`` that truncation pulls towards.

    It is 0 (the mean of z) without a mapping network, and otherwise the mean
    of ``map(z)`` over ``num`` seeded draws of z, with uniform labels for
    conditional generators.
    """
    device = next(generator.parameters()).device
    if not has_mapping(generator):
        return torch.zeros(generator.latent_dim, device=device)
    noise = torch.Generator().manual_seed(seed)
    total = torch.zeros(generator.latent_dim, dtype=torch.float64, device=device)
    num_classes = getattr(generator, "num_classes", 0)
    for start in range(0, num, batch_size):
        count = min(batch_size, num - start)
        z = torch.randn(count, generator.latent_dim, generator=noise).to(device)
        labels = torch.randint(0, num_classes, (count,), generator=noise).to(device) if num_classes else None
        total += generator.map(z, labels).double().sum(dim=0)
    return (total / num).float()


def check_psi(psi: float) -> float:
    if not math.isfinite(psi) or not 0.0 <= psi <= 1.0:
        raise ValueError(
            f"truncation psi={psi} is outside [0, 1]: psi=1 keeps the samples as drawn, psi=0 gives the mean latent"
        )
    return psi


def truncate(w: Tensor, w_avg: Tensor, psi: float) -> Tensor:
    """Pull codes ``(N, D)`` towards the mean ``(D,)``: ``w_avg + psi * (w - w_avg)`` (the truncation trick)."""
    check_psi(psi)
    return w if psi == 1.0 else torch.lerp(w_avg.to(w), w, psi)


@torch.no_grad()
def render(
    generator: nn.Module, z: Tensor, labels: Tensor | None = None, psi: float = 1.0, w_avg: Tensor | None = None
) -> Tensor:
    """Return ``generator``'s images for z ``(N, latent_dim)`` and labels ``(N,)``, truncated by ``psi`` in W.

    Generators without ``map``/``synthesis`` are truncated in Z (towards 0).
    """
    if not has_split(generator):
        return generator(truncate(z, torch.zeros_like(z[0]), psi), labels)
    w = generator.map(z, labels)
    if psi != 1.0:
        w = truncate(w, w_avg if w_avg is not None else mean_w(generator), psi)
    return generator.synthesis(w, labels)


def to_code(generator: nn.Module, z: Tensor, labels: Tensor | None, space: str) -> Tensor:
    """Return the codes of z in ``space``: z itself, or ``map(z, labels)`` for W."""
    if space not in SPACES:
        raise ValueError(f"latent space {space!r} is unknown; use one of {', '.join(SPACES)}")
    if space == "z":
        return z
    if not has_split(generator):
        raise ValueError(f"{type(generator).__name__} has no map/synthesis split; use the z space")
    with torch.no_grad():
        return generator.map(z, labels)


@torch.no_grad()
def from_code(generator: nn.Module, codes: Tensor, labels: Tensor | None, space: str) -> Tensor:
    """Render images ``(N, C, H, W)`` from codes ``(N, latent_dim)`` in ``space``."""
    if space == "z":
        return generator(codes, labels)
    return generator.synthesis(codes, labels)


# Attribute directions.
def attribute_direction(codes: Tensor, has_attribute: Tensor) -> Tensor:
    """Return the unit vector ``(D,)`` from the mean code without the attribute to the mean code with it.

    Args:
        codes: latent codes ``(N, D)`` of the samples.
        has_attribute: booleans ``(N,)``; both groups must be non-empty.
    """
    flags = has_attribute.bool()
    if flags.shape != codes.shape[:1]:
        raise ValueError(f"has_attribute must have shape ({codes.shape[0]},), got {tuple(flags.shape)}")
    count = int(flags.sum())
    if count == 0 or count == len(flags):
        raise ValueError(
            f"{count} of {len(flags)} samples have the attribute; a direction needs samples with and without it "
            "(draw more samples or change the attribute's threshold)"
        )
    difference = codes[flags].double().mean(dim=0) - codes[~flags].double().mean(dim=0)
    norm = difference.norm()
    if norm == 0:
        raise ValueError("the mean codes with and without the attribute are equal; the attribute has no direction")
    return (difference / norm).to(codes.dtype)


def ink_fraction(images: Tensor, threshold: float = 0.0) -> Tensor:
    """Return the fraction ``(N,)`` of pixels brighter than ``threshold`` in images ``(N, C, H, W)`` in [-1, 1].

    For light strokes on a dark background (MNIST), it grows with stroke thickness.
    """
    return (images > threshold).flatten(1).float().mean(dim=1)


def split_by_score(scores: Tensor, fraction: float = 0.5) -> tuple[Tensor, Tensor]:
    """Return masks ``(N,)`` of the top and the bottom ``fraction`` of ``scores`` ``(N,)``.

    With ``fraction = 0.5`` the split is at the median. Ties are broken by order.
    """
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    count = max(1, int(len(scores) * fraction))
    order = torch.argsort(scores, stable=True)
    top = torch.zeros(len(scores), dtype=torch.bool)
    bottom = torch.zeros(len(scores), dtype=torch.bool)
    top[order[-count:]] = True
    bottom[order[:count]] = True
    return top, bottom


@torch.no_grad()
def find_direction(
    generator: nn.Module,
    attribute: Callable[[Tensor], Tensor],
    num: int = 2000,
    space: str = "w",
    seed: int = 0,
    labels: Tensor | None = None,
    fraction: float = 0.5,
    batch_size: int = 500,
) -> tuple[Tensor, dict[str, float]]:
    """Find an attribute direction ``(latent_dim,)`` from ``num`` seeded samples.

    ``attribute`` maps images ``(N, C, H, W)`` to booleans ``(N,)`` (e.g. "the
    classifier predicts class 3") or to scores ``(N,)`` (e.g. ink fraction),
    which are split into the top and bottom ``fraction``. The direction is the
    normalised difference of the mean codes of the two groups. Also returns
    statistics: group sizes and the mean score of each group.

    NOTE: for codes with covariance S (W after a mapping network), an attribute
    that depends on ``w . d`` gives a mean difference along ``S d``, not ``d``.
    The two agree only where the codes are isotropic, as z is.
    """
    noise = torch.Generator().manual_seed(seed)
    z = torch.randn(num, generator.latent_dim, generator=noise)
    num_classes = getattr(generator, "num_classes", 0)
    if labels is None and num_classes:
        labels = torch.randint(0, num_classes, (num,), generator=noise)
    codes, values = [], []
    for start in range(0, num, batch_size):
        chunk = slice(start, start + batch_size)
        chunk_labels = labels[chunk] if labels is not None else None
        code = to_code(generator, z[chunk], chunk_labels, space)
        codes.append(code)
        values.append(attribute(from_code(generator, code, chunk_labels, space)).cpu())
    codes_all, values_all = torch.cat(codes).cpu(), torch.cat(values)
    if values_all.dtype == torch.bool:
        with_attribute, without = values_all, ~values_all
        scores = values_all.float()
    else:
        scores = values_all.float()
        with_attribute, without = split_by_score(scores, fraction)
    keep = with_attribute | without
    direction = attribute_direction(codes_all[keep], with_attribute[keep])
    stats = {
        "num_with": int(with_attribute.sum()),
        "num_without": int(without.sum()),
        "score_with": float(scores[with_attribute].mean()),
        "score_without": float(scores[without].mean()),
    }
    return direction, stats


def edit(codes: Tensor, direction: Tensor, alphas: Sequence[float]) -> Tensor:
    """Return edited codes ``(len(alphas), N, D)``: ``codes + alpha * direction`` for each alpha.

    ``codes`` is ``(N, D)`` and ``direction`` ``(D,)``.
    """
    if direction.shape != codes.shape[-1:]:
        raise ValueError(f"direction has shape {tuple(direction.shape)}, codes have {codes.shape[-1]} dimensions")
    steps = torch.tensor(list(alphas), dtype=codes.dtype, device=codes.device).reshape(-1, 1, 1)
    return codes.unsqueeze(0) + steps * direction.to(codes)


# Command line.
def _parse_alphas(text: str) -> list[float]:
    try:
        alphas = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"alphas must be comma-separated numbers, e.g. -3,0,3; got {text!r}") from error
    if not alphas or not all(math.isfinite(a) for a in alphas):
        raise argparse.ArgumentTypeError(f"alphas must be finite numbers, got {text!r}")
    return alphas


def _attribute_fn(spec: str, num_classes: int, config: dict, classifier_mode: str):
    """Return (images -> booleans or scores, description) for ``thickness`` or ``class:K`` / ``class=K``."""
    from ganbench.errors import ConfigError
    from ganbench.sample import classify, domain_classifier

    if spec == "thickness":
        return ink_fraction, "ink fraction (stroke thickness)"
    name, _, value = spec.replace("=", ":").partition(":")
    if name != "class" or not value.lstrip("-").isdigit():
        raise ConfigError(f"attribute={spec!r} is unknown; use thickness or class:K (K a class index)")
    class_index = int(value)
    if num_classes and not 0 <= class_index < num_classes:
        raise ConfigError(f"attribute class {class_index} is out of range: the dataset has classes 0..{num_classes - 1}")
    classifier, message = domain_classifier(config, classifier_mode)
    print(message)
    if classifier is None:
        raise ConfigError("attribute class:K needs the domain classifier; run with classifier=auto")
    return (lambda images: classify(classifier, images) == class_index), f"domain classifier predicts class {class_index}"


def _codes_for_rows(generator: nn.Module, rows: int, seed: int, class_index: int | None, space: str):
    from ganbench.sample import make_labels

    noise = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, generator.latent_dim, generator=noise)
    labels = make_labels(rows, getattr(generator, "num_classes", 0), class_index)
    return to_code(generator, z, labels, space), labels


def _interpolation_command(args: argparse.Namespace, generator: nn.Module) -> None:
    from ganbench.image_files import grid_image, save_gif, save_png
    from ganbench.sample import make_labels

    noise = torch.Generator().manual_seed(args.seed)
    z = torch.randn(2 * args.rows, generator.latent_dim, generator=noise)
    labels = make_labels(args.rows, getattr(generator, "num_classes", 0), args.class_index)
    starts = to_code(generator, z[: args.rows], labels, args.space)
    ends = to_code(generator, z[args.rows :], labels, args.space)
    # frames: (steps, rows, C, H, W); one row per pair of codes, the label fixed along the row.
    frames = torch.stack([
        from_code(generator, interpolate(starts[row], ends[row], args.steps, args.command),
                  labels[row].repeat(args.steps) if labels is not None else None, args.space)
        for row in range(args.rows)
    ], dim=1)
    out = Path(args.out)
    if out.suffix.lower() == ".gif":
        save_gif(_frame_grids(frames), out, duration_ms=args.duration, scale=args.scale)
    else:
        save_png(grid_image(frames.transpose(0, 1).reshape(-1, *frames.shape[2:]), nrow=args.steps, scale=args.scale), out)
    print(f"wrote {args.command} in {args.space.upper()}: {args.rows} row(s) x {args.steps} steps to {out}")


def _frame_grids(frames: Tensor) -> Tensor:
    """Tile each frame's rows side by side: ``(T, R, C, H, W)`` -> ``(T, C, H, R * W)``."""
    return torch.cat(list(frames.unbind(dim=1)), dim=-1)


def _direction_command(args: argparse.Namespace, generator: nn.Module, config: dict) -> tuple[Tensor, str]:
    attribute, description = _attribute_fn(args.attribute, getattr(generator, "num_classes", 0), config, args.classifier)
    labels = None
    if args.class_index is not None:
        from ganbench.sample import make_labels

        labels = make_labels(args.num, getattr(generator, "num_classes", 0), args.class_index)
    direction, stats = find_direction(generator, attribute, args.num, args.space, args.seed, labels, args.fraction)
    print(
        f"direction in {args.space.upper()} for '{description}' from {args.num} samples: "
        f"{stats['num_with']} with (mean score {stats['score_with']:.4f}), "
        f"{stats['num_without']} without (mean score {stats['score_without']:.4f})"
    )
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"direction": direction, "space": args.space, "attribute": args.attribute, "stats": stats}, args.save)
        print(f"saved the direction to {args.save}")
    return direction, description


def _load_direction(path: str, space: str, latent_dim: int) -> Tensor:
    from ganbench.errors import ConfigError

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        direction, saved_space = saved["direction"], saved["space"]
    except (OSError, RuntimeError, KeyError, TypeError) as error:
        raise ConfigError(f"direction file {path} is missing or unreadable ({error}); write one with ganbench-latent direction --save") from error
    if saved_space != space or direction.shape != (latent_dim,):
        raise ConfigError(
            f"direction {path} is a {tuple(direction.shape)} vector in {saved_space.upper()}, "
            f"but this edit is in {space.upper()} with {latent_dim} dimensions"
        )
    return direction


def _edit_command(args: argparse.Namespace, generator: nn.Module, config: dict) -> None:
    from ganbench.image_files import grid_image, save_png

    if args.direction:
        direction = _load_direction(args.direction, args.space, generator.latent_dim)
        attribute, description = _attribute_fn(args.attribute, getattr(generator, "num_classes", 0), config, args.classifier) if args.attribute else (None, None)
    else:
        direction, description = _direction_command(args, generator, config)
        attribute, _ = _attribute_fn(args.attribute, getattr(generator, "num_classes", 0), config, args.classifier)
    codes, labels = _codes_for_rows(generator, args.rows, args.seed + 1, args.class_index, args.space)
    edited = edit(codes, direction, args.alphas)
    images = torch.stack([from_code(generator, step, labels, args.space) for step in edited])  # (A, R, C, H, W)
    out = Path(args.out)
    save_png(grid_image(images.transpose(0, 1).reshape(-1, *images.shape[2:]), nrow=len(args.alphas), scale=args.scale), out)
    print(f"wrote {args.rows} row(s) x {len(args.alphas)} alphas {args.alphas} to {out}")
    if attribute is not None:
        for alpha, step in zip(args.alphas, images):
            score = attribute(step).float().mean()
            print(f"alpha {alpha:+.2f}: mean {description} {float(score):.4f}")


def build_parser() -> argparse.ArgumentParser:
    from ganbench.cli import positive_int

    parser = argparse.ArgumentParser(
        prog="ganbench-latent",
        description="Interpolate between latent codes, find attribute directions and edit codes along them. "
        "Options also take the form key=value.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("checkpoint", help="a .ckpt file or a run folder with checkpoints/last.ckpt")
    common.add_argument("--space", choices=SPACES, default="z", help="latent space: z, or w after the mapping network (default z)")
    common.add_argument("--seed", type=int, default=0, help="seed of the latent codes (default 0)")
    common.add_argument("--class", dest="class_index", type=int, default=None, metavar="K", help="class for conditional models (default: 0..K-1 in turn)")
    common.add_argument("--weights", choices=("ema", "raw"), default="ema", help="EMA generator when the run kept one (default), or raw")
    common.add_argument("--rows", type=positive_int, default=4, help="rows of the strip: one pair of codes or one code per row (default 4)")
    common.add_argument("--scale", type=positive_int, default=1, help="enlarge the written images this many times (default 1)")
    common.add_argument("--classifier", choices=("auto", "cached", "off"), default="auto",
                        help="domain classifier for class attributes: auto trains it when not cached")

    for method in METHODS:
        sub = commands.add_parser(method, parents=[common], help=f"write a {method} interpolation strip (.png) or animation (.gif)")
        sub.add_argument("--steps", type=positive_int, default=10, help="images per row, both ends included (default 10)")
        sub.add_argument(
            "--out", default=None, help=f"output .png strip or .gif animation (default <run folder>/latent/{method}.png)"
        )
        sub.add_argument("--duration", type=positive_int, default=80, help="GIF frame duration in ms (default 80)")

    attribute_help = "thickness (ink fraction of the image) or class:K (the domain classifier predicts class K)"
    direction = commands.add_parser("direction", parents=[common], help="find an attribute direction")
    edit_parser = commands.add_parser("edit", parents=[common], help="edit codes along an attribute direction: w + alpha * d")
    for sub in (direction, edit_parser):
        sub.add_argument("--attribute", default=None, help=attribute_help)
        sub.add_argument("--num", type=positive_int, default=2000, help="samples used to find the direction (default 2000)")
        sub.add_argument("--fraction", type=float, default=0.5,
                         help="for scores: compare the top and bottom fraction of samples (default 0.5, a median split)")
        sub.add_argument("--save", default=None, help="write the direction to this .pt file")
    edit_parser.add_argument("--direction", default=None, help="a direction .pt file from `direction --save` (else found from --attribute)")
    edit_parser.add_argument("--alphas", type=_parse_alphas, default=[-3.0, -1.5, 0.0, 1.5, 3.0], help="comma-separated alphas (default -3,-1.5,0,1.5,3)")
    edit_parser.add_argument(
        "--out", default=None, help="output PNG: one row per code, one column per alpha (default <run folder>/latent/edit.png)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    import sys

    from ganbench.checkpoint import generator_from_checkpoint, read_checkpoint
    from ganbench.cli import hydra_style_argv
    from ganbench.errors import ConfigError

    parser = build_parser()
    args = parser.parse_args(hydra_style_argv(parser, sys.argv[1:] if argv is None else argv))
    try:
        if args.command in ("direction", "edit") and not args.attribute and not getattr(args, "direction", None):
            alternative = " or --direction FILE" if args.command == "edit" else ""
            raise ConfigError(f"{args.command} needs --attribute thickness or --attribute class:K{alternative}")
        checkpoint = read_checkpoint(args.checkpoint)
        generator = generator_from_checkpoint(checkpoint, use_ema=args.weights == "ema")
        if args.space == "w" and not has_mapping(generator):
            print("note: this generator has no mapping network, so W equals Z")
        config = checkpoint.get("ganbench_config") or {}
        if getattr(args, "out", "unset") is None:
            # Like ganbench-sample, write inside the run folder, not the working directory.
            ckpt_file = Path(checkpoint["__path__"])
            run_dir = ckpt_file.parent.parent if ckpt_file.parent.name == "checkpoints" else ckpt_file.parent
            args.out = str(run_dir / "latent" / f"{args.command}.png")
        if args.command in METHODS:
            _interpolation_command(args, generator)
        elif args.command == "direction":
            _direction_command(args, generator, config)
        else:
            _edit_command(args, generator, config)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
