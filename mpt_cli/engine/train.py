"""Training a source prompt: cross entropy over the label words at the mask, through :func:`fit`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import MptError, require_positive
from ..verbalizer import LabelWords
from .backbone import Backbone, Tune
from .batching import EVAL_BATCH_SIZE, collate
from .inference import accuracy, label_probabilities
from .loop import (
    DEV_ACCURACY,
    SELECT_HELP,
    EpochRecord,
    LabelledSet,
    LoopSettings,
    Selection,
    TrainResult,
    fit,
    restore_parameters,
)
from .prompt_encoder import PromptEncoder

# full: 5e-5 over 2e-5 on e5-mlm, 64 shots, full dev-en, seeds 1-3: 47.4% against 44.0%
# (docs/results/2026-11-23-train-source-tune-modes.md).
DEFAULT_BACKBONE_LR = {Tune.FULL: 5e-5, Tune.LORA: 5e-4}


@dataclass(frozen=True)
class TrainConfig(LoopSettings):
    epochs: int = field(default=12, metadata={"help": "passes over the few-shot training set"})
    batch_size: int = field(default=8, metadata={"help": "training examples per step"})
    prompt_lr: float = field(default=3e-3, metadata={"help": "learning rate of the prompt encoder"})
    backbone_lr: float | None = field(
        default=None,
        metadata={
            "help": (
                "learning rate of backbone weights (full: {full:g}) or adapters (lora: {lora:g})"
            ).format(**DEFAULT_BACKBONE_LR)
        },
    )
    # last, not best: the few-shot dev draw (48 rows at 16 shots) picked a worse epoch than the last on every
    # seed, and with the multilingual label words every method gained at 4-64 shots (docs/results/2026-12-01-few-shots.md)
    select: Selection = field(default=Selection.LAST, metadata={"help": SELECT_HELP})
    eval_batch_size: int = field(default=EVAL_BATCH_SIZE, metadata={"help": "batch size for dev evaluation"})
    mixup: float = field(
        default=0.0,
        metadata={"help": "mix the mask states of two examples of a batch, and their labels, by a Beta(a, a) draw "
                          "(DPA's prompt mixup); a, or 0 for none"},
    )  # fmt: skip
    decay_to_start: float = field(
        default=0.0,
        metadata={"help": "decoupled decay of the backbone's trainable weights towards their values when training "
                          "starts (L2-SP); 0 for none"},
    )  # fmt: skip

    def __post_init__(self):
        super().__post_init__()
        require_positive(epochs=self.epochs, batch_size=self.batch_size, eval_batch_size=self.eval_batch_size)
        require_positive(prompt_lr=self.prompt_lr, backbone_lr=self.backbone_lr or 1.0)
        if self.mixup < 0 or self.decay_to_start < 0:
            raise MptError(f"mixup and decay_to_start must be 0 (off) or positive, not {min(self.mixup, self.decay_to_start)}")


@dataclass
class PromptLearner:
    """A soft prompt (and the backbone's trainable weights): cross entropy over the verbalizer at the mask."""

    backbone: Backbone
    encoder: PromptEncoder
    train: LabelledSet
    dev: LabelledSet
    label_words: LabelWords
    config: TrainConfig

    dev_metric = DEV_ACCURACY

    def __post_init__(self):
        self.encoder.to(self.backbone.device)
        self.label_words = self.label_words.to(self.backbone.device)
        self.train_size = len(self.train.encoded)
        self.train_lengths = [len(example.input_ids) for example in self.train.encoded]

    def parameter_groups(self) -> list[dict]:
        groups = [{"params": list(self.encoder.parameters()), "lr": self.config.prompt_lr}]
        if params := self.backbone.trainable_parameters():
            backbone = {"params": params, "lr": self.config.backbone_lr or DEFAULT_BACKBONE_LR[self.backbone.tune]}
            if self.config.decay_to_start:
                backbone |= {"decay_to_start": self.config.decay_to_start, "start": [p.detach().clone() for p in params]}
            groups.append(backbone)
        return groups

    def train_mode(self, training: bool) -> None:
        self.backbone.model.train(training)
        self.encoder.train(training)

    def loss(self, rows: list[int]) -> torch.Tensor:
        return self.cross_entropy(rows, self.encoder())

    def skip_step(self) -> None:
        """The few-shot CE has no sampler of its own (mixup draws from each process's global generator)."""

    def cross_entropy(self, rows: list[int], prompt: torch.Tensor) -> torch.Tensor:
        """Cross entropy over the label words of training ``rows`` with ``prompt`` (``[P, H]``); with mixup,
        of the rows' mask states mixed with those of the same rows shuffled, against both labels."""
        batch = collate(self.train.encoded, rows, self.backbone.tokenizer.pad_token_id, prompt.shape[0], self.train.labels)
        batch = batch.to(self.backbone.device)
        if not self.config.mixup:
            return F.cross_entropy(self.backbone.mask_logits(batch, prompt, self.label_words), batch.labels)
        share = torch.distributions.Beta(self.config.mixup, self.config.mixup).sample().item()
        partner = torch.randperm(len(rows), device=self.backbone.device)
        states = self.backbone.mask_states(batch, prompt, mix=lambda at_mask: share * at_mask + (1 - share) * at_mask[partner])
        logits = self.backbone.project(states, self.label_words)
        return share * F.cross_entropy(logits, batch.labels) + (1 - share) * F.cross_entropy(logits, batch.labels[partner])

    def dev_score(self) -> float:
        with torch.no_grad():
            prompt = self.encoder()
        probs = label_probabilities(self.backbone, self.dev.encoded, prompt, self.label_words, self.config.eval_batch_size)
        return accuracy(probs, self.dev.labels)

    def state(self) -> dict:
        learned = {n: p.detach().clone() for n, p in self.backbone.model.named_parameters() if p.requires_grad}
        return {"encoder": copy.deepcopy(self.encoder.state_dict()), "backbone": learned}

    def load_state(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        restore_parameters(self.backbone.model, state["backbone"])


def train_prompt(
    backbone: Backbone,
    encoder: PromptEncoder,
    train: LabelledSet,
    dev: LabelledSet,
    label_words: LabelWords,
    config: TrainConfig,
    seed: int,
    on_step: Callable[[float], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train ``encoder`` (and the backbone's trainable weights) and leave them at the weights ``config.select`` keeps."""
    learner = PromptLearner(backbone, encoder, train, dev, label_words, config)
    return fit(learner, config, seed, backbone.accelerator, on_step, on_epoch)
