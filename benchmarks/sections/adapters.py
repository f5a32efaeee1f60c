"""Language adapters: rows of 15 languages, 14 with an adapter of their own, routed per row within each batch,
against every row through one adapter and against the rows grouped by language."""

from __future__ import annotations

from functools import partial

from .common import encoded_inputs, examples, label_words, random_prompt

NAME = "adapters"
ADAPTED_LANGUAGES = ("ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")


def adapters(backbone, args, layout: str):
    """Random weights, the default adapter. ``one``: every row through one adapter; ``mixed``: languages
    interleaved, routed per row within each batch (what mpt does); ``grouped``: the rows of each language
    scored apart, one call per language."""
    from mpt_cli.engine.inference import label_probabilities
    from mpt_cli.engine.language_adapter import AdapterConfig

    for seed, lang in enumerate(ADAPTED_LANGUAGES):
        backbone.language_adapters.add(lang, AdapterConfig(), seed=seed)
    encoded = encoded_inputs(backbone, examples(args))
    prompt, ids = random_prompt(backbone), label_words(backbone)
    languages = [(None, *ADAPTED_LANGUAGES)[i % 15] for i in range(len(encoded))]
    if layout == "one":
        return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size, route="de")
    if layout == "mixed":
        return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size, route=languages)

    def grouped():
        for lang in dict.fromkeys(languages):
            rows = [encoded[i] for i, row_lang in enumerate(languages) if row_lang == lang]
            label_probabilities(backbone, rows, prompt, ids, args.batch_size, route=lang)

    return len(encoded), grouped


VARIANTS = {f"adapters-{layout}": partial(adapters, layout=layout) for layout in ("one", "mixed", "grouped")}
