"""Verbalizers: label words per class, read at the mask, and the vocabulary pieces that spell them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import MptError


@dataclass(frozen=True)
class LabelWords:
    """The vocabulary pieces of the label words, and how they make one logit per label.

    ``piece_ids`` ``[M]`` are the distinct pieces of all words. ``weights`` ``[C, M]`` averages each
    label's pieces, so a label's logit is the mean logit of its pieces (with several words, the mean of
    its words' logits); None when every label is one word of one piece and label ``c`` is piece ``c``
    (the logits are then taken as they are, as before words could be split). At one mask every piece
    shares the softmax normaliser, so the mean logit ranks and normalises labels exactly as the mean
    log-probability of their pieces does.
    """

    piece_ids: torch.Tensor  # [M]
    weights: torch.Tensor | None = None  # [C, M]

    def __len__(self) -> int:
        return len(self.piece_ids) if self.weights is None else self.weights.shape[0]

    def to(self, device) -> LabelWords:
        return LabelWords(self.piece_ids.to(device), None if self.weights is None else self.weights.to(device))

    def combine(self, piece_logits: torch.Tensor) -> torch.Tensor:
        """``[B, M]`` logits of the pieces to ``[B, C]`` logits of the labels."""
        return piece_logits if self.weights is None else piece_logits @ self.weights.t()


ALTERNATIVES = "|"  # "true|wahr|vrai": several words for one label, read together (as DPA's multilingual verbalizer)


@dataclass(frozen=True)
class Verbalizer:
    """Label words in the task's label order (the task owns their defaults and presets). A label may have
    several words, joined by ``|``; its logit is then the mean of theirs."""

    words: tuple[str, ...]

    def label_words(self, tokenizer) -> LabelWords:
        """The pieces of every word; a word the tokenizer cannot spell, or two labels alike, is one clear error."""
        spelled = [tuple(_pieces(tokenizer, word.strip()) for word in label.split(ALTERNATIVES)) for label in self.words]
        if len(set(spelled)) != len(spelled):
            raise MptError(f"label words {', '.join(self.words)} map to the same tokens; choose distinct words")
        if all(len(words) == 1 and len(words[0]) == 1 for words in spelled):
            return LabelWords(torch.tensor([words[0][0] for words in spelled]))
        piece_ids = sorted({piece for words in spelled for pieces in words for piece in pieces})
        column = {piece: i for i, piece in enumerate(piece_ids)}
        weights = torch.zeros(len(spelled), len(piece_ids))
        for label, words in enumerate(spelled):
            for pieces in words:
                for piece in pieces:
                    weights[label, column[piece]] += 1 / (len(words) * len(pieces))
        return LabelWords(torch.tensor(piece_ids), weights)

    def __str__(self) -> str:
        return ",".join(self.words)


def _pieces(tokenizer, word: str) -> tuple[int, ...]:
    pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
    if not pieces or (tokenizer.unk_token_id is not None and tokenizer.unk_token_id in pieces):
        raise MptError(f"label word {word!r} cannot be encoded by this tokenizer (it becomes unknown pieces)")
    return tuple(pieces)
