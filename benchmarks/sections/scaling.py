"""Time per example of mpt's evaluation against sequence length and batch size, on synthetic inputs."""

from __future__ import annotations

import torch

from .common import label_words, load, random_prompt, timed

NAME = "scaling"
LENGTHS = (32, 64, 128)
BATCH_SIZES = (8, 32, 128)


def table(args) -> dict[str, float]:
    """Milliseconds per example, by ``len {L}, batch {B}``."""
    from mpt_cli.engine.inference import label_probabilities
    from mpt_cli.template import EncodedExample

    backbone = load(args)
    prompt, ids = random_prompt(backbone), label_words(backbone)
    generator = torch.Generator().manual_seed(0)
    result = {}
    for length in LENGTHS:
        # ids within every vocabulary: a small model's may hold fewer than 1,000
        tokens = torch.randint(10, min(1000, len(backbone.tokenizer)), (args.scaling_examples, length), generator=generator)
        tokens = tokens.tolist()
        encoded = [EncodedExample(t, 1, length - 2) for t in tokens]
        for batch_size in BATCH_SIZES:
            run = lambda: label_probabilities(backbone, encoded, prompt, ids, batch_size)  # noqa: B023 - timed() calls it before the loop moves on
            result[f"len {length}, batch {batch_size}"] = round(1000 * timed(backbone, run, args.repeats) / len(encoded), 3)
    return result


def report(result: dict[str, float]) -> list[str]:
    return ["ms per example, mpt eval, synthetic inputs:", *(f"  {key:22s} {value:8.3f}" for key, value in result.items())]
