"""``mpt translate``: a prompt for every target language.

Two methods (:class:`TranslateMethod`). ``prompt`` (two-stage MPT) applies the translators to the source
prompt, training the missing ones first; every language then runs on the source run's model.
``adapter`` trains, for each language on its own, a translator and an adapter inside the model,
distilled from the source run (which stays frozen), and writes the language's prompt, adapter and
translator together. Languages are independent: launched processes take different languages, and
translating into one language never touches another's files.

Many languages in one command: each language is saved as it finishes, and a language finished by an
earlier run is skipped (without ``--overwrite``), so a run that was stopped goes on where it was; with
the adapter method, only one made with this run's settings (the prompt records them). Bad input (a
missing or damaged pair file, dev data without the language) is refused before anything is trained; a
language that fails while training is reported, what it held is let go, and the others go on. A run
holds one language at a time: its adapter leaves the backbone once trained, and a teacher state stays
only while a language still to come reads it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..artifacts import PromptArtifact, TranslatorArtifact
from ..callbacks import Callbacks
from ..choices import Choice
from ..data.language_text import LanguageText, language_text
from ..data.parallel import ParallelCorpus, load_parallel
from ..engine.cost import TimeLeft
from ..engine.distributed import alone, processes
from ..engine.tokenizer_fit import TokenizerFit
from ..engine.translator import PromptTranslator, TranslatorConfig
from ..errors import MptError
from ..fileformat import tensor_sha256
from ..folder_card import write_card
from ..languages import describe
from ..outputs import check_writable
from ..store import PromptStore
from .align import align
from .align_options import AlignOptions, TranslateMethod
from .language_preparation import Prepared, prepare, text_only_languages
from .language_training import LanguageAlignment, language_config, train_language

# chosen on dev: see docs/translation.md
DEFAULT_METHOD = TranslateMethod.ADAPTER


class Outcome(Choice):
    WRITTEN = "written"
    SKIPPED = "skipped"  # finished by an earlier run and left as it is
    FAILED = "failed"


@dataclass
class TranslatedPrompt:
    target: str
    outcome: Outcome
    path: Path | None = None  # None: failed
    translator: Path | None = None  # None: p_T = p_S (the adapter method's ablation), or not written
    alignment: LanguageAlignment | None = None  # when its translator was trained by this call
    warning: str | None = None  # the tokenizer reads the language badly (engine/tokenizer_fit.py)
    fit: TokenizerFit | None = None  # how well the tokenizer reads the language (None: skipped, not measured)
    error: str | None = None  # why it failed

    @property
    def behind_source(self) -> str | None:
        """The warning of a language trained here that scores below the source prompt on its dev rows."""
        return self.alignment and self.alignment.behind_source()


def translate(options: AlignOptions, callbacks: Callbacks | None = None) -> list[TranslatedPrompt]:
    """Write ``{target}.safetensors`` for every target not finished yet, by ``options.method``; the result
    lists every target, in order: written, skipped or failed."""
    callbacks = callbacks or Callbacks()
    options = replace(options, method=options.method or DEFAULT_METHOD)
    store = PromptStore(options.prompts_dir)
    source = store.open_source(options.source)
    unpaired = text_only_languages(options)  # read once: each finished language is checked against it
    finished = [target for target in options.targets if _finished(options, store, source, target, unpaired, callbacks)]
    for target in finished:
        callbacks.on_stage(f"{describe(target)}: finished by an earlier run, skipped ({store.prompt_path(target)})")
    # every launched process must count the same languages as finished before any of them writes one
    processes(options.cpu).barrier()
    todo = tuple(target for target in options.targets if target not in finished)
    done = []
    if todo:
        todo_options = replace(options, targets=todo)
        if options.method == TranslateMethod.ADAPTER:
            done = _translate_with_adapters(todo_options, store, callbacks)
        else:
            done = _translate_prompts(todo_options, store, source, callbacks)
        group = processes(options.cpu)
        if not group.is_main:
            return []
        if group.count > 1:  # each process rewrote the card as it saved a language: now it sees them all
            write_card(store)
    results = {t.target: t for t in done} | {t: TranslatedPrompt(t, Outcome.SKIPPED, store.prompt_path(t)) for t in finished}
    return [results[target] for target in options.targets]


def _finished(
    options: AlignOptions, store: PromptStore, source: PromptArtifact, target: str, unpaired: set[str], callbacks: Callbacks
) -> bool:
    """Whether ``target``'s prompt is there, complete and made as asked from this source prompt: then it is
    kept. One that is there but is not (damaged, made otherwise, from another source, with other settings)
    needs ``--overwrite``."""
    path = store.prompt_path(target)
    if options.overwrite or not path.exists():
        check_writable(path, options.overwrite)
        return False
    adapter = options.method == TranslateMethod.ADAPTER
    try:
        artifact = store.load_prompt(target)
        info = artifact.info
        if info.kind != "translated" or info.source_prompt_sha256 != tensor_sha256(source.prompt):
            raise MptError(f"it is not translated from {store.prompt_path(options.source)} as it is now")
        if bool(info.language_adapter) != adapter:
            made = "without" if adapter else "with"
            raise MptError(f"it was made {made} an adapter of its own, not by --method {options.method}")
        translator = options.translator and target not in unpaired  # text alone trains no translator
        if bool(info.translator) != translator:
            raise MptError(f"it was made {'without' if translator else 'with'} a translator")
        if adapter:
            store.language_adapter(artifact)
        if info.translator:
            TranslatorArtifact.load(store.translator_path(options.source, target), source.info)
    except MptError as exc:
        raise MptError(
            f"{path} already exists and is not a finished translation as asked: {exc}; pass --overwrite to replace it"
        ) from None
    if adapter:  # the prompt method trains only missing translators: its settings do not reach a finished language
        _check_settings(options, store, source, target, target not in unpaired, info.translation, callbacks)
    return True


def _check_settings(
    options: AlignOptions, store: PromptStore, source: PromptArtifact, target: str, paired: bool, made: dict | None,
    callbacks: Callbacks,
) -> None:
    """Refuse a language an earlier run trained with settings other than this run's: one folder, one set of
    settings. A prompt made before mpt recorded them is kept, with a note: what it was made with cannot be
    told, and refusing it would make a run that goes on across the update retrain every language it did."""
    path = store.prompt_path(target)
    if made is None:
        callbacks.on_stage(
            f"note: {path} was made before mpt recorded the settings a language is trained with, so they are not "
            "compared with this run's; --overwrite retrains it"
        )
        return
    task = store.task_of(source, options.task)
    corpus = load_parallel(options.parallel, options.source, target, task, options.max_pairs, options.seed) if paired else None
    asked = language_settings(options, corpus, language_text(options.text, target) if options.text else None)
    differ = [key for key in made | asked if made.get(key) != asked.get(key)]
    if differ:
        raise MptError(
            f"{path} was made with {_spelt(made, differ)}; this run asks {_spelt(asked, differ)}; pass --overwrite to retrain it"
        )


def language_settings(options: AlignOptions, corpus: ParallelCorpus | None, text: LanguageText | None = None) -> dict:
    """The settings that shape a language's files besides the source prompt (training, pairs, adapter,
    translator, the masked-LM term and its ``text``), flat, named after their options, as JSON values: what
    the adapter method records in a language's prompt, and compares before it keeps one an earlier run
    finished. The scoring on dev data is left out: it shapes nothing, and so is the masked-LM term while it
    is off, as it was before it existed."""
    translator = {"translator_width": options.width, "residual": options.residual, "translator_init": options.init}
    config = language_config(options.align, paired=corpus is not None)
    align = {key: value for key, value in asdict(config).items() if key not in config.without_effect()}
    if config.mlm_weight == 0:
        del align["mlm_weight"]  # off, as before the term existed
    elif text is not None:
        align["text_sha256"] = text.sha256
    settings = {
        **align,
        "corpus_sha256": corpus and corpus.sha256, "max_pairs": options.max_pairs, "heldout": options.heldout,
        "seed": options.seed,
        **{f"adapter_{name}": value for name, value in options.adapter.to_json().items()},
        **(translator if options.translator and corpus is not None else {}),
    }  # fmt: skip
    return json.loads(json.dumps(settings))  # as a file gives them back: choices as text, tuples as lists


def _spelt(settings: dict, keys: list[str]) -> str:
    """``epochs 1, max-pairs 1000``: the ``keys`` of ``settings`` as their options are spelt."""

    def value(key: str) -> str:
        found = settings.get(key)
        if isinstance(found, bool) or found is None:
            return {True: "on", False: "off", None: "none"}[found]
        if key.endswith("sha256"):  # a corpus's content
            return found[:12]
        return ",".join(found) if isinstance(found, list) else str(found)

    return ", ".join(f"{key.replace('_', '-')} {value(key)}" for key in keys)


def _translate_with_adapters(options: AlignOptions, store: PromptStore, callbacks: Callbacks) -> list[TranslatedPrompt]:
    """Train and write each language on its own (launched processes deal the languages out); a language
    that fails is reported, what it held is let go, and the others go on."""
    leftovers = {target for target in options.targets if options.translator and _left_by_a_stopped_run(options, store, target)}
    if options.translator:
        for target in (t for t in options.targets if t not in leftovers):
            check_writable(store.translator_path(options.source, target), options.overwrite)
    prepared = prepare(options, store, callbacks)
    group = processes(options.cpu)
    dealt = group.deal(list(enumerate(options.targets, 1)))
    results, left = [], TimeLeft(len(dealt))  # this process's languages
    for position, (number, target) in enumerate(dealt):
        callbacks.on_stage(f"[{number}/{len(options.targets)}] {describe(target)}{left.before(position)}")
        later = [other for _, other in dealt[position + 1 :]]
        started = time.perf_counter()
        try:
            results.append(_write_language(options, prepared, target, later, target in leftovers, callbacks))
            left.done(time.perf_counter() - started)  # a failed language is no measure of the others
            continue
        except (MptError, torch.cuda.OutOfMemoryError) as exc:
            error = str(exc).splitlines()[0]
        # out of the except block, whose traceback held the language's optimizer and tensors: collect them, and
        # on a GPU give back the blocks the allocator keeps cached (after running out of memory, for the others)
        prepared.scorer.backbone.accelerator.free_memory()
        callbacks.on_stage(f"{describe(target)} failed: {error}; going on with the other languages")
        results.append(TranslatedPrompt(
            target, Outcome.FAILED, warning=prepared.warning(target), fit=prepared.fits[target], error=error
        ))  # fmt: skip
    return group.gather(results)


def _write_language(
    options: AlignOptions, prepared: Prepared, target: str, later: list[str], leftover: bool, callbacks: Callbacks
) -> TranslatedPrompt:
    """Train ``target`` and write its translator, adapter and prompt. ``later``: the languages this process
    trains after it; ``leftover``: its translator is a stopped run's, to replace."""
    with alone():
        trained = train_language(options, prepared, target, callbacks, later)
    translator = trained.report.translator
    if translator is not None:
        trained.translator.save(translator, options.overwrite or leftover)
    dev_accuracy = trained.report.dev_accuracy_translated
    settings = language_settings(options, prepared.corpora.get(target), prepared.texts.get(target))
    path = prepared.store.save_translated(
        prepared.source, target, trained.translated, translator, dev_accuracy, options.overwrite, trained.adapter, settings,
        trained.report.seconds, prepared.fits[target].to_json(),
    )
    return TranslatedPrompt(
        target, Outcome.WRITTEN, path, translator, trained.report, prepared.warning(target), prepared.fits[target]
    )


def _left_by_a_stopped_run(options: AlignOptions, store: PromptStore, target: str) -> bool:
    """A translator trained with an adapter, whose prompt is missing: a run stopped between writing the
    two left it, and going on from there replaces it (``mpt align`` writes translators without adapters)."""
    path = store.translator_path(options.source, target)
    if not path.is_file() or store.prompt_path(target).exists():
        return False
    try:
        return TranslatorArtifact.load(path).info.language_adapter is not None
    except MptError:  # damaged: not known to be mpt's, so --overwrite decides
        return False


def _translate_prompts(
    options: AlignOptions, store: PromptStore, source: PromptArtifact, callbacks: Callbacks
) -> list[TranslatedPrompt]:
    """Apply the translators to the source prompt, training the missing ones first."""
    missing = [t for t in options.targets if not store.translator_path(options.source, t).is_file()]
    aligned = {}
    if missing:
        callbacks.on_stage(f"no translator yet for {', '.join(missing)}: running the alignment first")
        aligned = {r.target: r for r in align(replace(options, targets=tuple(missing)), callbacks)}
    if not processes(options.cpu).is_main:  # launched: the main process wrote the translators and writes the prompts
        return []
    written = []
    for target in options.targets:
        path = store.translator_path(options.source, target)
        artifact = TranslatorArtifact.load(path, source.info)
        if artifact.info.source_prompt_sha256 != tensor_sha256(source.prompt):
            raise MptError(
                f"{path} was trained for another {options.source} prompt ({store.prompt_path(options.source)} changed since); "
                f"run `mpt align --to {target} --overwrite`"
            )
        if artifact.info.language_adapter is not None:
            raise MptError(
                f"{path} was trained with a {target} adapter, for the adapter method; "
                f"use `mpt translate --to {target} --method adapter --overwrite`, or `mpt align --to {target} --overwrite`"
            )
        translator = PromptTranslator(TranslatorConfig(**artifact.info.architecture))
        translator.load_state_dict(artifact.weights)
        with torch.no_grad():
            prompt = translator(artifact.source_prompt)
        dev_accuracy = artifact.info.dev.get("translated_accuracy")
        saved = store.save_translated(source, target, prompt, path, dev_accuracy, options.overwrite)
        written.append(TranslatedPrompt(target, Outcome.WRITTEN, saved, path, aligned.get(target)))
    return written
