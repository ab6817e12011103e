"""Summarise a mode-collapse sweep: a Markdown table in the page's units and side-by-side final plots.

Usage:
    python scripts/mode_collapse_summary.py outputs/sweeps/mode_collapse/<date> [--out docs/img] [--seed 0]

The script reads each run folder's summary.json and takes the method and the
dataset from the run's overrides (experiment=mode_collapse/<method>,
dataset=<name>). The table gives, per dataset and method, the final metrics
as mean ± sample std over the runs with status ok, with high quality in
percent and the run time in seconds. ganbench-report gives the same means,
but the share as a fraction and the time as mean minutes. With --out, it also puts
each method's last samples/epoch_NNN.png for one seed in one row, one PNG per
dataset, in the order vanilla, unrolled, minibatch, wgan_gp, pacgan2.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first

METHODS = ("vanilla", "unrolled", "minibatch", "wgan_gp", "pacgan2")
DATASETS = ("ring8", "grid25")
# (summary key, column title, scale, format)
COLUMNS = (
    ("val/modes_covered", "modes covered", 1.0, ".1f"),
    ("val/hq_fraction", "high quality %", 100.0, ".1f"),
    ("val/mode_kl", "KL", 1.0, ".2f"),
    ("val/modes_covered_strict", "strict modes", 1.0, ".1f"),
)


def read_runs(root: Path) -> list[dict]:
    """Return one record per summary.json under ``root``: method, dataset, seed, status, final values, seconds."""
    runs = []
    for path in sorted(root.rglob("summary.json")):
        summary = json.loads(path.read_text())
        overrides = dict(item.split("=", 1) for item in summary.get("overrides", []) if "=" in item)
        runs.append({
            "folder": path.parent,
            "method": overrides.get("experiment", "").rsplit("/", 1)[-1],
            "dataset": overrides.get("dataset", ""),
            "seed": overrides.get("seed", ""),
            "status": summary["status"],
            "final": summary.get("final", {}),
            "seconds": summary.get("seconds"),
        })
    return runs


def mean_std(values: list[float], spec: str) -> str:
    if not values:
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):{spec}} ± {std:{spec}}"


def table(runs: list[dict]) -> str:
    """Return the Markdown table, rows in the order of DATASETS and METHODS."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run in runs:
        groups[(run["dataset"], run["method"])].append(run)
    header = ["dataset", "method", "runs ok"] + [title for _, title, _, _ in COLUMNS] + ["seconds per run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for dataset in DATASETS:
        for method in METHODS:
            group = groups.get((dataset, method), [])
            if not group:
                continue
            ok = [run for run in group if run["status"] == "ok"]
            cells = [dataset, method, f"{len(ok)}/{len(group)}"]
            for key, _, scale, spec in COLUMNS:
                values = [run["final"][key] * scale for run in ok if math.isfinite(run["final"].get(key, math.nan))]
                cells.append(mean_std(values, spec))
            cells.append(mean_std([run["seconds"] for run in group if run["seconds"] is not None], ".0f"))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def final_plots(runs: list[dict], dataset: str, seed: int) -> list[tuple[str, Path]]:
    """Return ``(method, last scatter plot)`` for the runs of ``dataset`` and ``seed``, in the order of METHODS."""
    found: dict[str, Path] = {}
    for run in runs:
        if run["dataset"] != dataset or run["seed"] != str(seed):
            continue
        plots = sorted((run["folder"] / "samples").glob("epoch_*.png"))
        if plots:
            found[run["method"]] = plots[-1]
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
    parser.add_argument("--out", type=Path, default=None, help="folder for mode_collapse_<dataset>_seed<N>.png")
    parser.add_argument("--seed", type=int, default=0, help="seed whose runs the plots show (default 0)")
    args = parser.parse_args(argv)
    runs = read_runs(args.root)
    if not runs:
        print(f"error: no summary.json under {args.root}; give the sweep folder", file=sys.stderr)
        return 2
    print(table(runs))
    if args.out is not None:
        for dataset in DATASETS:
            panels = final_plots(runs, dataset, args.seed)
            if panels:
                print(f"plot: {montage(panels, args.out / f'mode_collapse_{dataset}_seed{args.seed}.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
