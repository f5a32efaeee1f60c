"""The fine-tuning baseline: a classification head on the backbone, every transformer weight learning.

The same examples, optimiser, schedule and dev selection as the soft prompt (:func:`engine.loop.fit`),
so the two differ only in how the task is posed: ``[CLS] text1 [SEP] text2`` -> head, versus a
cloze template with soft tokens -> label words at the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import Example
from .backbone import Tune, load_pretrained
from .batching import EVAL_BATCH_SIZE
from .device import make_accelerator, place
from .inference import accuracy
from .loop import DEV_ACCURACY, TrainResult, fit, restore_parameters
from .train import DEFAULT_BACKBONE_LR, TrainConfig


class Classifier:
    """``AutoModelForSequenceClassification`` over a masked LM's encoder, with its tokenizer."""

    def __init__(self, model_dir: str, classes: int, max_length: int = 128, cpu: bool = False):
        from transformers import AutoModelForSequenceClassification

        self.tokenizer, model = load_pretrained(
            AutoModelForSequenceClassification, model_dir, "a sequence classifier", num_labels=classes
        )
        self.accelerator = make_accelerator(cpu)
        self.model = place(model, self.accelerator)
        self.model.get_input_embeddings().requires_grad_(False)  # as in --tune full: keep the shared embedding space
        self.max_length, self.classes = max_length, classes

    def _batch(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(
            *([e.texts[i] for e in examples] for i in range(len(examples[0].texts))),
            truncation="longest_first", max_length=self.max_length, padding=True, return_tensors="pt",
        )  # fmt: skip
        return {k: v.to(self.accelerator.device) for k, v in encoded.items()}

    def logits(self, examples: list[Example]) -> torch.Tensor:
        with self.accelerator.autocast():
            return self.model(**self._batch(examples)).logits.float()  # [B, C]

    @torch.no_grad()
    def probabilities(self, examples: list[Example], batch_size: int = EVAL_BATCH_SIZE, on_batch=None) -> torch.Tensor:
        """``[N, C]`` in input order; batches sorted by length."""
        self.model.eval()
        order = sorted(range(len(examples)), key=lambda i: -sum(map(len, examples[i].texts)))
        probs = torch.empty(len(examples), self.classes)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            probs[rows] = self.logits([examples[i] for i in rows]).softmax(-1).cpu()
            if on_batch:
                on_batch(len(rows))
        return probs


@dataclass
class ClassifierLearner:
    classifier: Classifier
    train: list[Example]
    dev: list[Example]
    config: TrainConfig
    dev_metric = DEV_ACCURACY

    def __post_init__(self):
        self.train_size = len(self.train)
        self.train_lengths = None  # raw text, tokenized batch by batch

    def parameter_groups(self) -> list[dict]:
        params = [p for p in self.classifier.model.parameters() if p.requires_grad]
        return [{"params": params, "lr": self.config.backbone_lr or DEFAULT_BACKBONE_LR[Tune.FULL]}]

    def train_mode(self, training: bool) -> None:
        self.classifier.model.train(training)

    def loss(self, rows: list[int]) -> torch.Tensor:
        examples = [self.train[r] for r in rows]
        labels = torch.tensor([e.label for e in examples], device=self.classifier.accelerator.device)
        return F.cross_entropy(self.classifier.logits(examples), labels)

    def skip_step(self) -> None:
        """Fine-tuning draws nothing but fit's batch order."""

    def dev_score(self) -> float:
        probs = self.classifier.probabilities(self.dev, self.config.eval_batch_size)
        return accuracy(probs, [e.label for e in self.dev])

    def state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.classifier.model.named_parameters() if p.requires_grad}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        restore_parameters(self.classifier.model, state)


def finetune(
    classifier: Classifier, train: list[Example], dev: list[Example], config: TrainConfig, seed: int,
    on_step=None, on_epoch=None,
) -> TrainResult:  # fmt: skip
    """Fine-tune ``classifier`` on ``train``, keeping the epoch with the best ``dev`` accuracy."""
    return fit(ClassifierLearner(classifier, train, dev, config), config, seed, classifier.accelerator, on_step, on_epoch)
