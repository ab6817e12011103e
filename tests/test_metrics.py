import math

import pytest
import torch

from ganbench.data.images import SklearnDigits
from ganbench.errors import ConfigError
from ganbench.loggers import JsonlLogger, lower_is_better
from ganbench.metrics.image import ImageMetrics
from ganbench.metrics.inception import WEIGHTS_FILE, find_weights
from ganbench.metrics.ranges import to_uint8, to_unit_range


def test_uint8_mapping_endpoints_and_no_wraparound():
    x = torch.tensor([-1.0, 1.0, 0.0, -1.5, 1.5, 3.0])
    assert to_uint8(x).tolist() == [0, 255, 128, 0, 255, 255]
    assert to_uint8(x).dtype == torch.uint8


def test_unit_range_mapping_clamps():
    x = torch.tensor([-1.0, 1.0, 0.0, -2.0, 2.0])
    assert to_unit_range(x).tolist() == [0.0, 1.0, 0.5, 0.0, 1.0]


@pytest.fixture(scope="module")
def digits():
    datamodule = SklearnDigits(image_size=16, batch_size=16)
    datamodule.setup()
    return datamodule


@pytest.fixture(scope="module")
def prepared_metrics(digits, tmp_path_factory):
    metrics = ImageMetrics(
        num_samples=600, num_real=1797, kid_subset_size=200, kid_subsets=10,
        classifier={"epochs": 1}, cache_dir=str(tmp_path_factory.mktemp("cache")),
    )
    metrics.prepare(digits)
    return metrics


def test_fid_of_real_set_against_itself_is_zero(prepared_metrics, digits):
    features, _ = prepared_metrics.extract(digits.samples)
    prepared_metrics.fid.update(features, real=False)
    fid = float(prepared_metrics.fid.compute())
    prepared_metrics.fid.reset()
    assert abs(fid) < 0.01


def test_reference_values_are_recorded(prepared_metrics):
    reference = prepared_metrics.reference
    assert 0.0 <= reference["classifier_accuracy"] <= 1.0
    assert reference["fid_floor"] > 0.0
    assert reference["num_real"] == 1797


def test_classifier_cache_is_reused(digits, prepared_metrics):
    again = ImageMetrics(num_samples=600, kid_subset_size=200, classifier={"epochs": 1},
                         cache_dir=prepared_metrics.cache_dir)
    again.prepare(digits)
    assert again.reference["classifier_path"] == prepared_metrics.reference["classifier_path"]
    for a, b in zip(again.classifier.parameters(), prepared_metrics.classifier.parameters(), strict=True):
        assert torch.equal(a, b)


def test_corrupt_classifier_cache_is_retrained(digits, tmp_path):
    first = ImageMetrics(num_samples=600, kid_subset_size=200, classifier={"epochs": 1}, cache_dir=str(tmp_path))
    first.prepare(digits)
    path = first.reference["classifier_path"]
    with open(path, "wb") as handle:
        handle.write(b"garbage")
    second = ImageMetrics(num_samples=600, kid_subset_size=200, classifier={"epochs": 1}, cache_dir=str(tmp_path))
    second.prepare(digits)
    assert second.reference["classifier_path"] == path


class FixedGenerator:
    """Stands in for GANModule: 'generates' the first n real images."""

    device = torch.device("cpu")

    def __init__(self, images):
        self.images = images

    def sample_latents(self, n):
        return torch.arange(n), None

    def generate(self, z, labels=None, batch_size=500):
        return self.images[z]


def test_evaluate_logs_metrics_and_best(prepared_metrics, digits):
    values = prepared_metrics.evaluate(FixedGenerator(digits.samples))
    assert set(values) >= {"val/fid", "val/kid", "val/is", "val/fid_best", "val/num_classes"}
    assert values["val/fid_best"] == values["val/fid"] or values["val/fid_best"] < values["val/fid"]
    assert all(math.isfinite(v) for v in values.values())
    with torch.no_grad():
        predicted = prepared_metrics.classifier(digits.samples[:600]).argmax(dim=1)
    assert values["val/num_classes"] == float(predicted.unique().numel())


def test_too_few_samples_is_startup_error():
    with pytest.raises(ConfigError, match=r"metrics.num_samples>=500"):
        ImageMetrics(num_samples=100, kid_subset_size=500)
    with pytest.raises(ConfigError, match=r"metrics.num_samples>=10"):
        ImageMetrics(num_samples=5, kid_subset_size=2, is_splits=10)


def test_missing_inception_weights_names_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        find_weights(None)
    assert WEIGHTS_FILE in str(error.value)
    assert str(tmp_path) in str(error.value)
    with pytest.raises(ConfigError, match="does not exist"):
        ImageMetrics(extractor="inception", inception_weights=str(tmp_path / "missing.pth"))


def test_jsonl_logger_never_writes_nan(tmp_path):
    logger = JsonlLogger(tmp_path)
    logger.log_metrics({"val/fid": float("nan"), "val/kid": 0.5}, step=3)
    logger.log_metrics({"val/fid": 12.0, "val/is": 2.0}, step=4)
    logger.log_metrics({"val/fid": 15.0, "val/is": 1.5}, step=5)
    text = (tmp_path / "metrics.jsonl").read_text()
    assert "NaN" not in text
    assert "nan" not in text
    assert logger.final["val/fid"] == 15.0
    assert logger.best["val/fid"] == 12.0
    assert logger.best["val/is"] == 2.0


def test_metric_direction():
    assert lower_is_better("val/fid")
    assert lower_is_better("val/kid_std")
    assert lower_is_better("val/mode_kl")
    assert not lower_is_better("val/is")
    assert not lower_is_better("val/modes_covered")


def test_classifier_training_keeps_global_rng(digits, tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    metrics = ImageMetrics(num_samples=600, kid_subset_size=200, classifier={"epochs": 1}, cache_dir=str(tmp_path))
    metrics.prepare(digits)  # trains the classifier: the cache folder is empty
    assert torch.equal(torch.rand(3), expected)
