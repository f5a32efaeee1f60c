"""The one exception type a user sees as a clear message instead of a traceback."""

import math


class MptError(Exception):
    """A problem with the user's input or environment, reported as one line on stderr.

    The CLI catches it, prints ``error: <message>`` and exits with status 2; library users
    catch it like any exception.
    """


class ProcessError(MptError):
    """A problem only one of several launched processes met (its own share of the work): that process
    reports it, with its rank, where an ordinary :class:`MptError` is reported by the main process alone."""


def require_positive(**values: float) -> None:
    """Reject a zero, negative or non-finite setting by its option name (``batch_size`` -> ``--batch-size``)."""
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise MptError(f"--{name.replace('_', '-')} must be greater than 0 and finite, got {value}")


def require_seed(seed: int) -> None:
    """Seeds seed torch's 64-bit generators: refuse one they cannot take before anything is loaded."""
    if not 0 <= seed < 2**63:
        raise MptError(f"--seed must be between 0 and 2**63 - 1, got {seed}")


def unset_is_one(value: int | None) -> int:
    """For ``require_positive`` on optional limits: None means no limit (valid); a given value must be > 0."""
    return 1 if value is None else value
