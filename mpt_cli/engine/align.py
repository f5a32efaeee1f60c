"""Training a prompt translator with the joint objective ``alpha * CE + (1 - alpha) * KL``.

KL: the answer distribution at the mask for source-language text with the source prompt ``p_S`` (the
teacher, never back-propagated into) against target-language text with ``p_T = translator(p_S)``.
CE: the source prompt's own few-shot examples with ``p_S``, which only matters when the source prompt
keeps learning; with a frozen source prompt the CE term is constant and is skipped, and the teacher's
mask states are computed once per distinct source-side input (:mod:`.teacher`), shared by every
target language of a run whose English side repeats. The backbone is frozen here: it is shared by every
language's prompt. A target language may have an adapter of its own inside it
(:mod:`.language_adapter`), which learns with the translator: the student reads the target-language
text through it, the teacher never does.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import MptError, require_positive
from ..template import EncodedExample
from ..verbalizer import LabelWords
from .backbone import Backbone
from .batching import by_length, collate
from .loop import DevMetric, EpochRecord, LabelledSet, LoopSettings, fit
from .losses import AlignmentObjective, KLSpace, kl_divergence
from .masked_lm import TextBatches
from .prompt_encoder import PromptEncoder
from .teacher import Teacher, TeacherStates
from .translator import PromptTranslator

HELDOUT_KL = DevMetric("held-out KL", higher_is_better=False, percent=False)


@dataclass(frozen=True)
class AlignConfig(AlignmentObjective, LoopSettings):
    """Two-stage alignment: the CE term only counts when the source prompt keeps learning."""

    freeze_source: bool = field(default=True, metadata={"help": "keep the source prompt fixed (teacher cached)"})
    epochs: int = field(default=3, metadata={"help": "passes over the parallel pairs"})
    batch_size: int = field(default=16, metadata={"help": "parallel pairs per step"})
    lr: float = field(default=2e-4, metadata={"help": "peak learning rate of the translator (warm-up, then linear decay)"})
    source_lr: float = field(default=1e-4, metadata={"help": "learning rate of the source prompt encoder, when it learns"})
    adapter_lr: float = field(default=5e-4, metadata={"help": "learning rate of the language adapter, when there is one"})
    # off: 1.2x (XNLI) to 1.4x (SIB-200) faster per language, but 0.4 points lower on XNLI's 14 targets, seeds
    # 1-2, 17 of 28 languages and seeds lower (docs/results/2026-12-03-speed-per-language.md)
    group_by_length: bool = field(
        default=False,
        metadata={"help": "batch pairs of similar length together: less padding, faster, slightly less accurate on XNLI"},
    )
    mlm_weight: float = field(
        default=0.0,
        metadata={"help": "weight of a masked-LM term on the target language's own text, read through its adapter (0: off)"},
    )
    mlm_probability: float = field(default=0.15, metadata={"help": "share of the text's pieces the masked-LM term masks"})
    # 8 kept nearly all of 16's gain at 1.45x the time of a language without the term, against 1.9x
    # (SIB-200 dev rows, 12 languages; docs/results/2026-12-07-language-text-pilot.md)
    mlm_batch_size: int = field(default=8, metadata={"help": "sentences of the language's text in each step, beside its pairs"})

    def __post_init__(self):
        AlignmentObjective.__post_init__(self)
        LoopSettings.__post_init__(self)
        require_positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, source_lr=self.source_lr)
        require_positive(adapter_lr=self.adapter_lr, mlm_batch_size=self.mlm_batch_size)
        if self.mlm_weight < 0:
            raise MptError(f"the masked-LM weight must be 0 (off) or more, got {self.mlm_weight}")
        if not 0.0 < self.mlm_probability < 1.0:
            raise MptError(f"the masked-LM probability must be between 0 and 1, got {self.mlm_probability}")

    def without_effect(self) -> set[str]:
        """The settings that change nothing here: the masked-LM term's own, while it is off."""
        return {"mlm_probability", "mlm_batch_size"} if self.mlm_weight == 0 else set()


@dataclass
class ParallelSet:
    """Both sides of parallel pairs, encoded: ``source[i]`` and ``target[i]`` say the same thing."""

    source: list[EncodedExample]
    target: list[EncodedExample]


@dataclass
class AlignResult:
    heldout_kl_before: float
    heldout_kl_after: float  # at the best epoch, which the translator is left at
    steps: int
    best_epoch: int


def alignment_kl(
    backbone: Backbone,
    teacher: Teacher,
    target: list[EncodedExample],
    rows: list[int],
    source_prompt: torch.Tensor,
    target_prompt: torch.Tensor,
    config: AlignmentObjective,
    label_words: LabelWords,
    cached: bool,
    adapter: str | None = None,
) -> torch.Tensor:
    """KL between the answer distributions of ``rows`` on both sides (a scalar, differentiable in ``p_T``
    and in the ``adapter`` the target side goes through; the teacher side never has one)."""
    words = label_words if config.kl_space == KLSpace.LABELS else None
    teacher_logits = backbone.project(teacher.states(rows, source_prompt, cached), words)
    batch = collate(target, rows, backbone.tokenizer.pad_token_id, target_prompt.shape[0]).to(backbone.device)
    student_logits = backbone.mask_logits(batch, target_prompt, words, route=adapter)
    return kl_divergence(teacher_logits, student_logits, config.kl_direction)


@torch.no_grad()
def heldout_kl(
    backbone, pairs: ParallelSet, source_prompt, target_prompt, config: AlignmentObjective, label_words: LabelWords,
    adapter: str | None = None, shared: TeacherStates | None = None,
) -> float:
    """Mean KL over held-out pairs (example-weighted); ``config`` is two-stage or joint alignment's. The
    teacher side comes from ``shared`` when given (``source_prompt`` fixed), else is recomputed."""
    teacher = Teacher(backbone, pairs.source, config.eval_batch_size, shared)
    total = 0.0
    for rows in by_length(pairs.target, config.eval_batch_size):
        kl = alignment_kl(
            backbone, teacher, pairs.target, rows, source_prompt, target_prompt, config, label_words, shared is not None,
            adapter,
        )  # fmt: skip
        total += kl.item() * len(rows)
    return total / len(pairs.target)


class TranslatorLearner:
    """What :func:`fit` trains in alignment: ``translator`` (and ``source``, when it is an encoder and
    ``config.freeze_source`` is off) on the KL of parallel pairs, plus the CE of the few-shot set when the
    source prompt learns. With an ``adapter`` (a language of ``backbone.language_adapters``) the
    target side goes through that adapter, which learns too; without a ``translator``, ``p_T = p_S``.
    With ``text`` (the target language's sentences), each step adds ``config.mlm_weight`` times the
    masked-LM loss of a batch of them, read through the adapter.
    The best epoch is the one with the lowest held-out KL. While the source prompt is fixed, the teacher
    side of both the pairs and the held-out pairs comes from ``shared`` (states of its own without it)."""

    dev_metric = HELDOUT_KL

    def __init__(self, backbone: Backbone, translator: PromptTranslator | None, source: PromptEncoder | torch.Tensor,
                 pairs: ParallelSet, heldout: ParallelSet, few_shot: LabelledSet | None, label_words: LabelWords,
                 config: AlignConfig, seed: int, adapter: str | None = None,
                 shared: TeacherStates | None = None, text: TextBatches | None = None):  # fmt: skip
        self.backbone, self.translator, self.source, self.pairs, self.heldout = backbone, translator, source, pairs, heldout
        self.few_shot, self.config, self.adapter, self.text = few_shot, config, adapter, text
        self.label_words = label_words.to(backbone.device)
        self.learn_source = isinstance(source, PromptEncoder) and not config.freeze_source
        self.generator = torch.Generator().manual_seed(seed)  # few-shot batches: apart from fit's pair order
        self.train_size = len(pairs.target)
        self.train_lengths = [len(example.input_ids) for example in pairs.target]  # the student's side: it learns
        backbone.model.eval()  # frozen and deterministic: the cached teacher must equal a recomputed one
        if translator is not None:
            translator.to(backbone.device)
        if isinstance(source, PromptEncoder):
            source.to(backbone.device).requires_grad_(self.learn_source)
        self.shared = None if self.learn_source else shared or TeacherStates(backbone, config.eval_batch_size)
        self.teacher = Teacher(backbone, pairs.source, config.eval_batch_size, self.shared)

    def source_prompt(self) -> torch.Tensor:
        """``p_S``, ``[P, H]``: the fixed prompt or the encoder's output."""
        return self.source() if isinstance(self.source, PromptEncoder) else self.source.to(self.backbone.device)

    def target_prompt(self, p_source: torch.Tensor) -> torch.Tensor:
        """``p_T``, ``[P, H]``: the translation of ``p_source``, or ``p_source`` itself without a translator."""
        return p_source if self.translator is None else self.translator(p_source)

    def parameter_groups(self) -> list[dict]:
        groups = [] if self.translator is None else [{"params": list(self.translator.parameters()), "lr": self.config.lr}]
        if self.learn_source:
            groups.append({"params": list(self.source.parameters()), "lr": self.config.source_lr})
        if self.adapter is not None:
            groups.append({"params": self.backbone.language_adapters.parameters(self.adapter), "lr": self.config.adapter_lr})
        return groups

    def train_mode(self, training: bool) -> None:
        if self.translator is not None:
            self.translator.train(training)
        if isinstance(self.source, PromptEncoder):
            self.source.train(training and self.learn_source)

    def loss(self, rows: list[int]) -> torch.Tensor:
        p_source = self.source_prompt()
        kl = alignment_kl(
            self.backbone, self.teacher, self.pairs.target, rows, p_source.detach(), self.target_prompt(p_source), self.config,
            self.label_words, cached=not self.learn_source, adapter=self.adapter,
        )  # fmt: skip
        loss = kl
        if self.learn_source and self.few_shot is not None:
            loss = self.config.alpha * self._few_shot_ce(p_source) + (1 - self.config.alpha) * kl
        if self.text is not None:
            loss = loss + self.config.mlm_weight * self.backbone.masked_lm_loss(self.text.next(), self.adapter)
        return loss

    def skip_step(self) -> None:
        """The few-shot batch of the CE term and the text batch of the masked-LM term, drawn and dropped by a
        process with no pairs this step."""
        if self.learn_source and self.few_shot is not None:
            self._few_shot_rows()
        if self.text is not None:
            self.text.next()

    @torch.no_grad()
    def dev_score(self) -> float:
        p_source = self.source_prompt()
        target = self.target_prompt(p_source)
        return heldout_kl(
            self.backbone, self.heldout, p_source, target, self.config, self.label_words, self.adapter, self.shared
        )

    def state(self) -> dict:
        state = {}
        if self.translator is not None:
            state["translator"] = copy.deepcopy(self.translator.state_dict())
        if self.learn_source:
            state["source"] = copy.deepcopy(self.source.state_dict())
        if self.adapter is not None:
            state["adapter"] = self.backbone.language_adapters.state(self.adapter)
        return state

    def load_state(self, state: dict) -> None:
        if self.translator is not None:
            self.translator.load_state_dict(state["translator"])
        if self.learn_source:
            self.source.load_state_dict(state["source"])
        if self.adapter is not None:
            self.backbone.language_adapters.load_state(self.adapter, state["adapter"])

    def _few_shot_rows(self) -> list[int]:
        return torch.randperm(len(self.few_shot.encoded), generator=self.generator)[: self.config.batch_size].tolist()

    def _few_shot_ce(self, prompt: torch.Tensor) -> torch.Tensor:
        """Cross entropy on a random batch of the source prompt's few-shot examples."""
        pad = self.backbone.tokenizer.pad_token_id
        batch = collate(self.few_shot.encoded, self._few_shot_rows(), pad, prompt.shape[0], self.few_shot.labels)
        batch = batch.to(self.backbone.device)
        return F.cross_entropy(self.backbone.mask_logits(batch, prompt, self.label_words), batch.labels)


def train_translator(
    backbone: Backbone,
    translator: PromptTranslator | None,
    source: PromptEncoder | torch.Tensor,
    train_pairs: ParallelSet,
    heldout_pairs: ParallelSet,
    few_shot: LabelledSet | None,
    label_words: LabelWords,
    config: AlignConfig,
    seed: int,
    on_step: Callable[[float], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    adapter: str | None = None,
    shared: TeacherStates | None = None,
    text: TextBatches | None = None,
) -> AlignResult:
    """Train ``translator`` (and ``source``, when it is an encoder and ``config.freeze_source`` is off, and
    the language ``adapter``, when given) through :func:`fit`, leaving all at the epoch with the lowest
    held-out KL.

    ``source`` is the source prompt ``[P, H]`` or its encoder. ``shared``: the teacher states of a run's
    other languages, for a fixed source prompt (the same one). ``text``: the target language's sentences for
    the masked-LM term (with an ``adapter`` only). Returns the held-out KL before and after.
    """
    if text is not None and adapter is None:
        raise MptError("the masked-LM term trains a language adapter: it needs the adapter method")
    learner = TranslatorLearner(
        backbone, translator, source, train_pairs, heldout_pairs, few_shot, label_words, config, seed, adapter, shared, text
    )
    learner.train_mode(False)
    before = learner.dev_score()
    result = fit(learner, config, seed, backbone.accelerator, on_step, on_epoch)
    steps = config.epochs * math.ceil(learner.train_size / config.batch_size)
    return AlignResult(before, result.dev_score, steps, result.best_epoch)
