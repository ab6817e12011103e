"""Mode-coverage metrics, the 2-D mixture datasets and a tiny end-to-end run with metrics=modes."""

import json
import re
import math

import pytest
import torch

from ganbench.config import validate
from ganbench.data.toy import GaussianGrid, GaussianRing
from ganbench.errors import ConfigError
from ganbench.metrics.modes import (
    ModeCoverage,
    hq_counts,
    mode_kl,
    mode_metrics,
    modes_covered_strict,
    nearest_mode,
)
from ganbench.train import train

STD = 0.05
MODE_KEYS = ("val/modes_covered", "val/modes_covered_strict", "val/hq_fraction", "val/mode_kl")
PRESETS = ("vanilla", "unrolled", "minibatch", "wgan_gp", "pacgan2")


def ring_modes(num_modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    return GaussianRing(num_modes=num_modes, radius=radius, std=STD).modes


def on_ring(degrees: list[float], radius: float = 1.0) -> torch.Tensor:
    angles = torch.tensor(degrees, dtype=torch.float64) * math.pi / 180
    return (radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)).float()


# Metric functions.
def test_samples_on_all_centres_cover_every_mode():
    modes = ring_modes()
    samples = modes.repeat(2500 // 8 + 1, 1)[:2500]
    values = mode_metrics(samples, modes, STD)
    assert samples.shape == (2500, 2)
    assert values["modes_covered"] == 8
    assert values["modes_covered_strict"] == 8
    assert values["hq_fraction"] == 1.0


def test_samples_on_one_centre_cover_one_mode():
    modes = ring_modes()
    samples = modes[3].repeat(2500, 1)
    values = mode_metrics(samples, modes, STD)
    assert values["modes_covered"] == 1
    assert values["modes_covered_strict"] == 1
    assert values["hq_fraction"] == 1.0
    assert values["mode_kl"] == pytest.approx(math.log(8), rel=1e-12)


def test_ring_angles_near_180_share_mode():
    modes = ring_modes()
    indices, distances = nearest_mode(on_ring([-179.9, 180.0]), modes)
    assert indices.tolist() == [4, 4]
    assert torch.allclose(modes[4], torch.tensor([-1.0, 0.0]), atol=1e-6)
    assert distances.max() < 3 * STD


def test_sample_four_std_away_is_not_high_quality():
    modes = ring_modes()
    # 4 std outside mode 0 along the radius; every other mode is farther away.
    samples = torch.tensor([[1.0 + 4 * STD, 0.0]])
    indices, distances = nearest_mode(samples, modes)
    assert indices.tolist() == [0]
    assert distances.item() == pytest.approx(4 * STD, rel=1e-6)
    values = mode_metrics(samples, modes, STD)
    assert values["hq_fraction"] == 0.0
    assert values["modes_covered"] == 0


def test_high_quality_boundary_is_three_std():
    modes = ring_modes()
    samples = torch.tensor([[1.0 + 2.9 * STD, 0.0], [1.0 + 3.1 * STD, 0.0]])
    values = mode_metrics(samples, modes, STD)
    assert values["hq_fraction"] == 0.5
    wider = mode_metrics(samples, modes, STD, threshold=4.0)
    assert wider["hq_fraction"] == 1.0


def test_kl_of_uniform_histogram_is_zero():
    assert mode_kl(torch.full((8,), 5)) == 0.0
    assert mode_kl(torch.full((25,), 100)) == pytest.approx(0.0, abs=1e-12)


def test_kl_of_known_histograms():
    assert mode_kl(torch.tensor([3, 3, 0, 0])) == pytest.approx(math.log(2), rel=1e-12)
    assert mode_kl(torch.tensor([7, 0, 0, 0, 0, 0, 0, 0])) == pytest.approx(math.log(8), rel=1e-12)
    # No high-quality sample at all: the worst case, log K.
    assert mode_kl(torch.zeros(25, dtype=torch.long)) == pytest.approx(math.log(25), rel=1e-12)


def test_strict_coverage_needs_min_fraction():
    counts = torch.tensor([90, 6, 4, 0])
    assert modes_covered_strict(counts, num_samples=100, min_fraction=0.05) == 2
    assert modes_covered_strict(counts, num_samples=100, min_fraction=0.04) == 3
    assert modes_covered_strict(counts, num_samples=100, min_fraction=0.5) == 1


def test_mode_metrics_counts_hq_per_mode():
    modes = ring_modes()
    samples = torch.cat([modes[0].repeat(90, 1), modes[1].repeat(6, 1), modes[2].repeat(4, 1)])
    values = mode_metrics(samples, modes, STD, min_fraction=0.05)
    assert values["modes_covered"] == 3
    assert values["modes_covered_strict"] == 2
    indices, distances = nearest_mode(samples, modes)
    counts = hq_counts(indices, distances <= 3 * STD, 8)
    assert counts.tolist() == [90, 6, 4, 0, 0, 0, 0, 0]


def test_non_finite_samples_are_not_high_quality():
    modes = ring_modes()
    samples = torch.tensor([[float("nan"), 0.0], [float("inf"), 1.0], [1.0, 0.0], [0.0, 1.0]])
    values = mode_metrics(samples, modes, STD)
    assert values["hq_fraction"] == 0.5
    assert values["modes_covered"] == 2


def test_nearest_mode_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(N, D\) and \(K, D\)"):
        nearest_mode(torch.zeros(4, 3), ring_modes())


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"every_n_epochs": 0}, "metrics.every_n_epochs=0"),
        ({"num_samples": 0}, "metrics.num_samples=0"),
        ({"min_fraction": 0.0}, "metrics.min_fraction=0.0"),
        ({"min_fraction": 1.5}, "metrics.min_fraction=1.5"),
        ({"threshold": -1.0}, "metrics.threshold=-1.0"),
        ({"batch_size": 0}, "metrics.batch_size=0"),
    ],
)
def test_mode_coverage_rejects_bad_settings(kwargs, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        ModeCoverage(**kwargs)


# Datasets.
def test_ring8_modes_lie_on_unit_circle():
    data = GaussianRing()
    assert data.modes.shape == (8, 2)
    assert torch.allclose(data.modes.norm(dim=1), torch.ones(8), atol=1e-6)
    assert torch.allclose(data.modes[0], torch.tensor([1.0, 0.0]))
    assert torch.allclose(data.modes[2], torch.tensor([0.0, 1.0]), atol=1e-6)
    assert data.std == 0.05
    assert data.kind == "points"


def test_grid25_modes_are_spaced_two_apart():
    data = GaussianGrid()
    assert data.modes.shape == (25, 2)
    for axis in range(2):
        assert sorted(set(data.modes[:, axis].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert data.num_classes == 25


def test_toy_batches_are_fresh_each_epoch_and_seeded():
    data = GaussianRing(samples_per_epoch=1024, batch_size=256, seed=3)
    data.setup("fit")
    assert data.sample_shape == (2,)
    loader = data.train_dataloader()
    assert len(loader) == 4
    first = [points for points, _ in loader]
    second = [points for points, _ in loader]
    assert all(points.shape == (256, 2) for points in first)
    assert not torch.equal(first[0], second[0])

    again = GaussianRing(samples_per_epoch=1024, batch_size=256, seed=3)
    again.setup("fit")
    assert torch.equal(next(iter(again.train_dataloader()))[0], first[0])
    other = GaussianRing(samples_per_epoch=1024, batch_size=256, seed=4)
    other.setup("fit")
    assert not torch.equal(next(iter(other.train_dataloader()))[0], first[0])


def test_toy_loader_follows_set_epoch():
    data = GaussianGrid(samples_per_epoch=512, batch_size=128, seed=0)
    data.setup("fit")
    loader = data.train_dataloader()
    loader.sampler.set_epoch(5)
    epoch_five = next(iter(loader))[0]
    loader.sampler.set_epoch(5)
    assert torch.equal(next(iter(loader))[0], epoch_five)
    loader.sampler.set_epoch(6)
    assert not torch.equal(next(iter(loader))[0], epoch_five)


def test_toy_labels_are_mode_indices():
    data = GaussianGrid(samples_per_epoch=5000, batch_size=5000, seed=1)
    data.setup("fit")
    points, labels = next(iter(data.train_dataloader()))
    indices, distances = nearest_mode(points, data.modes)
    assert torch.equal(indices, labels)
    offsets = points - data.modes[labels]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.05)
    assert labels.unique().numel() == 25


@pytest.mark.parametrize(
    "cls, kwargs, key",
    [
        (GaussianRing, {"std": 0.0}, "dataset.std=0.0"),
        (GaussianRing, {"num_modes": 1}, "dataset.num_modes=1"),
        (GaussianRing, {"radius": -1.0}, "dataset.radius=-1.0"),
        (GaussianGrid, {"spacing": 0.0}, "dataset.spacing=0.0"),
        (GaussianGrid, {"side": 0}, "dataset.side=0"),
        (GaussianGrid, {"samples_per_epoch": 100, "batch_size": 256}, "dataset.samples_per_epoch=100"),
        (GaussianGrid, {"plot_size": 0}, "dataset.plot_size=0"),
    ],
)
def test_toy_data_rejects_bad_settings(cls, kwargs, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        cls(**kwargs)


def test_toy_settings_name_the_distribution():
    assert GaussianRing(samples_per_epoch=512).settings() == {
        "name": "ring8", "num_modes": 8, "radius": 1.0, "std": 0.05, "samples_per_epoch": 512,
    }
    assert GaussianGrid().settings()["num_modes"] == 25


def test_plot_samples_writes_png(tmp_path):
    data = GaussianGrid()
    samples = torch.cat([data.modes, torch.tensor([[50.0, 50.0], [float("nan"), 0.0]])])
    path = data.plot_samples(samples, tmp_path / "plots" / "grid.png", title="epoch 1")
    assert path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Runs.
def test_modes_metrics_need_toy_dataset(compose_cfg, tmp_path):
    cfg = compose_cfg(["dataset=digits", "dataset.image_size=8", "model.latent_dim=8", "model.generator.width=8",
                       "model.discriminator.width=8", "logger=none", "metrics=modes",
                       "++trainer.enable_progress_bar=false", "++trainer.max_epochs=1", "++trainer.limit_train_batches=2"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "failed"
    assert "metrics=modes needs a dataset with known modes" in summary["reason"]


def test_ring8_run_logs_mode_metrics(compose_cfg, tmp_path):
    cfg = compose_cfg([
        "dataset=ring8", "model=mlp2d", "metrics=modes", "logger=none",
        "dataset.samples_per_epoch=640", "dataset.batch_size=64", "dataset.plot_size=200",
        "metrics.num_samples=500", "++trainer.max_epochs=2", "++trainer.enable_progress_bar=false",
        "++trainer.enable_model_summary=false",
    ])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    assert summary["d_updates"] == 20
    saved = json.loads((tmp_path / "summary.json").read_text())
    for key in MODE_KEYS:
        assert key in saved["final"], key
        assert key in saved["best"], key
    final = saved["final"]
    assert 0 <= final["val/modes_covered"] <= 8
    assert 0 <= final["val/modes_covered_strict"] <= final["val/modes_covered"]
    assert 0.0 <= final["val/hq_fraction"] <= 1.0
    assert 0.0 <= final["val/mode_kl"] <= math.log(8) + 1e-6
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows if "val/modes_covered" in row] == [0, 1]
    assert (tmp_path / "samples" / "epoch_002.png").is_file()


@pytest.mark.parametrize("dataset", ["ring8", "grid25"])
@pytest.mark.parametrize("preset", PRESETS)
def test_mode_collapse_presets_validate(compose_cfg, preset, dataset):
    cfg = compose_cfg([f"experiment=mode_collapse/{preset}", f"dataset={dataset}"])
    validate(cfg)
    assert cfg.dataset.name == dataset
    assert cfg.model.name == "mlp2d"
    assert cfg.metrics._target_ == "ganbench.metrics.modes.ModeCoverage"
    assert cfg.max_g_updates == 500


def test_presets_change_one_thing(compose_cfg):
    settings = {preset: compose_cfg([f"experiment=mode_collapse/{preset}"]) for preset in PRESETS}
    assert settings["unrolled"].unroll_steps == 5
    assert settings["minibatch"].model.discriminator.minibatch_kernels == 5
    assert settings["pacgan2"].pack == 2
    assert settings["wgan_gp"].loss.name == "wasserstein"
    assert settings["wgan_gp"].penalty.name == "gp"
    assert settings["wgan_gp"].n_critic == 5
    assert settings["vanilla"].unroll_steps == 0
    assert settings["vanilla"].pack == 1
    assert settings["vanilla"].model.discriminator.minibatch_kernels == 0


@pytest.mark.parametrize("preset", PRESETS)
def test_mode_collapse_preset_trains(compose_cfg, tmp_path, preset):
    cfg = compose_cfg([
        f"experiment=mode_collapse/{preset}", "logger=none", "max_g_updates=3",
        "dataset.samples_per_epoch=256", "dataset.batch_size=64", "dataset.plot_size=100",
        "metrics.num_samples=200", "++trainer.enable_progress_bar=false", "++trainer.enable_model_summary=false",
    ])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    assert summary["g_updates"] == 3
    assert summary["d_updates"] == 3 * cfg.n_critic
    assert "val/modes_covered" in summary["final"]


def test_sweep_preset_covers_methods_datasets_seeds(cache_dir):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from tests.conftest import CONF_DIR

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="train", overrides=["sweep=mode_collapse"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    params = cfg.hydra.sweeper.params
    assert sorted(params.experiment.split(",")) == sorted(f"mode_collapse/{preset}" for preset in PRESETS)
    assert params.dataset.split(",") == ["ring8", "grid25"]
    assert params.seed == "range(0,10)"
    assert cfg.hydra.mode.name == "MULTIRUN"


@pytest.mark.slow
def test_sweep_cli_writes_run_folders(run_cli, tmp_path):
    result = run_cli(
        "ganbench-train",
        ["-m", "sweep=mode_collapse", "experiment=mode_collapse/vanilla,mode_collapse/pacgan2", "dataset=ring8",
         "seed=0", "max_g_updates=5", "dataset.samples_per_epoch=512", "dataset.batch_size=64",
         "metrics.num_samples=200", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summaries = sorted((tmp_path / "sweep").glob("*/summary.json"))
    assert len(summaries) == 2
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["status"] == "ok"
        assert "val/modes_covered" in summary["final"]
