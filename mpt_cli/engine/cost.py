"""What training costs on this machine, said before the training starts (translate and align per language, joint).

The steps follow from the pairs, the epochs and the batch; the seconds from a timed forward pass of one
batch of the language's own pairs on the backbone as it will run (device, precision, threads). A training
step costs about :data:`TRAIN_STEP_PASSES` forward passes of its batch (the backward pass about twice the
forward); scoring the held-out pairs after every epoch (and before the first) one pass per batch.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import torch

from ..template import EncodedExample
from .backbone import Backbone
from .batching import collate

TRAIN_STEP_PASSES = 3.0


@dataclass(frozen=True)
class LanguageCost:
    pairs: int  # trained on
    heldout: int
    epochs: int
    batch_size: int
    seconds: float  # estimated, for one language

    @property
    def steps(self) -> int:
        return self.epochs * math.ceil(self.pairs / self.batch_size)

    def describe(self, languages: int) -> str:
        """``561 pairs (140 held out), 3 epochs, 108 steps of 16: about 2 min a language here, 1h10m for 35``."""
        each = f"{self.pairs} pairs ({self.heldout} held out), {self.epochs} epochs, {self.steps} steps of {self.batch_size}"
        total = f", {clock(self.seconds * languages)} for {languages}" if languages > 1 else ""
        return f"{each}: about {clock(self.seconds)} a language here{total} (estimated from a timed pass)"


def estimate(
    backbone: Backbone, prompt: torch.Tensor, train: list[EncodedExample], heldout: int, epochs: int, batch_size: int,
    text_batch_size: int = 0,
) -> LanguageCost:
    """The cost of training a language on ``train`` (encoded target sides) for ``epochs`` with ``heldout`` pairs
    scored after each, and ``text_batch_size`` sentences of the masked-LM term in each step (taken to cost what
    a pair's target side does); ``prompt`` ``[P, H]`` fills the soft slots of the timed batch."""
    steps = epochs * math.ceil(len(train) / batch_size)
    scored = (epochs + 1) * heldout
    per_row = seconds_per_row(backbone, prompt, train, batch_size)
    trained = steps * (batch_size + text_batch_size) * TRAIN_STEP_PASSES
    return LanguageCost(len(train), heldout, epochs, batch_size, per_row * (trained + scored))


@torch.no_grad()
def seconds_per_row(backbone: Backbone, prompt: torch.Tensor, examples: list[EncodedExample], batch_size: int) -> float:
    """Seconds a forward pass takes per row, timed on a batch of the first ``batch_size`` of ``examples``
    with ``prompt`` ``[P, H]``. Changes no weight and draws nothing from a random generator: the model is
    timed in eval mode (no dropout), and left in the mode it was in."""
    rows = list(range(min(batch_size, len(examples))))
    batch = collate(examples, rows, backbone.tokenizer.pad_token_id, prompt.shape[0]).to(backbone.device)
    prompt = prompt.detach().to(backbone.device)
    training = backbone.model.training
    backbone.model.eval()
    try:
        passes = []
        for _ in range(2):  # the first pass pays for warming up (allocations, kernels); the second is the one timed
            started = time.perf_counter()
            backbone.mask_states(batch, prompt)
            if backbone.device.type == "cuda":
                torch.cuda.synchronize(backbone.device)
            passes.append(time.perf_counter() - started)
    finally:
        backbone.model.train(training)
    return passes[-1] / len(rows)


def clock(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3h05m``: a duration as a person reads it."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes} min"


@dataclass
class TimeLeft:
    """The time a run of like items (languages, cells) has left, from what those finished so far took: the
    estimate before the first gives way to what this machine, under its load now, really takes."""

    items: int
    taken: list[float] = field(default_factory=list)  # seconds of each finished item

    def done(self, seconds: float) -> None:
        self.taken.append(seconds)

    def before(self, position: int) -> str:
        """``", about 1h05m left"`` before item ``position`` (0-based) starts; ``""`` before any finished."""
        return f", about {clock(statistics.mean(self.taken) * (self.items - position))} left" if self.taken else ""
