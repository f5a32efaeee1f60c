"""``mpt translate``: a prompt for every target language.

Two methods (:class:`TranslateMethod`). ``prompt`` (two-stage MPT) applies the translators to the source
prompt, training the missing ones first; every language then runs on the source run's model.
``adapter`` trains, for each language on its own, a translator and an adapter inside the model,
distilled from the source run (which stays frozen), and writes the language's prompt, adapter and
translator together. Languages are independent: launched processes take different languages, and
translating into one language never touches another's files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..artifacts import TranslatorArtifact
from ..callbacks import Callbacks
from ..engine.distributed import alone, own_errors, processes
from ..engine.translator import PromptTranslator, TranslatorConfig
from ..errors import MptError
from ..fileformat import tensor_sha256
from ..outputs import check_writable
from ..store import PromptStore
from .align import AlignOptions, LanguageAlignment, TranslateMethod, align, prepare, train_language

# chosen on dev: see docs/translation.md
DEFAULT_METHOD = TranslateMethod.ADAPTER


@dataclass
class TranslatedPrompt:
    target: str
    path: Path
    translator: Path | None  # None: p_T = p_S (the adapter method's ablation)
    alignment: LanguageAlignment | None  # when its translator was trained by this call


def translate(options: AlignOptions, callbacks: Callbacks | None = None) -> list[TranslatedPrompt]:
    """Write ``{target}.safetensors`` for every target, by ``options.method``."""
    callbacks = callbacks or Callbacks()
    options = replace(options, method=options.method or DEFAULT_METHOD)
    store = PromptStore(options.prompts_dir)
    for target in options.targets:
        check_writable(store.prompt_path(target), options.overwrite)
    if options.method == TranslateMethod.ADAPTER:
        return _translate_with_adapters(options, store, callbacks)
    return _translate_prompts(options, store, callbacks)


def _translate_with_adapters(options: AlignOptions, store: PromptStore, callbacks: Callbacks) -> list[TranslatedPrompt]:
    """Train and write each language on its own (launched processes deal the languages out)."""
    if options.translator:
        for target in options.targets:
            check_writable(store.translator_path(options.source, target), options.overwrite)
    prepared = prepare(options, store, callbacks)
    group = processes(options.cpu)
    written = []
    for target in group.deal(list(options.targets)):
        with alone(), own_errors(f"{options.source}->{target}"):
            trained = train_language(options, prepared, target, callbacks)
        translator = trained.report.translator
        if translator is not None:
            trained.translator.save(translator, options.overwrite)
        dev_accuracy = trained.report.dev_accuracy_translated
        path = store.save_translated(
            prepared.source, target, trained.translated, translator, dev_accuracy, options.overwrite, trained.adapter
        )
        written.append(TranslatedPrompt(target, path, translator, trained.report))
    everyone = {w.target: w for w in group.gather(written)}
    return [everyone[target] for target in options.targets] if group.is_main else []


def _translate_prompts(options: AlignOptions, store: PromptStore, callbacks: Callbacks) -> list[TranslatedPrompt]:
    """Apply the translators to the source prompt, training the missing ones first."""
    source = store.open_source(options.source)
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
        written.append(TranslatedPrompt(target, saved, path, aligned.get(target)))
    return written
