"""Batched, gradient-free scoring of encoded examples."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..template import EncodedExample
from ..verbalizer import LabelWords
from .backbone import Backbone
from .batching import EVAL_BATCH_SIZE, by_length, collate
from .distributed import processes
from .language_adapter import Route


@torch.no_grad()
def label_probabilities(
    backbone: Backbone,
    encoded: list[EncodedExample],
    prompt: torch.Tensor,
    label_words: LabelWords,
    batch_size: int = EVAL_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
    route: Route = None,
    prompt_of: torch.Tensor | None = None,
) -> torch.Tensor:
    """Probabilities over the label words for every example, in input order: ``[N, C]``.

    ``prompt`` is ``[P, H]`` for all rows, or a table of L prompts ``[L, P, H]`` with ``prompt_of``
    (``[N]``) naming each row's (mixed languages): a batch gathers its own rows' prompts, so memory
    follows the batch, not N copies of a prompt. ``route`` names the language adapter of all rows or of
    each row (None: no adapter).
    Batches are sorted by length so padding stays small. Launched processes deal the batches out
    round-robin and gather the results: each batch is the one a single process would run, so the
    numbers are identical whatever the process count. ``on_batch`` counts rows of all processes.
    """
    was_training = backbone.model.training
    backbone.model.eval()
    group = processes()
    prompt = prompt.to(backbone.device)
    label_words = label_words.to(backbone.device)
    prompt_length = prompt.shape[-2]
    probs = torch.empty(len(encoded), len(label_words))
    done, reported = [], 0
    for rows in group.deal(by_length(encoded, batch_size)):
        batch = collate(encoded, rows, backbone.tokenizer.pad_token_id, prompt_length).to(backbone.device)
        prompts = prompt if prompt_of is None else prompt[prompt_of[rows].to(backbone.device)]  # [B, P, H]
        routes = route if route is None or isinstance(route, str) else [route[r] for r in rows]
        probs[rows] = backbone.mask_logits(batch, prompts, label_words, routes).softmax(-1).cpu()
        done.append(rows)
        if on_batch:  # this process's rows stand for every process's: the count ends at N exactly
            step = min(len(rows) * group.count, len(encoded) - reported)
            on_batch(step)
            reported += step
    backbone.model.train(was_training)
    if group.count > 1:
        for rows, values in group.gather([(rows, probs[rows]) for rows in done]):
            probs[rows] = values
        if on_batch and reported < len(encoded):
            on_batch(len(encoded) - reported)
    return probs


def accuracy(probs: torch.Tensor, labels: list[int]) -> float:
    return (probs.argmax(-1) == torch.tensor(labels)).float().mean().item()
