"""ganbench-sample and load_generator: reproducible PNG files, options, guards on bad input."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from ganbench import sample
from ganbench.checkpoint import load_generator
from ganbench.errors import ConfigError
from tests.inference_runs import CGAN_MLP, DCGAN, PROJECTION, train_tiny


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir):
    """A projection run with an EMA generator and a mapping network, and an MLP run without EMA."""
    root = tmp_path_factory.mktemp("sample")
    return {"projection": train_tiny(root / "projection", PROJECTION), "cgan_mlp": train_tiny(root / "cgan_mlp", CGAN_MLP)}


def folder_bytes(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}


def test_same_seed_gives_identical_bytes(runs, tmp_path):
    for name in ("first", "second"):
        args = [str(runs["projection"]), "num=12", "seed=3", "psi=0.7", "classifier=off", f"out={tmp_path / name}"]
        assert sample.main(args) == 0
    first, second = folder_bytes(tmp_path / "first"), folder_bytes(tmp_path / "second")
    assert len(first) == 12 + 1  # 12 images and grid.png
    assert first == second


def test_other_seed_gives_other_images(runs, tmp_path):
    for seed in (0, 1):
        assert sample.main([str(runs["cgan_mlp"]), "num=4", f"seed={seed}", "classifier=off", f"out={tmp_path / str(seed)}"]) == 0
    assert folder_bytes(tmp_path / "0")["000000_class0.png"] != folder_bytes(tmp_path / "1")["000000_class0.png"]


def test_batch_size_does_not_change_images(runs, tmp_path):
    for batch in (3, 64):
        args = [str(runs["projection"]), "num=7", f"batch_size={batch}", "classifier=off", f"out={tmp_path / str(batch)}"]
        assert sample.main(args) == 0
    assert folder_bytes(tmp_path / "3") == folder_bytes(tmp_path / "64")


def test_class_option_and_accuracy(runs, tmp_path, capsys):
    out = tmp_path / "sevens"
    assert sample.main([str(runs["cgan_mlp"]), "num=10", "class=7", "nrow=5", f"out={out}"]) == 0
    names = sorted(path.name for path in out.glob("0*.png"))
    assert names == [f"{index:06d}_class7.png" for index in range(10)]
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (5 * 10 + 2, 2 * 10 + 2)  # 8 px digits, 2 px padding
        assert grid.mode == "L"
    summary = json.loads((out / "samples.json").read_text())
    assert summary["class"] == 7
    assert summary["weights"] == "raw"
    assert 0.0 <= summary["class_accuracy"] <= 1.0
    printed = capsys.readouterr().out
    assert "class accuracy:" in printed
    assert "the run kept no EMA generator" in printed


def test_labels_cycle_without_class(runs, tmp_path):
    assert sample.main([str(runs["cgan_mlp"]), "num=12", "classifier=off", f"out={tmp_path}"]) == 0
    labels = [int(path.stem.split("_class")[1]) for path in sorted(tmp_path.glob("0*.png"))]
    assert labels == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_default_out_dir_is_in_run_folder(runs):
    assert sample.main([str(runs["cgan_mlp"]), "num=2", "seed=5", "class=1", "classifier=off"]) == 0
    assert (runs["cgan_mlp"] / "generated" / "seed5_class1" / "grid.png").is_file()


def test_psi_zero_gives_the_mean_image_per_class(runs, tmp_path):
    assert sample.main([str(runs["projection"]), "num=6", "class=2", "psi=0", "classifier=off", f"out={tmp_path}"]) == 0
    images = list(folder_bytes(tmp_path).items())
    pictures = [data for name, data in images if name != "grid.png"]
    assert len(set(pictures)) == 1


def test_cached_mode_without_cache(runs, tmp_path, capsys, monkeypatch):
    args = [str(runs["cgan_mlp"]), "num=2", "classifier=cached", f"cache_dir={tmp_path / 'empty'}", f"out={tmp_path / 'out'}"]
    assert sample.main(args) == 0
    printed = capsys.readouterr().out
    assert "no domain classifier is cached" in printed
    assert "classifier=auto" in printed


@pytest.mark.parametrize(
    "options, message",
    [
        (["class=10"], "class=10 is out of range"),
        (["class=-1"], "class=-1 is out of range"),
        (["num=0"], "num=0 is invalid"),
        (["num=-5"], "num=-5 is invalid"),
        (["psi=1.5"], "outside [0, 1]"),
        (["psi=-0.2"], "outside [0, 1]"),
        (["psi=nan"], "outside [0, 1]"),
    ],
)
def test_bad_options_rejected(runs, tmp_path, capsys, options, message):
    assert sample.main([str(runs["cgan_mlp"]), *options, "classifier=off", f"out={tmp_path}"]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))


def test_batch_size_zero_rejected(runs, tmp_path):
    with pytest.raises(SystemExit):
        sample.main([str(runs["cgan_mlp"]), "batch_size=0", f"out={tmp_path}"])


def test_missing_and_corrupt_checkpoints(tmp_path, capsys):
    assert sample.main([str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    assert sample.main([str(corrupt)]) == 2
    assert "unreadable" in capsys.readouterr().err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"generator.weight": torch.zeros(1)}}, foreign)
    assert sample.main([str(foreign)]) == 2
    assert "has no ganbench_config" in capsys.readouterr().err


def test_load_generator_ema_and_raw(runs):
    ema = load_generator(runs["projection"])
    raw = load_generator(runs["projection"], use_ema=False)
    assert ema.weights == "ema"
    assert raw.weights == "raw"
    assert not ema.training
    z, labels = torch.randn(3, 8), torch.tensor([0, 4, 9])
    assert not torch.allclose(ema(z, labels), raw(z, labels))
    # Without an EMA copy, use_ema falls back to the trained weights.
    assert load_generator(runs["cgan_mlp"]).weights == "raw"


def test_load_generator_mismatched_weights(runs, tmp_path):
    checkpoint = torch.load(runs["cgan_mlp"] / "checkpoints" / "last.ckpt", weights_only=False)
    checkpoint["ganbench_config"]["model"]["generator"]["hidden"] = [32]
    changed = tmp_path / "changed.ckpt"
    torch.save(checkpoint, changed)
    with pytest.raises(ConfigError, match="do not fit"):
        load_generator(changed)


def test_console_script_key_value_syntax(runs, tmp_path, run_cli):
    result = run_cli("ganbench-sample", [str(runs["cgan_mlp"]), "num=3", "class=7", "classifier=off", f"out={tmp_path}"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 3 PNG files" in result.stdout
    assert sorted(path.name for path in tmp_path.glob("*.png"))[-1] == "grid.png"


def test_unconditional_run(tmp_path, cache_dir, capsys):
    run_dir = train_tiny(tmp_path / "dcgan", DCGAN)
    out = tmp_path / "out"
    assert sample.main([str(run_dir), "num=3", f"out={out}"]) == 0
    assert sorted(path.name for path in out.glob("*.png")) == ["000000.png", "000001.png", "000002.png", "grid.png"]
    assert "class accuracy" not in capsys.readouterr().out
    assert sample.main([str(run_dir), "num=3", "class=1", f"out={tmp_path / 'rejected'}"]) == 2
    assert "not conditional" in capsys.readouterr().err
