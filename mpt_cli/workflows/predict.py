"""``mpt predict``: label a user's rows of the task's texts, chunk by chunk, one prompt per row's language."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..callbacks import Callbacks
from ..data.rows import InputRow, RowFormat, RowReader
from ..engine.batching import EVAL_BATCH_SIZE
from ..errors import MptError, require_positive
from ..languages import DEFAULT_SOURCE, normalise
from ..prompt_set import PromptSet
from ..store import DEFAULT_PROMPTS_DIR
from ..task import Task

CHUNK_SIZE = 2048
"""Rows read, encoded and labelled at a time: what a call holds besides the batch being scored."""


@dataclass(frozen=True)
class PredictOptions:
    lang: str | None = None  # one language for every row...
    lang_column: str | None = None  # ...or a column naming each row's language
    source: str = DEFAULT_SOURCE
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    model: str | None = None
    task: str | None = None  # checked against the prompts' task when given
    output_format: str | None = None  # default: the input's format
    chunk_size: int = CHUNK_SIZE
    batch_size: int = EVAL_BATCH_SIZE
    cpu: bool = False
    int8: bool = False  # the encoder's linear layers in int8, on the CPU

    def __post_init__(self):
        require_positive(batch_size=self.batch_size, chunk_size=self.chunk_size)
        if (self.lang is None) == (self.lang_column is None):
            raise MptError("give either --lang (one language for every row) or --lang-column (a language per row)")
        if self.lang is not None:
            object.__setattr__(self, "lang", normalise(self.lang))
        object.__setattr__(self, "source", normalise(self.source))
        if self.output_format is not None:
            object.__setattr__(self, "output_format", RowFormat.parse(self.output_format, "output format"))


@dataclass
class PredictSummary:
    rows: int = 0
    languages: Counter = field(default_factory=Counter)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Labeller:
    """Label probabilities for rows of any languages at once, each row with its language's prompt (and adapter).

    Each language's prompt is looked up once (:meth:`PromptSet.for_language`) and kept for later rows.
    """

    def __init__(self, prompts: PromptSet, batch_size: int = EVAL_BATCH_SIZE):
        self.prompts, self.batch_size = prompts, batch_size
        self._table: dict[str, int] = {}  # language -> row of ``_stacked``
        self._stacked: list[torch.Tensor] = []  # each [P, H]
        self._routes: dict[str, str | None] = {}  # language -> the adapter its rows go through

    def add(self, lang: str) -> None:
        """Look up ``lang``'s prompt now (a missing one falls back to the source prompt, with a warning)."""
        if lang not in self._table:
            chosen = self.prompts.for_language(lang)
            self._table[lang], self._routes[lang] = len(self._stacked), chosen.route
            self._stacked.append(chosen.artifact.prompt)

    def probabilities(self, texts: list[tuple[str, ...]], languages: list[str]) -> torch.Tensor:
        """``[N, C]`` for N rows of the task's texts and their N languages (C: the task's labels)."""
        for lang in dict.fromkeys(languages):
            self.add(lang)
        # the table of prompts and each row's place in it: every batch gathers its rows' prompts, so mixed
        # languages share the batches without a copy of a prompt per row
        table = torch.stack(self._stacked)  # [L, P, H]
        prompt_of = torch.tensor([self._table[lang] for lang in languages])  # [N]
        route = [self._routes[lang] for lang in languages] if any(self._routes.values()) else None
        encoded = self.prompts.scorer.encode(texts)
        return self.prompts.scorer.probabilities(table, encoded, self.batch_size, route=route, prompt_of=prompt_of)


def predict(
    options: PredictOptions, reader: RowReader, write: Callable[[str], None], callbacks: Callbacks | None = None
) -> PredictSummary:
    """Read ``reader`` in chunks, label every row, and ``write`` each output line in input order. The
    backbone loads when the first chunk has been read and checked."""
    callbacks = callbacks or Callbacks()
    prompts = PromptSet(options.prompts_dir, options.source, options.model, options.cpu, options.task, options.int8)
    labeller = Labeller(prompts, options.batch_size)
    output_format = options.output_format or reader.fmt
    summary = PredictSummary()
    for chunk in reader.chunks(options.chunk_size, prompts.task):
        if summary.rows == 0 and output_format == RowFormat.TSV and reader.header:
            write("\t".join([*reader.header, "prediction", *(f"p_{label}" for label in prompts.task.labels)]) + "\n")
        languages = [row.lang or options.lang for row in chunk]
        if summary.rows == 0:
            callbacks.on_stage(f"loading the backbone of the prompts in {options.prompts_dir}")
        probs = labeller.probabilities([row.texts for row in chunk], languages)
        for row, row_probs in zip(chunk, probs.tolist()):
            write(_format(row, row_probs, prompts.task, output_format, reader.header))
        summary.rows += len(chunk)
        summary.languages.update(languages)
        callbacks.on_advance(reader.bytes_read)
    summary.skipped = reader.skipped
    summary.warnings = prompts.warnings
    return summary


def _format(row: InputRow, probs: list[float], task: Task, output_format: str, header: list[str] | None) -> str:
    label = task.labels[max(range(len(probs)), key=probs.__getitem__)]
    if output_format == RowFormat.TSV:
        values = row.original if isinstance(row.original, list) else [_tsv_value(v) for v in row.original.values()]
        return "\t".join([*values, label, *(f"{p:.4f}" for p in probs)]) + "\n"
    record = row.original if isinstance(row.original, dict) else _as_record(row.original, task, header)
    record = record | {"prediction": label, "probabilities": {name: round(p, 4) for name, p in zip(task.labels, probs)}}
    return json.dumps(record, ensure_ascii=False) + "\n"


def _tsv_value(value) -> str:
    """A JSON value as one TSV field: strings with tabs and line breaks turned into spaces, others as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.replace("\t", " ").splitlines())


def _as_record(fields: list[str], task: Task, header: list[str] | None) -> dict:
    names = header or [*task.inputs, *(f"column_{i}" for i in range(len(task.inputs) + 1, len(fields) + 1))]
    return dict(zip(names, fields))
