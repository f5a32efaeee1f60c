"""KL divergences between answer distributions at the mask."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..choices import Choice
from ..errors import MptError, require_positive
from .batching import EVAL_BATCH_SIZE


class KLDirection(Choice):
    FORWARD = "forward"  # KL(P_source || P_target): the target side imitates the source (distillation)
    REVERSE = "reverse"
    SYMMETRIC = "symmetric"


class KLSpace(Choice):
    LABELS = "labels"  # over the verbalizer words
    VOCAB = "vocab"  # over the whole vocabulary


@dataclass(frozen=True)
class AlignmentObjective:
    """``alpha * CE + (1 - alpha) * KL``: the settings two-stage and joint alignment share, and all that
    measuring the KL of held-out pairs needs."""

    alpha: float = field(default=0.5, metadata={"help": "weight of CE (source few-shot examples) against KL (parallel pairs)"})
    kl_direction: KLDirection = field(default=KLDirection.FORWARD, metadata={"help": f"KL direction: {KLDirection.options()}"})
    kl_space: KLSpace = field(default=KLSpace.LABELS, metadata={"help": "KL over: labels (the verbalizer words) or vocab (all)"})
    eval_batch_size: int = field(default=EVAL_BATCH_SIZE, metadata={"help": "batch size for held-out KL"})

    def __post_init__(self):
        if not 0.0 <= self.alpha <= 1.0:
            raise MptError(f"alpha must be between 0 and 1, got {self.alpha}")
        require_positive(eval_batch_size=self.eval_batch_size)
        object.__setattr__(self, "kl_direction", KLDirection.parse(self.kl_direction, "KL direction"))
        object.__setattr__(self, "kl_space", KLSpace.parse(self.kl_space, "KL space"))


def kl_divergence(
    source_logits: torch.Tensor, target_logits: torch.Tensor, direction: KLDirection = KLDirection.FORWARD
) -> torch.Tensor:
    """Mean over the batch of the KL between the two answer distributions, from ``[B, K]`` logits.

    ``forward``: KL(P_source || P_target), the target side imitates the source (distillation).
    ``reverse``: KL(P_target || P_source). ``symmetric``: the mean of both.
    """
    source = source_logits.float().log_softmax(-1)
    target = target_logits.float().log_softmax(-1)

    def kl(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
        return (p_log.exp() * (p_log - q_log)).sum(-1).mean()

    if direction == KLDirection.FORWARD:
        return kl(source, target)
    if direction == KLDirection.REVERSE:
        return kl(target, source)
    if direction == KLDirection.SYMMETRIC:
        return 0.5 * (kl(source, target) + kl(target, source))
    raise ValueError(f"unknown KL direction {direction!r}")
