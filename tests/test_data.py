import struct

import numpy as np
import pytest
from PIL import Image

from ganbench.data.images import ImageFolderImages, Mnist5k, SklearnDigits, TorchvisionImages, fit_to_size
from ganbench.errors import ConfigError
from ganbench.train import train
from tests.conftest import TINY


def test_mnist5k_padded_scaled_labelled():
    datamodule = Mnist5k(batch_size=64)
    datamodule.setup()
    assert datamodule.sample_shape == (1, 32, 32)
    assert len(datamodule.samples) == 5000
    assert datamodule.num_classes == 10
    assert datamodule.samples.min().item() == -1.0
    assert datamodule.samples.max().item() == 1.0
    # The 2-pixel border added around the 28x28 digits is background.
    assert (datamodule.samples[:, :, :2, :] == -1.0).all()
    batch, labels = next(iter(datamodule.train_dataloader()))
    assert batch.shape == (64, 1, 32, 32)
    assert labels.shape == (64,)


def test_digits_resized():
    datamodule = SklearnDigits(image_size=16, batch_size=32)
    datamodule.setup()
    assert datamodule.sample_shape == (1, 16, 16)
    assert len(datamodule.samples) == 1797
    assert datamodule.samples.min() >= -1.0
    assert datamodule.samples.max() <= 1.0


def test_fit_to_size_pads_or_resizes():
    import torch

    x = torch.zeros(2, 1, 28, 28)
    assert fit_to_size(x, 32).shape == (2, 1, 32, 32)
    assert fit_to_size(x, 32)[0, 0, 0, 0].item() == -1.0
    assert fit_to_size(x, 64).shape == (2, 1, 64, 64)
    assert fit_to_size(x, 16).shape == (2, 1, 16, 16)


def write_idx(folder, images, labels):
    folder.mkdir(parents=True)
    n, h, w = images.shape
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    (folder / "t10k-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_torchvision_idx_files_from_local_root(tmp_path, name, folder):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = (np.arange(20) % 10).astype(np.uint8)
    write_idx(tmp_path / folder / "raw", images, labels)
    datamodule = TorchvisionImages(name=name, root=str(tmp_path), batch_size=4)
    datamodule.setup()
    assert datamodule.sample_shape == (1, 32, 32)
    assert datamodule.num_classes == 10
    # Pixel 0 maps to -1, 255 to +1, inside the padded border.
    expected = images[3].astype(np.float32) / 127.5 - 1.0
    assert np.allclose(datamodule.samples[3, 0, 2:30, 2:30].numpy(), expected, atol=1e-6)


def test_torchvision_missing_root_names_files(tmp_path):
    with pytest.raises(ConfigError, match="cifar-10-batches-py"):
        TorchvisionImages(name="cifar10", root=str(tmp_path / "nothing"))


def test_torchvision_empty_root_is_config_error(tmp_path):
    datamodule = TorchvisionImages(name="mnist", root=str(tmp_path))
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte"):
        datamodule.setup()


def test_image_folder_classes_become_labels(tmp_path):
    for label in ("cats", "dogs"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (12, 20), (10 * i, 50, 200)).save(tmp_path / label / f"{i}.png")
    datamodule = ImageFolderImages(root=str(tmp_path), image_size=8, batch_size=2)
    datamodule.setup()
    assert datamodule.sample_shape == (3, 8, 8)
    assert datamodule.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_flat_image_folder_has_no_labels(tmp_path):
    for i in range(4):
        Image.new("L", (8, 8), 30 * i).save(tmp_path / f"{i}.png")
    datamodule = ImageFolderImages(root=str(tmp_path), image_size=8, channels=1, batch_size=2)
    datamodule.setup()
    assert datamodule.labels is None
    assert datamodule.num_classes == 0


def test_corrupt_image_is_config_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    datamodule = ImageFolderImages(root=str(tmp_path), image_size=8, batch_size=1)
    with pytest.raises(ConfigError, match="broken.png"):
        datamodule.setup()


def test_empty_image_folder_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no images"):
        ImageFolderImages(root=str(tmp_path), image_size=8, batch_size=1).setup()


def test_domain_metrics_on_unlabelled_folder_fail_clearly(compose_cfg, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(8):
        Image.new("RGB", (8, 8), (30 * i, 0, 0)).save(images / f"{i}.png")
    overrides = [o for o in TINY if not o.startswith(("dataset", "metrics"))] + [
        "dataset=image_folder", f"dataset.root={images}", "dataset.image_size=8", "dataset.batch_size=4",
        "metrics=domain", "metrics.num_samples=600", "++trainer.max_epochs=1",
    ]
    summary = train(compose_cfg(overrides), tmp_path / "run")
    assert summary["status"] == "failed"
    assert "has no labels" in summary["reason"]


def test_csv_logger_writes_metrics(compose_cfg, tmp_path):
    overrides = [o for o in TINY if not o.startswith("logger")] + [
        "logger=csv", "++trainer.max_epochs=1", "++trainer.limit_train_batches=3", "++trainer.log_every_n_steps=1"]
    summary = train(compose_cfg(overrides), tmp_path)
    assert summary["status"] == "ok"
    (csv_file,) = tmp_path.glob("csv/*/metrics.csv")
    assert "train/d_loss" in csv_file.read_text().splitlines()[0]
