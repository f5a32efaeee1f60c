"""The ratios benchmarks/speed.py reports, and its goals: all in one place, checked by ``--check``.

A ratio divides the items per second of two variants; a goal is the least ratio that passes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ratio:
    name: str
    numerator: str  # a variant
    denominator: str  # a variant
    goal: float | None = None  # None: reported, not a goal

    def row(self, measured: dict[str, dict], failed: dict[str, str]) -> dict:
        """The ratio as measured; ``held`` is None where there is no goal, False where a variant failed."""
        missing = [v for v in (self.numerator, self.denominator) if v in failed]
        value = None if missing else measured[self.numerator]["per_second"] / measured[self.denominator]["per_second"]
        held = None if self.goal is None else value is not None and value >= self.goal
        row = {"name": self.name, "numerator": self.numerator, "denominator": self.denominator, "ratio": value}
        return row | {"goal": self.goal, "held": held} | ({"failed": missing} if missing else {})


RATIOS = (
    Ratio("eval: mpt / bare encoder", "eval-mpt", "eval-bare-encoder", goal=0.9),
    Ratio("eval: mpt / hand-written", "eval-mpt", "eval-hand-written", goal=3.0),
    Ratio("eval: mpt / PEFT P-tuning", "eval-mpt", "eval-peft-ptuning"),
    Ratio("train step: mpt / PEFT P-tuning", "train-mpt", "train-peft-ptuning", goal=1.5),
    Ratio("alignment epoch: cached / uncached teacher", "align-cached", "align-uncached"),
    Ratio("adapter epoch: length-grouped / random batches", "align-adapter-grouped", "align-adapter-random"),
    Ratio("language adapters: one / bare encoder", "adapters-one", "eval-bare-encoder", goal=0.9),
    Ratio("language adapters: mixed / one language", "adapters-mixed", "adapters-one", goal=0.95),
    Ratio("language adapters: mixed / grouped by language", "adapters-mixed", "adapters-grouped"),
    Ratio("eval: int8 / float32", "int8-int8", "int8-float32", goal=1.4),
    Ratio("eval on the CPU: bf16 / float32", "cpu-bf16-eval", "cpu-float32-eval"),  # CPUs with AMX only: no goal
    Ratio("adapter epoch on the CPU: bf16 / float32", "cpu-bf16-adapter-epoch", "cpu-float32-adapter-epoch"),
)


def ratio_rows(variants_run: list[str], measured: dict[str, dict], failed: dict[str, str]) -> list[dict]:
    """The rows of the ratios whose two variants were run (measured or failed)."""
    return [r.row(measured, failed) for r in RATIOS if {r.numerator, r.denominator} <= set(variants_run)]


def every_goal_holds(rows: list[dict]) -> bool:
    return all(row["held"] for row in rows if row["goal"] is not None)


def describe(row: dict) -> str:
    value = "failed" if row["ratio"] is None else f"{row['ratio']:.2f}x"
    if row["goal"] is None:
        return f"{row['name']} = {value}"
    return f"{row['name']} = {value} (goal >= {row['goal']:g}x: {'holds' if row['held'] else 'MISSED'})"
