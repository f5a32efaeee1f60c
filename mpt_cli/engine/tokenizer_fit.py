"""How well the backbone's tokenizer reads a language, measured on the two sides of its parallel pairs.

Two signs that a prompt carried to the language will see little of its text:

- unknown pieces: what the vocabulary cannot spell becomes the one unknown token, and the model cannot
  tell those characters apart;
- many more pieces than the source side needs for the same sentences: the language is spelt in
  fragments, and ``max_length`` cuts its inputs off sooner. Both sides of a pair say the same thing, so
  this compares like with like, also for languages written without spaces between words (Thai,
  Chinese, Japanese), where pieces per whitespace word would flag every sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..languages import describe

UNKNOWN_SHARE_LIMIT = 0.01
"""A tokenizer trained on a script emits the unknown piece for a stray symbol now and then; one piece in a
hundred means letters of the language's script itself are missing from the vocabulary."""
UNREADABLE_SHARE = 0.25
"""A script the vocabulary lacks altogether: every letter is the unknown piece, and what the model sees is
the spaces, digits and punctuation between them. The six SIB-200 scripts XLM-R's vocabulary lacks (N'Ko,
Ol Chiki, Tifinagh, Tibetan) measure 47-49%; the next highest, Acehnese in Arabic script, 12%."""
PIECES_RATIO_LIMIT = 2.0
"""Languages a multilingual tokenizer was trained on take roughly as many pieces as English for the same
sentences, rarely more than half as many again; twice as many means the words are spelt in fragments."""
SAMPLE_PAIRS = 200
"""Enough pairs for steady figures, few enough that tokenising them takes a moment."""


@dataclass(frozen=True)
class TokenizerFit:
    unknown_share: float | None  # of the target side's pieces; None: the tokenizer has no unknown token
    pieces_ratio: float | None  # the target side's pieces per piece of the source side; None: no pairs to compare

    @property
    def unreadable(self) -> bool:
        """Whether the vocabulary lacks the language's script altogether."""
        return self.unknown_share is not None and self.unknown_share >= UNREADABLE_SHARE

    def to_json(self) -> dict:
        return {"unknown_share": self.unknown_share, "pieces_ratio": self.pieces_ratio}

    def warning(self, source: str, target: str) -> str | None:
        """One line naming the figures past their limit, or None when the tokenizer reads the language well."""
        if self.unreadable:
            return (
                f"the tokenizer cannot read the script of {describe(target)}: {self.unknown_share:.0%} of its pieces are "
                "unknown, so the model sees its spaces, digits and punctuation, not its words; no prompt or adapter "
                "changes that (a backbone whose tokenizer reads the script, or the text transliterated into a script it "
                "reads, would); expect chance"
            )
        problems = []
        if self.unknown_share is not None and self.unknown_share > UNKNOWN_SHARE_LIMIT:
            problems.append(f"{self.unknown_share:.1%} of its pieces are unknown (limit {UNKNOWN_SHARE_LIMIT:.0%})")
        if self.pieces_ratio is not None and self.pieces_ratio > PIECES_RATIO_LIMIT:
            problems.append(
                f"it takes {self.pieces_ratio:.1f}x the pieces of the {source} side for the same sentences "
                f"(limit {PIECES_RATIO_LIMIT:.1f}x)"
            )
        if not problems:
            return None
        return f"the tokenizer reads {describe(target)} badly: {'; '.join(problems)}; expect a weak transfer"


def tokenizer_fit(tokenizer, pairs) -> TokenizerFit:
    """Measure ``tokenizer`` on up to :data:`SAMPLE_PAIRS` parallel ``pairs`` (``.source`` and ``.target`` texts)."""
    sample = pairs[:SAMPLE_PAIRS]
    source = _pieces(tokenizer, [text for pair in sample for text in pair.source])
    target = _pieces(tokenizer, [text for pair in sample for text in pair.target])
    unknown = tokenizer.unk_token_id
    share = None if unknown is None else sum(piece == unknown for piece in target) / max(len(target), 1)
    return TokenizerFit(share, len(target) / max(len(source), 1))


def text_fit(tokenizer, sentences: list[str]) -> TokenizerFit:
    """The unknown share alone, for a language with text and no pairs to compare its length with."""
    pieces = _pieces(tokenizer, sentences[:SAMPLE_PAIRS])
    unknown = tokenizer.unk_token_id
    share = None if unknown is None else sum(piece == unknown for piece in pieces) / max(len(pieces), 1)
    return TokenizerFit(share, None)


def _pieces(tokenizer, texts: list[str]) -> list[int]:
    """The token ids of ``texts`` without the special tokens the model adds around an input."""
    return [piece for ids in tokenizer(texts, add_special_tokens=False)["input_ids"] for piece in ids]
