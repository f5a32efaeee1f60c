"""Seeded K-per-class sampling, and the manifest that records which examples were drawn."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass

from ..errors import MptError
from .examples import Example


@dataclass(frozen=True)
class SplitManifest:
    """Which examples a source prompt was trained and selected on; enough to draw them again."""

    data: str
    lang: str
    seed: int
    shots: int
    dev_shots: int
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
    examples: list[Example], labels: tuple[str, ...], shots: int, rng: random.Random,
    exclude: frozenset[str] = frozenset(), what: str = "data",
) -> list[Example]:  # fmt: skip
    """Draw ``shots`` examples of each of ``labels``, skipping ids in ``exclude``; ordered by label."""
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
    train_pool: list[Example], dev_pool: list[Example], labels: tuple[str, ...], shots: int, dev_shots: int, seed: int,
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
