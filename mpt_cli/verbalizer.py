"""Verbalizers: one label word per class, read at the mask, and the vocabulary pieces that spell them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import MptError


@dataclass(frozen=True)
class LabelWords:
    """The vocabulary pieces of the label words, and how they make one logit per label.

    ``piece_ids`` ``[M]`` are the distinct pieces of all words. ``weights`` ``[C, M]`` averages each
    label's pieces, so a label's logit is the mean logit of its pieces; None when every word is one
    piece and label ``c`` is piece ``c`` (the logits are then taken as they are, as before words could
    be split). At one mask every piece shares the softmax normaliser, so the mean logit ranks and
    normalises labels exactly as the mean log-probability of their pieces does.
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


@dataclass(frozen=True)
class Verbalizer:
    """Label words in the task's label order (the task owns their defaults and presets)."""

    words: tuple[str, ...]

    def label_words(self, tokenizer) -> LabelWords:
        """The pieces of every word; a word the tokenizer cannot spell, or two words alike, is one clear error."""
        spelled = []
        for word in self.words:
            pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
            if not pieces or (tokenizer.unk_token_id is not None and tokenizer.unk_token_id in pieces):
                raise MptError(f"label word {word!r} cannot be encoded by this tokenizer (it becomes unknown pieces)")
            spelled.append(tuple(pieces))
        if len(set(spelled)) != len(spelled):
            raise MptError(f"label words {', '.join(self.words)} map to the same tokens; choose distinct words")
        if all(len(pieces) == 1 for pieces in spelled):
            return LabelWords(torch.tensor([pieces[0] for pieces in spelled]))
        piece_ids = sorted({piece for pieces in spelled for piece in pieces})
        weights = torch.zeros(len(spelled), len(piece_ids))
        for label, pieces in enumerate(spelled):
            for piece in pieces:
                weights[label, piece_ids.index(piece)] += 1 / len(pieces)
        return LabelWords(torch.tensor(piece_ids), weights)

    def __str__(self) -> str:
        return ",".join(self.words)
