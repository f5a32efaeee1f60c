"""One alignment epoch: with the cached teacher against the uncached one, and (``mpt translate``'s default
method, with a language adapter) in batches of pairs of similar length against random batches."""

from __future__ import annotations

from functools import partial

import torch

from .common import encoded_inputs, examples, label_words, random_prompt

NAME = "align"


def align_epoch(backbone, args, cached: bool, adapter: str | None = None, group_by_length: bool | None = None):
    """One alignment epoch over ``--pairs`` parallel pairs (English text on both sides, so no corpus is needed).

    The teacher lives across epochs as in training: the warm-up epoch fills the cache, the timed ones use it.
    With an ``adapter`` (a language code) the student reads the target side through a fresh language adapter
    that learns with the translator, as ``mpt translate``'s default method does. Batches group pairs of
    similar length where ``group_by_length`` says so (None: as :class:`AlignConfig` does by default).
    """
    from mpt_cli.engine.align import AlignConfig, Teacher, alignment_kl
    from mpt_cli.engine.batching import shuffled
    from mpt_cli.engine.language_adapter import AdapterConfig
    from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig

    pairs = examples(args)[: args.pairs]
    encoded = encoded_inputs(backbone, pairs)
    target = encoded_inputs(backbone, list(reversed(pairs)))
    translator = PromptTranslator(TranslatorConfig(backbone.hidden_size)).to(backbone.device)
    parameters = list(translator.parameters())
    if adapter is not None:
        backbone.language_adapters.add(adapter, AdapterConfig(), seed=0)
        parameters += backbone.language_adapters.parameters(adapter)
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)
    source_prompt = random_prompt(backbone).to(backbone.device)
    ids = label_words(backbone)
    config = AlignConfig(batch_size=16)
    grouped = config.group_by_length if group_by_length is None else group_by_length
    lengths = [len(example.input_ids) for example in target] if grouped else None
    backbone.model.eval()
    teacher = Teacher(backbone, encoded, 64)

    def run():
        for rows in shuffled(len(target), config.batch_size, torch.Generator().manual_seed(0), lengths):
            target_prompt = translator(source_prompt)
            kl = alignment_kl(backbone, teacher, target, rows, source_prompt, target_prompt, config, ids, cached, adapter)
            kl.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return len(pairs), run


# an epoch of ``mpt translate``'s default method: the translator with a language adapter (the precision section's too)
adapter_epoch = partial(align_epoch, cached=True, adapter="de")

VARIANTS = {
    "align-cached": partial(align_epoch, cached=True, group_by_length=False),
    "align-uncached": partial(align_epoch, cached=False, group_by_length=False),
    "align-adapter-random": partial(adapter_epoch, group_by_length=False),
    "align-adapter-grouped": partial(adapter_epoch, group_by_length=True),
}
