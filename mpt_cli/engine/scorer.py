"""What always travels together to score a prompt: the backbone, the template encoder and the label words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..data import NLIExample
from ..metrics import Scores, score
from ..template import EncodedExample, TemplateEncoder
from .backbone import Backbone
from .batching import EVAL_BATCH_SIZE
from .inference import label_probabilities


@dataclass
class Scorer:
    backbone: Backbone
    template: TemplateEncoder
    label_ids: torch.Tensor  # [C]: one vocabulary id per label, in label order

    def encode(self, pairs: list[tuple[str, str]]) -> list[EncodedExample]:
        """Template inputs for (premise, hypothesis) pairs."""
        return self.template.encode([p for p, _ in pairs], [h for _, h in pairs])

    def probabilities(
        self, prompt: torch.Tensor, encoded: list[EncodedExample],
        batch_size: int = EVAL_BATCH_SIZE, on_batch: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Label probabilities ``[N, C]``; ``prompt`` is ``[P, H]``, or ``[N, P, H]`` for one per row."""
        return label_probabilities(self.backbone, encoded, prompt, self.label_ids, batch_size, on_batch)

    def score(
        self, prompt: torch.Tensor, examples: list[NLIExample],
        batch_size: int = EVAL_BATCH_SIZE, on_batch: Callable[[int], None] | None = None,
    ) -> tuple[Scores, torch.Tensor]:
        """Metrics and label probabilities ``[N, C]`` of ``prompt`` on labelled ``examples``."""
        probs = self.probabilities(prompt, self.encode([(e.premise, e.hypothesis) for e in examples]), batch_size, on_batch)
        return score([e.label for e in examples], probs.argmax(-1).tolist()), probs
