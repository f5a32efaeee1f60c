"""Progress hooks a workflow calls; the CLI turns them into log lines and progress bars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _ignore(*_args) -> None:
    return None


@dataclass
class Callbacks:
    """Every hook is optional: a library caller can pass ``Callbacks()`` and see nothing."""

    on_stage: Callable[[str], None] = _ignore  # a new stage starts: "loading the model"
    on_start: Callable[[int], None] = _ignore  # a counted loop starts: total steps
    on_step: Callable[[float], None] = _ignore  # one training step done: its loss
    on_epoch: Callable[[object], None] = _ignore  # one epoch done: its record
    on_advance: Callable[[int], None] = _ignore  # this many units of counted work done (examples, rows)
