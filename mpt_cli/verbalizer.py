"""Verbalizers: one label word per class, read at the mask."""

from __future__ import annotations

from dataclasses import dataclass

from .data import LABELS
from .errors import MptError

PRESETS: dict[str, tuple[str, str, str]] = {
    "yes-maybe-no": ("yes", "maybe", "no"),
    "right-maybe-wrong": ("right", "maybe", "wrong"),
    "true-maybe-false": ("true", "maybe", "false"),
}
# Chosen on dev-en (e5-mlm, 64 shots, --tune full, seeds 1-3): 49.9% against 47.4% for yes-maybe-no (README).
DEFAULT_VERBALIZER = "true-maybe-false"


@dataclass(frozen=True)
class Verbalizer:
    """Label words in XNLI label order: entailment, neutral, contradiction."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, spec: str) -> Verbalizer:
        """A preset name (``yes-maybe-no``) or three comma-separated words in label order."""
        if spec in PRESETS:
            return cls(PRESETS[spec])
        words = tuple(word.strip() for word in spec.split(","))
        if len(words) != len(LABELS) or not all(words):
            presets = ", ".join(PRESETS)
            raise MptError(f"verbalizer {spec!r} must be a preset ({presets}) or three words for {', '.join(LABELS)}")
        return cls(words)

    def token_ids(self, tokenizer) -> list[int]:
        """One vocabulary id per label; fails clearly when a word is not a single token."""
        ids = []
        for word in self.words:
            pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
            if len(pieces) != 1:
                shown = " ".join(tokenizer.convert_ids_to_tokens(pieces))
                raise MptError(
                    f"label word {word!r} is {len(pieces)} tokens ({shown}) in this tokenizer; choose single-token words"
                )
            ids.append(pieces[0])
        if len(set(ids)) != len(ids):
            raise MptError(f"label words {', '.join(self.words)} map to the same token; choose distinct words")
        return ids

    def __str__(self) -> str:
        return ",".join(self.words)
