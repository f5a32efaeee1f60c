"""Joint MPT: the source prompt, one translator per target language and the backbone's trainable
weights learn in one loop on ``alpha * CE + (1 - alpha) * KL``.

Every step takes one batch of the source prompt's few-shot examples (CE with ``p_S``) and one batch of
parallel pairs drawn from all target languages in turn (KL). The teacher is the source-language text
with ``p_S`` through the current backbone, in eval mode and without gradient; the student is the
target-language text with ``p_T = translator_lang(p_S)``, one prompt per row, so languages share a
batch. Unlike two-stage alignment, the KL also shapes the shared backbone (LoRA adapters or the
transformer), which is what carries the task when the backbone is tuned.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from ..choices import Choice
from ..errors import require_positive
from ..template import EncodedExample
from .batching import collate
from .losses import AlignmentObjective, KLSpace, kl_divergence
from .train import PromptLearner


class JointStart(Choice):
    SOURCE = "source"  # continue the trained source run: its backbone side and prompt encoder
    SCRATCH = "scratch"  # the base backbone and a new prompt encoder, with the source run's draw and settings


@dataclass(frozen=True)
class JointConfig(AlignmentObjective):
    pairs_per_step: int = field(default=8, metadata={"help": "parallel pairs in each step's KL batch, languages in turn"})
    translator_lr: float = field(default=1e-3, metadata={"help": "learning rate of the translators"})
    start: JointStart = field(
        default=JointStart.SOURCE,
        metadata={"help": "source: continue the trained source run; scratch: base backbone, new prompt"},
    )
    epochs: int = field(default=6, metadata={"help": "passes over the few-shot examples"})
    translate: bool = field(default=True, metadata={"help": "learn translators; off: p_T = p_S (the ablation)"})

    def __post_init__(self):
        super().__post_init__()
        require_positive(epochs=self.epochs, pairs_per_step=self.pairs_per_step, translator_lr=self.translator_lr)
        object.__setattr__(self, "start", JointStart.parse(self.start, "joint start"))


@dataclass
class MultiParallelSet:
    """Parallel pairs of several target languages, flattened: row ``i`` is ``source[i]`` / ``target[i]``
    in language ``languages[i]`` (an index into the translators)."""

    source: list[EncodedExample]
    target: list[EncodedExample]
    languages: list[int]


class LanguageRoundRobin:
    """Endless batches of row indices: languages in turn, each language's rows in a seeded shuffle that
    is redrawn whenever it runs out, so every language gets the same share of steps."""

    def __init__(self, languages: list[int], generator: torch.Generator):
        self.generator = generator
        self.rows: dict[int, list[int]] = {}
        for row, lang in enumerate(languages):
            self.rows.setdefault(lang, []).append(row)
        self.order = sorted(self.rows)
        self.queues: dict[int, list[int]] = {lang: [] for lang in self.order}
        self.turn = 0

    def next_batch(self, size: int) -> list[int]:
        batch = []
        for _ in range(size):
            lang = self.order[self.turn % len(self.order)]
            self.turn += 1
            if not self.queues[lang]:
                rows = self.rows[lang]
                self.queues[lang] = [rows[i] for i in torch.randperm(len(rows), generator=self.generator).tolist()]
            batch.append(self.queues[lang].pop())
        return batch


@dataclass
class JointLearner(PromptLearner):
    """:class:`PromptLearner` (CE on the few-shot set, dev accuracy of ``p_S``) plus the KL of
    parallel pairs and one translator per target language (none for the ablation: ``p_T = p_S``)."""

    translators: nn.ModuleList | None = None
    pairs: MultiParallelSet | None = None
    joint: JointConfig = field(default_factory=JointConfig)
    seed: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.translators is not None:
            self.translators.to(self.backbone.device)
        self.sampler = LanguageRoundRobin(self.pairs.languages, torch.Generator().manual_seed(self.seed))
        self.kl_words = self.label_words if self.joint.kl_space == KLSpace.LABELS else None

    def parameter_groups(self) -> list[dict]:
        groups = super().parameter_groups()
        if self.translators is not None:
            groups.append({"params": list(self.translators.parameters()), "lr": self.joint.translator_lr})
        return groups

    def train_mode(self, training: bool) -> None:
        super().train_mode(training)
        if self.translators is not None:
            self.translators.train(training)

    def target_prompts(self, source_prompt: torch.Tensor) -> torch.Tensor:
        """``[L, P, H]``: every target language's prompt (``p_S`` itself, L times, for the ablation)."""
        count = len(set(self.pairs.languages)) if self.translators is None else len(self.translators)
        if self.translators is None:
            return source_prompt.unsqueeze(0).expand(count, -1, -1)
        return torch.stack([translator(source_prompt) for translator in self.translators])

    def loss(self, rows: list[int]) -> torch.Tensor:
        source_prompt = self.encoder()
        ce = self.cross_entropy(rows, source_prompt)
        if self.joint.alpha == 1.0:
            return ce
        kl = self.kl(self.sampler.next_batch(self.joint.pairs_per_step), source_prompt)
        return self.joint.alpha * ce + (1 - self.joint.alpha) * kl

    def skip_step(self) -> None:
        """The KL batch every process draws, it too, for the step it has no few-shot rows in."""
        if self.joint.alpha != 1.0:
            self.sampler.next_batch(self.joint.pairs_per_step)

    def kl(self, rows: list[int], source_prompt: torch.Tensor) -> torch.Tensor:
        """KL between teacher (source text, ``p_S``) and student (target text, its language's ``p_T``)."""
        pad, length, device = self.backbone.tokenizer.pad_token_id, source_prompt.shape[0], self.backbone.device
        teacher_batch = collate(self.pairs.source, rows, pad, length).to(device)
        student_batch = collate(self.pairs.target, rows, pad, length).to(device)
        training = self.backbone.model.training
        self.backbone.model.eval()  # the teacher is a target, not a sample: no dropout
        with torch.no_grad():
            teacher = self.backbone.mask_logits(teacher_batch, source_prompt.detach(), self.kl_words)
        self.backbone.model.train(training)
        languages = torch.tensor([self.pairs.languages[r] for r in rows], device=device)
        student_prompts = self.target_prompts(source_prompt)[languages]  # [B, P, H]
        student = self.backbone.mask_logits(student_batch, student_prompts, self.kl_words)
        return kl_divergence(teacher, student, self.joint.kl_direction)

    def state(self) -> dict:
        state = super().state()
        if self.translators is not None:
            state["translators"] = copy.deepcopy(self.translators.state_dict())
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        if self.translators is not None:
            self.translators.load_state_dict(state["translators"])
