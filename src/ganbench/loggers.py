"""A Lightning logger that writes every logged row to ``metrics.jsonl`` and keeps final and best values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

# Metrics where a smaller value is better; every other val/ metric is better when larger.
LOWER_IS_BETTER = ("fid", "kid", "mode_kl", "loss")


def lower_is_better(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1]
    return any(leaf == key or leaf.startswith(key + "_") for key in LOWER_IS_BETTER)


class JsonlLogger(Logger):
    """Append one JSON object per ``log_metrics`` call to ``<run_dir>/metrics.jsonl``.

    Each row contains ``step`` (the real batches trained so far, the step
    Lightning gives loggers) and the metric names as logged to W&B. ``final`` keeps the last value of every metric and ``best``
    the best value of every ``val/`` metric; the run summary is built from them.
    """

    def __init__(self, run_dir: str | Path) -> None:
        super().__init__()
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.final: dict[str, float] = {}
        self.best: dict[str, float] = {}

    @property
    def name(self) -> str:
        return "jsonl"

    @property
    def version(self) -> str:
        return "0"

    @property
    @rank_zero_experiment
    def experiment(self) -> None:
        return None

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        row: dict[str, Any] = {"step": step}
        for key, value in metrics.items():
            value = float(value)
            if not math.isfinite(value):
                continue
            row[key] = value
            self.final[key] = value
            # A "_std" value belongs to its mean's epoch, so it has no best of its own.
            if key.startswith("val/") and not key.endswith(("_best", "_std")):
                better = min if lower_is_better(key) else max
                self.best[key] = better(self.best.get(key, value), value)
        self.write(row)

    @rank_zero_only
    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
