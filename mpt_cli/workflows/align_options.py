"""What ``mpt align`` and ``mpt translate`` are asked: one set of options for both commands, read and checked
once, here, before any data is read or model loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..choices import Choice
from ..data.given import GivenData, GivenPairs
from ..data.language_text import check_text
from ..data.parallel import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_PARALLEL,
    target_languages,
)
from ..engine.align import AlignConfig
from ..engine.language_adapter import AdapterConfig
from ..engine.translator import TranslatorConfig
from ..errors import MptError, require_positive, require_seed, unset_is_one
from ..languages import ALL, DEFAULT_SOURCE, AllLanguages, normalise
from ..store import DEFAULT_PROMPTS_DIR


class TranslateMethod(Choice):
    """What a target language gets besides the source run's model."""

    PROMPT = "prompt"  # two-stage MPT: a translated prompt only
    ADAPTER = "adapter"  # a translated prompt and an adapter of its own, distilled from the source run


@dataclass(frozen=True)
class AlignOptions:
    targets: tuple[str, ...] | AllLanguages = ALL  # codes, normalised here; ALL: every language the corpus pairs with the source
    source: str = DEFAULT_SOURCE
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    model: str | None = None  # default: the backbone recorded in the source prompt
    task: str | None = None  # checked against the source prompt's task when given
    data: str | GivenData | None = None  # few-shot (CE) data and default dev data; default: the source prompt's
    dev_data: str | GivenData | None = None  # default: the validation split of ``data``, where it has the language
    parallel: str | GivenPairs = DEFAULT_PARALLEL  # or, in Python, pairs by target language (data/given.py)
    text: str | None = None  # the target languages' own sentences for the masked-LM term (data/language_text.py)
    max_pairs: int | None = DEFAULT_MAX_PAIRS
    heldout: int = 200
    width: int | None = None
    residual: bool = False
    init: str = TranslatorConfig.init
    align: AlignConfig = field(default_factory=AlignConfig)
    method: TranslateMethod | None = None  # None: the command's own (align: prompt; translate: its default)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)  # with the adapter method
    translator: bool = True  # False: p_T = p_S, the adapter alone learns (the ablation)
    seed: int = 1
    max_dev_examples: int | None = None
    score_dev: bool = True  # score source and translated prompts on target dev data after training
    overwrite: bool = False
    cpu: bool = False

    def __post_init__(self):
        limits = {"max_pairs": unset_is_one(self.max_pairs), "max_dev_examples": unset_is_one(self.max_dev_examples)}
        require_positive(heldout=self.heldout, **limits)
        require_seed(self.seed)
        object.__setattr__(self, "source", normalise(self.source))
        object.__setattr__(self, "targets", target_languages(self.targets, self.source, self.parallel))
        if self.method is not None:
            object.__setattr__(self, "method", TranslateMethod.parse(self.method, "translation method"))
        if not self.translator and self.method == TranslateMethod.PROMPT:
            raise MptError("--no-translator needs --method adapter: without a translator or an adapter nothing would learn")
        if self.align.mlm_weight > 0 and self.method == TranslateMethod.PROMPT:
            raise MptError("--mlm-weight needs --method adapter: the masked-LM term trains the language's adapter")
        if self.text is not None:
            if self.align.mlm_weight == 0:
                raise MptError("--text feeds the masked-LM term, which is off: give it a weight with --mlm-weight (say 1)")
            check_text(self.text, self.targets)


