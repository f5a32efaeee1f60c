"""The one training loop every learner in mpt runs through: AdamW, a linear schedule, a dev score after
every epoch, and the weights a selection rule names kept at the end."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import torch

from ..choices import Choice
from ..template import EncodedExample
from .batching import shuffled
from .distributed import processes


class Selection(Choice):
    """Which weights :func:`fit` keeps once the epochs are done."""

    BEST = "best"  # the first epoch with the best dev score
    LAST = "last"  # the last epoch: the epoch count is the choice, made once on dev across seeds
    AVERAGE = "average"  # the mean of the weights at the end of each epoch of the second half


SELECT_HELP = "the weights kept: best (the best dev epoch), last, or average (the mean of the second half's epochs)"


@dataclass(frozen=True)
class LoopSettings:
    """What :func:`fit` reads besides ``epochs`` and ``batch_size``, alike for every training config."""

    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps with a linear warm-up"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    select: Selection = field(default=Selection.BEST, metadata={"help": SELECT_HELP})
    group_by_length: bool = field(
        default=False, metadata={"help": "batch training rows of similar length together (less padding), in a seeded order"}
    )

    def __post_init__(self):
        object.__setattr__(self, "select", Selection.parse(self.select, "selection rule"))


@dataclass(frozen=True)
class DevMetric:
    """What a learner's dev score measures, and which way is better."""

    name: str
    higher_is_better: bool = True
    percent: bool = True

    def better(self, score: float, than: float) -> bool:
        return score > than if self.higher_is_better else score < than

    def format(self, score: float) -> str:
        return f"{score:.1%}" if self.percent else f"{score:.4f}"


DEV_ACCURACY = DevMetric("dev accuracy")


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    dev_score: float
    metric: DevMetric = DEV_ACCURACY

    def describe(self) -> str:
        return f"epoch {self.epoch}: train loss {self.train_loss:.4f}, {self.metric.name} {self.metric.format(self.dev_score)}"


@dataclass
class TrainResult:
    best_epoch: int  # the epoch kept: the best on dev, or the last (selection last and average)
    dev_score: float  # the learner's metric of the weights kept (dev accuracy for prompts and fine-tuning)
    train_loss: float
    history: list[EpochRecord]


@dataclass
class LabelledSet:
    encoded: list[EncodedExample]
    labels: list[int]


class Learner(Protocol):
    """What :func:`fit` trains: a loss on training rows, a dev score, and state to keep the best of."""

    train_size: int
    train_lengths: list[int] | None  # tokens in each training row, for LoopSettings.group_by_length; None: unknown
    dev_metric: DevMetric

    def parameter_groups(self) -> list[dict]: ...  # AdamW groups: {"params": [...], "lr": ...}

    def train_mode(self, training: bool) -> None: ...

    def loss(self, rows: list[int]) -> torch.Tensor: ...

    # a launched process whose shard of a step's batch is empty: draw from the learner's own samplers what
    # loss would have drawn, so that every process's draws, and so the results, match those of one process
    def skip_step(self) -> None: ...

    def dev_score(self) -> float: ...  # measured as dev_metric says

    def state(self) -> dict[str, torch.Tensor]: ...  # copies of everything that learns

    def load_state(self, state: dict[str, torch.Tensor]) -> None: ...


def fit(
    learner: Learner,
    config: LoopSettings,
    seed: int,
    accelerator,
    on_step: Callable[[float], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """AdamW with linear warm-up and decay; after every epoch the dev set is scored, and at the end the
    weights ``config.select`` names are restored: the first epoch with the best dev score, the last
    epoch, or the mean of the second half's epochs (scored once more).

    ``config`` is a :class:`LoopSettings` with ``epochs`` and ``batch_size`` (a :class:`TrainConfig`
    or an alignment config). A parameter group with ``decay_to_start`` and ``start`` (the weights'
    first values) is pulled towards them after every step, as AdamW pulls towards zero."""
    groups = learner.parameter_groups()
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    total_steps = config.epochs * math.ceil(learner.train_size / config.batch_size)
    scheduler = _linear_warmup_decay(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    with _prepared(optimizer, accelerator) as optimizer:
        generator = torch.Generator().manual_seed(seed)
        trainable = [p for group in groups for p in group["params"]]

        best: tuple[float, int, dict] | None = None
        average, averaged = None, 0
        history = []
        lengths = learner.train_lengths if config.group_by_length else None
        for epoch in range(1, config.epochs + 1):
            learner.train_mode(True)
            losses = []
            for rows in shuffled(learner.train_size, config.batch_size, generator, lengths):
                loss = _backward(learner, rows, trainable, accelerator)
                accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
                optimizer.step()
                _decay_to_start(optimizer.param_groups)
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss)
                if on_step:
                    on_step(loss)
            learner.train_mode(False)
            record = EpochRecord(epoch, sum(losses) / len(losses), learner.dev_score(), learner.dev_metric)
            history.append(record)
            if on_epoch:
                on_epoch(record)
            if config.select == Selection.BEST and (best is None or learner.dev_metric.better(record.dev_score, best[0])):
                best = (record.dev_score, epoch, learner.state())
            if config.select == Selection.AVERAGE and epoch > config.epochs // 2:
                averaged += 1
                average = _running_mean(average, learner.state(), averaged)
        if config.select == Selection.BEST:
            dev_score, kept, state = best
            learner.load_state(state)
        elif config.select == Selection.AVERAGE:
            learner.load_state(average)
            dev_score, kept = learner.dev_score(), config.epochs
        else:
            dev_score, kept = history[-1].dev_score, config.epochs
        learner.train_mode(False)
        return TrainResult(kept, dev_score, history[kept - 1].train_loss, history)


def restore_parameters(model: torch.nn.Module, values: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in values.items():
            params[name].copy_(value)


def _backward(learner: Learner, rows: list[int], trainable: list[torch.Tensor], accelerator) -> float:
    """Gradients of the mean loss over ``rows`` in ``trainable``'s ``.grad``; returns that loss.

    Launched processes each take their shard of ``rows`` and weight their mean loss by its share of the
    batch, so that the sum over processes of their gradients (one all-reduce, the loss riding along) is
    the gradient one process would compute on the whole batch.
    """
    group = processes()
    if group.count == 1:
        loss = learner.loss(rows)
        accelerator.backward(loss)
        return loss.item()
    device = trainable[0].device
    mine = [rows[i] for i in group.shard(len(rows))]
    weighted_loss = torch.zeros(1, device=device)
    if mine:
        loss = learner.loss(mine) * (len(mine) / len(rows))
        accelerator.backward(loss)
        weighted_loss += loss.detach().float()
    else:  # a batch smaller than the process count leaves some processes without rows
        learner.skip_step()
    local = [(p.grad if p.grad is not None else torch.zeros_like(p)).float().reshape(-1) for p in trainable]
    total = group.sum(torch.cat([*local, weighted_loss]))
    offset = 0
    for param in trainable:
        param.grad = total[offset : offset + param.numel()].view_as(param).to(param.dtype)
        offset += param.numel()
    return total[-1].item()


def _decay_to_start(groups: list[dict]) -> None:
    with torch.no_grad():
        for group in groups:
            if group.get("decay_to_start"):
                for param, start in zip(group["params"], group["start"]):
                    param.sub_(param - start, alpha=group["lr"] * group["decay_to_start"])


def _running_mean(mean: dict | None, state: dict, count: int) -> dict:
    """Fold ``state`` (nested dicts of tensors, as :meth:`Learner.state` gives) into the mean of ``count - 1``
    states; tensors that are not floating point keep their latest value."""
    if mean is None:
        return state
    for key, value in state.items():
        if isinstance(value, dict):
            _running_mean(mean[key], value, count)
        elif value.is_floating_point():
            mean[key] += (value - mean[key]) / count
        else:
            mean[key] = value
    return mean


@contextmanager
def _prepared(optimizer: torch.optim.Optimizer, accelerator) -> Iterator[torch.optim.Optimizer]:
    """``optimizer`` prepared by ``accelerator`` for the length of one training. An accelerator keeps every
    optimizer it prepared, and with it its state and the weights it updates, for as long as it lives (that
    of the backbone, a whole run): let it go when the training ends or fails, so that a run training one
    language after another holds one language's optimizer, not all of theirs."""
    try:
        yield accelerator.prepare_optimizer(optimizer)
    finally:
        accelerator.free_memory()


def _linear_warmup_decay(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
