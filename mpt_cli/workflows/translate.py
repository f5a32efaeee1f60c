"""``mpt translate``: apply the translators to the source prompt, training the missing ones first."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..artifacts import TranslatorArtifact
from ..callbacks import Callbacks
from ..engine.distributed import processes
from ..engine.translator import PromptTranslator, TranslatorConfig
from ..errors import MptError
from ..fileformat import tensor_sha256
from ..outputs import check_writable
from ..store import PromptStore
from .align import AlignOptions, LanguageAlignment, align


@dataclass
class TranslatedPrompt:
    target: str
    path: Path
    translator: Path
    alignment: LanguageAlignment | None  # when its translator was trained by this call


def translate(options: AlignOptions, callbacks: Callbacks | None = None) -> list[TranslatedPrompt]:
    """Write ``{target}.safetensors`` for every target, training the missing translators first."""
    callbacks = callbacks or Callbacks()
    store = PromptStore(options.prompts_dir)
    source = store.open_source(options.source)
    for target in options.targets:
        check_writable(store.prompt_path(target), options.overwrite)
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
        translator = PromptTranslator(TranslatorConfig(**artifact.info.architecture))
        translator.load_state_dict(artifact.weights)
        with torch.no_grad():
            prompt = translator(artifact.source_prompt)
        dev_accuracy = artifact.info.dev.get("translated_accuracy")
        saved = store.save_translated(source, target, prompt, path, dev_accuracy, options.overwrite)
        written.append(TranslatedPrompt(target, saved, path, aligned.get(target)))
    return written
