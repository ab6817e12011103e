"""Reading ganbench checkpoints: start-up checks and rebuilding a trained module without Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import to_absolute_path

from ganbench.errors import ConfigError


def resolve_path(path: str | Path) -> Path:
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


def check_checkpoint_file(path: str | Path) -> None:
    read_checkpoint(path)


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
