"""int8 against float32: mpt's evaluation on the same batches, with the encoder's linear layers in float32
and in int8 (``--int8``). The CPU only: int8 is refused on a GPU."""

from __future__ import annotations

from functools import partial

from .common import encoded_inputs, examples, label_words, random_prompt

NAME = "int8"
CPU_ONLY = True


def eval_in(backbone, args, int8: bool):
    from mpt_cli.engine.inference import label_probabilities

    encoded = encoded_inputs(backbone, examples(args))
    prompt, ids = random_prompt(backbone), label_words(backbone)
    if int8:
        backbone.to_int8()
    return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size)


VARIANTS = {"int8-float32": partial(eval_in, int8=False), "int8-int8": partial(eval_in, int8=True)}
