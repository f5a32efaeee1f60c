"""Training a source prompt with cross entropy at the mask, choosing the best epoch on a dev set."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import require_positive
from ..template import EncodedExample
from .backbone import Backbone
from .batching import collate, shuffled
from .inference import accuracy, label_probabilities
from .prompt_encoder import PromptEncoder


DEFAULT_BACKBONE_LR = {"full": 2e-5, "lora": 5e-4}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = field(default=12, metadata={"help": "passes over the few-shot training set"})
    batch_size: int = field(default=8, metadata={"help": "training examples per step"})
    prompt_lr: float = field(default=3e-3, metadata={"help": "learning rate of the prompt encoder"})
    backbone_lr: float | None = field(
        default=None, metadata={"help": "learning rate of backbone weights (full: 2e-5) or adapters (lora: 5e-4)"}
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps with a linear warm-up"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    eval_batch_size: int = field(default=64, metadata={"help": "batch size for dev evaluation"})

    def __post_init__(self):
        require_positive(epochs=self.epochs, batch_size=self.batch_size, eval_batch_size=self.eval_batch_size)
        require_positive(prompt_lr=self.prompt_lr, backbone_lr=self.backbone_lr or 1.0)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    dev_accuracy: float


@dataclass
class TrainResult:
    best_epoch: int
    dev_accuracy: float
    train_loss: float
    history: list[EpochRecord]


@dataclass
class LabelledSet:
    encoded: list[EncodedExample]
    labels: list[int]


def train_prompt(
    backbone: Backbone,
    encoder: PromptEncoder,
    train: LabelledSet,
    dev: LabelledSet,
    label_ids: torch.Tensor,
    config: TrainConfig,
    seed: int,
    on_step: Callable[[float], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train ``encoder`` (and the backbone's trainable weights) and leave them at the best dev epoch.

    The loss is cross entropy over the verbalizer logits at the mask. After every epoch the dev set is
    scored; the weights of the first epoch with the highest dev accuracy are restored at the end.
    """
    accelerator = backbone.accelerator
    encoder.to(backbone.device)
    label_ids = label_ids.to(backbone.device)
    groups = [{"params": list(encoder.parameters()), "lr": config.prompt_lr}]
    if backbone.trainable_parameters():
        lr = config.backbone_lr or DEFAULT_BACKBONE_LR[backbone.tune]
        groups.append({"params": backbone.trainable_parameters(), "lr": lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    total_steps = config.epochs * math.ceil(len(train.encoded) / config.batch_size)
    scheduler = _linear_warmup_decay(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    optimizer = accelerator.prepare_optimizer(optimizer)
    generator = torch.Generator().manual_seed(seed)
    pad_id = backbone.tokenizer.pad_token_id
    trainable = [p for group in groups for p in group["params"]]

    best: tuple[float, int, dict] | None = None
    history = []
    for epoch in range(1, config.epochs + 1):
        backbone.model.train()
        encoder.train()
        losses = []
        for rows in shuffled(len(train.encoded), config.batch_size, generator):
            batch = collate(train.encoded, rows, pad_id, encoder.config.prompt_length, train.labels).to(backbone.device)
            loss = F.cross_entropy(backbone.mask_logits(batch, encoder(), label_ids), batch.labels)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if on_step:
                on_step(loss.item())
        encoder.eval()
        with torch.no_grad():
            prompt = encoder()
        dev_probs = label_probabilities(backbone, dev.encoded, prompt, label_ids, config.eval_batch_size)
        record = EpochRecord(epoch, sum(losses) / len(losses), accuracy(dev_probs, dev.labels))
        history.append(record)
        if on_epoch:
            on_epoch(record)
        if best is None or record.dev_accuracy > best[0]:
            best = (record.dev_accuracy, epoch, _snapshot(backbone, encoder))
    dev_accuracy, best_epoch, state = best
    _restore(backbone, encoder, state)
    encoder.eval()
    return TrainResult(best_epoch, dev_accuracy, history[best_epoch - 1].train_loss, history)


def _linear_warmup_decay(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _snapshot(backbone: Backbone, encoder: PromptEncoder) -> dict:
    """Copies of everything that learned: the encoder and the backbone's trainable tensors."""
    learned = {n: p.detach().clone() for n, p in backbone.model.named_parameters() if p.requires_grad}
    return {"encoder": copy.deepcopy(encoder.state_dict()), "backbone": learned}


def _restore(backbone: Backbone, encoder: PromptEncoder, state: dict) -> None:
    encoder.load_state_dict(state["encoder"])
    params = dict(backbone.model.named_parameters())
    with torch.no_grad():
        for name, value in state["backbone"].items():
            params[name].copy_(value)
