"""End-to-end runs of ganbench-train as a user launches it."""

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import TINY


def read_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_wgan_gp_experiment_counts_updates(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli(
        "ganbench-train",
        ["experiment=wgan_gp_mnist", "n_critic=5", "++trainer.max_epochs=1", "++trainer.limit_train_batches=10",
         "logger=none", "metrics=none", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"run folder: {run_dir}" in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "ok"
    last = [row for row in read_rows(run_dir) if "train/d_updates" in row][-1]
    assert last["train/d_updates"] == 10
    assert last["train/g_updates"] == 2
    assert summary["final"]["train/penalty"] > 0


def write_image_folder(root: Path, per_class: int = 12) -> None:
    for label, shade in (("dark", 40), ("light", 200)):
        folder = root / label
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (10, 10), (shade, (shade + 7 * i) % 256, 90)).save(folder / f"{i}.png")


def test_relative_root_resolves_against_launch_dir(run_cli, tmp_path):
    write_image_folder(tmp_path / "project" / "data" / "images")
    run_dir = tmp_path / "elsewhere" / "run"
    overrides = [o for o in TINY if not o.startswith("dataset")] + [
        "dataset=image_folder", "dataset.root=data/images", "dataset.image_size=8", "dataset.batch_size=8",
        "++trainer.max_epochs=1", f"hydra.run.dir={run_dir}",
    ]
    result = run_cli("ganbench-train", overrides, cwd=tmp_path / "project")
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = (run_dir / "config_resolved.yaml").read_text()
    assert "root: data/images" in resolved
    assert json.loads((run_dir / "summary.json").read_text())["d_updates"] == 3  # 24 images / batch 8


@pytest.mark.slow
def test_multirun_gives_separate_wandb_runs(run_cli, tmp_path):
    from tests.wandb_offline import history

    sweep_dir = tmp_path / "sweep"
    result = run_cli(
        "ganbench-train",
        ["-m", "optimizer.g.lr=1e-4,2e-4", *[o for o in TINY if not o.startswith("logger")], "logger=wandb",
         "++trainer.max_epochs=1", "++trainer.limit_train_batches=2", f"hydra.sweep.dir={sweep_dir}"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job in ("0", "1"):
        run_dir = sweep_dir / job
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "ok"
        offline = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
        assert len(offline) == 1, offline
        rows = history(offline[0])
        assert rows[0]["_step"] == 0
        assert any("samples/filenames" in row for row in rows)
    lrs = {json.loads((sweep_dir / job / "summary.json").read_text())["overrides"][0] for job in ("0", "1")}
    assert lrs == {"optimizer.g.lr=0.0001", "optimizer.g.lr=0.0002"}


def test_wandb_offline_run_holds_metrics_and_images(run_cli, tmp_path):
    from tests.wandb_offline import history

    run_dir = tmp_path / "run"
    overrides = [o for o in TINY if not o.startswith(("logger", "metrics"))] + [
        "logger=wandb", "metrics=domain", "metrics.num_samples=300", "metrics.kid_subset_size=100",
        "metrics.classifier.epochs=1", "++trainer.max_epochs=2", "++trainer.limit_train_batches=3",
        f"hydra.run.dir={run_dir}",
    ]
    result = run_cli("ganbench-train", overrides, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_file,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    rows = history(run_file)
    assert rows[0]["_step"] == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("val/fid", "val/is", "val/kid"):
        values = [row[key] for row in rows if key in row]
        assert len(values) == 2, key  # one per epoch
        assert values[-1] == pytest.approx(summary["final"][key], rel=1e-6)
    images = [row for row in rows if "samples/filenames" in row]
    assert [row["samples/captions"] for row in images] == [["epoch 1"], ["epoch 2"]]
    for row in images:
        assert (run_file.parent / "files" / row["samples/filenames"][0]).is_file()
