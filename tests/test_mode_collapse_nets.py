"""MLP networks, minibatch discrimination, the unrolled-GAN generator update and PacGAN packing."""

import copy
import re
from functools import partial

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ganbench.config import validate
from ganbench.errors import ConfigError
from ganbench.losses import bce_d_loss, nonsaturating_g_loss
from ganbench.module import GANModule, pack_samples
from ganbench.nets.dcgan import DCGANDiscriminator
from ganbench.nets.minibatch import MinibatchDiscrimination
from ganbench.nets.mlp import MLPDiscriminator, MLPGenerator
from ganbench.train import train


def points_loader(num_points: int = 64, batch_size: int = 8, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    points = torch.randn(num_points, 2, generator=generator)
    return DataLoader(TensorDataset(points, torch.zeros(num_points, dtype=torch.long)), batch_size=batch_size)


def make_module(module_class=GANModule, pack: int = 1, unroll_steps: int = 0, discriminator=None, **kwargs):
    torch.manual_seed(0)
    return module_class(
        generator=MLPGenerator(latent_dim=4, dim=2, width=16, depth=2),
        discriminator=discriminator or MLPDiscriminator(dim=2 * pack, width=16, depth=2),
        d_loss=bce_d_loss,
        g_loss=nonsaturating_g_loss,
        g_optimizer=partial(torch.optim.Adam, lr=1e-2, betas=(0.5, 0.999)),
        d_optimizer=partial(torch.optim.Adam, lr=1e-2, betas=(0.5, 0.999)),
        pack=pack,
        unroll_steps=unroll_steps,
        num_fixed=8,
        **kwargs,
    )


def fit(module: GANModule, batches: int, batch_size: int = 8) -> L.Trainer:
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=batches, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=points_loader(batch_size=batch_size))
    return trainer


def discriminator_state(module: GANModule) -> dict:
    """Copy D's parameters, buffers and optimizer state."""
    tensors = {name: value.detach().clone() for name, value in module.discriminator.state_dict().items()}
    optimizer = copy.deepcopy(module.optimizers()[1].optimizer.state_dict())
    return {"tensors": tensors, "optimizer": optimizer}


def assert_same_state(before: dict, after: dict) -> None:
    assert before["tensors"].keys() == after["tensors"].keys()
    for name, value in before["tensors"].items():
        assert torch.equal(value, after["tensors"][name]), name
    assert before["optimizer"]["param_groups"] == after["optimizer"]["param_groups"]
    assert before["optimizer"]["state"].keys() == after["optimizer"]["state"].keys()
    for index, state in before["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(after["optimizer"]["state"][index][key])), (
                index, key,
            )


# MLP networks.
@pytest.mark.parametrize("batch", [1, 7])
def test_mlp_shapes(batch):
    generator = MLPGenerator(latent_dim=5, dim=2, width=32, depth=3)
    discriminator = MLPDiscriminator(dim=2, width=32, depth=3)
    z = torch.randn(batch, 5)
    points = generator(z)
    assert generator.latent_dim == 5
    assert points.shape == (batch, 2)
    assert discriminator(points).shape == (batch,)


def test_mlp_generator_output_is_linear():
    generator = MLPGenerator(latent_dim=4, dim=2)
    assert isinstance(generator.head, nn.Linear)
    with torch.no_grad():
        generator.head.bias.fill_(5.0)
        generator.head.weight.zero_()
    assert torch.equal(generator(torch.randn(3, 4)), torch.full((3, 2), 5.0))


@pytest.mark.parametrize("norm", ["batch", "layer", "spectral", "none"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh"])
def test_mlp_norms_and_activations(norm, activation):
    generator = MLPGenerator(latent_dim=4, dim=2, width=8, depth=2, activation=activation, norm=norm)
    discriminator = MLPDiscriminator(dim=2, width=8, depth=2, activation=activation, norm=norm)
    assert discriminator(generator(torch.randn(6, 4))).shape == (6,)
    has_batch_norm = any(isinstance(m, nn.BatchNorm1d) for m in discriminator.modules())
    assert has_batch_norm == (norm == "batch")


def test_mlp_small_preset_has_one_hidden_layer(compose_cfg):
    cfg = compose_cfg(["dataset=ring8", "model=mlp2d_small"])
    for net in ("generator", "discriminator"):
        assert cfg.model[net].width == 64
        assert cfg.model[net].depth == 1
    generator = MLPGenerator(latent_dim=cfg.model.latent_dim, dim=2, width=64, depth=1)
    assert sum(isinstance(m, nn.Linear) for m in generator.modules()) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"activation": "swish"}, "model.discriminator.activation='swish' is unknown"),
        ({"depth": 0}, "model.discriminator.depth=0 is invalid"),
        ({"width": 0}, "model.discriminator.width=0 is invalid"),
        ({"minibatch_kernels": -1}, "minibatch_kernels=-1 is invalid"),
        ({"minibatch_kernels": 2, "minibatch_kernel_dim": 0}, "minibatch_kernel_dim=0 is invalid"),
    ],
)
def test_mlp_discriminator_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        MLPDiscriminator(dim=2, **kwargs)


def test_mlp_generator_rejects_bad_latent_dim():
    with pytest.raises(ConfigError, match=r"model\.latent_dim=0"):
        MLPGenerator(latent_dim=0)


# Minibatch discrimination.
@pytest.mark.parametrize("batch", [1, 7])
def test_minibatch_layer_shapes(batch):
    layer = MinibatchDiscrimination(in_features=10, kernels=4, kernel_dim=3)
    assert layer(torch.randn(batch, 10)).shape == (batch, 14)
    assert layer.out_features == 14


def test_minibatch_features_of_identical_batch():
    layer = MinibatchDiscrimination(in_features=6, kernels=4, kernel_dim=3)
    same = torch.randn(1, 6).repeat(7, 1)
    distinct = torch.randn(7, 6) * 5
    same_features = layer(same)[:, 6:]
    distinct_features = layer(distinct)[:, 6:]
    # exp(-0) = 1 for each of the 6 other samples.
    assert torch.allclose(same_features, torch.full((7, 4), 6.0))
    assert not torch.allclose(same_features, distinct_features)
    assert (distinct_features < 6.0).all()
    # The input features pass through unchanged.
    assert torch.equal(layer(distinct)[:, :6], distinct)


def test_minibatch_features_of_lone_sample_are_zero():
    layer = MinibatchDiscrimination(in_features=6, kernels=4, kernel_dim=3)
    assert torch.equal(layer(torch.randn(1, 6))[:, 6:], torch.zeros(1, 4))


def test_minibatch_layer_rejects_bad_input():
    layer = MinibatchDiscrimination(in_features=6, kernels=2)
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        layer(torch.randn(3, 5))
    with pytest.raises(ConfigError, match="minibatch_kernels=0 is invalid"):
        MinibatchDiscrimination(in_features=6, kernels=0)


@pytest.mark.parametrize("batch", [1, 7])
def test_mlp_discriminator_with_minibatch_shapes(batch):
    discriminator = MLPDiscriminator(dim=2, width=16, depth=2, minibatch_kernels=5, minibatch_kernel_dim=3)
    assert discriminator.head.in_features == 21
    assert discriminator(torch.randn(batch, 2)).shape == (batch,)


def test_mlp_discriminator_minibatch_sees_the_batch():
    torch.manual_seed(0)
    discriminator = MLPDiscriminator(dim=2, width=16, depth=2, minibatch_kernels=5)
    point = torch.randn(1, 2)
    alone = discriminator(point)
    in_copies = discriminator(point.repeat(4, 1))
    assert not torch.allclose(alone, in_copies[:1])
    assert torch.allclose(in_copies, in_copies[0].expand(4))


@pytest.mark.parametrize("batch", [1, 7])
def test_dcgan_discriminator_with_minibatch_shapes(batch):
    torch.manual_seed(0)
    discriminator = DCGANDiscriminator(channels=1, image_size=16, width=8, norm="layer", minibatch_kernels=4)
    images = torch.randn(batch, 1, 16, 16)
    assert discriminator(images).shape == (batch,)
    assert discriminator.minibatch.in_features == discriminator.feature_dim


def test_dcgan_discriminator_default_has_no_minibatch_layer():
    discriminator = DCGANDiscriminator(channels=1, image_size=16, width=8)
    assert discriminator.minibatch is None
    assert not any("minibatch" in name for name in discriminator.state_dict())


def test_dcgan_minibatch_setting_reaches_network(compose_cfg, tmp_path):
    cfg = compose_cfg(["dataset=digits", "dataset.image_size=8", "model.latent_dim=8", "model.generator.width=8",
                       "model.discriminator.width=8", "model.discriminator.minibatch_kernels=3", "logger=none",
                       "metrics=none", "++trainer.enable_progress_bar=false", "++trainer.max_epochs=1",
                       "++trainer.limit_train_batches=2"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert state["discriminator.minibatch.projection"].shape == (8 * 16, 9)


# Unrolled GAN.
class RecordingModule(GANModule):
    """GANModule that copies D's state just before the unroll and again after the whole training step."""

    def unrolled_discriminator(self, real, real_labels):
        self.before_unroll = discriminator_state(self)
        self.unrolled = super().unrolled_discriminator(real, real_labels)
        return self.unrolled

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.after_step = discriminator_state(self)


def test_unrolled_update_leaves_discriminator_untouched():
    module = make_module(RecordingModule, unroll_steps=3)
    generator_before = copy.deepcopy(module.generator.state_dict())
    fit(module, batches=1)
    assert module.g_updates == 1
    assert_same_state(module.before_unroll, module.after_step)
    # The copy did move, and the generator did update.
    unrolled = dict(module.unrolled.named_parameters())
    assert any(not torch.equal(p, unrolled[name]) for name, p in module.discriminator.named_parameters())
    assert any(not torch.equal(p, module.generator.state_dict()[n]) for n, p in generator_before.items())


def test_unrolled_copy_keeps_optimizer_state_count():
    module = make_module(RecordingModule, unroll_steps=3)
    fit(module, batches=2)
    # D's Adam took one step per batch; the unrolled copies' steps never reach it.
    state = module.optimizers()[1].optimizer.state_dict()["state"]
    assert {int(entry["step"]) for entry in state.values()} == {2}


def test_unrolled_generator_gradient_differs():
    module = make_module(unroll_steps=3)
    fit(module, batches=2)
    real = next(iter(points_loader()))[0]
    before = discriminator_state(module)

    torch.manual_seed(1)
    unrolled = module.unrolled_discriminator(real, None)
    torch.manual_seed(2)
    unrolled_grads = torch.autograd.grad(module.generator_loss(unrolled, real, None), list(module.generator.parameters()))
    torch.manual_seed(2)
    plain_grads = torch.autograd.grad(
        module.generator_loss(module.discriminator, real, None), list(module.generator.parameters())
    )
    torch.manual_seed(2)
    plain_again = torch.autograd.grad(
        module.generator_loss(module.discriminator, real, None), list(module.generator.parameters())
    )

    assert all(torch.equal(a, b) for a, b in zip(plain_grads, plain_again))
    assert any(not torch.allclose(a, b) for a, b in zip(unrolled_grads, plain_grads))
    assert_same_state(before, discriminator_state(module))


# PacGAN.
class RecordingDiscriminator(MLPDiscriminator):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_shapes: list[tuple[int, ...]] = []

    def forward(self, x, labels=None):
        self.input_shapes.append(tuple(x.shape))
        return super().forward(x, labels)


def test_pacgan_discriminator_sees_packed_inputs():
    discriminator = RecordingDiscriminator(dim=4, width=16, depth=2)
    module = make_module(pack=2, discriminator=discriminator)
    fit(module, batches=2, batch_size=8)
    assert module.d_updates == 2
    # Per batch: real and fake for the D update, fake for the G update.
    assert discriminator.input_shapes == [(4, 4)] * 6


def test_pack_samples_joins_consecutive_samples():
    points = torch.arange(16, dtype=torch.float32).reshape(8, 2)
    packed = pack_samples(points, 2)
    assert packed.shape == (4, 4)
    assert torch.equal(packed[1], torch.cat([points[2], points[3]]))
    assert torch.equal(pack_samples(points, 1), points)
    images = torch.randn(6, 1, 4, 4)
    assert pack_samples(images, 3).shape == (2, 3, 4, 4)


def test_pack_not_dividing_batch_is_startup_error(compose_cfg, tmp_path):
    cfg = compose_cfg(["experiment=mode_collapse/pacgan2", "pack=3", "dataset.batch_size=8", "logger=none"])
    with pytest.raises(ConfigError, match=r"pack=3 must divide dataset\.batch_size=8"):
        validate(cfg)
    summary = train(cfg, tmp_path)
    assert summary["status"] == "failed"
    assert "pack=3 must divide dataset.batch_size=8" in summary["reason"]
    assert not (tmp_path / "checkpoints").exists()


def test_pacgan_run_builds_wider_discriminator(compose_cfg, tmp_path):
    cfg = compose_cfg(["experiment=mode_collapse/pacgan2", "logger=none", "max_g_updates=2",
                       "dataset.samples_per_epoch=128", "dataset.batch_size=8", "dataset.plot_size=50",
                       "metrics.num_samples=100", "++trainer.enable_progress_bar=false"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert state["discriminator.body.0.weight"].shape == (128, 4)
    assert state["generator.head.weight"].shape == (2, 128)
