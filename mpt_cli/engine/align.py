"""Training a prompt translator with the joint objective ``alpha * CE + (1 - alpha) * KL``.

KL: the answer distribution at the mask for source-language text with the source prompt ``p_S`` (the
teacher, never back-propagated into) against target-language text with ``p_T = translator(p_S)``.
CE: the source prompt's own few-shot examples with ``p_S``, which only matters when the source prompt
keeps learning; with a frozen source prompt the CE term is constant and is skipped, and the teacher's
mask states are computed once and cached. The backbone is always frozen here: it is shared by every
language's prompt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import require_positive
from ..template import EncodedExample
from .backbone import Backbone
from .batching import by_length, collate, shuffled
from .losses import AlignmentObjective, kl_divergence
from .prompt_encoder import PromptEncoder
from .train import LabelledSet
from .translator import PromptTranslator


@dataclass(frozen=True)
class AlignConfig(AlignmentObjective):
    """Two-stage alignment: the CE term only counts when the source prompt keeps learning."""

    freeze_source: bool = field(default=True, metadata={"help": "keep the source prompt fixed (teacher cached)"})
    epochs: int = field(default=3, metadata={"help": "passes over the parallel pairs"})
    batch_size: int = field(default=16, metadata={"help": "parallel pairs per step"})
    lr: float = field(default=1e-4, metadata={"help": "learning rate of the translator"})
    source_lr: float = field(default=1e-4, metadata={"help": "learning rate of the source prompt encoder, when it learns"})
    eval_batch_size: int = field(default=64, metadata={"help": "batch size for held-out KL"})

    def __post_init__(self):
        super().__post_init__()
        require_positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, source_lr=self.source_lr)


@dataclass
class ParallelSet:
    """Both sides of parallel pairs, encoded: ``source[i]`` and ``target[i]`` say the same thing."""

    source: list[EncodedExample]
    target: list[EncodedExample]


@dataclass
class AlignResult:
    heldout_kl_before: float
    heldout_kl_after: float
    steps: int
    train_loss: float


class Teacher:
    """Source-side mask states ``[N, H]`` for parallel pairs: cached once when ``p_S`` is fixed."""

    def __init__(self, backbone: Backbone, examples: list[EncodedExample], batch_size: int):
        self.backbone, self.examples, self.batch_size = backbone, examples, batch_size
        self.cache: torch.Tensor | None = None

    @torch.no_grad()
    def states(self, rows: list[int], source_prompt: torch.Tensor, cached: bool) -> torch.Tensor:
        if not cached:
            return self._compute(rows, source_prompt)
        if self.cache is None:
            self.cache = torch.empty(len(self.examples), self.backbone.hidden_size, device=self.backbone.device)
            for chunk in by_length(self.examples, self.batch_size):
                self.cache[chunk] = self._compute(chunk, source_prompt).float()
        return self.cache[rows]

    def _compute(self, rows: list[int], source_prompt: torch.Tensor) -> torch.Tensor:
        batch = collate(self.examples, rows, self.backbone.tokenizer.pad_token_id, source_prompt.shape[0])
        return self.backbone.mask_states(batch.to(self.backbone.device), source_prompt)


def alignment_kl(
    backbone: Backbone,
    teacher: Teacher,
    target: list[EncodedExample],
    rows: list[int],
    source_prompt: torch.Tensor,
    target_prompt: torch.Tensor,
    config: AlignConfig,
    label_ids: torch.Tensor,
    cached: bool,
) -> torch.Tensor:
    """KL between the answer distributions of ``rows`` on both sides (a scalar, differentiable in ``p_T``)."""
    token_ids = label_ids if config.kl_space == "labels" else None
    teacher_logits = backbone.project(teacher.states(rows, source_prompt, cached), token_ids)
    batch = collate(target, rows, backbone.tokenizer.pad_token_id, target_prompt.shape[0]).to(backbone.device)
    return kl_divergence(teacher_logits, backbone.mask_logits(batch, target_prompt, token_ids), config.kl_direction)


@torch.no_grad()
def heldout_kl(backbone, pairs: ParallelSet, source_prompt, target_prompt, config: AlignConfig, label_ids) -> float:
    """Mean KL over held-out pairs (example-weighted)."""
    teacher = Teacher(backbone, pairs.source, config.eval_batch_size)
    total = 0.0
    for rows in by_length(pairs.target, config.eval_batch_size):
        kl = alignment_kl(backbone, teacher, pairs.target, rows, source_prompt, target_prompt, config, label_ids, cached=False)
        total += kl.item() * len(rows)
    return total / len(pairs.target)


def train_translator(
    backbone: Backbone,
    translator: PromptTranslator,
    source: PromptEncoder | torch.Tensor,
    train_pairs: ParallelSet,
    heldout_pairs: ParallelSet,
    few_shot: LabelledSet | None,
    label_ids: torch.Tensor,
    config: AlignConfig,
    seed: int,
    on_step: Callable[[float], None] | None = None,
) -> AlignResult:
    """Train ``translator`` (and ``source``, when it is an encoder and ``config.freeze_source`` is off).

    ``source`` is the source prompt ``[P, H]`` or its encoder. Returns the held-out KL before and after.
    """
    device = backbone.device
    backbone.model.eval()  # frozen and deterministic: the cached teacher must equal a recomputed one
    translator.to(device)
    label_ids = label_ids.to(device)
    learn_source = isinstance(source, PromptEncoder) and not config.freeze_source
    source_prompt = lambda: source() if isinstance(source, PromptEncoder) else source.to(device)  # noqa: E731
    if isinstance(source, PromptEncoder):
        source.to(device)
        source.requires_grad_(learn_source)
        source.train(learn_source)

    with torch.no_grad():
        before = heldout_kl(backbone, heldout_pairs, source_prompt(), translator(source_prompt()), config, label_ids)
    groups = [{"params": list(translator.parameters()), "lr": config.lr}]
    if learn_source:
        groups.append({"params": list(source.parameters()), "lr": config.source_lr})
    optimizer = backbone.accelerator.prepare_optimizer(torch.optim.AdamW(groups, weight_decay=0.0))
    generator = torch.Generator().manual_seed(seed)
    teacher = Teacher(backbone, train_pairs.source, config.eval_batch_size)
    steps, losses = 0, []
    for _ in range(config.epochs):
        translator.train()
        for rows in shuffled(len(train_pairs.target), config.batch_size, generator):
            p_source = source_prompt()
            kl = alignment_kl(
                backbone, teacher, train_pairs.target, rows, p_source.detach(), translator(p_source), config, label_ids, cached=not learn_source
            )
            loss = kl
            if learn_source and few_shot is not None:
                loss = config.alpha * _few_shot_ce(backbone, few_shot, p_source, label_ids, config, generator) + (1 - config.alpha) * kl
            backbone.accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
            losses.append(loss.item())
            if on_step:
                on_step(loss.item())
    translator.eval()
    if isinstance(source, PromptEncoder):
        source.eval()
    with torch.no_grad():
        after = heldout_kl(backbone, heldout_pairs, source_prompt(), translator(source_prompt()), config, label_ids)
    tail = losses[-max(1, math.ceil(len(losses) / config.epochs)) :]
    return AlignResult(before, after, steps, sum(tail) / len(tail))


def _few_shot_ce(backbone, few_shot: LabelledSet, prompt, label_ids, config: AlignConfig, generator) -> torch.Tensor:
    """Cross entropy on a random batch of the source prompt's few-shot examples."""
    rows = torch.randperm(len(few_shot.encoded), generator=generator)[: config.batch_size].tolist()
    batch = collate(few_shot.encoded, rows, backbone.tokenizer.pad_token_id, prompt.shape[0], few_shot.labels)
    batch = batch.to(backbone.device)
    return F.cross_entropy(backbone.mask_logits(batch, prompt, label_ids), batch.labels)
