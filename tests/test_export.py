"""ONNX export: folded spectral norm, onnxruntime against eval-mode PyTorch, labels, the torch-free sampler."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganbench import export
from ganbench.nets.conditional import CGANDCGANGenerator, CGANMLPGenerator
from tests.inference_runs import PROJECTION, train_tiny

TOLERANCE = 1e-4


class PaddedGenerator(nn.Module):
    """z ``(N, 6)`` -> images ``(N, 1, 7, 7)`` through a transposed convolution with output padding.

    Linear to (4, 2, 2); ConvTranspose2d(k=3, s=2, p=1, output_padding=1) to (3, 4, 4);
    ConvTranspose2d(k=3, s=2, p=1, output_padding=0) to (1, 7, 7). Every layer has
    spectral norm and there is a BatchNorm, so eval mode and folding both matter.
    """

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 6
        self.num_classes = 0
        self.project = spectral_norm(nn.Linear(6, 16))
        self.up1 = spectral_norm(nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1))
        self.norm = nn.BatchNorm2d(3)
        self.up2 = spectral_norm(nn.ConvTranspose2d(3, 1, 3, stride=2, padding=1))

    def forward(self, z, labels=None):
        x = self.project(z).reshape(-1, 4, 2, 2)
        x = torch.relu(self.norm(self.up1(x)))
        return torch.tanh(self.up2(x))


def trained_in_train_mode(generator: nn.Module, steps: int = 5) -> nn.Module:
    """Run a few train-mode forwards so BatchNorm statistics and spectral-norm vectors move off their start."""
    torch.manual_seed(0)
    generator.train()
    num_classes = getattr(generator, "num_classes", 0)
    with torch.no_grad():
        for _ in range(steps):
            z = torch.randn(8, generator.latent_dim) * 2 + 0.5
            generator(z, torch.randint(0, num_classes, (8,)) if num_classes else None)
    return generator.eval()


def run_onnx(path, z, labels=None):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"z": z.numpy()}
    if labels is not None:
        feeds["labels"] = labels.numpy()
    return session.run(["images"], feeds)[0]


def test_fold_removes_spectral_norm_and_keeps_output():
    generator = trained_in_train_mode(PaddedGenerator())
    folded = export.fold_parametrizations(generator)
    assert not any(parametrize.is_parametrized(module) for module in folded.modules())
    assert parametrize.is_parametrized(generator.up1)  # the original is unchanged
    z = torch.randn(4, 6)
    with torch.no_grad():
        torch.testing.assert_close(folded(z), generator(z), rtol=0, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 5])
def test_padded_generator_matches_pytorch(tmp_path, batch):
    generator = trained_in_train_mode(PaddedGenerator())
    path = export.export_generator(generator, tmp_path / "generator.onnx")
    z = torch.randn(batch, 6, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        expected = generator.eval()(z).numpy()
    actual = run_onnx(path, z)
    assert actual.shape == (batch, 1, 7, 7)
    assert np.abs(actual - expected).max() < TOLERANCE


def test_exported_graph_has_no_spectral_norm_loop(tmp_path):
    import onnx

    path = export.export_generator(trained_in_train_mode(PaddedGenerator()), tmp_path / "generator.onnx")
    model = onnx.load(str(path))
    operators = {node.op_type for node in model.graph.node}
    assert "ConvTranspose" in operators
    # Power iteration would show up as normalisations and divisions of weights; the folded graph has none.
    assert "ReduceL2" not in operators
    assert "LpNormalization" not in operators
    assert [i.name for i in model.graph.input] == ["z"]
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert '"latent_dim": 6' in metadata["ganbench"]


CONDITIONAL = [
    pytest.param(lambda: CGANDCGANGenerator(latent_dim=6, channels=3, image_size=8, num_classes=4, width=8,
                                            norm="spectral", mapping_layers=2), id="dcgan-spectral-mapping"),
    pytest.param(lambda: CGANDCGANGenerator(latent_dim=6, channels=1, image_size=16, num_classes=4, width=8), id="dcgan-batch"),
    pytest.param(lambda: CGANMLPGenerator(latent_dim=6, channels=1, image_size=8, num_classes=4, hidden=(16,)), id="mlp"),
]


@pytest.mark.parametrize("make", CONDITIONAL)
def test_conditional_export_takes_labels(tmp_path, make):
    generator = trained_in_train_mode(make())
    path = export.export_generator(generator, tmp_path / "generator.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "labels"]
    size, channels = generator.image_size, generator.channels
    for batch in (1, 5):
        z = torch.randn(batch, 6)
        labels = torch.arange(batch) % 4
        with torch.no_grad():
            expected = generator(z, labels).numpy()
        actual = run_onnx(path, z, labels)
        assert actual.shape == (batch, channels, size, size)
        assert np.abs(actual - expected).max() < TOLERANCE
    # The label input changes the image.
    z = torch.randn(1, 6).repeat(2, 1)
    pair = run_onnx(path, z, torch.tensor([0, 3]))
    assert np.abs(pair[0] - pair[1]).max() > 1e-3


def test_max_abs_difference_reports_small_error(tmp_path):
    generator = trained_in_train_mode(PaddedGenerator())
    path = export.export_generator(generator, tmp_path / "generator.onnx")
    assert export.max_abs_difference(generator, path) < TOLERANCE


@pytest.fixture(scope="module")
def exported(tmp_path_factory, cache_dir):
    root = tmp_path_factory.mktemp("export")
    run_dir = train_tiny(root / "run", PROJECTION)
    out = root / "export"
    assert export.main([str(run_dir), f"out={out}"]) == 0
    return out


def test_cli_writes_model_and_sampler(exported):
    assert (exported / "generator.onnx").is_file()
    assert (exported / "sample_onnx.py").is_file()


def test_sampler_runs_without_torch(exported, tmp_path):
    script = exported / "sample_onnx.py"
    out = tmp_path / "samples"
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['sample_onnx.py', {str(exported / 'generator.onnx')!r}, '--num', '5', '--class', '7', '--out', {str(out)!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert stop.code in (0, None), stop.code\n"
        "loaded = sorted(name for name in sys.modules if name == 'torch' or name.startswith('torch.'))\n"
        "print('TORCH_MODULES', len(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "TORCH_MODULES 0" in result.stdout
    assert sorted(path.name for path in out.glob("*.png")) == [f"{i:06d}_class7.png" for i in range(5)]


def test_sampler_same_seed_same_bytes(exported, tmp_path):
    from ganbench import onnx_sampler

    for name in ("a", "b"):
        assert onnx_sampler.main([str(exported / "generator.onnx"), "--num", "3", "--seed", "4", "--out", str(tmp_path / name)]) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.png")}
    second = {p.name: p.read_bytes() for p in (tmp_path / "b").glob("*.png")}
    assert len(first) == 3
    assert first == second


def test_sampler_rejects_bad_input(exported, tmp_path, capsys):
    from ganbench import onnx_sampler

    model = str(exported / "generator.onnx")
    assert onnx_sampler.main([model, "--class", "10", "--out", str(tmp_path)]) == 2
    assert "out of range" in capsys.readouterr().err
    assert onnx_sampler.main([model, "--num", "0", "--out", str(tmp_path)]) == 2
    assert "num=0 is invalid" in capsys.readouterr().err
    assert onnx_sampler.main([str(tmp_path / "missing.onnx")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_missing_checkpoint(tmp_path, capsys):
    assert export.main([str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
