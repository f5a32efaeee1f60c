"""Preparing a run of ``mpt align`` or ``mpt translate`` before any language trains: the options checked
against the source prompt, every corpus and ``--text`` read (bad input fails here, before anything is
written), the model loaded, the tokenizer's reach measured and the cost said (:mod:`.language_training`
then trains each language).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..artifacts import PromptArtifact
from ..callbacks import Callbacks
from ..data import load_examples, select
from ..data.language_text import LanguageText, language_text
from ..data.parallel import (
    ParallelCorpus,
    check_corpus_languages,
    corpus_label,
    corpus_languages,
    load_parallel,
    split_heldout,
)
from ..engine.align import TeacherStates
from ..engine.cost import estimate
from ..engine.distributed import processes
from ..engine.loop import LabelledSet
from ..engine.scorer import Scorer
from ..engine.tokenizer_fit import TokenizerFit, text_fit, tokenizer_fit
from ..engine.translator import TranslatorConfig
from ..errors import MptError
from ..languages import describe
from ..store import PromptStore
from .align_options import AlignOptions


@dataclass
class Prepared:
    """What every target's training needs, made once: the source prompt, the corpora, the model, and the
    teacher states every target shares (None while the source prompt learns: its teacher is recomputed)."""

    store: PromptStore
    source: PromptArtifact
    corpora: dict[str, ParallelCorpus]
    scorer: Scorer
    few_shot: LabelledSet | None
    fits: dict[str, TokenizerFit]  # by target: how well the tokenizer reads the language
    teacher: TeacherStates | None
    texts: dict[str, LanguageText | None]  # by target, from --text (None: its pairs' target side alone)
    estimated_seconds: float | None  # a language's training, as said before it started (None: not estimated)

    def warning(self, target: str) -> str | None:
        """The tokenizer's warning about ``target``, or None when it reads the language well."""
        return self.fits[target].warning(self.source.info.language, target)


def text_only_languages(options: AlignOptions, texts: dict[str, LanguageText | None] | None = None) -> set[str]:
    """The targets with ``--text`` and no pairs in the corpus: their adapters learn from their text alone.
    ``texts``: the targets' text as read (read here when not given)."""
    if options.text is None:
        return set()
    try:
        paired = set(corpus_languages(options.parallel, options.source))
    except MptError:  # one language's pair file, or a corpus that cannot be listed: every target has pairs or fails on them
        return set()
    unpaired = [target for target in options.targets if target not in paired]
    texts = texts if texts is not None else {target: language_text(options.text, target) for target in unpaired}
    return {target for target in unpaired if texts.get(target) is not None}


def prepare(options: AlignOptions, store: PromptStore, callbacks: Callbacks) -> Prepared:
    """Check the options against the source prompt, read every corpus and the dev data asked for (so that
    bad input fails the run before it writes anything), load the source run's model and see how well its
    tokenizer reads each language."""
    source = store.open_source(options.source)
    task = store.task_of(source, options.task)
    TranslatorConfig(source.info.hidden_size, options.width, options.residual, options.init)  # validate early
    texts = {target: language_text(options.text, target) for target in options.targets} if options.text else {}
    if without := [target for target, text in texts.items() if text is None]:
        callbacks.on_stage(f"--text has no file for {', '.join(without)}: the masked-LM term reads their pairs' target side")
    paired = [target for target in options.targets if target not in text_only_languages(options, texts)]
    check_corpus_languages(options.parallel, options.source, paired)  # every target's, before reading any
    corpora = {}
    for target in options.targets:
        if target not in paired:
            callbacks.on_stage(f"{describe(target)}: no parallel pairs; its adapter learns from its --text alone")
        else:
            callbacks.on_stage(f"{options.source}->{target}: reading parallel data from {corpus_label(options.parallel)}")
            corpora[target] = load_parallel(options.parallel, options.source, target, task, options.max_pairs, options.seed)
            split_heldout(corpora[target].pairs, options.heldout, options.seed, corpora[target].name)
        if options.dev_data and options.score_dev:  # asked for explicitly: it must have every language
            load_examples(task, options.dev_data, target, "validation")
    callbacks.on_stage(f"loading the backbone of {store.prompt_path(options.source)}")
    scorer = store.scorer(source, store.load_backbone(source, options.model, options.cpu))
    few_shot = None if options.align.freeze_source else _few_shot(options, source, scorer)
    tokenizer = scorer.backbone.tokenizer
    fits = {target: tokenizer_fit(tokenizer, corpus.pairs) for target, corpus in corpora.items()}
    fits |= {target: text_fit(tokenizer, texts[target].sentences) for target in options.targets if target not in corpora}
    for target, reach in fits.items():
        if warning := reach.warning(options.source, target):
            callbacks.on_stage(f"warning: {warning}")
    estimated_seconds = _say_cost(options, source, scorer, corpora, callbacks) if corpora else None
    teacher = None  # a source prompt that learns has its teacher recomputed, per language
    if options.align.freeze_source:  # languages whose English sides agree share its pass (in each launched process)
        teacher = TeacherStates(scorer.backbone, options.align.eval_batch_size)
    return Prepared(store, source, corpora, scorer, few_shot, fits, teacher, texts, estimated_seconds)


def _say_cost(
    options: AlignOptions, source: PromptArtifact, scorer: Scorer, corpora: dict[str, ParallelCorpus], callbacks: Callbacks
) -> float:
    """Say before any training what a language will cost here: pairs, epochs, steps and an estimate of the time,
    timed on the first language's pairs (launched processes share the languages, so each reckons with its own);
    returns the estimate's seconds."""
    first = next(iter(corpora.values()))
    train_pairs, heldout_pairs = split_heldout(first.pairs, options.heldout, options.seed)
    train = scorer.encode([pair.target for pair in train_pairs])
    config = options.align
    text_batch = config.mlm_batch_size if config.mlm_weight > 0 else 0
    cost = estimate(scorer.backbone, source.prompt, train, len(heldout_pairs), config.epochs, config.batch_size, text_batch)
    languages = len(processes(options.cpu).deal(list(options.targets)))
    callbacks.on_stage(f"each language: {cost.describe(languages)}")
    return cost.seconds


def _few_shot(options: AlignOptions, source: PromptArtifact, scorer: Scorer) -> LabelledSet:
    """The source prompt's own few-shot examples (its split manifest), for the CE term."""
    data = options.data or source.info.data
    pool = load_examples(scorer.task, data, options.source, "train")
    examples = select(pool, tuple(source.info.split_manifest["train_ids"]))
    return LabelledSet(scorer.encode([e.texts for e in examples]), [e.label for e in examples])
