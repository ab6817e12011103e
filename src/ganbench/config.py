"""Start-up checks of a composed config: every invalid value or combination fails here, before training."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

from ganbench.errors import ConfigError

GROUPS = ("dataset", "model", "loss", "penalty", "optimizer", "trainer", "logger", "metrics", "callbacks", "collapse")
TRAINING_KEYS = (
    "seed", "n_critic", "g_steps", "label_smoothing", "ema_decay", "unroll_steps", "pack", "max_g_updates",
    "ckpt_path", "run_name", "num_fixed",
)
# Keys Hydra or an experiment file may leave at the top level.
OTHER_KEYS = ("experiment", "sweep", "hydra", "paths", "tags", "notes")


def _int_at_least(cfg: DictConfig, key: str, minimum: int, fix: str) -> None:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value} is invalid: it must be an integer >= {minimum}; {fix}")


def _check_optimizer(cfg: DictConfig) -> None:
    for net in ("g", "d"):
        opt = cfg.optimizer.get(net)
        if opt is None:
            raise ConfigError(f"optimizer.{net} is missing; the optimizer config needs both optimizer.g and optimizer.d")
        lr = opt.get("lr")
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"optimizer.{net}.lr={lr} is invalid: a learning rate must be a positive number, e.g. 2e-4")
        betas = opt.get("betas")
        if betas is not None:
            if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
                raise ConfigError(f"optimizer.{net}.betas={list(betas)} is invalid: give two values in [0, 1), e.g. [0.5, 0.999]")


def _check_trainer(cfg: DictConfig) -> None:
    from lightning.pytorch import Trainer

    accepted = set(inspect.signature(Trainer.__init__).parameters) - {"self"}
    for key in cfg.trainer:
        if key == "_target_":
            continue
        if key not in accepted:
            raise ConfigError(f"trainer.{key} is not a Lightning Trainer argument; remove it or fix its spelling")


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first invalid key, value or combination of ``cfg``."""
    for key in cfg:
        if key not in GROUPS + TRAINING_KEYS + OTHER_KEYS:
            raise ConfigError(
                f"unknown config key {key!r}; top-level keys are the groups {', '.join(GROUPS)} "
                f"and the training keys {', '.join(TRAINING_KEYS)}"
            )
    for group in ("dataset", "model", "loss", "penalty", "optimizer", "trainer"):
        if not isinstance(cfg.get(group), Mapping):
            raise ConfigError(f"config group {group!r} is missing; pick one, e.g. {group}=<option>")

    _int_at_least(cfg, "n_critic", 1, "set n_critic to the number of discriminator updates per generator phase, e.g. n_critic=5")
    _int_at_least(cfg, "g_steps", 1, "set g_steps to the number of generator updates per generator phase, e.g. g_steps=1")
    _int_at_least(cfg, "unroll_steps", 0, "use unroll_steps=0 to turn unrolling off")
    _int_at_least(cfg, "pack", 1, "use pack=1 to turn PacGAN packing off")
    _int_at_least(cfg, "seed", 0, "use a non-negative integer seed")
    if cfg.get("max_g_updates") is not None:
        _int_at_least(cfg, "max_g_updates", 1, "use max_g_updates=null for no generator-update budget")

    smoothing = cfg.label_smoothing
    if not isinstance(smoothing, (int, float)) or not 0.0 < smoothing <= 1.0:
        raise ConfigError(f"label_smoothing={smoothing} is invalid: give the real target in (0, 1], 1.0 = off, 0.9 = usual")
    if smoothing != 1.0 and not cfg.loss.get("smoothable", False):
        raise ConfigError(
            f"label_smoothing={smoothing} does not apply to loss={cfg.loss.name}, which has no probability target; "
            "use loss=nonsaturating or loss=minimax, or set label_smoothing=1.0"
        )
    decay = cfg.ema_decay
    if decay is not None and (not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0):
        raise ConfigError(f"ema_decay={decay} is invalid: give a decay in [0, 1), e.g. 0.999, or null for no EMA")

    _check_optimizer(cfg)
    _check_trainer(cfg)

    penalty = cfg.penalty.get("name", "none")
    weight = cfg.penalty.get("weight", 0.0)
    if not isinstance(weight, (int, float)) or weight < 0:
        raise ConfigError(f"penalty.weight={weight} is invalid: give a non-negative number")
    d_norm = OmegaConf.select(cfg, "model.discriminator.norm", default=None)
    if penalty != "none" and d_norm == "batch":
        raise ConfigError(
            f"penalty={penalty} takes per-sample input gradients of D, but model.discriminator.norm=batch makes each "
            "output depend on the whole batch; set model.discriminator.norm=layer (or none, or spectral)"
        )
    if penalty == "none" and weight:
        warnings.warn(f"penalty.weight={weight} has no effect with penalty=none", stacklevel=2)

    batch_size = cfg.dataset.get("batch_size", 1)
    if cfg.pack > 1:
        if batch_size % cfg.pack:
            raise ConfigError(
                f"pack={cfg.pack} must divide dataset.batch_size={batch_size}; "
                f"use a batch size that is a multiple of {cfg.pack}"
            )
        if cfg.model.get("conditional", False):
            raise ConfigError("pack > 1 is not supported with conditional models; use pack=1")
