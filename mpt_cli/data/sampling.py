"""Seeded K-per-class sampling, and the manifest that records which examples were drawn."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass

from ..errors import MptError, require_positive
from .examples import Example

ALL_SHOTS = "all"  # --shots all: every training example, each class as often as the data has it (the paper's setting)
Shots = int | str  # a count per class, or ALL_SHOTS


def parse_shots(value: Shots, option: str = "shots") -> Shots:
    """``"all"`` (any case) or a positive count per class, from an option's text or the Python API."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == ALL_SHOTS:
            return ALL_SHOTS
        if not text.isdigit():
            raise MptError(f"--{option.replace('_', '-')} takes a count per class or 'all', got {value!r}")
        value = int(text)
    require_positive(**{option: value})
    return value


@dataclass(frozen=True)
class SplitManifest:
    """Which examples a source prompt was trained and selected on; enough to draw them again."""

    data: str
    lang: str
    seed: int
    shots: Shots
    dev_shots: Shots
    train_ids: tuple[str, ...]
    dev_ids: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SplitManifest:
        fields = json.loads(text)
        fields["train_ids"] = tuple(fields["train_ids"])
        fields["dev_ids"] = tuple(fields["dev_ids"])
        return cls(**fields)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def sample_per_class(
    examples: list[Example], labels: tuple[str, ...], shots: Shots, rng: random.Random,
    exclude: frozenset[str] = frozenset(), what: str = "data",
) -> list[Example]:  # fmt: skip
    """Draw ``shots`` examples of each of ``labels``, skipping ids in ``exclude``; ordered by label. ``"all"``
    takes every example of the task's labels, in the data's order."""
    if shots == ALL_SHOTS:
        drawn = [ex for ex in examples if 0 <= ex.label < len(labels) and ex.id not in exclude]
        if not drawn:
            raise MptError(f"{what} has no usable examples")
        return drawn
    if shots < 1:
        raise MptError(f"shots must be at least 1, got {shots}")
    drawn = []
    for label, name in enumerate(labels):
        pool = [ex for ex in examples if ex.label == label and ex.id not in exclude]
        if len(pool) < shots:
            raise MptError(f"{what} has only {len(pool)} usable {name!r} examples; {shots} per class were asked for")
        drawn.extend(rng.sample(pool, shots))
    return drawn


def draw_split(
    train_pool: list[Example], dev_pool: list[Example], labels: tuple[str, ...], shots: Shots, dev_shots: Shots, seed: int,
    data: str, lang: str,
) -> tuple[list[Example], list[Example], SplitManifest]:  # fmt: skip
    """Draw the K-per-class training set and a disjoint dev set, each from its own seeded stream.

    Separate streams keep the training examples unchanged when only ``dev_shots`` changes.
    """
    train = sample_per_class(train_pool, labels, shots, random.Random(f"mpt-train-{seed}"), what=f"{data} train ({lang})")
    taken = frozenset(ex.id for ex in train)
    dev = sample_per_class(
        dev_pool, labels, dev_shots, random.Random(f"mpt-dev-{seed}"), taken, what=f"{data} validation ({lang})"
    )
    manifest = SplitManifest(data, lang, seed, shots, dev_shots, tuple(ex.id for ex in train), tuple(ex.id for ex in dev))
    return train, dev, manifest


def select(examples: list[Example], ids: tuple[str, ...]) -> list[Example]:
    """The examples named by ``ids``, in that order; a clear error when the data has changed."""
    by_id = {ex.id: ex for ex in examples}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise MptError(f"{len(missing)} examples of the split manifest are not in the data (first: {missing[0]})")
    return [by_id[i] for i in ids]
