"""Hydra entry point ``ganbench-train``: build from the composed config, fit, write the run summary."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ganbench.build import build_callbacks, build_datamodule, build_loggers, build_module, build_trainer
from ganbench.checkpoint import check_matches, read_checkpoint
from ganbench.config import validate
from ganbench.errors import CollapsedError, ConfigError, DivergedError
from ganbench.loggers import JsonlLogger

log = logging.getLogger("ganbench")


def _finish_wandb(loggers: list, exit_code: int) -> None:
    """Close this job's W&B run, so the next job of a multirun opens its own from step 0."""
    from lightning.pytorch.loggers import WandbLogger

    if any(isinstance(logger, WandbLogger) for logger in loggers):
        import wandb

        if wandb.run is not None:
            wandb.finish(exit_code=exit_code)


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    path = run_dir / "summary.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def train(cfg: DictConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Train one GAN from ``cfg`` and return its summary (also written to ``<run_dir>/summary.json``).

    A config error, divergence, collapse or any other exception is recorded
    as the run's ``status`` with its reason. The caller decides whether to
    raise it (see :func:`main`).
    """
    run_dir = Path(run_dir) if run_dir is not None else Path(HydraConfig.get().runtime.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    summary: dict[str, Any] = {"status": "failed", "reason": None, "run_dir": str(run_dir)}
    loggers: list = []
    module = None
    error: BaseException | None = None
    try:
        validate(cfg)
        (run_dir / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = build_datamodule(cfg)
        module = build_module(cfg, datamodule)
        ckpt_path = None
        if cfg.get("ckpt_path"):
            checkpoint = read_checkpoint(cfg.ckpt_path)
            check_matches(module, checkpoint)
            ckpt_path = checkpoint["__path__"]
        callbacks = build_callbacks(cfg, run_dir)
        loggers = build_loggers(cfg, run_dir)
        trainer = build_trainer(cfg, run_dir, callbacks, loggers)
        for logger in loggers[1:]:
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        summary.update(status="ok", epochs=trainer.current_epoch)
        for callback in callbacks:
            if getattr(callback, "reference", None):
                summary["reference"] = callback.reference
    except DivergedError as exc:
        summary.update(status="diverged", reason=str(exc))
    except CollapsedError as exc:
        summary.update(status="collapsed", reason=str(exc))
    except ConfigError as exc:
        summary.update(status="failed", reason=f"invalid config: {exc}")
        error = exc
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded before it propagates
        summary.update(status="failed", reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        error = exc
    finally:
        jsonl = next((logger for logger in loggers if isinstance(logger, JsonlLogger)), None)
        summary["final"] = dict(jsonl.final) if jsonl else {}
        summary["best"] = dict(jsonl.best) if jsonl else {}
        if module is not None:
            summary["d_updates"] = module.d_updates
            summary["g_updates"] = module.g_updates
        summary["seconds"] = round(time.monotonic() - started, 2)
        summary["overrides"] = _overrides()
        write_summary(run_dir, summary)
        _finish_wandb(loggers, exit_code=0 if summary["status"] == "ok" else 1)
    summary["error"] = error
    return summary


def _overrides() -> list[str]:
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def _is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    summary = train(cfg)
    error = summary.pop("error")
    status = summary["status"]
    print(f"status: {status}" + (f" ({summary['reason']})" if summary["reason"] and status != "failed" else ""))
    print(f"run folder: {summary['run_dir']}")
    if error is not None and not _is_multirun():
        # One job: fail the command. In a multirun the summary records the
        # failure and the remaining jobs go on.
        if isinstance(error, ConfigError):
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        raise error
    if error is not None:
        log.error("job failed: %s", summary["reason"])
    fid = summary["final"].get("val/fid")
    return fid


__all__ = ["main", "train", "write_summary"]
