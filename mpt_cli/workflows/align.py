"""``mpt align``: train one prompt translator per target language on parallel data (two-stage MPT).

The training of one language (:mod:`.language_training`) is shared with ``mpt translate``, whose adapter
method trains the language's own adapter along with its translator.
"""

from __future__ import annotations

from dataclasses import replace

from ..callbacks import Callbacks
from ..engine.distributed import processes
from ..errors import MptError
from ..outputs import check_writable
from ..store import PromptStore
from .align_options import AlignOptions, TranslateMethod
from .language_preparation import prepare
from .language_training import LanguageAlignment, train_language


def align(options: AlignOptions, callbacks: Callbacks | None = None) -> list[LanguageAlignment]:
    """Train one translator per target language and save it; report held-out KL and dev accuracy."""
    if options.method not in (None, TranslateMethod.PROMPT) or not options.translator:
        raise MptError("mpt align trains translators of prompts only; `mpt translate --method adapter` trains adapters")
    options = replace(options, method=TranslateMethod.PROMPT)
    callbacks = callbacks or Callbacks()
    store = PromptStore(options.prompts_dir)
    for target in options.targets:
        check_writable(store.translator_path(options.source, target), options.overwrite)
    prepared = prepare(options, store, callbacks)
    results = []
    for position, target in enumerate(options.targets):
        trained = train_language(options, prepared, target, callbacks, later=options.targets[position + 1 :])
        if processes(options.cpu).is_main:
            trained.translator.save(trained.report.translator, options.overwrite)
        results.append(trained.report)
    return results
