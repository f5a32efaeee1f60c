"""Classification metrics: accuracy, macro-F1 and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    examples: int
    accuracy: float
    macro_f1: float
    confusion: list[list[int]]  # confusion[gold][predicted]
    predicted_share: list[float]  # share of predictions per label


def score(gold: list[int], predicted: list[int], classes: int) -> Scores:
    if len(gold) != len(predicted) or not gold:
        raise ValueError("gold and predicted labels must be non-empty and of equal length")
    confusion = [[0] * classes for _ in range(classes)]
    for g, p in zip(gold, predicted):
        confusion[g][p] += 1
    f1s = []
    for c in range(classes):
        true_positive = confusion[c][c]
        predicted_c = sum(confusion[g][c] for g in range(classes))
        gold_c = sum(confusion[c])
        denominator = predicted_c + gold_c
        f1s.append(2 * true_positive / denominator if denominator else 0.0)
    correct = sum(confusion[c][c] for c in range(classes))
    share = [sum(confusion[g][c] for g in range(classes)) / len(gold) for c in range(classes)]
    return Scores(len(gold), correct / len(gold), sum(f1s) / classes, confusion, share)
