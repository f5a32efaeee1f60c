"""Streaming reader for a user's file of a task's texts (``mpt predict``): TSV or JSONL.

Rows keep every original field so the output can pass them through. Problems name the line number;
with ``skip_bad`` they are collected instead of raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from ..choices import Choice
from ..errors import MptError
from ..languages import normalise
from ..task import Task
from .examples import expected_columns, first_alias, header_columns
from .text import json_object


class RowFormat(Choice):
    """The formats ``mpt predict`` reads and writes."""

    TSV = "tsv"
    JSONL = "jsonl"


@dataclass
class InputRow:
    line: int
    original: list[str] | dict  # TSV fields or the JSON object, passed through to the output
    texts: tuple[str, ...]  # in the order of the task's inputs
    lang: str | None = None


@dataclass
class RowReader:
    """Iterate ``chunks(n)`` of :class:`InputRow`; ``header`` is set once the first line is read."""

    stream: BinaryIO
    name: str
    fmt: RowFormat = RowFormat.TSV
    lang_column: str | None = None  # a header name, a JSON key, or a 1-based column number
    skip_bad: bool = False
    header: list[str] | None = None
    skipped: list[tuple[int, str]] = field(default_factory=list)
    rows_read: int = 0
    bytes_read: int = 0

    def chunks(self, size: int, task: Task) -> Iterator[list[InputRow]]:
        """Rows of ``task``'s texts, ``size`` at a time."""
        chunk = []
        for row in self._rows(task):
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        if self.rows_read == 0:
            skipped = f" ({len(self.skipped)} bad rows skipped)" if self.skipped else ""
            raise MptError(f"{self.name} has no rows to label" + skipped)

    def _rows(self, task: Task) -> Iterator[InputRow]:
        positions: dict[str, int] | None = None
        pending_blank = None
        for number, raw in enumerate(self.stream, 1):
            self.bytes_read += len(raw)
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                self._bad(number, "not valid UTF-8")
                continue
            if number == 1:
                text = text.lstrip("\ufeff")
            if not text.strip():
                pending_blank = number  # only an error if more rows follow
                continue
            if pending_blank is not None:
                self._bad(pending_blank, "empty line")
                pending_blank = None
            try:
                if self.fmt == RowFormat.JSONL:
                    row = self._jsonl_row(task, number, text)
                else:
                    fields = text.split("\t")
                    if number == 1 and self.header is None and (found := header_columns(task, fields, f"{self.name} line 1")):
                        self.header, positions = fields, found
                        continue
                    row = self._tsv_row(task, number, fields, positions)
            except MptError as exc:
                if not self.skip_bad:
                    raise
                self.skipped.append((number, str(exc)))
                continue
            self.rows_read += 1
            yield row

    def _bad(self, number: int, reason: str) -> None:
        message = f"{self.name} line {number}: {reason}"
        if not self.skip_bad:
            raise MptError(message)
        self.skipped.append((number, message))

    def _tsv_row(self, task: Task, number: int, fields: list[str], positions: dict[str, int] | None) -> InputRow:
        where = f"{self.name} line {number}"
        inputs = task.inputs
        if positions is None:
            if len(fields) < len(inputs):
                raise MptError(f"{where}: expected {expected_columns(task, label=False)}, found no tab")
            texts = tuple(fields[: len(inputs)])
        else:
            missing = [c for c in inputs if positions[c] >= len(fields)]
            if missing:
                raise MptError(f"{where}: missing column {missing[0]!r}")
            texts = tuple(fields[positions[c]] for c in inputs)
        return InputRow(number, fields, texts, self._tsv_lang(where, fields))

    def _tsv_lang(self, where: str, fields: list[str]) -> str | None:
        if self.lang_column is None:
            return None
        if self.lang_column.isdigit():
            index = int(self.lang_column) - 1
        elif self.header and self.lang_column in self.header:
            index = self.header.index(self.lang_column)
        else:
            raise MptError(f"{self.name} has no column {self.lang_column!r} (use a header name or a column number)")
        if index >= len(fields):
            raise MptError(f"{where}: missing language column {self.lang_column!r}")
        return _row_language(where, fields[index])

    def _jsonl_row(self, task: Task, number: int, text: str) -> InputRow:
        where = f"{self.name} line {number}"
        record = json_object(text, where)
        texts = tuple(first_alias(record, column) for column in task.inputs)
        for column, value in zip(task.inputs, texts):
            if not isinstance(value, str):
                raise MptError(f"{where}: missing field {column!r}")
        lang = None
        if self.lang_column is not None:
            if self.lang_column not in record:
                raise MptError(f"{where}: missing field {self.lang_column!r}")
            lang = _row_language(where, str(record[self.lang_column]))
        return InputRow(number, record, texts, lang)


def _row_language(where: str, value: str) -> str:
    try:
        return normalise(value)
    except MptError as exc:
        raise MptError(f"{where}: {exc}") from None
