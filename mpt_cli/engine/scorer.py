"""What always travels together to score a prompt: the backbone, the task, its template encoder and label words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..data import Example
from ..metrics import Scores, score
from ..task import Task
from ..template import EncodedExample, TemplateEncoder
from ..verbalizer import LabelWords
from .backbone import Backbone
from .batching import EVAL_BATCH_SIZE
from .inference import label_probabilities
from .language_adapter import Route


@dataclass
class Scorer:
    backbone: Backbone
    template: TemplateEncoder
    label_words: LabelWords  # C labels, in the task's label order
    task: Task

    def encode(self, rows: list[tuple[str, ...]]) -> list[EncodedExample]:
        """Template inputs for rows of the task's texts."""
        return self.template.encode(rows)

    def probabilities(
        self, prompt: torch.Tensor, encoded: list[EncodedExample],
        batch_size: int = EVAL_BATCH_SIZE, on_batch: Callable[[int], None] | None = None, route: Route = None,
        prompt_of: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Label probabilities ``[N, C]``; ``prompt`` is ``[P, H]``, or a table ``[L, P, H]`` with ``prompt_of``
        (``[N]``) naming each row's, and ``route`` the language adapter of all rows or of each (None: the
        model as it is)."""
        return label_probabilities(self.backbone, encoded, prompt, self.label_words, batch_size, on_batch, route, prompt_of)

    def score(
        self, prompt: torch.Tensor, examples: list[Example],
        batch_size: int = EVAL_BATCH_SIZE, on_batch: Callable[[int], None] | None = None, route: str | None = None,
    ) -> tuple[Scores, torch.Tensor]:
        """Metrics and label probabilities ``[N, C]`` of ``prompt`` (through the language adapter ``route``,
        when given) on labelled ``examples``."""
        encoded = self.encode([e.texts for e in examples])
        probs = self.probabilities(prompt, encoded, batch_size, on_batch, route)
        return score([e.label for e in examples], probs.argmax(-1).tolist(), len(self.task.labels)), probs
