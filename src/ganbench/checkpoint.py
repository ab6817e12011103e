"""Reading ganbench checkpoints: start-up checks and rebuilding a trained module without Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import to_absolute_path

from ganbench.errors import ConfigError


def resolve_path(path: str | Path) -> Path:
    """Resolve ``path`` against the directory ganbench was launched from (Hydra's original cwd)."""
    try:
        return Path(to_absolute_path(str(path)))
    except ValueError:  # Hydra is not initialised
        return Path(path).expanduser().resolve()


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict on the CPU, raising ConfigError when it is missing or unreadable."""
    file = resolve_path(path)
    if file.is_dir():
        for candidate in (file / "checkpoints" / "last.ckpt", file / "last.ckpt"):
            if candidate.is_file():
                file = candidate
                break
    if not file.is_file():
        raise ConfigError(f"checkpoint {path} not found (looked at {file}); give a .ckpt file or a run folder with checkpoints/last.ckpt")
    try:
        # weights_only=False: Lightning checkpoints hold optimizer states and plain Python values.
        checkpoint = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise ConfigError(f"checkpoint {file} is unreadable ({type(error).__name__}: {error}); it is corrupt or not a PyTorch file") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"checkpoint {file} has no state_dict; it is not a Lightning checkpoint written by ganbench")
    checkpoint["__path__"] = str(file)
    return checkpoint


def check_matches(module: torch.nn.Module, checkpoint: dict[str, Any]) -> None:
    """Raise ConfigError when the checkpoint's weights do not fit ``module`` (another model or dataset)."""
    expected = module.state_dict()
    saved = checkpoint["state_dict"]
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    wrong = sorted(k for k in set(expected) & set(saved) if tuple(expected[k].shape) != tuple(saved[k].shape))
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:3]}")
        if unexpected:
            details.append(f"unexpected {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            details.append(f"{k} has shape {tuple(saved[k].shape)} in the checkpoint, {tuple(expected[k].shape)} here")
        raise ConfigError(
            f"checkpoint {checkpoint.get('__path__')} does not fit the configured model ({'; '.join(details)}); "
            "resume with the config it was trained with (its run folder's .hydra/config.yaml)"
        )


def _generator_kwargs(data_info: dict[str, Any], config: dict[str, Any]) -> dict[str, int]:
    """Return the keyword arguments the runner derives from the data, as :func:`ganbench.build.build_networks` does."""
    from types import SimpleNamespace

    from ganbench.build import data_kwargs

    shape = list(data_info["sample_shape"])
    described = SimpleNamespace(kind=data_info.get("kind", "image"), sample_shape=shape, channels=shape[0], image_size=shape[-1])
    g_kwargs, _ = data_kwargs(described, int(config.get("pack", 1)))
    if config["model"].get("conditional", False):
        g_kwargs["num_classes"] = int(data_info["num_classes"])
    return g_kwargs


def load_generator(path: str | Path, use_ema: bool = True) -> torch.nn.Module:
    """Rebuild the generator of a checkpoint (a .ckpt file or a run folder) in eval mode, on the CPU.

    The network is built from the run config stored in the checkpoint, with
    the same data-derived arguments as in training. It gets the EMA weights
    (``ema.module.*``) when ``use_ema`` is true and the run kept an EMA copy,
    else the trained weights (``generator.*``). The returned module's
    ``weights`` attribute records which: ``ema`` or ``raw``.
    Raises ConfigError when the checkpoint is missing, unreadable, written
    before run configs were stored, or its weights do not fit the rebuilt network.
    """
    return generator_from_checkpoint(read_checkpoint(path), use_ema)


def generator_from_checkpoint(checkpoint: dict[str, Any], use_ema: bool = True) -> torch.nn.Module:
    """Rebuild the generator as :func:`load_generator` does, from a dict returned by :func:`read_checkpoint`."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    file = checkpoint["__path__"]
    config, data_info = checkpoint.get("ganbench_config"), checkpoint.get("ganbench_data")
    if not config or not data_info:
        raise ConfigError(
            f"checkpoint {file} has no ganbench_config/ganbench_data, so its generator cannot be rebuilt; "
            "it was written by another program or an older ganbench. Retrain, or load the weights into a network you build yourself"
        )
    try:
        generator = instantiate(OmegaConf.create(config["model"]["generator"]), **_generator_kwargs(data_info, config))
    except (InstantiationException, KeyError) as error:
        raise ConfigError(f"the generator config stored in {file} cannot be built: {error}") from error

    state = checkpoint["state_dict"]
    ema_weights = {k.removeprefix("ema.module."): v for k, v in state.items() if k.startswith("ema.module.")}
    raw_weights = {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")}
    weights, source = (ema_weights, "ema") if use_ema and ema_weights else (raw_weights, "raw")
    if not weights:
        raise ConfigError(f"checkpoint {file} contains no generator weights (no generator.* or ema.module.* keys)")
    try:
        generator.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise ConfigError(
            f"the {source} generator weights in {file} do not fit the network built from its config: {first[0].strip()}"
        ) from error
    generator.weights = source
    return generator.eval().requires_grad_(False)
