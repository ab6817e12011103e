"""``ganbench-report PATH...``: write a table with seeds and error bars from run folders.

Finds every run folder at or under the given paths, groups the runs into rows
(see :mod:`ganbench.runtable`) and writes to ``--out``:

- ``report.md``: the table (metrics as mean ± sample std over the runs with
  ``status: ok``, failure rate, runs, minutes per run), the plot, the failed
  runs with their reasons and the unreadable folders;
- ``report.csv``: the same numbers, one column per statistic;
- ``report.png``: the first metric per row with its error bar and each run's
  value, and the failure rate beside it.

The table and the plot are also logged to a W&B run of job type ``report``,
offline unless ``--wandb-mode online``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.runtable import (
    ReportError,
    Row,
    Run,
    Unreadable,
    choose_metrics,
    compute_stats,
    find_run_folders,
    format_label,
    format_number,
    format_stat,
    group_runs,
    identity_columns,
    metric_header,
    read_run,
    row_name,
)

log = logging.getLogger("ganbench.report")


# Table contents shared by the Markdown, CSV and W&B outputs.
def csv_header(columns: Sequence[str], metrics: Sequence[str]) -> list[str]:
    header = list(columns) + ["runs", "ok", "diverged", "collapsed", "failed", "failure_rate_pct", "minutes_per_run"]
    for metric in metrics:
        header += [f"{metric}_mean", f"{metric}_std", f"{metric}_n"]
    return header


def csv_row(columns: Sequence[str], metrics: Sequence[str], row: Row) -> list[Any]:
    counts = row.counts
    values: list[Any] = [format_label(row.labels.get(column)) for column in columns]
    values += [len(row.runs), counts["ok"], counts["diverged"], counts["collapsed"], counts["failed"]]
    values += [round(row.failure_rate, 2), _round(row.minutes_per_run, 3)]
    for metric in metrics:
        mean, std, n = row.stats[metric]
        values += [mean, std, n]
    return values


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def write_csv(path: Path, columns: Sequence[str], metrics: Sequence[str], rows: Sequence[Row]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header(columns, metrics))
        for row in rows:
            writer.writerow(["" if value is None else value for value in csv_row(columns, metrics, row)])


def markdown_table(columns: Sequence[str], metrics: Sequence[str], rows: Sequence[Row]) -> str:
    header = list(columns) + [metric_header(metric) for metric in metrics] + ["failed %", "runs", "min/run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"`{format_label(row.labels.get(column))}`" for column in columns]
        cells += [format_stat(*row.stats[metric]) for metric in metrics]
        cells += [f"{row.failure_rate:.0f}", str(len(row.runs)), format_number(row.minutes_per_run)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)


def write_markdown(
    path: Path,
    sources: Sequence[Path],
    columns: Sequence[str],
    metrics: Sequence[str],
    rows: Sequence[Row],
    unreadable: Sequence[Unreadable],
    values: str,
    plot: Path | None,
    title: str,
    hidden_keys: Sequence[str] = (),
) -> None:
    out = path.parent
    runs = sum(len(row.runs) for row in rows)
    lines = [f"# {title}", ""]
    lines.append(f"Sources: {', '.join(f'`{_relative(source, out)}`' for source in sources)}.")
    lines.append(f"{runs} readable runs in {len(rows)} rows; {len(unreadable)} unreadable run folders.")
    lines.append("")
    lines.append(
        f"Metrics are the {values} value of each run, as mean ± sample standard deviation (n - 1) over the "
        "runs of the row that ended with status ok; \"(1 run)\" marks a value from one run. A run whose status is "
        "diverged, collapsed or failed counts towards \"failed %\" and not towards the metrics. "
        "min/run is the mean wall time of the row's runs."
    )
    if hidden_keys:
        lines += ["", f"Config keys that also differ between rows; in these runs their values go with the columns: {', '.join(f'`{key}`' for key in hidden_keys)}."]
    lines += ["", markdown_table(columns, metrics, rows), ""]
    if plot is not None:
        lines += [f"![{metrics[0] if metrics else 'plot'} per row]({_relative(plot, out)})", ""]

    failures = [(row, run) for row in rows for run in row.runs if run.status != "ok"]
    if failures:
        lines += ["## Runs that did not end ok", ""]
        for _, run in failures:
            reason = str(run.summary.get("reason") or "no reason recorded").splitlines()[0]
            lines.append(f"- `{_relative(run.path, out)}`: {run.status}: {reason}")
        lines.append("")
    if unreadable:
        lines += ["## Unreadable run folders", "", "These folders are not in the table above.", ""]
        for item in unreadable:
            lines.append(f"- `{_relative(item.path, out)}`: {item.reason}")
        lines.append("")
    path.write_text("\n".join(lines))


# Plot.
def write_plot(path: Path, columns: Sequence[str], metric: str, rows: Sequence[Row], values: str) -> Path:
    """Plot ``metric`` per row (mean ± sample std, each ok run as a dot) and the failure rate beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row_name(columns, row) for row in rows]
    positions = list(range(len(rows)))
    height = 1.2 + 0.45 * len(rows)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(10, height), sharey=True, gridspec_kw={"width_ratios": [3, 1]}, constrained_layout=True
    )
    for position, row in zip(positions, rows):
        points = [run.metric(metric, values) for run in row.runs if run.status == "ok"]
        points = [point for point in points if point is not None]
        left.scatter(points, [position] * len(points), s=14, color="0.55", zorder=2)
        mean, std, _ = row.stats[metric]
        if mean is not None:
            left.errorbar(mean, position, xerr=std or 0.0, fmt="o", color="C0", capsize=4, zorder=3)
    left.set_yticks(positions, names)
    left.invert_yaxis()
    left.set_xlabel(f"{metric_header(metric)} ({values}; mean ± sample std, dots = runs)")
    left.grid(axis="x", alpha=0.3)

    right.barh(positions, [row.failure_rate for row in rows], color="C3")
    for position, row in zip(positions, rows):
        failed = len(row.runs) - row.counts["ok"]
        right.text(2, position, f"{row.failure_rate:.0f}% ({failed}/{len(row.runs)})", va="center", fontsize=9)
    right.set_xlim(0, 100)
    right.set_xlabel("failed runs (%)")
    right.grid(axis="x", alpha=0.3)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


# W&B.
def log_to_wandb(
    mode: str,
    project: str,
    out: Path,
    columns: Sequence[str],
    metrics: Sequence[str],
    rows: Sequence[Row],
    plot: Path | None,
    sources: Sequence[Path],
) -> str | None:
    """Log the table and the plot to a W&B run of job type ``report``; return the run folder (offline) or URL."""
    import wandb

    run = wandb.init(
        project=project,
        job_type="report",
        mode=mode,
        dir=str(out),
        config={"sources": [str(source) for source in sources], "metrics": list(metrics), "columns": list(columns)},
    )
    try:
        table = wandb.Table(columns=csv_header(columns, metrics), data=[csv_row(columns, metrics, row) for row in rows])
        payload: dict[str, Any] = {"report/table": table}
        if plot is not None:
            payload["report/plot"] = wandb.Image(str(plot))
        run.log(payload)
        location = run.url if mode == "online" else getattr(run.settings, "sync_dir", None)
    finally:
        run.finish()
    return location


# Command line.
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ganbench-report",
        description="Group ganbench run folders by the settings that differ between them and write report.md, "
        "report.csv and report.png with metrics as mean ± sample std over seeds and the failure rate.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="run folders or folders containing them (searched recursively)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the common parent of the PATHs)")
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated summary metrics to show, e.g. val/fid,val/kid ('fid' means val/fid); "
        "default: FID, KID, IS and the mode metrics present, else every val/ metric",
    )
    parser.add_argument("--values", choices=("final", "best"), default="final", help="use each run's final (default) or best metric values")
    parser.add_argument(
        "--group-by", default=None, metavar="KEYS",
        help="comma-separated config or override keys to group by, e.g. experiment,trainer.max_epochs; "
        "default: every key whose value differs between the runs",
    )
    parser.add_argument(
        "--ignore", default=None, metavar="KEYS",
        help="comma-separated config keys to leave out of the grouping, with the keys under them, e.g. logger,metrics",
    )
    parser.add_argument("--title", default="ganbench report", help="heading of report.md")
    parser.add_argument("--wandb-mode", choices=("offline", "online", "disabled"), default="offline", help="W&B mode of the report run (default: offline)")
    parser.add_argument("--wandb-project", default="ganbench", help="W&B project of the report run")
    parser.add_argument("--no-wandb", action="store_true", help="do not log to W&B")
    args = parser.parse_args(argv)
    args.group_by = split_keys(args.group_by)
    args.ignore = split_keys(args.ignore)
    return args


def split_keys(option: str | None) -> list[str]:
    return [key.strip() for key in (option or "").split(",") if key.strip()]


def resolve_metrics(option: str | None, runs: Sequence[Run], values: str) -> list[str]:
    """Return the metric columns from ``--metrics``; raise ReportError for a metric no run has."""
    if option is None:
        return choose_metrics(runs, values)
    metrics = [name.strip() if "/" in name else f"val/{name.strip()}" for name in option.split(",") if name.strip()]
    available = {name for run in runs for name in (run.summary.get(values) or {})}
    missing = [name for name in metrics if name not in available]
    if missing and runs:
        raise ReportError(
            f"--metrics {', '.join(missing)} is in no run's {values} values; available: "
            f"{', '.join(sorted(name for name in available if name.startswith('val/'))) or 'none'}"
        )
    return metrics


def build_report(args: argparse.Namespace) -> Path:
    """Read the run folders, write the report files and return the path of report.md."""
    sources = [path.resolve() for path in args.paths]
    folders = find_run_folders(sources)
    if not folders:
        raise ReportError(
            f"no run folders under {', '.join(str(path) for path in args.paths)}; a run folder contains "
            "summary.json or .hydra/config.yaml (ganbench-train writes them)"
        )
    out = (args.out or Path(os.path.commonpath(sources))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log.info("found %d run folders under %s", len(folders), ", ".join(str(path) for path in args.paths))

    runs: list[Run] = []
    unreadable: list[Unreadable] = []
    for folder in folders:
        result = read_run(folder)
        if isinstance(result, Unreadable):
            log.warning("unreadable run folder %s: %s", folder, result.reason)
            unreadable.append(result)
        else:
            runs.append(result)

    metrics = resolve_metrics(args.metrics, runs, args.values)
    columns, rows = group_runs(runs, ignore=args.ignore, group_by=args.group_by)
    hidden_keys = [] if args.group_by else [key for _, key in identity_columns(runs, args.ignore) if key not in columns]
    compute_stats(rows, metrics, args.values)
    log.info("%d readable runs in %d rows grouped by %s", len(runs), len(rows), ", ".join(columns) or "nothing (one row)")

    plot = write_plot(out / "report.png", columns, metrics[0], rows, args.values) if metrics and rows else None
    write_csv(out / "report.csv", columns, metrics, rows)
    markdown = out / "report.md"
    write_markdown(markdown, sources, columns, metrics, rows, unreadable, args.values, plot, args.title, hidden_keys)
    print(markdown_table(columns, metrics, rows))
    log.info("wrote %s, %s%s", markdown, out / "report.csv", f", {plot}" if plot else "")

    if not args.no_wandb and args.wandb_mode != "disabled":
        location = log_to_wandb(args.wandb_mode, args.wandb_project, out, columns, metrics, rows, plot, sources)
        log.info("logged the report to W&B (%s): %s", args.wandb_mode, location)
    return markdown


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = parse_args(argv)
    try:
        build_report(args)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
