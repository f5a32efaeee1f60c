"""Training one target language, shared by ``mpt align`` and ``mpt translate`` (after the run is prepared by
:mod:`.language_preparation`): its translator, and with the adapter method its adapter, distilled from the
source run on parallel pairs; a language with text and no pairs learns its adapter from the text, its own
sentences standing in for the pairs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..artifacts import PromptArtifact, TranslatorArtifact, TranslatorInfo
from ..callbacks import Callbacks
from ..data import load_examples
from ..data.given import data_label
from ..data.parallel import ParallelPair, own_pairs, split_heldout
from ..engine.align import AlignConfig, AlignResult, ParallelSet, train_translator
from ..engine.language_adapter import AdapterConfig
from ..engine.loop import Selection
from ..engine.masked_lm import TextBatches
from ..engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from ..engine.scorer import Scorer
from ..engine.translator import PromptTranslator, TranslatorConfig
from ..errors import MptError
from ..fileformat import provenance, tensor_sha256
from ..languages import describe
from ..store import PromptStore
from ..template import EncodedExample
from .align_options import AlignOptions, TranslateMethod
from .language_preparation import Prepared

# how far below the source prompt a trained language's dev accuracy must fall to be warned of: past the
# small losses adapters trained on pairs show on some languages (at most 4.9 points on SIB-200's test
# sets), far short of what adapters trained by the masked-LM term alone on a language's text lost (15 and 26
# points on average; held by the KL, single languages still move by up to 7 on 99 dev rows, both ways;
# docs/results/2026-12-07-language-text-pilot.md)
BEHIND_SOURCE_MARGIN = 0.05


@dataclass
class LanguageAlignment:
    target: str
    translator: Path | None  # None: no translator (p_T = p_S)
    pairs: int
    heldout_pairs: int
    steps: int
    heldout_kl_before: float  # a language with text and no pairs: of its own held-out sentences, to the source
    heldout_kl_after: float  # prompt read without the adapter
    dev_examples: int | None
    dev_accuracy_source: float | None
    dev_accuracy_translated: float | None
    seconds: float
    estimated_seconds: float | None = None  # what the run said before training that a language would take
    sentences: int | None = None  # a language with text and no pairs: its sentences trained on and held out
    heldout_sentences: int | None = None

    def behind_source(self) -> str | None:
        """A warning where the trained language scores clearly below the source prompt used as it is on
        the language's dev rows, None otherwise (or without dev rows)."""
        source, trained = self.dev_accuracy_source, self.dev_accuracy_translated
        if source is None or trained is None or source - trained < BEHIND_SOURCE_MARGIN:
            return None
        return (
            f"{describe(self.target)} scores {trained:.1%} on its {self.dev_examples} dev rows, the source prompt "
            f"used as it is {source:.1%}: what was trained here reads the language worse than no training"
        )


@dataclass
class TrainedLanguage:
    """What :func:`train_language` gives for one target: the translated prompt ``[P, H]``, the translator
    file's content (None without a translator), the language adapter's weights (None without one)."""

    translated: torch.Tensor
    translator: TranslatorArtifact | None
    adapter: tuple[AdapterConfig, dict[str, torch.Tensor]] | None
    report: LanguageAlignment


def train_language(
    options: AlignOptions, prepared: Prepared, target: str, callbacks: Callbacks, later: Sequence[str] = ()
) -> TrainedLanguage:
    """Train the translator into ``target`` (and, with the adapter method, the language's adapter) and
    score it on the target's dev data; nothing is saved here. ``later``: the languages this process
    trains after this one, which may read the teacher states this one leaves.

    A language with text and no pairs pairs its sentences with themselves: the teacher reads them with the
    source prompt and no adapter, the student through the language's adapter, which learns the language by
    the masked-LM term while the KL holds what the prompt reads in place; the prompt stays the source
    prompt (without pairs nothing says how it should move), and no translator is trained."""
    started = time.perf_counter()
    source, scorer = prepared.source, prepared.scorer
    corpus = prepared.corpora.get(target)
    paired = corpus is not None
    train_pairs, heldout_pairs, text, stage = _training_data(options, prepared, target)
    config = language_config(options.align, paired)
    encode = lambda pairs, side: scorer.encode([getattr(p, side) for p in pairs])
    train_set = ParallelSet(encode(train_pairs, "source"), encode(train_pairs, "target"))
    heldout_set = ParallelSet(encode(heldout_pairs, "source"), encode(heldout_pairs, "target"))
    torch.manual_seed(options.seed)
    translator_config = TranslatorConfig(scorer.backbone.hidden_size, options.width, options.residual, options.init)
    translator = PromptTranslator(translator_config) if options.translator and paired else None
    adapter = target if options.method == TranslateMethod.ADAPTER else None
    sources = list(zip(train_set.source + heldout_set.source, [p.source for p in train_pairs + heldout_pairs], strict=True))
    with _held_while_training(prepared, target, sources, later):
        if adapter is not None:
            scorer.backbone.language_adapters.add(target, options.adapter, seed=options.seed)
        source_side = _source_side(prepared.store, source, config.freeze_source)
        callbacks.on_stage(stage)
        callbacks.on_start(config.epochs * -(-len(train_pairs) // config.batch_size))
        outcome = train_translator(
            scorer.backbone, translator, source_side, train_set, heldout_set, prepared.few_shot, scorer.label_words,
            config, options.seed, callbacks.on_step, callbacks.on_epoch, adapter, prepared.teacher,
            _text(options, scorer, text),
        )  # fmt: skip
        with torch.no_grad():
            adapted_source = (source_side() if isinstance(source_side, PromptEncoder) else source_side).detach().cpu()
            translated = adapted_source if translator is None else translator(adapted_source.to(scorer.backbone.device)).cpu()
        dev = _dev_scores(options, source, scorer, target, translated, adapter, callbacks)
        adapter_state = None if adapter is None else (options.adapter, scorer.backbone.language_adapters.state(target))
    counts = (len(train_pairs), len(heldout_pairs))
    path = None if translator is None else prepared.store.translator_path(options.source, target)
    report = LanguageAlignment(
        target, path, *(counts if paired else (0, 0)), outcome.steps, outcome.heldout_kl_before, outcome.heldout_kl_after,
        dev.get("examples"), dev.get("source_accuracy"), dev.get("translated_accuracy"), time.perf_counter() - started,
        prepared.estimated_seconds, *((None, None) if paired else counts),
    )  # fmt: skip
    artifact = None
    if translator is not None:
        info = _translator_info(options, source, target, translator, corpus, counts, outcome, dev)
        artifact = TranslatorArtifact({k: v.cpu() for k, v in translator.state_dict().items()}, adapted_source, info)
    return TrainedLanguage(translated, artifact, adapter_state, report)


def _training_data(
    options: AlignOptions, prepared: Prepared, target: str
) -> tuple[list[ParallelPair], list[ParallelPair], list[str], str]:
    """The pairs ``target`` trains on and holds out, the sentences of its masked-LM term, and what the log says
    of them: its parallel pairs (the term reads their target side, and ``--text``), or, with text and no pairs,
    its own sentences paired with themselves."""
    corpus, own = prepared.corpora.get(target), prepared.texts.get(target)
    if corpus is not None:
        train, heldout = split_heldout(corpus.pairs, options.heldout, options.seed)
        text = [text for pair in train for text in pair.target] + (own.sentences if own else [])
        return train, heldout, text, f"{options.source}->{target}: aligning on {len(train)} pairs, {len(heldout)} held out"
    pairs = own_pairs(own.sentences, len(prepared.scorer.task.inputs), options.seed, f"--text {own.name}")
    train, heldout = split_heldout(pairs, options.heldout, options.seed, f"--text {own.name}")
    text = [pair.target[0] for pair in train]  # each sentence once: the first of an input's texts
    return train, heldout, text, f"{describe(target)}: learning the language from {len(train)} sentences, {len(heldout)} held out"


def language_config(config: AlignConfig, paired: bool) -> AlignConfig:
    """The alignment settings a language trains with: ``config``, except that a language with text and no
    pairs keeps its last epoch, since its held-out KL only says how far what the prompt reads has moved
    (which the first epoch always moves least)."""
    return config if paired else replace(config, select=Selection.LAST)


def _text(options: AlignOptions, scorer: Scorer, sentences: list[str]) -> TextBatches | None:
    """The masked-LM term's batches of the language's ``sentences``, when it is on."""
    if options.align.mlm_weight == 0:
        return None
    config, backbone = options.align, scorer.backbone
    return TextBatches(
        backbone.tokenizer, sentences, backbone.max_length, config.mlm_batch_size, config.mlm_probability, options.seed
    )


@contextmanager
def _held_while_training(
    prepared: Prepared, target: str, sources: list[tuple[EncodedExample, tuple[str, ...]]], later: Sequence[str]
) -> Iterator[None]:
    """Whether ``target`` trains or fails, afterwards its adapter leaves the backbone (the result holds a
    copy of its weights) and the teacher states of its ``sources`` (encoded inputs and their texts) that
    none of the ``later`` languages reads are let go: what a run holds does not grow with its languages."""
    try:
        yield
    finally:
        prepared.scorer.backbone.language_adapters.remove(target)
        if prepared.teacher is not None:
            corpora = [prepared.corpora[language] for language in later if language in prepared.corpora]
            read_later = {pair.source for corpus in corpora for pair in corpus.pairs}
            prepared.teacher.release([encoded for encoded, text in sources if text not in read_later])


def _translator_info(options, source, target, translator, corpus, counts, outcome: AlignResult, dev: dict) -> TranslatorInfo:
    adapter = options.adapter.to_json() if options.method == TranslateMethod.ADAPTER else None
    return TranslatorInfo(
        source_language=options.source, target_language=target, architecture=asdict(translator.config),
        backbone=source.info.backbone, backbone_fingerprint=source.info.backbone_fingerprint,
        source_prompt_sha256=tensor_sha256(source.prompt), alignment=asdict(options.align), corpus=corpus.name,
        corpus_sha256=corpus.sha256, pairs=counts[0], heldout_pairs=counts[1], steps=outcome.steps,
        heldout_kl_before=outcome.heldout_kl_before, heldout_kl_after=outcome.heldout_kl_after, seed=options.seed,
        best_epoch=outcome.best_epoch, dev=dev, language_adapter=adapter,
        **provenance(),
    )  # fmt: skip


def _source_side(store: PromptStore, source: PromptArtifact, freeze: bool) -> PromptEncoder | torch.Tensor:
    """The fixed source prompt, or its encoder (restored from the training state) when it keeps learning."""
    if freeze:
        return source.prompt
    encoder = PromptEncoder(PromptEncoderConfig(**source.info.prompt_encoder))
    encoder.load_state_dict(store.training_state(source))
    return encoder


def _dev_scores(
    options: AlignOptions, source: PromptArtifact, scorer: Scorer, target: str, translated, adapter: str | None, callbacks
) -> dict:
    """Dev accuracy of the source prompt on the source model and of the translated prompt (through the
    language ``adapter``, when there is one) on the target language, when dev data exists."""
    if not options.score_dev:
        return {}
    dev_data = options.dev_data or options.data or source.info.data
    try:
        examples = load_examples(scorer.task, dev_data, target, "validation")
    except MptError as exc:
        if options.dev_data:  # asked for explicitly: its problems are the user's to see
            raise
        callbacks.on_stage(f"no {target} dev data in {data_label(dev_data)} ({exc}); skipping dev accuracy")
        return {}
    examples = examples[: options.max_dev_examples] if options.max_dev_examples else examples
    callbacks.on_stage(f"{options.source}->{target}: scoring {len(examples)} dev examples with both prompts")
    source_scores, _ = scorer.score(source.prompt, examples)
    translated_scores, _ = scorer.score(translated, examples, route=adapter)
    return {
        "data": data_label(dev_data),
        "examples": len(examples),
        "source_accuracy": source_scores.accuracy,
        "translated_accuracy": translated_scores.accuracy,
    }
