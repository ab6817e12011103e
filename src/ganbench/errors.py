"""Exceptions that end a run with a recorded status instead of a traceback."""


class ConfigError(ValueError):
    """An invalid configuration, found before training starts. The message names the key and the fix."""


class DivergedError(RuntimeError):
    """A loss became NaN or infinite; the run stops and records ``status: diverged``."""


class CollapsedError(RuntimeError):
    """Generated samples cover too few classes; the run stops and records ``status: collapsed``."""
