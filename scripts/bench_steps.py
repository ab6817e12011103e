"""Measure training throughput (real batches per second) of ganbench variants side by side.

Each variant trains ``--batches`` batches of mnist5k (batch 64, DCGAN width 32)
through the real runner (Lightning manual loop, no metrics, no logger). The
variants run interleaved, ``--repeats`` rounds, so load changes on the
machine hit all of them alike. The table reports the median and the ratio to
the baseline row. Example:

    python scripts/bench_steps.py --repeats 5 --batches 40
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import ganbench
from ganbench.train import train

VARIANTS = {
    "baseline (nonsaturating, BatchNorm)": [],
    "WGAN-GP (n_critic 1, layer-norm D)": ["loss=wasserstein", "penalty=gp", "model.discriminator.norm=layer"],
    "R1 (gamma 10, spectral D)": ["penalty=r1", "model.discriminator.norm=spectral"],
    "spectral norm in both nets": ["model.generator.norm=spectral", "model.discriminator.norm=spectral"],
    "EMA generator (0.999)": ["ema_decay=0.999"],
    "unrolled D (5 steps)": ["unroll_steps=5"],
}


def run_once(overrides: list[str], batches: int, run_dir: Path) -> float:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(ganbench.__file__).parent / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=overrides
            + ["logger=none", "metrics=none", "++trainer.max_epochs=1", f"++trainer.limit_train_batches={batches}",
               "++trainer.enable_progress_bar=false", "++trainer.enable_model_summary=false",
               "++trainer.enable_checkpointing=false"],
        )
    start = time.perf_counter()
    summary = train(cfg, run_dir)
    elapsed = time.perf_counter() - start
    if summary["status"] != "ok":
        raise RuntimeError(f"benchmark run with overrides {overrides} failed: {summary['reason']}")
    return batches / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="rounds over all variants")
    parser.add_argument("--batches", type=int, default=40, help="real batches per timed run")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in VARIANTS.items():  # warm-up: imports, data loading, allocator
            run_once(overrides, 2, Path(tmp) / "warmup")
        for round_index in range(args.repeats):
            for index, (name, overrides) in enumerate(VARIANTS.items()):
                rates[name].append(run_once(overrides, args.batches, Path(tmp) / f"{round_index}-{index}"))
    baseline = statistics.median(rates[next(iter(VARIANTS))])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{args.repeats} rounds x {args.batches} batches of 64 (mnist5k, DCGAN width 32)\n")
    print("| variant | batches/s (median) | min | max | relative to baseline |")
    print("|---|---|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {min(values):.2f} | {max(values):.2f} | {median / baseline:.2f} |")


if __name__ == "__main__":
    main()
