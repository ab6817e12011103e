"""Shared pieces of the inference command lines (ganbench-sample, ganbench-latent, ganbench-export)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Return every ``--option`` of ``parser`` and of its subcommands."""
    options: set[str] = set()
    for action in parser._actions:
        options.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= _option_strings(sub)
    return options


def hydra_style_argv(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """Rewrite ``key=value`` tokens into ``--key=value`` so the tools accept ganbench-train's override style.

    Only keys that name an option of ``parser`` are rewritten (``class=7`` ->
    ``--class=7``, ``batch_size=64`` -> ``--batch-size=64``), so a checkpoint
    path that contains ``=`` (``epoch=3.ckpt``) stays a positional argument.
    The joined form keeps values that start with ``-`` (``alphas=-2,0,2``) as values.
    """
    options = _option_strings(parser)
    rewritten: list[str] = []
    for token in argv:
        key, sep, value = token.partition("=")
        option = "--" + key.replace("_", "-")
        if sep and not token.startswith("-") and option in options:
            rewritten.append(f"{option}={value}")
        else:
            rewritten.append(token)
    return rewritten


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value
