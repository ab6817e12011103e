import json

import pytest
import torch

from ganbench.module import GANModule, pack_samples
from ganbench.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganbench.train import train
from tests.conftest import TINY


def adam_steps(checkpoint, index):
    """Return how many steps the optimizer at ``index`` took, read from Adam's own state."""
    state = checkpoint["optimizer_states"][index]["state"]
    return int(next(iter(state.values()))["step"])


@pytest.mark.parametrize("n_critic", [1, 5])
@pytest.mark.parametrize("g_steps", [1, 2])
def test_update_counters_follow_n_critic_rule(compose_cfg, tmp_path, n_critic, g_steps):
    cfg = compose_cfg(TINY + [f"n_critic={n_critic}", f"g_steps={g_steps}", "++trainer.max_epochs=1",
                              "++trainer.limit_train_batches=10"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    expected_g = (10 // n_critic) * g_steps
    assert summary["d_updates"] == 10
    assert summary["g_updates"] == expected_g
    assert summary["final"]["train/d_updates"] == 10
    assert summary["final"]["train/g_updates"] == expected_g
    # The optimizers' own step counts agree with the module's counters.
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert adam_steps(checkpoint, 0) == expected_g  # generator optimizer
    assert adam_steps(checkpoint, 1) == 10  # discriminator optimizer
    assert checkpoint["ganbench_counters"] == {"d_updates": 10, "g_updates": expected_g}


def test_max_g_updates_stops_training(compose_cfg, tmp_path):
    cfg = compose_cfg(TINY + ["max_g_updates=7", "++trainer.max_epochs=5"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok"
    assert summary["g_updates"] == 7


def test_run_writes_files(compose_cfg, tmp_path):
    cfg = compose_cfg(TINY + ["++trainer.max_epochs=2", "++trainer.limit_train_batches=3"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok"
    assert (tmp_path / "samples" / "epoch_001.png").is_file()
    assert (tmp_path / "samples" / "epoch_002.png").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["status"] == "ok"
    assert saved["d_updates"] == 6
    # 3 batches per epoch is below log_every_n_steps=10: the epoch-end row still records losses.
    assert "train/d_loss" in saved["final"]
    assert "train/g_loss" in saved["final"]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    sample_rows = [row for row in rows if "samples" in row]
    assert [row["samples"] for row in sample_rows] == ["samples/epoch_001.png", "samples/epoch_002.png"]
    assert [row["epoch"] for row in sample_rows] == [0, 1]  # Lightning's 0-based epoch, as in the metric rows


def test_resume_continues_counters(compose_cfg, tmp_path):
    first = tmp_path / "first"
    cfg = compose_cfg(TINY + ["++trainer.max_epochs=1", "++trainer.limit_train_batches=4"])
    assert train(cfg, first)["status"] == "ok"
    ckpt = first / "checkpoints" / "last.ckpt"
    cfg = compose_cfg(TINY + ["++trainer.max_epochs=2", "++trainer.limit_train_batches=4", f"ckpt_path={ckpt}"])
    summary = train(cfg, tmp_path / "second")
    assert summary["status"] == "ok", summary["reason"]
    assert summary["d_updates"] == 8


def test_resume_with_other_model_is_config_error(compose_cfg, tmp_path):
    cfg = compose_cfg(TINY + ["++trainer.max_epochs=1", "++trainer.limit_train_batches=2"])
    assert train(cfg, tmp_path / "a")["status"] == "ok"
    ckpt = tmp_path / "a" / "checkpoints" / "last.ckpt"
    cfg = compose_cfg(TINY + ["model.generator.width=16", f"ckpt_path={ckpt}"])
    summary = train(cfg, tmp_path / "b")
    assert summary["status"] == "failed"
    assert "does not fit the configured model" in summary["reason"]


def test_corrupt_checkpoint_is_config_error(compose_cfg, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    summary = train(compose_cfg(TINY + [f"ckpt_path={bad}"]), tmp_path / "run")
    assert summary["status"] == "failed"
    assert "unreadable" in summary["reason"]


def bn_module():
    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=8, channels=1, image_size=16, width=8, norm="batch")
    discriminator = DCGANDiscriminator(channels=1, image_size=16, width=8, norm="none")
    module = GANModule(generator, discriminator, d_loss=None, g_loss=None, g_optimizer=None, d_optimizer=None)
    # Give BatchNorm non-trivial running statistics, as after some training.
    generator.train()
    with torch.no_grad():
        for _ in range(3):
            generator(torch.randn(32, 8) * 2 + 1)
    return module, generator


def test_batchnorm_generator_samples_independent_of_batch():
    module, generator = bn_module()
    z = torch.randn(8, 8)
    batched = module.generate(z)
    single = torch.cat([module.generate(z[i : i + 1]) for i in range(8)])
    assert torch.allclose(batched, single, atol=1e-6)


def test_sampling_keeps_running_stats_and_training_flag():
    module, generator = bn_module()
    before = {k: v.clone() for k, v in generator.state_dict().items() if "running" in k or "num_batches" in k}
    generator.train()
    module.generate(torch.randn(8, 8))
    assert generator.training
    after = generator.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key


def test_pack_samples_shapes_and_order():
    x = torch.arange(8 * 3 * 2 * 2, dtype=torch.float32).reshape(8, 3, 2, 2)
    packed = pack_samples(x, 2)
    assert packed.shape == (4, 6, 2, 2)
    assert torch.equal(packed[1, :3], x[2])
    assert torch.equal(packed[1, 3:], x[3])
    with pytest.raises(ValueError, match="pack=3"):
        pack_samples(x, 3)


def test_checkpointing_can_be_turned_off(compose_cfg, tmp_path):
    cfg = compose_cfg(TINY + ["++trainer.max_epochs=1", "++trainer.limit_train_batches=2",
                              "++trainer.enable_checkpointing=false"])
    summary = train(cfg, tmp_path)
    assert summary["status"] == "ok", summary["reason"]
    assert not (tmp_path / "checkpoints").exists()
