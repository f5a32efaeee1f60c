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
from .language_adapter import Route


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
        batch_size: int = EVAL_BATCH_SIZE, on_batch: Callable[[int], None] | None = None, route: Route = None,
    ) -> torch.Tensor:
        """Label probabilities ``[N, C]``; ``prompt`` is ``[P, H]``, or ``[N, P, H]`` for one per row, and
        ``route`` the language adapter of all rows or of each (None: the model as it is)."""
        return label_probabilities(self.backbone, encoded, prompt, self.label_ids, batch_size, on_batch, route)

    def score(
        self, prompt: torch.Tensor, examples: list[NLIExample],
        batch_size: int = EVAL_BATCH_SIZE, on_batch: Callable[[int], None] | None = None, route: str | None = None,
    ) -> tuple[Scores, torch.Tensor]:
        """Metrics and label probabilities ``[N, C]`` of ``prompt`` (through the language adapter ``route``,
        when given) on labelled ``examples``."""
        encoded = self.encode([(e.premise, e.hypothesis) for e in examples])
        probs = self.probabilities(prompt, encoded, batch_size, on_batch, route)
        return score([e.label for e in examples], probs.argmax(-1).tolist()), probs
