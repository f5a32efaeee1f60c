"""The teacher of alignment: the source run's mask states on the source side of parallel pairs.

With ``p_S`` fixed the states are computed once per distinct source-side input and shared by the target
languages of a run that read it, until the last of them is done (:class:`TeacherStates`); while ``p_S``
learns they are recomputed for each batch.
"""

from __future__ import annotations

import hashlib
from array import array

import torch

from ..template import EncodedExample
from .backbone import Backbone
from .batching import by_length, collate


class TeacherStates:
    """The teacher's mask states, ``[H]`` per distinct source-side input, for one fixed source prompt ``p_S``
    on the frozen backbone (never through a language adapter): each input is computed once and kept until
    :meth:`release`, so a target language reuses the rows its English side shares with the languages
    before it that are still kept.

    A parallel corpus is often parallel across languages (XNLI's training set, FLORES, SIB-200): every
    language then has the same English side, and the teacher pass runs once for the whole run. An input
    is keyed by its token ids and slot positions, which is all the teacher reads. The states are kept on
    the CPU (``H`` floats per distinct input: 25 MB for 8,000 inputs at ``H = 768``); the caller releases
    those no later language reads, so that what is kept does not grow with the number of languages.
    """

    def __init__(self, backbone: Backbone, batch_size: int):
        self.backbone, self.batch_size = backbone, batch_size
        self.prompt: torch.Tensor | None = None  # [P, H]: the one of the first call, which every later call must pass
        self.kept: dict[bytes, torch.Tensor] = {}  # input key -> its state [H], on the CPU

    @torch.no_grad()
    def states(self, examples: list[EncodedExample], prompt: torch.Tensor) -> torch.Tensor:
        """The states of ``examples``, ``[N, H]`` on the backbone's device, computing those not kept yet (in
        length-sorted batches among themselves). ``prompt``: ``p_S``, the same at every call."""
        prompt = prompt.detach().to(self.backbone.device)
        if self.prompt is None:
            self.prompt = prompt
        elif not torch.allclose(prompt, self.prompt, rtol=1e-5, atol=1e-6):  # a fixed encoder's output: within rounding
            raise ValueError("these teacher states belong to another source prompt")
        keys = [_input_key(example) for example in examples]
        new = list({key: row for row, key in enumerate(keys) if key not in self.kept}.values())  # one row per input
        for chunk in by_length([examples[row] for row in new], self.batch_size):
            computed = _teacher_pass(self.backbone, [examples[new[i]] for i in chunk], self.prompt).cpu()
            # a copy of each row: a row left a view would hold its whole batch after the others are released
            self.kept.update((keys[new[i]], state.clone()) for i, state in zip(chunk, computed, strict=True))
        return torch.stack([self.kept[key] for key in keys]).to(self.backbone.device)

    def release(self, examples: list[EncodedExample]) -> None:
        """Let the states of ``examples`` go (those not kept are no matter): no language to come reads them."""
        for example in examples:
            self.kept.pop(_input_key(example), None)


class Teacher:
    """Source-side mask states ``[N, H]`` for parallel pairs: recomputed for each batch while ``p_S`` learns,
    and taken once from ``shared`` (or states of its own) when ``p_S`` is fixed."""

    def __init__(self, backbone: Backbone, examples: list[EncodedExample], batch_size: int,
                 shared: TeacherStates | None = None):  # fmt: skip
        self.backbone, self.examples, self.batch_size, self.shared = backbone, examples, batch_size, shared
        self.cache: torch.Tensor | None = None

    @torch.no_grad()
    def states(self, rows: list[int], source_prompt: torch.Tensor, cached: bool) -> torch.Tensor:
        if not cached:
            return self._compute(rows, source_prompt)
        if self.cache is None:
            shared = self.shared or TeacherStates(self.backbone, self.batch_size)
            self.cache = shared.states(self.examples, source_prompt)
        return self.cache[rows]

    def _compute(self, rows: list[int], source_prompt: torch.Tensor) -> torch.Tensor:
        return _teacher_pass(self.backbone, [self.examples[r] for r in rows], source_prompt)


def _teacher_pass(backbone: Backbone, examples: list[EncodedExample], source_prompt: torch.Tensor) -> torch.Tensor:
    """One forward pass of the source side: mask states ``[len(examples), H]``."""
    batch = collate(examples, list(range(len(examples))), backbone.tokenizer.pad_token_id, source_prompt.shape[0])
    return backbone.mask_states(batch.to(backbone.device), source_prompt)


def _input_key(example: EncodedExample) -> bytes:
    """What identifies an input to the teacher: a digest of its token ids and its slot positions."""
    ids = array("q", [example.soft_start, example.mask_position, *example.input_ids])
    return hashlib.blake2b(ids.tobytes(), digest_size=16).digest()
