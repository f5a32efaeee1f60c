"""KL divergences between answer distributions at the mask."""

from __future__ import annotations

import torch

from ..choices import Choice



class KLDirection(Choice):
    FORWARD = "forward"  # KL(P_source || P_target): the target side imitates the source (distillation)
    REVERSE = "reverse"
    SYMMETRIC = "symmetric"


class KLSpace(Choice):
    LABELS = "labels"  # over the verbalizer words
    VOCAB = "vocab"  # over the whole vocabulary


def kl_divergence(source_logits: torch.Tensor, target_logits: torch.Tensor, direction: str = "forward") -> torch.Tensor:
    """Mean over the batch of the KL between the two answer distributions, from ``[B, K]`` logits.

    ``forward``: KL(P_source || P_target), the target side imitates the source (distillation).
    ``reverse``: KL(P_target || P_source). ``symmetric``: the mean of both.
    """
    source = source_logits.float().log_softmax(-1)
    target = target_logits.float().log_softmax(-1)

    def kl(p_log: torch.Tensor, q_log: torch.Tensor) -> torch.Tensor:
        return (p_log.exp() * (p_log - q_log)).sum(-1).mean()

    if direction == "forward":
        return kl(source, target)
    if direction == "reverse":
        return kl(target, source)
    if direction == "symmetric":
        return 0.5 * (kl(source, target) + kl(target, source))
    raise ValueError(f"unknown KL direction {direction!r}")
