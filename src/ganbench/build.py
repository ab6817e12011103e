"""Build the data module, networks, GANModule, loggers, callbacks and trainer from a composed config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from ganbench.callbacks import EpochLine, SampleImages
from ganbench.data.base import GANDataModule
from ganbench.errors import ConfigError
from ganbench.loggers import JsonlLogger
from ganbench.module import GANModule
from ganbench.nets.dcgan import init_dcgan_weights


def _instantiate(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate ``node``; turn constructor errors (unknown or invalid keys) into ConfigError naming ``key``."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ConfigError):
            raise cause from None
        message = str(cause or error).splitlines()[0] if str(cause or error) else repr(error)
        raise ConfigError(f"{key} could not be built: {message}; check the keys under {key}") from error


def build_datamodule(cfg: DictConfig) -> GANDataModule:
    datamodule = _instantiate(cfg.dataset, "dataset", seed=cfg.seed)
    datamodule.setup("fit")
    return datamodule


def data_kwargs(datamodule: GANDataModule, pack: int = 1) -> tuple[dict[str, int], dict[str, int]]:
    """Return the keyword arguments the data decides for the generator and the discriminator."""
    if datamodule.kind == "points":
        dim = datamodule.sample_shape[0]
        return {"dim": dim}, {"dim": dim * pack}
    return (
        {"channels": datamodule.channels, "image_size": datamodule.image_size},
        {"channels": datamodule.channels * pack, "image_size": datamodule.image_size},
    )


def build_networks(cfg: DictConfig, datamodule: GANDataModule):
    g_kwargs, d_kwargs = data_kwargs(datamodule, cfg.pack)
    if cfg.model.get("conditional", False):
        if datamodule.num_classes < 2:
            raise ConfigError(f"model={cfg.model.name} is conditional but dataset {datamodule.name} has no class labels")
        g_kwargs["num_classes"] = d_kwargs["num_classes"] = datamodule.num_classes
    generator = _instantiate(cfg.model.generator, "model.generator", **g_kwargs)
    discriminator = _instantiate(cfg.model.discriminator, "model.discriminator", **d_kwargs)
    if cfg.model.get("init", "default") == "dcgan":
        init_dcgan_weights(generator)
        init_dcgan_weights(discriminator)
    return generator, discriminator


def build_module(cfg: DictConfig, datamodule: GANDataModule) -> GANModule:
    generator, discriminator = build_networks(cfg, datamodule)
    penalty = cfg.penalty.get("fn")
    num_classes = datamodule.num_classes if cfg.model.get("conditional", False) else 0
    module = GANModule(
        generator=generator,
        discriminator=discriminator,
        d_loss=instantiate(cfg.loss.d_loss),
        g_loss=instantiate(cfg.loss.g_loss),
        g_needs_real=bool(cfg.loss.get("g_needs_real", False)),
        g_optimizer=_instantiate(cfg.optimizer.g, "optimizer.g"),
        d_optimizer=_instantiate(cfg.optimizer.d, "optimizer.d"),
        penalty=instantiate(penalty) if penalty is not None else None,
        penalty_weight=float(cfg.penalty.get("weight", 0.0)),
        n_critic=cfg.n_critic,
        g_steps=cfg.g_steps,
        label_smoothing=float(cfg.label_smoothing),
        ema_decay=cfg.ema_decay,
        unroll_steps=cfg.unroll_steps,
        pack=cfg.pack,
        num_classes=num_classes,
        max_g_updates=cfg.max_g_updates,
        num_fixed=cfg.get("num_fixed", 64),
        seed=cfg.seed,
    )
    # Stored in checkpoints so samplers and exporters can rebuild the networks without Hydra.
    module.run_config = OmegaConf.to_container(cfg, resolve=True)
    module.data_info = {
        "kind": datamodule.kind,
        "sample_shape": list(datamodule.sample_shape),
        "num_classes": datamodule.num_classes,
        "name": datamodule.name,
    }
    return module


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    loggers: list = [JsonlLogger(run_dir)]
    logger_cfg = cfg.get("logger")
    if logger_cfg is not None and logger_cfg.get("_target_"):
        # _convert_="all": W&B expects plain lists and dicts (tags, config), not OmegaConf containers.
        loggers.append(_instantiate(logger_cfg, "logger", save_dir=str(run_dir), _convert_="all"))
    return loggers


def build_callbacks(cfg: DictConfig, run_dir: Path) -> list[L.Callback]:
    callbacks: list[L.Callback] = [SampleImages(run_dir)]
    metrics_cfg = cfg.get("metrics")
    if metrics_cfg is not None and metrics_cfg.get("_target_"):
        callbacks.append(_instantiate(metrics_cfg, "metrics"))
    # One file, checkpoints/last.ckpt, rewritten after every epoch (no metric is monitored),
    # unless the user turned checkpointing off with trainer.enable_checkpointing=false.
    if cfg.trainer.get("enable_checkpointing", True) is not False:
        callbacks.append(
            ModelCheckpoint(
                dirpath=run_dir / "checkpoints",
                filename="last",
                save_top_k=1,
                save_on_train_epoch_end=True,
                enable_version_counter=False,
            )
        )
    callbacks.append(EpochLine())
    return callbacks


def build_trainer(cfg: DictConfig, run_dir: Path, callbacks: list, loggers: list) -> L.Trainer:
    return _instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers, default_root_dir=str(run_dir))
