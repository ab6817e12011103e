"""Ablation rows, sweep presets, launcher presets, and run outcomes inside a multirun."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from ganbench.config import validate
from tests.conftest import CONF_DIR, TINY

# Row -> (generator norm, discriminator norm, loss, penalty, g lr, d lr, label_smoothing).
ABLATION_ROWS = {
    "baseline": ("none", "none", "nonsaturating", "none", 2e-4, 2e-4, 1.0),
    "batchnorm": ("batch", "batch", "nonsaturating", "none", 2e-4, 2e-4, 1.0),
    "spectral_norm": ("batch", "spectral", "nonsaturating", "none", 2e-4, 2e-4, 1.0),
    "ttur": ("batch", "spectral", "nonsaturating", "none", 1e-4, 4e-4, 1.0),
    "label_smooth": ("batch", "spectral", "nonsaturating", "none", 1e-4, 4e-4, 0.9),
    "modern": ("none", "none", "relativistic", "r1r2", 2e-4, 2e-4, 1.0),
}


def compose_with_hydra(overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="train", overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("row", list(ABLATION_ROWS))
def test_ablation_row_settings(compose_cfg, row):
    cfg = compose_cfg([f"experiment=ablation/{row}"])
    g_norm, d_norm, loss, penalty, g_lr, d_lr, smoothing = ABLATION_ROWS[row]
    assert cfg.dataset.name == "mnist5k"
    assert cfg.model.generator.norm == g_norm
    assert cfg.model.discriminator.norm == d_norm
    assert cfg.loss.name == loss
    assert cfg.penalty.name == penalty
    assert cfg.optimizer.g.lr == g_lr
    assert cfg.optimizer.d.lr == d_lr
    assert cfg.optimizer.g.betas == [0.5, 0.999]
    assert cfg.label_smoothing == smoothing
    assert cfg.n_critic == 1
    assert cfg.g_steps == 1
    validate(cfg)


def test_command_line_overrides_experiment(compose_cfg):
    cfg = compose_cfg(["experiment=ablation/label_smooth", "label_smoothing=0.8", "optimizer.d.lr=1e-3"])
    assert cfg.label_smoothing == 0.8
    assert cfg.optimizer.d.lr == 1e-3


def test_ablation_sweep_preset():
    cfg = compose_with_hydra(["sweep=ablation"])
    params = cfg.hydra.sweeper.params
    assert params.experiment.split(",") == [f"ablation/{row}" for row in ABLATION_ROWS]
    assert params.seed == "0,1,2"
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.hydra.sweep.dir.startswith("outputs/sweeps/ablation/")
    assert cfg.trainer.max_epochs == 4


def test_ttur_and_spectral_norm_presets():
    ttur = compose_with_hydra(["sweep=ttur"])
    assert ttur.hydra.sweeper.params.optimizer == "adam,ttur"
    assert ttur.hydra.sweeper.params.seed == "0,1,2"
    spectral = compose_with_hydra(["sweep=spectral_norm"])
    assert spectral.hydra.sweeper.params["model.discriminator.norm"] == "none,spectral"
    assert spectral.hydra.sweeper.params.seed == "0,1,2"
    assert spectral.model.generator.norm == "batch"


def test_epochs_override_beats_sweep_preset():
    cfg = compose_with_hydra(["sweep=ttur", "trainer.max_epochs=25"])
    assert cfg.trainer.max_epochs == 25


def test_local_launcher_preset():
    cfg = compose_with_hydra(["hydra/launcher=local"])
    assert cfg.hydra.launcher._target_ == "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert cfg.hydra.launcher.n_jobs == 2


def summaries(sweep_dir: Path) -> dict[int, dict]:
    return {int(path.parent.name): json.loads(path.read_text()) for path in sweep_dir.glob("*/summary.json")}


def test_diverging_job_does_not_stop_multirun(run_cli, tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        "ganbench-train",
        ["-m", *TINY, "optimizer.d.lr=1e20,2e-4", "++trainer.max_epochs=1", "++trainer.limit_train_batches=5",
         f"hydra.sweep.dir={sweep_dir}"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "status: diverged" in result.stdout
    runs = summaries(sweep_dir)
    assert sorted(runs) == [0, 1]
    assert runs[0]["status"] == "diverged"
    assert "train/d_loss became nan" in runs[0]["reason"]
    assert runs[0]["d_updates"] <= 2
    assert runs[1]["status"] == "ok"
    assert runs[1]["d_updates"] == 5


@pytest.mark.slow
def test_modern_row_trains(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "ganbench-train",
        ["experiment=ablation/modern", *TINY, "++trainer.max_epochs=1", "++trainer.limit_train_batches=10",
         f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "ok"
    assert summary["final"]["train/penalty"] > 0
    assert "name: digits" in (run_dir / "config_resolved.yaml").read_text()
    assert "name: relativistic" in (run_dir / "config_resolved.yaml").read_text()
