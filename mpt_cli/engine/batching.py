"""Batches: dynamic padding and batch order (length-sorted for inference, seeded shuffles for training,
optionally of rows of similar length), pieces of similar length on a CPU, and the masked-LM term's batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..template import EncodedExample

EVAL_BATCH_SIZE = 64  # examples per forward pass where nothing learns: dev scores, held-out KL, eval, predict
# batches a length-grouped epoch sorts together: 8 leaves 8% padding on XNLI's sentence pairs and 11% on
# SIB-200's sentences, against 46% and 59% in random batches of 16, while each batch is still drawn from
# 128 random rows (the whole set sorted at once would give the same batches every epoch)
POOL_BATCHES = 8
# what one more forward call costs on a CPU, in padded tokens: the fixed work of a call through every layer.
# A batch is cut into pieces of similar length where the padding a cut saves is worth more than this;
# chosen on e5-mlm on one thread, where a token costs about 0.3 ms and a call about 5 ms of overhead
PIECE_COST_TOKENS = 32
IGNORED = -100  # the label of a position the masked-LM term does not predict (cross entropy's ignore_index)


@dataclass
class Batch:
    """A padded batch. ``rows`` are the positions of its examples in the encoded list."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    soft_positions: torch.Tensor  # [B, P]
    mask_positions: torch.Tensor  # [B]
    rows: torch.Tensor  # [B]
    labels: torch.Tensor | None = None  # [B]

    def to(self, device) -> Batch:
        move = lambda t: None if t is None else t.to(device)
        return Batch(*(move(getattr(self, name)) for name in self.__dataclass_fields__))

    def select(self, positions: torch.Tensor) -> Batch:
        """The rows at ``positions`` (``[b]``, positions in this batch), padded only to the longest of them."""
        mask = self.attention_mask[positions]
        width = int(mask.sum(-1).max())
        return Batch(
            input_ids=self.input_ids[positions, :width],
            attention_mask=mask[:, :width],
            soft_positions=self.soft_positions[positions],
            mask_positions=self.mask_positions[positions],
            rows=self.rows[positions],
            labels=None if self.labels is None else self.labels[positions],
        )

    def pieces(self, piece_cost: int = PIECE_COST_TOKENS) -> list[torch.Tensor]:
        """Positions of the rows cut into pieces of similar length, each padded only to its own longest:
        the cuts minimise the padded tokens plus ``piece_cost`` per piece (one piece, the whole batch, where
        cutting saves nothing). The rows and the order within each piece are the batch's; nothing in what
        a row computes depends on the others, so the pieces give the batch's outputs."""
        lengths = self.attention_mask.sum(-1).tolist()
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        # best[i]: the least cost of the i shortest rows; a piece ending at row i-1 is as wide as that row
        best, cut = [0.0] + [float("inf")] * len(order), [0] * (len(order) + 1)
        for end in range(1, len(order) + 1):
            width = lengths[order[end - 1]]
            for start in range(end):
                cost = best[start] + width * (end - start) + piece_cost
                if cost < best[end]:
                    best[end], cut[end] = cost, start
        bounds, end = [], len(order)
        while end:
            bounds.append((cut[end], end))
            end = cut[end]
        return [torch.tensor(sorted(order[start:end])) for start, end in reversed(bounds)]


@dataclass
class MaskedBatch:
    """Sentences with some pieces chosen for the masked-LM term (:mod:`.masked_lm`), padded right."""

    input_ids: torch.Tensor  # [B, T], the chosen pieces masked or replaced
    attention_mask: torch.Tensor  # [B, T]
    labels: torch.Tensor  # [B, T]: the original piece where one was chosen, IGNORED elsewhere
    vocabulary: torch.Tensor  # [V_l], sorted: the pieces the prediction chooses among (every label is one)

    def to(self, device) -> MaskedBatch:
        return MaskedBatch(*(getattr(self, name).to(device) for name in self.__dataclass_fields__))


def collate(
    encoded: list[EncodedExample], rows: list[int], pad_id: int, prompt_length: int, labels: list[int] | None = None
) -> Batch:
    """Pad ``encoded[rows]`` to the longest among them (right padding)."""
    chosen = [encoded[r] for r in rows]
    width = max(len(ex.input_ids) for ex in chosen)
    input_ids = torch.full((len(chosen), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(chosen), width), dtype=torch.long)
    for i, ex in enumerate(chosen):
        input_ids[i, : len(ex.input_ids)] = torch.tensor(ex.input_ids)
        attention_mask[i, : len(ex.input_ids)] = 1
    soft_starts = torch.tensor([ex.soft_start for ex in chosen])
    return Batch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        soft_positions=soft_starts.unsqueeze(1) + torch.arange(prompt_length),
        mask_positions=torch.tensor([ex.mask_position for ex in chosen]),
        rows=torch.tensor(rows),
        labels=None if labels is None else torch.tensor([labels[r] for r in rows]),
    )


def by_length(encoded: list[EncodedExample], batch_size: int) -> list[list[int]]:
    """Row indices grouped into batches of similar length (longest first), for fast inference."""
    order = sorted(range(len(encoded)), key=lambda r: -len(encoded[r].input_ids))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def shuffled(
    count: int, batch_size: int, generator: torch.Generator, lengths: list[int] | None = None
) -> list[list[int]]:
    """One training epoch, seeded: a random permutation of ``range(count)`` cut into batches of ``batch_size``
    (the last may be smaller). With the rows' ``lengths``, rows of similar length share a batch: the
    permutation is cut into pools of :data:`POOL_BATCHES` batches, each pool sorted by length and cut, and
    the batches of all pools put in a random order: every batch still comes from random rows, with less
    padding."""
    order = torch.randperm(count, generator=generator).tolist()
    if lengths is None:
        return [order[i : i + batch_size] for i in range(0, count, batch_size)]
    pool_size = POOL_BATCHES * batch_size
    batches = []
    for start in range(0, count, pool_size):
        pool = sorted(order[start : start + pool_size], key=lambda row: lengths[row])  # stable: ties stay random
        batches.extend(pool[i : i + batch_size] for i in range(0, len(pool), batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def rows_of(per_row, rows: torch.Tensor):
    """The ``rows`` of a per-row prompt tensor (``[B, P, H]``) or route (one language per row); a prompt or
    route shared by every row is returned as it is."""
    if isinstance(per_row, torch.Tensor):
        return per_row[rows.to(per_row.device)] if per_row.dim() == 3 else per_row
    if per_row is None or isinstance(per_row, str):
        return per_row
    return [per_row[r] for r in rows.tolist()]
