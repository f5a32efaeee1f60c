"""Where this process stands among those that ``torchrun`` or ``accelerate launch`` started.

Both launchers set the torch.distributed environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ...)
that accelerate's ``PartialState`` reads; a plain ``mpt`` call is one process, and every method here is
then a no-op. The work splits three ways:

- scoring (eval, predict, dev scores during training): batches are dealt out, and
  :meth:`Processes.gather` puts the results back together in input order on every process;
- training: every process draws the same batch and takes its share of the rows, and the gradients are
  summed before the step (:func:`engine.loop.fit`), so the result does not depend on the process count;
- ``reproduce``: whole cells go to processes, each of which runs them :func:`alone`.

Only the main process writes files and prints; every process must reach each gather and sum, so the
code paths before them must not depend on the rank.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..errors import MptError, ProcessError

_alone = contextvars.ContextVar("mpt_alone", default=False)


@dataclass(frozen=True)
class Processes:
    """This process's index among ``count`` processes (one when not launched, or :func:`alone`)."""

    index: int = 0
    count: int = 1

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def shard(self, total: int) -> range:
        """This process's contiguous rows of ``range(total)``; sizes differ by at most one, in order."""
        base, extra = divmod(total, self.count)
        start = self.index * base + min(self.index, extra)
        return range(start, start + base + (1 if self.index < extra else 0))

    def deal(self, items: list) -> list:
        """This process's items, dealt round-robin: the first process takes the first, the second the second..."""
        return items[self.index :: self.count]

    def gather(self, items: list) -> list:
        """Every process's ``items``, concatenated in process order, on every process."""
        if self.count == 1:
            return items
        from accelerate.utils import gather_object

        return gather_object(items)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``tensor`` over processes (the same on every process)."""
        if self.count == 1:
            return tensor
        from accelerate.utils import reduce

        return reduce(tensor, reduction="sum")

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.count > 1:
            from accelerate import PartialState

            PartialState().wait_for_everyone()


def launched() -> bool:
    """Started by a launcher with more than one process in all."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Rank 0, or not launched: known from the environment, before any process group exists."""
    return int(os.environ.get("RANK", "0")) == 0


def processes(cpu: bool = False) -> Processes:
    """The launched processes (their group set up on first use), or one process."""
    if _alone.get() or not launched():
        return Processes()
    from accelerate import PartialState

    # gloo on CPUs: PartialState() without cpu=True sees one process where there is no GPU
    state = PartialState(cpu=cpu or not torch.cuda.is_available())
    return Processes(state.process_index, state.num_processes)


def close_process_group() -> None:
    """Take down this process's group at the end of a command that succeeded, as PyTorch asks of every process.

    Left to the interpreter's exit, gloo's threads may still be running and abort the process ("terminate
    called without an active exception") after its work is done; so may a group taken down while another
    process still talks to it, hence the barrier first: every process has finished before any lets go. Not
    after a failure: the other processes may be inside a collective this one will never join, and the
    launcher ends them.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


@contextmanager
def own_errors(what: str) -> Iterator[None]:
    """Within this block a bad input is this process's own (its share of the work, ``what``), and it says so:
    the others may be fine, and only the main process prints the errors every process meets alike."""
    try:
        yield
    except MptError as exc:
        if not launched():
            raise
        raise ProcessError(f"{what}: {exc}") from None


@contextmanager
def alone() -> Iterator[None]:
    """Within this block the process works as if it were the only one (``reproduce``'s cells)."""
    token = _alone.set(True)
    try:
        yield
    finally:
        _alone.reset(token)
