"""Cloze templates: turn an example's texts (one or two) into token ids with soft slots and a mask.

A template such as ``{premise} . {hypothesis} ? {soft} {mask} .`` is split into literal text and
placeholders: the task's inputs (``{premise}`` and ``{hypothesis}``, ``{text}``, ``{text1}`` and
``{text2}``), the soft prompt and the mask. Each piece is tokenized on its own, so the positions of the
soft tokens and of the mask are known exactly; when an example is too long only its texts are shortened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import MptError

CLOZE_SLOTS = ("soft", "mask")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class EncodedExample:
    """Token ids of one filled template; ``input_ids[soft_start : soft_start + P]`` are soft slots."""

    input_ids: list[int]
    soft_start: int
    mask_position: int


def parse_template(template: str, inputs: tuple[str, ...]) -> list[tuple[str, str]]:
    """Split a template into ``("text", literal)`` and ``("slot", name)`` pieces, validating it: each of
    the task's ``inputs``, ``{soft}`` and ``{mask}`` exactly once, nothing else."""
    placeholders = (*inputs, *CLOZE_SLOTS)
    pieces, position = [], 0
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in placeholders:
            known = " ".join(f"{{{name}}}" for name in placeholders)
            raise MptError(f"template placeholder {match.group(0)} is unknown; this task's template uses {known}")
        pieces.append(("text", template[position : match.start()]))
        pieces.append(("slot", match.group(1)))
        position = match.end()
    pieces.append(("text", template[position:]))
    for name in placeholders:
        count = sum(1 for kind, value in pieces if kind == "slot" and value == name)
        if count != 1:
            raise MptError(f"template must contain {{{name}}} exactly once, found it {count} times: {template!r}")
    return [(kind, value) for kind, value in pieces if kind == "slot" or value.strip()]


class TemplateEncoder:
    """Encodes examples for one tokenizer: ``encode(rows of texts) -> list[EncodedExample]``."""

    def __init__(self, template: str, tokenizer, prompt_length: int, max_length: int, inputs: tuple[str, ...]):
        if prompt_length < 1:
            raise MptError(f"prompt length must be at least 1, got {prompt_length}")
        self.template, self.inputs = template, tuple(inputs)
        self.prompt_length = prompt_length
        self.max_length = max_length
        self.soft_id = tokenizer.unk_token_id  # any real id: its embedding is replaced by the prompt
        self.mask_id = tokenizer.mask_token_id
        if self.mask_id is None:
            raise MptError("the tokenizer has no mask token; mpt needs a masked language model")
        self._tokenizer = tokenizer
        self._prefix, self._suffix = _special_tokens_around(tokenizer)
        self._pieces = [
            (kind, self._tokenize([value.strip()])[0] if kind == "text" else value)
            for kind, value in parse_template(template, self.inputs)
        ]
        fixed = len(self._prefix) + len(self._suffix) + prompt_length + 1
        fixed += sum(len(value) for kind, value in self._pieces if kind == "text")
        self.text_budget = max_length - fixed
        if self.text_budget < 2:
            raise MptError(f"max length {max_length} leaves no room for the texts in template {template!r}")

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return self._tokenizer(texts, add_special_tokens=False)["input_ids"]

    def encode(self, rows: Sequence[Sequence[str]]) -> list[EncodedExample]:
        """Each row holds the example's texts in the order of ``inputs``."""
        rows = list(rows)
        if any(len(row) != len(self.inputs) for row in rows):
            raise ValueError(f"every row needs {len(self.inputs)} texts ({', '.join(self.inputs)})")
        columns = [self._tokenize([row[i] for row in rows]) for i in range(len(self.inputs))] if rows else []
        return [
            self._assemble(dict(zip(self.inputs, _truncate_longest_first(list(texts), self.text_budget))))
            for texts in zip(*columns)
        ]

    def _assemble(self, texts: dict[str, list[int]]) -> EncodedExample:
        ids = list(self._prefix)
        soft_start = mask_position = -1
        for kind, value in self._pieces:
            if kind == "text":
                ids += value
            elif value in texts:
                ids += texts[value]
            elif value == "soft":
                soft_start = len(ids)
                ids += [self.soft_id] * self.prompt_length
            else:
                mask_position = len(ids)
                ids.append(self.mask_id)
        ids += self._suffix
        return EncodedExample(ids, soft_start, mask_position)


def _special_tokens_around(tokenizer) -> tuple[list[int], list[int]]:
    """The special ids a tokenizer puts before and after a single sequence (``<s>``/``</s>``, ``[CLS]``/``[SEP]``)."""
    bare = tokenizer("x", add_special_tokens=False)["input_ids"]
    full = tokenizer("x")["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    return [], []


def _truncate_longest_first(texts: list[list[int]], budget: int) -> list[list[int]]:
    """Drop tokens from the end of the longest text (the first of equals) until all fit in ``budget`` together."""
    keep = [len(t) for t in texts]
    while sum(keep) > budget:
        keep[keep.index(max(keep))] -= 1
    return [t[:k] for t, k in zip(texts, keep)]
