"""Read run folders and group their runs into rows with statistics over seeds (used by ``ganbench-report``).

Each run folder contains the ``summary.json`` that ``ganbench-train`` writes
(status, final and best metrics, seconds) and the saved config. The config is
read from ``.hydra/config.yaml``, else ``config_resolved.yaml``, and the
overrides from ``.hydra/overrides.yaml``, else from the summary. Runs are grouped by the
config keys whose values differ between the runs, except the seed and per-run
keys such as paths and output folders, so one row contains the seeds of one
setting. Each metric is summarised by the mean and the sample standard
deviation (n - 1) over the runs of the row that ended with ``status: ok``;
every other status (diverged, collapsed, failed) counts towards the failure
rate.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganbench.loggers import lower_is_better

log = logging.getLogger("ganbench.report")

STATUSES = ("ok", "diverged", "collapsed", "failed")
# Metrics chosen by default when present, in this column order: image metrics, then 2-D mode metrics.
PRIMARY_METRICS = ("val/fid", "val/kid", "val/is", "val/modes_covered", "val/hq_fraction", "val/mode_kl")
# Files whose presence marks a folder as a run folder, also when summary.json is missing.
RUN_MARKERS = ("summary.json", "config_resolved.yaml", ".hydra/config.yaml", "metrics.jsonl")
# Config keys that never define a row: the seed, Hydra's own settings and the run's paths.
IGNORED_KEYS = ("seed", "hydra", "run_dir", "ckpt_path")
IGNORED_SUFFIXES = ("_dir", "_path", "dir", "path")


class ReportError(Exception):
    """An input problem that stops the report; the message names the path and the fix."""


@dataclass
class Run:
    """One readable run folder: its summary and the flattened config it ran with."""

    path: Path
    summary: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.summary.get("status"))

    def metric(self, name: str, source: str = "final") -> float | None:
        value = (self.summary.get(source) or {}).get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        return None


@dataclass
class Unreadable:
    """A run folder that could not be used, with the reason."""

    path: Path
    reason: str


@dataclass
class Row:
    """The runs of one setting and their statistics."""

    key: tuple
    labels: dict[str, Any]
    runs: list[Run]
    stats: dict[str, tuple[float | None, float | None, int]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for run in self.runs:
            counts[run.status if run.status in counts else "failed"] += 1
        return counts

    @property
    def failure_rate(self) -> float:
        """Percentage of the row's runs whose status is not ``ok``."""
        return 100.0 * (len(self.runs) - self.counts["ok"]) / len(self.runs)

    @property
    def minutes_per_run(self) -> float | None:
        seconds = [run.summary["seconds"] for run in self.runs if isinstance(run.summary.get("seconds"), (int, float))]
        return statistics.fmean(seconds) / 60.0 if seconds else None


# Finding and reading run folders.
def is_run_folder(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in RUN_MARKERS)


def find_run_folders(paths: Sequence[Path]) -> list[Path]:
    """Return the run folders at or under ``paths``, sorted; a run folder's subfolders are not searched."""
    found: set[Path] = set()
    for root in paths:
        if not root.exists():
            raise ReportError(f"{root} not found; give a run folder or a folder that contains run folders")
        if not root.is_dir():
            raise ReportError(f"{root} is not a folder; give a run folder or a sweep folder, not a file")
        for folder, subfolders, _ in os.walk(root):
            folder_path = Path(folder)
            if is_run_folder(folder_path):
                found.add(folder_path.resolve())
                subfolders.clear()
            else:
                subfolders[:] = sorted(name for name in subfolders if name not in ("wandb", ".hydra"))
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> list:
    """Sort key that puts folder 10 after folder 9."""
    return [int(part) if part.isdigit() else part for part in path.parts]


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys; lists become tuples so values can be compared and hashed."""
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    if isinstance(node, list):
        return {prefix[:-1]: tuple(_hashable(item) for item in node)}
    return {prefix[:-1]: node}


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    return value


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Return ``{key: value}`` of Hydra command-line overrides such as ``++trainer.max_epochs=2``."""
    parsed: dict[str, Any] = {}
    for override in overrides:
        key, sep, value = str(override).partition("=")
        if not sep:
            continue
        parsed[key.lstrip("+~")] = yaml.safe_load(value) if value else value
    return parsed


def _read_yaml(path: Path) -> Any:
    # Interpolations such as ${model.latent_dim} in .hydra/config.yaml load as plain strings.
    return yaml.safe_load(path.read_text())


def read_run(folder: Path) -> Run | Unreadable:
    """Read one run folder; return :class:`Unreadable` with the reason when its summary cannot be used."""
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        return Unreadable(folder, "summary.json is missing (the job was killed, is still running, or did not start)")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return Unreadable(folder, f"summary.json is not valid JSON: {error}")
    if not isinstance(summary, dict) or "status" not in summary:
        return Unreadable(folder, "summary.json has no 'status' field")

    config: dict[str, Any] = {}
    # .hydra/config.yaml first: it exists also for jobs whose config failed validation, and its unresolved
    # interpolations compare equal across runs, where resolved values would differ with each source key.
    for name in (".hydra/config.yaml", "config_resolved.yaml"):
        config_path = folder / name
        if config_path.is_file():
            try:
                loaded = _read_yaml(config_path)
            except (OSError, yaml.YAMLError) as error:
                log.warning("%s: %s is not valid YAML (%s); trying the next config file", folder, name, error)
                continue
            if isinstance(loaded, dict):
                config = flatten(loaded)
                break
    overrides_path = folder / ".hydra" / "overrides.yaml"
    overrides_list: Any = summary.get("overrides") or []
    if overrides_path.is_file():
        try:
            overrides_list = _read_yaml(overrides_path) or []
        except (OSError, yaml.YAMLError) as error:
            log.warning("%s: .hydra/overrides.yaml is not valid YAML (%s); using the overrides in summary.json", folder, error)
    return Run(folder, summary, config, parse_overrides(overrides_list))


# Grouping.
def is_ignored(key: str, extra: Sequence[str] = ()) -> bool:
    """True for keys that differ between runs of one setting: the seed, hydra.*, paths and output folders."""
    parts = key.split(".")
    if parts[0] in IGNORED_KEYS or parts[-1] in IGNORED_KEYS:
        return True
    if parts[-1].endswith(IGNORED_SUFFIXES):
        return True
    return any(key == ignored or key.startswith(ignored + ".") for ignored in extra)


def varying_keys(values: Sequence[dict[str, Any]], ignore: Sequence[str] = ()) -> list[str]:
    """Return the keys whose value differs between the dicts (a missing key counts as ``None``), in first-seen order."""
    keys: dict[str, None] = {}
    for mapping in values:
        keys.update(dict.fromkeys(mapping))
    result = []
    for key in keys:
        if is_ignored(key, ignore):
            continue
        seen = {_hashable(mapping.get(key)) for mapping in values}
        if len(seen) > 1:
            result.append(key)
    return result


def _has_config_key(run: Run, key: str) -> bool:
    """True when ``key`` is a config leaf of ``run`` or a group above config leaves (``loss`` for ``loss.name``)."""
    return key in run.config or any(name.startswith(key + ".") for name in run.config)


def _values(run: Run, columns: Sequence[tuple[str, str]]) -> tuple:
    return tuple(_hashable(getattr(run, source).get(key)) for source, key in columns)


def identity_columns(runs: Sequence[Run], ignore: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Return the ``(source, key)`` pairs whose values decide the rows.

    These are the varying config keys, plus the varying overrides that set no
    config key, such as ``experiment=ablation/ttur`` (a ``# @package _global_``
    file leaves no ``experiment`` key in the config).
    """
    columns = [("config", key) for key in varying_keys([run.config for run in runs], ignore)]
    for key in varying_keys([run.overrides for run in runs], ignore):
        if not any(_has_config_key(run, key) for run in runs):
            columns.append(("overrides", key))
    return columns


def label_columns(runs: Sequence[Run], identity: Sequence[tuple[str, str]], ignore: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Return few ``(source, key)`` columns that tell the rows apart, preferring the overrides a user typed.

    Candidates in order: overrides given in every run that set no config key
    (``experiment``), group choices given in every run (``optimizer=ttur``),
    config keys that some run overrides (``penalty.weight``), overrides given
    in only some runs (``sweep=ablation``), then the other config keys. A
    candidate is taken when it splits rows that the columns taken so far leave
    together, until the columns separate every row, so
    ``loss.d_loss._target_`` does not repeat ``loss=hinge``.
    """
    target = len({_values(run, identity) for run in runs})
    varying_overrides = varying_keys([run.overrides for run in runs], ignore)
    pure = [key for key in varying_overrides if not any(_has_config_key(run, key) for run in runs)]
    everywhere = [key for key in pure if all(key in run.overrides for run in runs)]
    group_choices = [
        key
        for key in varying_overrides
        if all(key in run.overrides for run in runs) and all(key not in run.config and _has_config_key(run, key) for run in runs)
    ]
    config_keys = [key for source, key in identity if source == "config"]
    typed = [key for key in config_keys if any(key in run.overrides for run in runs)]
    candidates = [("overrides", key) for key in everywhere + group_choices]
    candidates += [("config", key) for key in typed]
    candidates += [("overrides", key) for key in pure if key not in everywhere]
    candidates += [("config", key) for key in config_keys if key not in typed]

    columns: list[tuple[str, str]] = []
    groups = 1
    for candidate in candidates:
        if groups >= target:
            break
        split = len({_values(run, [*columns, candidate]) for run in runs})
        if split > groups:
            columns.append(candidate)
            groups = split
    return columns


def group_runs(runs: Sequence[Run], ignore: Sequence[str] = (), group_by: Sequence[str] = ()) -> tuple[list[str], list[Row]]:
    """Group ``runs`` into rows; return the column names and the rows in order of first appearance.

    ``group_by`` replaces the automatic choice with these keys, looked up in
    the overrides first, then in the config. Runs that agree on them share a
    row even when other keys differ.
    """
    if group_by:
        columns = [("overrides", key) if any(key in run.overrides for run in runs) else ("config", key) for key in group_by]
        identity = columns
    else:
        identity = identity_columns(runs, ignore)
        columns = label_columns(runs, identity, ignore)

    rows: dict[tuple, Row] = {}
    for run in runs:
        key = _values(run, identity)
        if key not in rows:
            labels = {name: getattr(run, source).get(name) for source, name in columns}
            rows[key] = Row(key, labels, [])
        rows[key].runs.append(run)
    return [name for _, name in columns], list(rows.values())


# Statistics.
def choose_metrics(runs: Sequence[Run], source: str = "final") -> list[str]:
    """Return the default metric columns: the primary metrics any run has, else every val/ metric except *_std and *_best."""
    present: dict[str, None] = {}
    for run in runs:
        present.update(dict.fromkeys((run.summary.get(source) or {}).keys()))
    primary = [name for name in PRIMARY_METRICS if name in present]
    if primary:
        return primary
    return sorted(
        name for name in present if name.startswith("val/") and not name.endswith(("_std", "_best"))
    )


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Return the mean and the sample standard deviation (n - 1); ``None`` where undefined."""
    if not values:
        return None, None
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    return mean, std


def compute_stats(rows: Sequence[Row], metrics: Sequence[str], source: str = "final") -> None:
    """Fill each row's ``stats[metric] = (mean, std, n)`` over its runs with ``status: ok``."""
    for row in rows:
        for metric in metrics:
            values = [v for run in row.runs if run.status == "ok" and (v := run.metric(metric, source)) is not None]
            mean, std = mean_std(values)
            row.stats[metric] = (mean, std, len(values))


# Formatting.
def format_number(value: float | None) -> str:
    """Return ``value`` with 4 significant digits, or as an integer from 1000 up; blank for ``None``."""
    if value is None:
        return ""
    if 1000 <= abs(value) < 1e7:
        return f"{value:.0f}"
    return f"{value:#.4g}"


def format_stat(mean: float | None, std: float | None, n: int) -> str:
    """Return ``mean ± std`` for the Markdown table; one value is marked with its run count, none is blank."""
    if mean is None:
        return ""
    if std is None:
        return f"{format_number(mean)} (1 run)"
    return f"{format_number(mean)} ± {format_number(std)}"


def format_label(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_label(item) for item in value) + "]"
    return str(value)


def row_name(columns: Sequence[str], row: Row) -> str:
    """Return a short name of the row for plots: the value of its one column, else ``key=value`` pairs."""
    if not columns:
        return "all runs"
    if len(columns) == 1:
        return format_label(row.labels.get(columns[0]))
    return ", ".join(f"{column}={format_label(row.labels.get(column))}" for column in columns)


def metric_header(metric: str) -> str:
    arrow = "↓" if lower_is_better(metric) else "↑"
    return f"{metric} {arrow}"
