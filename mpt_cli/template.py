"""Cloze templates: turn a premise/hypothesis pair into token ids with soft slots and a mask.

A template such as ``{premise} . {hypothesis} ? {soft} {mask} .`` is split into literal text and
placeholders. Each piece is tokenized on its own, so the positions of the soft tokens and of the mask
are known exactly; when the pair is too long only the premise and hypothesis are shortened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MptError

DEFAULT_TEMPLATE = "{premise} . {hypothesis} ? {soft} {mask} ."
PLACEHOLDERS = ("premise", "hypothesis", "soft", "mask")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class EncodedExample:
    """Token ids of one filled template; ``input_ids[soft_start : soft_start + P]`` are soft slots."""

    input_ids: list[int]
    soft_start: int
    mask_position: int


def parse_template(template: str) -> list[tuple[str, str]]:
    """Split a template into ``("text", literal)`` and ``("slot", name)`` pieces, validating it."""
    pieces, position = [], 0
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in PLACEHOLDERS:
            raise MptError(f"template placeholder {match.group(0)} is unknown; use {{premise}} {{hypothesis}} {{soft}} {{mask}}")
        pieces.append(("text", template[position : match.start()]))
        pieces.append(("slot", match.group(1)))
        position = match.end()
    pieces.append(("text", template[position:]))
    for name in PLACEHOLDERS:
        count = sum(1 for kind, value in pieces if kind == "slot" and value == name)
        if count != 1:
            raise MptError(f"template must contain {{{name}}} exactly once, found it {count} times: {template!r}")
    return [(kind, value) for kind, value in pieces if kind == "slot" or value.strip()]


class TemplateEncoder:
    """Encodes pairs for one tokenizer: ``encode(premises, hypotheses) -> list[EncodedExample]``."""

    def __init__(self, template: str, tokenizer, prompt_length: int, max_length: int):
        if prompt_length < 1:
            raise MptError(f"prompt length must be at least 1, got {prompt_length}")
        self.template = template
        self.prompt_length = prompt_length
        self.max_length = max_length
        self.soft_id = tokenizer.unk_token_id  # any real id: its embedding is replaced by the prompt
        self.mask_id = tokenizer.mask_token_id
        if self.mask_id is None:
            raise MptError("the tokenizer has no mask token; mpt needs a masked language model")
        self._tokenizer = tokenizer
        self._prefix, self._suffix = _special_tokens_around(tokenizer)
        self._pieces = [
            (kind, self._tokenize([value.strip()])[0] if kind == "text" else value) for kind, value in parse_template(template)
        ]
        fixed = len(self._prefix) + len(self._suffix) + prompt_length + 1
        fixed += sum(len(value) for kind, value in self._pieces if kind == "text")
        self.text_budget = max_length - fixed
        if self.text_budget < 2:
            raise MptError(f"max length {max_length} leaves no room for the premise and hypothesis in template {template!r}")

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return self._tokenizer(texts, add_special_tokens=False)["input_ids"]

    def encode(self, premises: list[str], hypotheses: list[str]) -> list[EncodedExample]:
        return [
            self._assemble(*_truncate_longest_first(p, h, self.text_budget))
            for p, h in zip(self._tokenize(list(premises)), self._tokenize(list(hypotheses)), strict=True)
        ]

    def _assemble(self, premise: list[int], hypothesis: list[int]) -> EncodedExample:
        ids = list(self._prefix)
        soft_start = mask_position = -1
        for kind, value in self._pieces:
            if kind == "text":
                ids += value
            elif value == "premise":
                ids += premise
            elif value == "hypothesis":
                ids += hypothesis
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


def _truncate_longest_first(a: list[int], b: list[int], budget: int) -> tuple[list[int], list[int]]:
    """Drop tokens from the end of the longer sequence until both fit in ``budget`` together."""
    keep_a, keep_b = len(a), len(b)
    while keep_a + keep_b > budget:
        if keep_a >= keep_b:
            keep_a -= 1
        else:
            keep_b -= 1
    return a[:keep_a], b[:keep_b]
