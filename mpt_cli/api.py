"""Label texts of any language from Python: :class:`Classifier` on a prompts folder (see docs/python.md).

Training, translating and evaluating are the workflows themselves (``mpt_cli.train_source`` and the rest);
this module adds what the command line does with files, ``mpt predict``, for lists of texts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .engine.batching import EVAL_BATCH_SIZE
from .errors import MptError
from .languages import DEFAULT_SOURCE, normalise
from .prompt_set import PromptSet
from .store import DEFAULT_PROMPTS_DIR
from .task import Task
from .workflows.predict import CHUNK_SIZE, Labeller

Row = str | Sequence[str]
"""One example: its text, or its texts in the order of the task's inputs (NLI: premise, hypothesis)."""


@dataclass(frozen=True)
class Prediction:
    label: str  # the most probable of the task's labels
    probabilities: dict[str, float]  # every label of the task, in the task's order
    language: str  # the language whose prompt labelled the row


class Classifier:
    """The prompts of a prompts folder on their backbone, ready to label rows of any of their languages.

    A language without a prompt of its own is labelled with the source prompt; that, and a prompt
    translated from an older source prompt, is said once as a Python warning and kept in :attr:`warnings`.
    """

    def __init__(self, prompts: PromptSet, lang: str | None = None, batch_size: int = EVAL_BATCH_SIZE):
        self._labeller = Labeller(prompts, batch_size)
        self._warned = 0
        self.lang = None if lang is None else normalise(lang)
        if self.lang is not None:
            self._labeller.add(self.lang)  # a missing prompt is said now, not at the first call
        self._warn()

    @classmethod
    def load(
        cls,
        prompts_dir: str | Path = DEFAULT_PROMPTS_DIR,
        lang: str | None = None,
        *,
        source: str = DEFAULT_SOURCE,
        model: str | None = None,
        task: str | None = None,
        cpu: bool = False,
        batch_size: int = EVAL_BATCH_SIZE,
        int8: bool = False,
    ) -> Classifier:
        """Load ``prompts_dir`` and the backbone its ``source`` prompt records (or ``model``, a local copy).

        ``lang``: the language of rows given without one; ``task``: checked against the prompts' task;
        ``int8``: the backbone's linear layers in int8, on the CPU (``mpt predict --int8``).
        """
        return cls(PromptSet(Path(prompts_dir), normalise(source), model, cpu, task, int8), lang, batch_size)

    @property
    def task(self) -> Task:
        return self._labeller.prompts.task

    @property
    def labels(self) -> tuple[str, ...]:
        """The task's labels, in the order of the probabilities."""
        return self.task.labels

    @property
    def warnings(self) -> list[str]:
        return self._labeller.prompts.warnings

    def predict(self, rows: Iterable[Row], lang: str | Sequence[str] | None = None) -> list[Prediction]:
        """Label ``rows``, in order: rows of different languages share the batches, and memory follows the
        batch and a chunk of rows' encodings, not the number of rows.

        ``lang``: one language for every row, or a list of one per row; by default the classifier's ``lang``.
        """
        if isinstance(rows, str):
            raise MptError("give a list of rows, not one text: predict([text]) or predict([(premise, hypothesis)])")
        texts = [self._texts(number, row) for number, row in enumerate(rows, 1)]
        languages = self._languages(lang, len(texts))
        labels, predictions = self.labels, []
        for start in range(0, len(texts), CHUNK_SIZE):  # the rows' encodings are held a chunk at a time
            chunk = slice(start, start + CHUNK_SIZE)
            probs = self._labeller.probabilities(texts[chunk], languages[chunk]).tolist()  # [chunk, C]
            predictions += [
                Prediction(labels[max(range(len(p)), key=p.__getitem__)], dict(zip(labels, p)), language)
                for p, language in zip(probs, languages[chunk])
            ]
        self._warn()
        return predictions

    def _texts(self, number: int, row: Row) -> tuple[str, ...]:
        texts = (row,) if isinstance(row, str) else tuple(row) if isinstance(row, (tuple, list)) else ()
        inputs = self.task.inputs
        if len(texts) != len(inputs) or not all(isinstance(text, str) for text in texts):
            raise MptError(
                f"row {number}: the {self.task.name} task takes {len(inputs)} text{'s' if len(inputs) > 1 else ''} "
                f"({', '.join(inputs)}), got {row!r}"
            )
        return texts

    def _languages(self, lang: str | Sequence[str] | None, count: int) -> list[str]:
        if lang is None:
            if self.lang is None:
                raise MptError("give the rows' language: Classifier.load(..., lang=...) or predict(rows, lang=...)")
            return [self.lang] * count
        if isinstance(lang, str):
            return [normalise(lang)] * count
        if len(lang) != count:
            raise MptError(f"lang has {len(lang)} languages for {count} rows: give one language per row")
        codes = {code: normalise(code) for code in set(lang)}
        return [codes[code] for code in lang]

    def _warn(self) -> None:
        """Say each warning the prompts gave since the last call once."""
        for message in self.warnings[self._warned :]:
            warnings.warn(message, stacklevel=3)
        self._warned = len(self.warnings)
