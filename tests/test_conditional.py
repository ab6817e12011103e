"""Conditional networks: shapes, label handling, the projection logit, and conditional runs end to end."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from ganbench.nets.conditional import (
    CGANDCGANDiscriminator,
    CGANDCGANGenerator,
    CGANMLPDiscriminator,
    CGANMLPGenerator,
)
from ganbench.nets.projection import ProjectionDiscriminator
from ganbench.train import train
from tests.inference_runs import CGAN_MLP, DCGAN, PROJECTION, compose_train

GENERATORS = [
    pytest.param(CGANMLPGenerator, {"hidden": (16, 32)}, id="mlp"),
    pytest.param(CGANMLPGenerator, {"hidden": (16,), "norm": "spectral", "mapping_layers": 2}, id="mlp-spectral-mapping"),
    pytest.param(CGANDCGANGenerator, {"width": 8, "embed_dim": 4}, id="dcgan"),
    pytest.param(CGANDCGANGenerator, {"width": 8, "norm": "layer", "mapping_layers": 2}, id="dcgan-layer-mapping"),
]
DISCRIMINATORS = [
    pytest.param(CGANMLPDiscriminator, {"hidden": (16, 8)}, id="mlp"),
    pytest.param(CGANMLPDiscriminator, {"hidden": (16,), "norm": "spectral", "dropout": 0.2}, id="mlp-spectral"),
    pytest.param(CGANDCGANDiscriminator, {"width": 8}, id="dcgan"),
    pytest.param(ProjectionDiscriminator, {"width": 8}, id="projection"),
    pytest.param(ProjectionDiscriminator, {"width": 8, "norm": "layer"}, id="projection-layer"),
]


@pytest.mark.parametrize("image_size, channels", [(8, 1), (16, 3)])
@pytest.mark.parametrize("cls, kwargs", GENERATORS)
def test_generator_shapes(cls, kwargs, image_size, channels):
    generator = cls(latent_dim=6, channels=channels, image_size=image_size, num_classes=3, **kwargs).eval()
    z = torch.randn(5, 6)
    labels = torch.tensor([0, 1, 2, 1, 0])
    images = generator(z, labels)
    assert images.shape == (5, channels, image_size, image_size)
    assert images.min() >= -1.0
    assert images.max() <= 1.0
    w = generator.map(z, labels)
    assert w.shape == (5, 6)
    assert torch.equal(generator.synthesis(w, labels), images)


@pytest.mark.parametrize("image_size, channels", [(8, 1), (16, 3)])
@pytest.mark.parametrize("cls, kwargs", DISCRIMINATORS)
def test_discriminator_shapes(cls, kwargs, image_size, channels):
    discriminator = cls(channels=channels, image_size=image_size, num_classes=3, **kwargs)
    logits = discriminator(torch.randn(4, channels, image_size, image_size), torch.tensor([0, 1, 2, 2]))
    assert logits.shape == (4,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("cls, kwargs", GENERATORS)
def test_generator_output_depends_on_label(cls, kwargs):
    generator = cls(latent_dim=6, channels=1, image_size=8, num_classes=3, **kwargs).eval()
    z = torch.randn(1, 6).repeat(3, 1)
    images = generator(z, torch.tensor([0, 1, 2]))
    assert not torch.allclose(images[0], images[1])
    assert not torch.allclose(images[1], images[2])


@pytest.mark.parametrize("cls, kwargs", DISCRIMINATORS)
def test_discriminator_label_errors(cls, kwargs):
    discriminator = cls(channels=1, image_size=8, num_classes=3, **kwargs)
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match="labels are missing"):
        discriminator(x)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        discriminator(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="integer class indices"):
        discriminator(x, torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("cls, kwargs", GENERATORS)
def test_generator_label_errors(cls, kwargs):
    generator = cls(latent_dim=6, channels=1, image_size=8, num_classes=3, **kwargs)
    with pytest.raises(ValueError, match="labels are missing"):
        generator(torch.randn(2, 6))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        generator(torch.randn(2, 6), torch.tensor([[0, 1]]))


@pytest.mark.parametrize("cls", [CGANMLPGenerator, CGANDCGANGenerator, CGANMLPDiscriminator, CGANDCGANDiscriminator,
                                 ProjectionDiscriminator])
def test_fewer_than_two_classes_rejected(cls):
    with pytest.raises(ValueError, match="num_classes >= 2"):
        cls(num_classes=1, image_size=8)


def test_projection_logit_is_head_plus_inner_product():
    torch.manual_seed(0)
    discriminator = ProjectionDiscriminator(channels=1, image_size=8, num_classes=4, width=4, norm="none")
    x = torch.randn(3, 1, 8, 8)
    labels = torch.tensor([0, 3, 1])
    features = discriminator.phi(x)
    assert features.shape == (3, discriminator.feature_dim)
    expected = discriminator.head(features).squeeze(1) + (discriminator.embedding.weight[labels] * features).sum(1)
    torch.testing.assert_close(discriminator(x, labels), expected)
    # Changing only the label moves the logit by <embed(y') - embed(y), phi(x)>.
    other = torch.tensor([2, 3, 1])
    shift = ((discriminator.embedding.weight[2] - discriminator.embedding.weight[0]) * features[0]).sum()
    torch.testing.assert_close(discriminator(x, other)[0] - discriminator(x, labels)[0], shift)


def test_projection_spectral_norm_by_default():
    discriminator = ProjectionDiscriminator(channels=1, image_size=16, num_classes=3, width=4)
    parametrized = [name for name, module in discriminator.named_modules() if hasattr(module, "parametrizations")]
    assert "head" in parametrized
    assert "embedding" in parametrized
    assert sum(name.startswith("features.") for name in parametrized) == 2  # both convolutions at 16x16


def test_model_configs_build_and_train(tmp_path, cache_dir):
    for name, overrides in (("cgan_mlp", CGAN_MLP), ("projection", PROJECTION)):
        summary = train(compose_train(overrides), tmp_path / name)
        assert summary["status"] == "ok", summary["reason"]
        checkpoint = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=False)
        assert checkpoint["ganbench_data"]["num_classes"] == 10
        assert checkpoint["ganbench_config"]["model"]["conditional"] is True


def test_conditional_run_logs_class_accuracy(tmp_path, cache_dir):
    metrics = [
        "metrics=domain",
        "metrics.num_samples=100",
        "metrics.num_real=200",
        "metrics.kid_subset_size=50",
        "metrics.kid_subsets=2",
        "metrics.is_splits=2",
        "metrics.classifier.epochs=1",
    ]
    summary = train(compose_train(CGAN_MLP + metrics), tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    accuracy = summary["final"]["val/class_accuracy"]
    assert 0.0 <= accuracy <= 1.0


def _flat_image_folder(root, count=20):
    root.mkdir()
    for index in range(count):
        Image.new("L", (8, 8), color=index * 10).save(root / f"{index:02d}.png")
    return root


def test_conditional_model_needs_labels(tmp_path):
    folder = _flat_image_folder(tmp_path / "flat")
    unlabelled = [f"dataset=image_folder", f"dataset.root={folder}", "dataset.channels=1"]
    summary = train(compose_train(CGAN_MLP + unlabelled), tmp_path / "cgan")
    assert summary["status"] == "failed"
    assert "conditional" in summary["reason"]
    assert "no class labels" in summary["reason"]


def test_unconditional_model_without_labels(tmp_path):
    folder = _flat_image_folder(tmp_path / "flat")
    unlabelled = [f"dataset=image_folder", f"dataset.root={folder}", "dataset.channels=1"]
    summary = train(compose_train(DCGAN + unlabelled), tmp_path / "dcgan")
    assert summary["status"] == "ok", summary["reason"]
