"""Invalid input on the command line fails before training with one clear error line."""

import pytest

from tests.conftest import TINY

CASES = {
    "unknown_key": (["+foo=1"], "unknown config key 'foo'"),
    "unknown_key_without_plus": (["foo=1"], "Key 'foo' is not in struct"),
    "n_critic_zero": (["n_critic=0"], "n_critic=0 is invalid"),
    "negative_lr": (["optimizer.g.lr=-1e-4"], "optimizer.g.lr=-0.0001 is invalid"),
    "gp_with_batchnorm_critic": (["penalty=gp"], "model.discriminator.norm=batch"),
    "missing_image_folder": (["dataset=image_folder", "dataset.root=no/such/folder"], "dataset.root=no/such/folder is not a folder"),
    "smoothing_with_hinge": (["loss=hinge", "label_smoothing=0.9"], "label_smoothing=0.9 does not apply to loss=hinge"),
    "unknown_trainer_key": (["++trainer.max_epoch=3"], "trainer.max_epoch is not a Lightning Trainer argument"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_config_fails_before_training(run_cli, tmp_path, case):
    overrides, message = CASES[case]
    # Model overrides from TINY are dropped where the case picks another dataset.
    base = [o for o in TINY if not o.startswith("dataset")] if any(o.startswith("dataset=") for o in overrides) else TINY
    result = run_cli("ganbench-train", base + overrides + [f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in output, output
    assert "Epoch 0" not in output
    assert not (tmp_path / "run" / "checkpoints").exists()
