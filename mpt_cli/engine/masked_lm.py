"""The masked-LM term of a language adapter: the language's own text, some of its pieces masked, predicted
through the adapter by the backbone's own MLM head (the head that scores the label words at the prompt's
mask), so that the adapter learns to read the language as well as to carry the task into it.

Masking follows BERT: a share of each sentence's pieces is chosen (special tokens never); of those, 80%
become the mask token, 10% a random piece, 10% stay as they are; the loss is the cross entropy of the
original pieces at the chosen positions. The prediction chooses among the pieces of the language's own
text (a few thousand of XLM-R's 250,002), not the whole vocabulary: projecting onto all of it tripled
the cost of a training step, while the pieces the text never uses would only be pushed down. A random
replacement is drawn from the same pieces. The term rides along with the
distillation of parallel pairs (:class:`.align.TranslatorLearner`), or, for a language with text and no
pairs, of its own sentences paired with themselves.
"""

from __future__ import annotations

import torch

from .batching import IGNORED, MaskedBatch

# of the chosen pieces: the share replaced by the mask token, and by a random piece (the rest stay)
MASKED_SHARE, RANDOM_SHARE = 0.8, 0.1


class TextBatches:
    """Sentences of one language, tokenised once (truncated to ``max_length``), drawn ``batch_size`` at a
    time in a seeded random order and masked with a seeded generator of their own: the same seed gives the
    same batches and masks, whatever else draws random numbers."""

    def __init__(self, tokenizer, sentences: list[str], max_length: int, batch_size: int, probability: float, seed: int):
        encoded = tokenizer(sentences, truncation=True, max_length=max_length, return_special_tokens_mask=True)
        # a sentence too short to have a piece to predict teaches nothing
        kept = [i for i, special in enumerate(encoded["special_tokens_mask"]) if len(special) > sum(special)]
        self.ids = [encoded["input_ids"][i] for i in kept]
        self.special = [encoded["special_tokens_mask"][i] for i in kept]
        self.pad_id, self.mask_id = tokenizer.pad_token_id, tokenizer.mask_token_id
        ordinary = {piece for ids, special in zip(self.ids, self.special) for piece, s in zip(ids, special) if not s}
        self.vocabulary = torch.tensor(sorted(ordinary))  # [V_l]
        self.batch_size, self.probability = batch_size, probability
        self.generator = torch.Generator().manual_seed(seed)
        self._order: list[int] = []

    def __len__(self) -> int:
        return len(self.ids)

    def next(self) -> MaskedBatch:
        """The next ``batch_size`` sentences of a pass in random order (a new pass when one ends), masked."""
        rows = []
        while len(rows) < min(self.batch_size, len(self.ids)):
            if not self._order:
                self._order = torch.randperm(len(self.ids), generator=self.generator).tolist()
            rows.append(self._order.pop())
        return self.masked(rows)

    def masked(self, rows: list[int]) -> MaskedBatch:
        """``rows`` padded to the longest of them, each with at least one piece chosen to predict."""
        width = max(len(self.ids[r]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        maskable = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, : len(self.ids[r])] = torch.tensor(self.ids[r])
            maskable[i, : len(self.ids[r])] = torch.tensor(self.special[r]) == 0
        attention = (torch.arange(width) < torch.tensor([len(self.ids[r]) for r in rows]).unsqueeze(1)).long()
        draw = torch.rand(ids.shape, generator=self.generator)
        chosen = maskable & (draw < self.probability)
        # a sentence with no piece drawn still predicts one: its first ordinary piece
        none = ~chosen.any(-1)
        chosen[none] = maskable[none] & (maskable[none].long().cumsum(-1) == 1)
        labels = torch.where(chosen, ids, torch.full_like(ids, IGNORED))
        how = torch.rand(ids.shape, generator=self.generator)
        inputs = ids.clone()
        inputs[chosen & (how < MASKED_SHARE)] = self.mask_id
        random_piece = chosen & (how >= MASKED_SHARE) & (how < MASKED_SHARE + RANDOM_SHARE)
        drawn = torch.randint(len(self.vocabulary), (int(random_piece.sum()),), generator=self.generator)
        inputs[random_piece] = self.vocabulary[drawn]
        return MaskedBatch(inputs, attention, labels, self.vocabulary)
