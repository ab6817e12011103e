"""Tiny trained runs shared by the inference tests (sampling, latent tools, export)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from ganbench.train import train
from tests.conftest import CONF_DIR

# Conditional models on the 8x8 scikit-learn digits, two batches of 16.
BASE = [
    "dataset=digits",
    "dataset.image_size=8",
    "dataset.batch_size=16",
    "model.latent_dim=8",
    "logger=none",
    "metrics=none",
    "++trainer.max_epochs=1",
    "++trainer.limit_train_batches=2",
    "++trainer.enable_progress_bar=false",
    "++trainer.enable_model_summary=false",
]
CGAN_MLP = BASE + ["model=cgan_mlp", "model.generator.hidden=[16]", "model.discriminator.hidden=[16]"]
PROJECTION = BASE + [
    "model=projection",
    "model.generator.width=8",
    "model.generator.mapping_layers=2",
    "model.discriminator.width=8",
    "ema_decay=0.9",
]
DCGAN = BASE + ["model=dcgan", "model.generator.width=8", "model.discriminator.width=8"]


def compose_train(overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="train", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def train_tiny(run_dir: Path, overrides: list[str]) -> Path:
    """Train a tiny run into ``run_dir`` and return it; fail the test when the run fails."""
    summary = train(compose_train(overrides), run_dir)
    assert summary["status"] == "ok", summary["reason"]
    return run_dir
