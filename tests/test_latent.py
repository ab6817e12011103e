"""Latent tools: lerp/slerp, truncation, attribute directions on a generator with a known true direction, the CLI."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image
from torch import nn

from ganbench import latent
from ganbench.latent import attribute_direction, edit, find_direction, ink_fraction, lerp, slerp, truncate
from tests.inference_runs import PROJECTION, train_tiny


# slerp and lerp.
def test_slerp_quarter_circle_midpoint():
    result = slerp(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.5)
    torch.testing.assert_close(result, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))
    assert result.tolist() == pytest.approx([0.7071, 0.7071], abs=1e-4)


def test_slerp_keeps_unit_norm():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 0.6, 0.8])
    for t in (0.1, 0.3, 0.7, 0.9):
        assert float(slerp(a, b, t).norm()) == pytest.approx(1.0, abs=1e-6)


ENDPOINT_CASES = {
    "great circle": (torch.tensor([1.0, 2.0, -0.5]), torch.tensor([-0.3, 0.4, 2.0])),
    "nearly parallel": (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]) * (1 + 1e-7) + 1e-8),
    "nearly parallel scaled": (torch.tensor([0.3, -0.2, 0.9]), torch.tensor([0.3, -0.2, 0.9]) * 2.5),
    "opposite": (torch.tensor([1.0, -2.0, 0.5]), torch.tensor([-1.0, 2.0, -0.5])),
    "random 512-d": (torch.randn(512, generator=torch.Generator().manual_seed(1)),
                     torch.randn(512, generator=torch.Generator().manual_seed(2))),
}


@pytest.mark.parametrize("case", ENDPOINT_CASES)
def test_slerp_endpoints_exact(case):
    a, b = ENDPOINT_CASES[case]
    assert torch.equal(slerp(a, b, 0.0), a)
    assert torch.equal(slerp(a, b, 1.0), b)
    assert torch.equal(slerp(a, b, torch.tensor(0.0)), a)
    assert torch.equal(slerp(a, b, torch.tensor(1.0)), b)
    assert torch.isfinite(slerp(a, b, 0.5)).all()


def test_slerp_endpoints_exact_in_a_batch():
    a = torch.stack([ENDPOINT_CASES[name][0] for name in ("great circle", "nearly parallel", "opposite")])
    b = torch.stack([ENDPOINT_CASES[name][1] for name in ("great circle", "nearly parallel", "opposite")])
    assert torch.equal(slerp(a, b, 0.0), a)
    assert torch.equal(slerp(a, b, 1.0), b)
    per_row = slerp(a, b, torch.tensor([0.0, 1.0, 0.0]))
    assert torch.equal(per_row[0], a[0])
    assert torch.equal(per_row[1], b[1])
    assert torch.equal(per_row[2], a[2])


def test_slerp_nearly_parallel_uses_lerp():
    a = torch.tensor([1.0, 2.0, 3.0])
    b = a * 2.0
    torch.testing.assert_close(slerp(a, b, 0.25), lerp(a, b, 0.25))


def test_slerp_code_with_itself():
    a = torch.tensor([0.3, -1.2, 2.5, 0.0])
    for t in (0.0, 0.1, 0.5, 0.9, 1.0):
        result = slerp(a, a.clone(), t)
        assert not torch.isnan(result).any()
        assert torch.equal(result, a)


def test_slerp_zero_vector_rejected():
    with pytest.raises(ValueError, match="zero vector"):
        slerp(torch.zeros(3), torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="second code has norm 0"):
        slerp(torch.ones(3), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="zero vector"):
        slerp(torch.ones(2, 3), torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), 0.5)


def test_slerp_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="same shape"):
        slerp(torch.ones(3), torch.ones(4), 0.5)


def test_lerp_endpoints_exact():
    a, b = torch.tensor([0.1, 0.7]), torch.tensor([-3.3, 1e-3])
    assert torch.equal(lerp(a, b, 0.0), a)
    assert torch.equal(lerp(a, b, 1.0), b)


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolate_includes_both_ends(method):
    a, b = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.0, -1.0])
    codes = latent.interpolate(a, b, 7, method)
    assert codes.shape == (7, 3)
    assert torch.equal(codes[0], a)
    assert torch.equal(codes[-1], b)
    with pytest.raises(ValueError, match="at least 2 steps"):
        latent.interpolate(a, b, 1, method)


# Truncation.
def test_truncate_pulls_towards_mean():
    w = torch.tensor([[2.0, 4.0], [0.0, -2.0]])
    mean = torch.tensor([1.0, 1.0])
    assert torch.equal(truncate(w, mean, 1.0), w)
    torch.testing.assert_close(truncate(w, mean, 0.0), mean.expand(2, 2))
    torch.testing.assert_close(truncate(w, mean, 0.5), torch.tensor([[1.5, 2.5], [0.5, -0.5]]))


@pytest.mark.parametrize("psi", [-0.1, 1.5, float("nan")])
def test_truncate_psi_out_of_range(psi):
    with pytest.raises(ValueError, match="outside"):
        truncate(torch.zeros(1, 2), torch.zeros(2), psi)


# Attribute directions on a generator whose true direction is known.
class KnownGenerator(nn.Module):
    """Images ``(N, 1, 4, 4)`` whose pixels are ``tanh(w . u + offset_p)``, so ink grows with ``w . u``.

    map(z) is a fixed rotation ``z @ Q``, so w stays isotropic, the true
    direction in W is ``u`` and in Z it is ``Q u``.
    """

    def __init__(self, latent_dim: int = 8, seed: int = 0) -> None:
        super().__init__()
        noise = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.num_classes = 0
        self.u = torch.nn.functional.normalize(torch.randn(latent_dim, generator=noise), dim=0)
        self.matrix = torch.linalg.qr(torch.randn(latent_dim, latent_dim, generator=noise)).Q
        self.offsets = torch.linspace(-2.0, 2.0, 16)
        self.anchor = nn.Parameter(torch.zeros(1))  # a parameter for device lookups

    def map(self, z, labels=None):
        return z @ self.matrix

    def synthesis(self, w, labels=None):
        return torch.tanh((w @ self.u).unsqueeze(1) + self.offsets).reshape(-1, 1, 4, 4)

    def forward(self, z, labels=None):
        return self.synthesis(self.map(z))


def cosine(a, b):
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0))


def test_direction_in_w_matches_known_direction():
    generator = KnownGenerator()
    direction, stats = find_direction(generator, ink_fraction, num=4000, space="w", seed=0)
    assert direction.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert cosine(direction, generator.u) > 0.99
    assert stats["num_with"] == 2000
    assert stats["num_without"] == 2000
    assert stats["score_with"] > stats["score_without"]


def test_direction_in_z_matches_known_direction():
    generator = KnownGenerator()
    # w . u = z . (Q u) for w = z Q, so the true Z direction is Q u.
    true_direction = generator.matrix @ generator.u
    direction, _ = find_direction(generator, ink_fraction, num=4000, space="z", seed=1)
    assert cosine(direction, true_direction) > 0.99


def test_direction_from_boolean_attribute():
    generator = KnownGenerator()
    mostly_ink = lambda images: ink_fraction(images) > 0.5  # noqa: E731 - a labeller like a classifier's class test
    direction, stats = find_direction(generator, mostly_ink, num=4000, space="w", seed=2)
    assert cosine(direction, generator.u) > 0.99
    assert stats["num_with"] + stats["num_without"] == 4000


def test_attribute_direction_needs_both_groups():
    codes = torch.randn(10, 3)
    with pytest.raises(ValueError, match="with and without"):
        attribute_direction(codes, torch.ones(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="with and without"):
        attribute_direction(codes, torch.zeros(10, dtype=torch.bool))


def test_attribute_direction_exact_difference():
    codes = torch.tensor([[3.0, 0.0], [5.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    direction = attribute_direction(codes, torch.tensor([True, True, False, False]))
    torch.testing.assert_close(direction, torch.tensor([1.0, 0.0]))


def test_ink_fraction_values():
    images = torch.full((2, 1, 2, 2), -1.0)
    images[1, 0, 0, :] = 1.0
    torch.testing.assert_close(ink_fraction(images), torch.tensor([0.0, 0.5]))


def test_edit_adds_scaled_direction():
    codes = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    direction = torch.tensor([0.6, 0.8])
    edited = edit(codes, direction, [-1.0, 0.0, 2.0])
    assert edited.shape == (3, 2, 2)
    torch.testing.assert_close(edited[0], codes - direction)
    assert torch.equal(edited[1], codes)
    torch.testing.assert_close(edited[2], codes + 2 * direction)
    with pytest.raises(ValueError, match="dimensions"):
        edit(codes, torch.ones(3), [1.0])


# Command line on a tiny trained run.
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, cache_dir):
    return train_tiny(tmp_path_factory.mktemp("latent") / "run", PROJECTION)


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_cli_interpolation_strip(run_dir, tmp_path, method, capsys):
    out = tmp_path / f"{method}.png"
    assert latent.main([method, str(run_dir), "rows=2", "steps=5", "space=w", f"out={out}"]) == 0
    with Image.open(out) as image:
        # make_grid: 5 tiles of 8 px across and 2 down, 2 px padding around each.
        assert image.size == (5 * 10 + 2, 2 * 10 + 2)
    assert f"{method} in W" in capsys.readouterr().out


def test_cli_interpolation_gif(run_dir, tmp_path):
    out = tmp_path / "walk.gif"
    assert latent.main(["slerp", str(run_dir), "--rows", "3", "--steps", "6", "--out", str(out), "--scale", "2"]) == 0
    with Image.open(out) as image:
        assert image.size == (3 * 8 * 2, 8 * 2)
        # Forward, then back without repeating the ends: 6 + 4 frames of 80 ms. PIL merges identical
        # consecutive frames into one longer frame, so the total duration is what is fixed.
        durations = []
        for frame in range(image.n_frames):
            image.seek(frame)
            durations.append(image.info["duration"])
        assert sum(durations) == (6 + 4) * 80


def test_cli_direction_and_edit(run_dir, tmp_path, capsys):
    saved = tmp_path / "thickness.pt"
    assert latent.main(["direction", str(run_dir), "attribute=thickness", "num=200", "space=w", f"save={saved}"]) == 0
    assert torch.load(saved, weights_only=True)["direction"].shape == (8,)
    out = tmp_path / "edit.png"
    args = ["edit", str(run_dir), f"direction={saved}", "attribute=thickness", "space=w", "rows=3",
            "alphas=-2,0,2", f"out={out}"]
    assert latent.main(args) == 0
    with Image.open(out) as image:
        assert image.size == (3 * 10 + 2, 3 * 10 + 2)
    printed = capsys.readouterr().out
    assert "alpha -2.00: mean ink fraction" in printed
    assert "alpha +2.00: mean ink fraction" in printed


def test_cli_errors(run_dir, tmp_path, capsys):
    assert latent.main(["edit", str(run_dir)]) == 2
    assert "needs --attribute" in capsys.readouterr().err
    assert latent.main(["direction", str(run_dir), "attribute=stripes"]) == 2
    assert "attribute='stripes' is unknown" in capsys.readouterr().err
    assert latent.main(["direction", str(run_dir), "attribute=class:12", "classifier=off"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert latent.main(["edit", str(run_dir), f"direction={tmp_path / 'none.pt'}"]) == 2
    assert "missing or unreadable" in capsys.readouterr().err
    assert latent.main(["slerp", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_class_attribute_uses_domain_classifier(run_dir):
    from ganbench.checkpoint import read_checkpoint
    from ganbench.sample import classify, domain_classifier

    config = read_checkpoint(run_dir)["ganbench_config"]
    attribute, description = latent._attribute_fn("class:3", 10, config, "auto")
    assert description == "domain classifier predicts class 3"
    images = torch.rand(6, 1, 8, 8) * 2 - 1
    flags = attribute(images)
    assert flags.dtype == torch.bool
    assert flags.shape == (6,)
    classifier, _ = domain_classifier(config, "cached")
    assert torch.equal(flags, classify(classifier, images) == 3)


def test_cli_default_output_in_run_folder(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert latent.main(["slerp", str(run_dir), "rows=1", "steps=3"]) == 0
    assert (run_dir / "latent" / "slerp.png").is_file()
    assert list(tmp_path.iterdir()) == []
