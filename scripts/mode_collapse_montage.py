"""Place the final scatter plot of each mode-collapse method side by side, one PNG per dataset.

Usage:
    python scripts/mode_collapse_montage.py outputs/sweeps/mode_collapse/<date> --out docs/img [--seed 0]

For each dataset (ring8, grid25) the script takes the runs of one seed, reads
the method from the run's overrides (experiment=mode_collapse/<method>) and
puts each run's last samples/epoch_NNN.png in one row, in the order vanilla,
unrolled, minibatch, wgan_gp, pacgan2. The table itself comes from
``ganbench-report``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first

METHODS = ("vanilla", "unrolled", "minibatch", "wgan_gp", "pacgan2")
DATASETS = ("ring8", "grid25")


def final_plots(root: Path, dataset: str, seed: int) -> list[tuple[str, Path]]:
    """Return ``(method, last scatter plot)`` for the runs of ``dataset`` and ``seed`` under ``root``."""
    found: dict[str, Path] = {}
    for summary_path in root.rglob("summary.json"):
        overrides = dict(
            item.split("=", 1) for item in json.loads(summary_path.read_text()).get("overrides", []) if "=" in item
        )
        if overrides.get("dataset") != dataset or overrides.get("seed") != str(seed):
            continue
        plots = sorted((summary_path.parent / "samples").glob("epoch_*.png"))
        if plots:
            found[overrides.get("experiment", "").rsplit("/", 1)[-1]] = plots[-1]
    return [(method, found[method]) for method in METHODS if method in found]


def montage(panels: list[tuple[str, Path]], out: Path) -> Path:
    figure, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.2), squeeze=False)
    for axis, (method, plot) in zip(axes[0], panels):
        axis.imshow(plt.imread(plot))
        axis.set_title(method, fontsize=11)
        axis.axis("off")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="sweep folder that contains the run folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for mode_collapse_<dataset>_seed<N>.png")
    parser.add_argument("--seed", type=int, default=0, help="seed whose runs are shown (default 0)")
    args = parser.parse_args(argv)
    written = 0
    for dataset in DATASETS:
        panels = final_plots(args.root, dataset, args.seed)
        if panels:
            print(montage(panels, args.out / f"mode_collapse_{dataset}_seed{args.seed}.png"))
            written += 1
    if not written:
        print(f"error: no {', '.join(DATASETS)} runs with seed {args.seed} and sample plots under {args.root}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
