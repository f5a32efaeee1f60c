"""Batched, gradient-free scoring of encoded examples."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..template import EncodedExample
from .backbone import Backbone
from .batching import by_length, collate
from .distributed import processes


@torch.no_grad()
def label_probabilities(
    backbone: Backbone,
    encoded: list[EncodedExample],
    prompt: torch.Tensor,
    label_ids: torch.Tensor,
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Probabilities over the label words for every example, in input order: ``[N, C]``.

    ``prompt`` is ``[P, H]`` for all rows or ``[N, P, H]`` for one prompt per row (mixed languages).
    Batches are sorted by length so padding stays small. Launched processes each score their shard
    of the rows (``on_batch`` counts this process's rows) and all of them return every row.
    """
    was_training = backbone.model.training
    backbone.model.eval()
    group = processes()
    mine = group.shard(len(encoded))
    encoded = encoded[mine.start : mine.stop]
    prompt = (prompt if prompt.dim() == 2 else prompt[mine.start : mine.stop]).to(backbone.device)
    label_ids = label_ids.to(backbone.device)
    prompt_length = prompt.shape[-2]
    probs = torch.empty(len(encoded), len(label_ids))
    for rows in by_length(encoded, batch_size):
        batch = collate(encoded, rows, backbone.tokenizer.pad_token_id, prompt_length).to(backbone.device)
        prompts = prompt if prompt.dim() == 2 else prompt[batch.rows]
        probs[rows] = backbone.mask_logits(batch, prompts, label_ids).softmax(-1).cpu()
        if on_batch:
            on_batch(len(rows))
    backbone.model.train(was_training)
    return probs if group.count == 1 else torch.cat(group.gather([probs]))


def accuracy(probs: torch.Tensor, labels: list[int]) -> float:
    return (probs.argmax(-1) == torch.tensor(labels)).float().mean().item()
