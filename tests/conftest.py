"""Shared fixtures: composing ganbench configs with Hydra's compose API and running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import ganbench

CONF_DIR = Path(ganbench.__file__).parent / "conf"
BIN = Path(sys.executable).parent

# Tiny, fast settings for end-to-end runs on the 8x8 scikit-learn digits.
TINY = [
    "dataset=digits",
    "dataset.image_size=8",
    "dataset.batch_size=16",
    "model.latent_dim=8",
    "model.generator.width=8",
    "model.discriminator.width=8",
    "logger=none",
    "metrics=none",
    "++trainer.enable_progress_bar=false",
    "++trainer.enable_model_summary=false",
]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One domain-classifier cache for the whole test session, kept out of the user's home."""
    path = tmp_path_factory.mktemp("ganbench-cache")
    os.environ["GANBENCH_CACHE"] = str(path)
    return path


@pytest.fixture
def compose_cfg(cache_dir):
    """Return a function composing conf/train.yaml with overrides, as ganbench-train would."""

    def _compose(overrides: list[str]):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="train", overrides=overrides)

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def run_cli(cache_dir):
    """Run a ganbench console script in a subprocess; return the CompletedProcess."""

    def _run(script: str, args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
        env = dict(os.environ, GANBENCH_CACHE=str(cache_dir), WANDB_SILENT="true", HYDRA_FULL_ERROR="0")
        return subprocess.run(
            [str(BIN / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )

    return _run
