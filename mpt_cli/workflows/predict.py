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


@dataclass(frozen=True)
class PredictOptions:
    lang: str | None = None  # one language for every row...
    lang_column: str | None = None  # ...or a column naming each row's language
    source: str = DEFAULT_SOURCE
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    model: str | None = None
    task: str | None = None  # checked against the prompts' task when given
    output_format: str | None = None  # default: the input's format
    chunk_size: int = 2048
    batch_size: int = EVAL_BATCH_SIZE
    cpu: bool = False

    def __post_init__(self):
        require_positive(batch_size=self.batch_size, chunk_size=self.chunk_size)
        if (self.lang is None) == (self.lang_column is None):
            raise MptError("give either --lang (one language for every row) or --lang-column (a language per row)")
        if self.lang is not None:
            object.__setattr__(self, "lang", normalise(self.lang))
        if self.output_format is not None:
            object.__setattr__(self, "output_format", RowFormat.parse(self.output_format, "output format"))


@dataclass
class PredictSummary:
    rows: int = 0
    languages: Counter = field(default_factory=Counter)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def predict(
    options: PredictOptions, reader: RowReader, write: Callable[[str], None], callbacks: Callbacks | None = None
) -> PredictSummary:
    """Read ``reader`` in chunks, label every row, and ``write`` each output line in input order. The
    backbone loads when the first chunk has been read and checked."""
    callbacks = callbacks or Callbacks()
    prompts = PromptSet(options.prompts_dir, options.source, options.model, options.cpu, options.task)
    table: dict[str, int] = {}  # language -> row of ``stacked``
    stacked: list[torch.Tensor] = []
    routes: dict[str, str | None] = {}  # language -> the adapter its rows go through
    output_format = options.output_format or reader.fmt
    summary = PredictSummary()
    for chunk in reader.chunks(options.chunk_size, prompts.task):
        if summary.rows == 0 and output_format == RowFormat.TSV and reader.header:
            write("\t".join([*reader.header, "prediction", *(f"p_{label}" for label in prompts.task.labels)]) + "\n")
        languages = [row.lang or options.lang for row in chunk]
        if not table:
            callbacks.on_stage(f"loading the backbone of the prompts in {options.prompts_dir}")
        for lang in dict.fromkeys(languages):
            if lang not in table:
                chosen = prompts.for_language(lang)
                table[lang], routes[lang] = len(stacked), chosen.route
                stacked.append(chosen.artifact.prompt)
        # one prompt and one adapter per row: a gather from the table, so mixed languages share every batch
        prompt = torch.stack(stacked)[torch.tensor([table[lang] for lang in languages])]  # [N, P, H]
        route = [routes[lang] for lang in languages] if any(routes.values()) else None
        encoded = prompts.scorer.encode([r.texts for r in chunk])
        probs = prompts.scorer.probabilities(prompt, encoded, options.batch_size, route=route)
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
